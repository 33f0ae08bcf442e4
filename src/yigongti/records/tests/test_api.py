from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from yigongti.records.models import Encounter

from .helpers import resident_of


def _visit(**over):
    body = {
        "kind": "outpatient",
        "started_at": (timezone.now() - timedelta(hours=2)).isoformat(),
        "complaint": "头晕",
        "diagnoses": [{"code": "I10"}],
        "vitals": [{"kind": "bp", "value": 152, "value2": 96}, {"kind": "pulse", "value": 80}],
        "prescriptions": [{"drug_code": "YP0002", "dose": 1, "frequency": "qd", "days": 28}],
    }
    body.update(over)
    return body


def test_record_read_amend_and_timeline_over_the_api(api_as, actor):
    r = resident_of(actor("township_doctor"))
    api = api_as("township_doctor")
    made = api.post(
        f"/api/v1/residents/{r.mpi_id}/encounters", _visit(), content_type="application/json"
    )
    assert made.status_code == 201, made.content
    enc = made.json()
    assert enc["diagnoses"][0]["name"].endswith("高血压")
    assert enc["vitals"][0]["display"] == "152/96 mmHg"
    assert enc["prescriptions"][0]["quantity"] == "28.00"
    fixed = api.post(
        f"/api/v1/encounters/{enc['id']}/amend",
        _visit(reason="血压复测", vitals=[{"kind": "bp", "value": 142, "value2": 90}]),
        content_type="application/json",
    )
    assert fixed.status_code == 201, fixed.content
    assert fixed.json()["versions"] == [fixed.json()["id"], enc["id"]]
    line = api.get(f"/api/v1/residents/{r.mpi_id}/timeline").json()
    ids = [e["object_id"] for e in line["entries"] if e["object_type"] == "encounter"]
    assert fixed.json()["id"] in ids and enc["id"] not in ids
    old = api.get(f"/api/v1/encounters/{enc['id']}").json()
    assert old["status"] == "amended"


def test_bp_999_over_5_is_refused_with_the_field_named(api_as, actor):
    r = resident_of(actor("township_doctor"))
    before = Encounter.objects.count()
    res = api_as("township_doctor").post(
        f"/api/v1/residents/{r.mpi_id}/encounters",
        _visit(vitals=[{"kind": "bp", "value": 999, "value2": 5}]),
        content_type="application/json",
    )
    assert res.status_code == 422
    locs = [d["loc"] for d in res.json()["detail"]]
    assert ["body", "vitals", 0, "systolic"] in locs
    assert Encounter.objects.count() == before


def test_glucose_zero_and_pulse_400_are_refused(api_as, actor):
    r = resident_of(actor("township_doctor"))
    api = api_as("township_doctor")
    for kind, value in (("glucose_fasting", 0), ("pulse", 400)):
        res = api.post(
            f"/api/v1/residents/{r.mpi_id}/observations",
            {"kind": kind, "value": value},
            content_type="application/json",
        )
        assert res.status_code == 422, (kind, res.content)
        assert res.json()["detail"][0]["loc"] == ["body", kind]


def test_outsider_gets_404_on_timeline_and_encounter(api_as, actor):
    r = resident_of(actor("village_doctor"))
    made = api_as("village_doctor").post(
        f"/api/v1/residents/{r.mpi_id}/encounters", _visit(), content_type="application/json"
    )
    outsider = api_as("outsider_doctor")
    assert outsider.get(f"/api/v1/residents/{r.mpi_id}/timeline").status_code == 404
    assert outsider.get(f"/api/v1/encounters/{made.json()['id']}").status_code == 404
    assert (
        outsider.post(
            f"/api/v1/residents/{r.mpi_id}/encounters", _visit(), content_type="application/json"
        ).status_code
        == 404
    )


def test_code_search_by_initials_and_name(api_as):
    api = api_as("village_doctor")
    assert "I10" in [c["code"] for c in api.get("/api/v1/codes/icd10?q=gxy").json()]
    assert "I10" in [c["code"] for c in api.get("/api/v1/codes/icd10?q=高血压").json()]
    e11 = [c["code"] for c in api.get("/api/v1/codes/icd10?q=E11").json()]
    assert e11 and all(code.startswith("E11") for code in e11)
    assert any(d["code"] == "YP0009" for d in api.get("/api/v1/codes/drugs?q=二甲双胍").json())
    assert any(d["code"] == "YP0009" for d in api.get("/api/v1/codes/drugs?q=ejsg").json())
