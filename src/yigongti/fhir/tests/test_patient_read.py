"""Reading a Patient: in scope, out of scope, merged records."""

from __future__ import annotations

from datetime import date

import pytest

from yigongti.core.models import AuditEntry
from yigongti.fhir import systems
from yigongti.residents import actions
from yigongti.residents.models import Resident

from .helpers import assert_valid, base, home_resident, home_village, issues, new_id

pytestmark = pytest.mark.django_db


def by_system(patient, system):
    return [i for i in patient["identifier"] if i["system"] == system]


def test_village_doctor_reads_a_resident_of_the_village(api_as, actor):
    r = home_resident(actor("village_doctor"))
    resp = api_as("village_doctor").get(f"/fhir/Patient/{r.mpi_id}")
    assert resp.status_code == 200
    p = assert_valid(resp.json())
    assert p["id"] == r.mpi_id and p["active"] is True
    assert by_system(p, systems.ID_CARD_SYSTEM)[0]["value"] == r.doc_number
    assert by_system(p, f"{base()}/mpi")[0] == {
        "use": "usual",
        "type": {
            "text": "主索引号",
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "PI"}],
        },
        "system": f"{base()}/mpi",
        "value": r.mpi_id,
    }
    cards = by_system(p, f"{base()}/health-card")
    assert cards and all(len(c["value"]) == 64 for c in cards)
    name = p["name"][0]
    assert name["text"] == r.name and name["family"] + name["given"][0] == r.name
    assert p["gender"] == {"1": "male", "2": "female", "0": "unknown", "9": "other"}[r.sex]
    assert p["birthDate"] == r.birth_date.isoformat()
    address = p["address"][0]
    assert address["extension"][0]["valueCode"] == r.village.code
    assert r.village.name in address["text"]
    if r.phone:
        assert p["telecom"][0]["value"] == r.phone
    assert AuditEntry.objects.filter(action="read", object_id=r.mpi_id).exists()


def test_outsider_gets_404_and_the_attempt_is_audited(api_as, actor):
    r = home_resident(actor("village_doctor"))
    resp = api_as("outsider_doctor").get(f"/fhir/Patient/{r.mpi_id}")
    assert resp.status_code == 404
    assert issues(resp)[0]["code"] == "not-found"
    assert r.name not in resp.content.decode()
    denied = AuditEntry.objects.filter(action="denied", object_id=r.mpi_id).last()
    assert denied is not None and denied.username == "outsider_doctor"


def test_an_unknown_index_number_is_404(api_as):
    assert api_as("commission").get("/fhir/Patient/4199019999999999").status_code == 404


@pytest.fixture
def merged_pair(actor):
    """Two records of one person; the second merged into the first by the group admin."""
    village = home_village(actor("village_doctor"))
    doctor = actor("village_doctor")

    def register(name, number):
        return actions.do_register_resident(
            doctor,
            actions.ResidentInput(
                name=name,
                sex="1",
                birth_date=date(1961, 4, 12),
                doc_type="id_card" if number else "none",
                doc_number=number,
                village_code=village.code,
            ),
            confirm_new_person=True,
        )

    survivor = register("欧阳明", new_id())
    merged = register("欧阳明", "")
    actions.do_merge_residents(actor("group_admin"), survivor, merged, reason="同一人")
    return Resident.objects.get(pk=survivor.pk), Resident.objects.get(pk=merged.pk)


def test_a_merged_record_reads_as_replaced_by_its_survivor(api_as, merged_pair):
    survivor, merged = merged_pair
    client = api_as("village_doctor")
    resp = client.get(f"/fhir/Patient/{merged.mpi_id}")
    assert resp.status_code == 200
    p = assert_valid(resp.json())
    assert p["id"] == merged.mpi_id and p["active"] is False
    assert p["link"] == [
        {
            "other": {"reference": f"Patient/{survivor.mpi_id}", "display": survivor.name},
            "type": "replaced-by",
        }
    ]
    assert not by_system(p, systems.ID_CARD_SYSTEM)

    s = assert_valid(client.get(f"/fhir/Patient/{survivor.mpi_id}").json())
    assert s["active"] is True
    assert {"other": {"reference": f"Patient/{merged.mpi_id}"}, "type": "replaces"} in s["link"]
    old = [i for i in by_system(s, f"{base()}/mpi") if i["use"] == "old"]
    assert [i["value"] for i in old] == [merged.mpi_id]
    assert s["name"][0] == {"use": "official", "text": "欧阳明", "family": "欧阳", "given": ["明"]}


def test_an_old_index_number_finds_the_survivor(api_as, merged_pair):
    survivor, merged = merged_pair
    bundle = (
        api_as("village_doctor")
        .get("/fhir/Patient", {"identifier": f"{base()}/mpi|{merged.mpi_id}"})
        .json()
    )
    assert_valid(bundle)
    assert [e["resource"]["id"] for e in bundle["entry"]] == [survivor.mpi_id]


def test_updating_a_merged_record_points_at_the_survivor(api_as, merged_pair):
    survivor, merged = merged_pair
    client = api_as("village_doctor")
    body = client.get(f"/fhir/Patient/{merged.mpi_id}").json()
    resp = client.put(f"/fhir/Patient/{merged.mpi_id}", body, content_type="application/fhir+json")
    assert resp.status_code == 422
    [issue] = issues(resp)
    assert issue["expression"] == ["Patient.id"]
    assert survivor.mpi_id in issue["diagnostics"]
