"""Encounter, Condition, Observation, MedicationRequest, DiagnosticReport: create, read,
search, scope, bad input, idempotency."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from yigongti.core.models import AuditEntry
from yigongti.fhir import systems
from yigongti.records.models import Encounter, Observation, VersionStatus
from yigongti.records.tests.helpers import resident_of

from . import clinical_helpers as b
from .helpers import assert_valid, expressions, issues, post_json

pytestmark = pytest.mark.django_db


@pytest.fixture
def person(actor):
    return resident_of(actor("village_doctor"))


def test_observation_create_read_search_and_idempotent(api_as, person):
    api = api_as("village_doctor")
    body = b.bp(person, 152, 96, ident="obs-1")
    resp = post_json(api, "/fhir/Observation", body)
    assert resp.status_code == 201, resp.content
    obs = assert_valid(resp.json())
    comps = {c["code"]["coding"][0]["code"]: c["valueQuantity"] for c in obs["component"]}
    assert obs["code"]["coding"][0] == {
        "system": "http://loinc.org",
        "code": "85354-9",
        "display": "blood pressure",
    }
    assert comps["8480-6"]["value"] == 152 and comps["8462-4"]["code"] == "mm[Hg]"
    assert obs["identifier"] == [{"system": "urn:his:test", "value": "obs-1"}]
    assert resp["Location"].endswith(f"/Observation/{obs['id']}")

    # the same resource again changes nothing; changed content is an amendment
    again = post_json(api, "/fhir/Observation", body)
    assert again.status_code == 200 and again.json()["id"] == obs["id"]
    changed = post_json(api, "/fhir/Observation", b.bp(person, 140, 90, ident="obs-1"))
    assert changed.status_code == 200 and changed.json()["id"] != obs["id"]
    assert changed.json()["status"] == "amended"
    old = Observation.objects.get(pk=int(obs["id"]))
    assert old.status == VersionStatus.AMENDED

    read = api.get(f"/fhir/Observation/{changed.json()['id']}")
    assert read.status_code == 200 and assert_valid(read.json())["id"] == changed.json()["id"]

    found = api.get(
        "/fhir/Observation",
        {
            "patient": person.mpi_id,
            "code": "http://loinc.org|85354-9",
            "_include": "Observation:patient",
        },
    ).json()
    assert_valid(found)
    matches = [e for e in found["entry"] if e["search"]["mode"] == "match"]
    assert [e["resource"]["id"] for e in matches] == [changed.json()["id"]]
    included = [e for e in found["entry"] if e["search"]["mode"] == "include"]
    assert included[0]["resource"]["id"] == person.mpi_id


def test_glucose_and_search_by_date_prefix_and_paging(api_as, person):
    api = api_as("village_doctor")
    for days in (1, 2, 3):
        at = (timezone.now() - timedelta(days=days)).isoformat(timespec="seconds")
        resp = post_json(
            api, "/fhir/Observation", b.simple(person, "14771-0", 6 + days, "mmol/L", at=at)
        )
        assert resp.status_code == 201, resp.content
        assert resp.json()["valueQuantity"]["code"] == "mmol/L"
    since = (timezone.localdate() - timedelta(days=2)).isoformat()
    page = api.get(
        "/fhir/Observation",
        {
            "subject": f"Patient/{person.mpi_id}",
            "code": "14771-0",
            "date": f"ge{since}",
            "_count": 1,
        },
    ).json()
    assert page["total"] == 2 and len(page["entry"]) == 1
    nxt = next(link["url"] for link in page["link"] if link["relation"] == "next")
    second = api.get(
        nxt.split("/fhir", 1)[1].replace("/Observation", "/fhir/Observation", 1)
    ).json()
    assert (
        len(second["entry"]) == 1
        and second["entry"][0]["resource"]["id"] != page["entry"][0]["resource"]["id"]
    )


@pytest.mark.parametrize(
    ("make", "path", "code"),
    [
        (lambda r: b.bp(r, 999, 5), "Observation.component[0].valueQuantity.value", "out_of_range"),
        (
            lambda r: b.simple(r, "14771-0", 0, "mmol/L"),
            "Observation.valueQuantity.value",
            "out_of_range",
        ),
        (
            lambda r: b.simple(r, "8867-4", 400, "/min"),
            "Observation.valueQuantity.value",
            "out_of_range",
        ),
        (
            lambda r: b.simple(
                r, "8867-4", 80, "/min", at=(timezone.now() + timedelta(days=2)).isoformat()
            ),
            "Observation.effectiveDateTime",
            "in_future",
        ),
        (
            lambda r: b.simple(
                r, "8867-4", 80, "/min", at=(r.birth_date - timedelta(days=3)).isoformat()
            ),
            "Observation.effectiveDateTime",
            "before_birth",
        ),
    ],
)
def test_implausible_values_name_the_element(api_as, person, make, path, code):
    before = Observation.objects.count()
    resp = post_json(api_as("village_doctor"), "/fhir/Observation", make(person))
    assert resp.status_code == 422, resp.content
    assert path in expressions(resp)
    assert any(i["details"]["coding"][0]["code"] == code for i in issues(resp))
    assert Observation.objects.count() == before


def test_invalid_r4_gives_400_with_the_path(api_as, person):
    body = b.bp(person)
    body["valueQuantity"] = {"value": "lots"}
    resp = post_json(api_as("village_doctor"), "/fhir/Observation", body)
    assert resp.status_code == 400
    assert "Observation.valueQuantity.value" in expressions(resp)
    body = b.bp(person)
    body["status"] = "done"
    resp = post_json(api_as("village_doctor"), "/fhir/Observation", body)
    assert resp.status_code == 400 and "Observation.status" in expressions(resp)
    body = b.bp(person)
    body["colour"] = "red"
    resp = post_json(api_as("village_doctor"), "/fhir/Observation", body)
    assert resp.status_code == 400 and "Observation.colour" in expressions(resp)
    assert not Observation.objects.filter(resident=person).exists()


def test_encounter_condition_medication_request(api_as, person):
    api = api_as("village_doctor")
    body = b.encounter(person, ident="enc-1")
    resp = post_json(api, "/fhir/Encounter", body)
    assert resp.status_code == 201, resp.content
    enc = assert_valid(resp.json())
    assert enc["class"]["code"] == "AMB" and enc["reasonCode"][0]["text"] == "头晕三天"
    again = post_json(api, "/fhir/Encounter", body)
    assert again.status_code == 200 and again.json()["id"] == enc["id"]  # unchanged

    cond = post_json(api, "/fhir/Condition", b.condition(person, f"Encounter/{enc['id']}"))
    assert cond.status_code == 201, cond.content
    c = assert_valid(cond.json())
    assert c["code"]["coding"][0] == {
        "system": systems.icd10_system(),
        "code": "I10",
        "display": c["code"]["text"],
    }
    new_enc = c["encounter"]["reference"]
    assert new_enc != f"Encounter/{enc['id']}"  # re-recorded as an amendment
    assert Encounter.objects.get(pk=int(enc["id"])).status == VersionStatus.AMENDED

    # the old version is no longer current: a clear conflict, nothing written
    stale = post_json(
        api, "/fhir/Condition", b.condition(person, f"Encounter/{enc['id']}", "E11.9")
    )
    assert stale.status_code == 409 and "Condition.encounter" in expressions(stale)

    rx = post_json(api, "/fhir/MedicationRequest", b.medication_request(person, new_enc))
    assert rx.status_code == 201, rx.content
    m = assert_valid(rx.json())
    assert m["medicationCodeableConcept"]["coding"][0]["code"] == "YP0002"
    dose = m["dosageInstruction"][0]
    assert dose["timing"]["code"]["coding"][0]["code"] == "qd"
    assert dose["timing"]["repeat"]["frequency"] == 1 and dose["route"]["coding"][0]["code"] == "po"
    assert dose["doseAndRate"][0]["doseQuantity"] == {"value": 1, "unit": "片"}
    assert m["dispenseRequest"]["expectedSupplyDuration"]["value"] == 28

    current = m["encounter"]["reference"]
    got = api.get(f"/fhir/{current}").json()
    assert_valid(got)
    assert [d["condition"]["display"] for d in got["diagnosis"]]
    conds = api.get(
        "/fhir/Condition",
        {"patient": person.mpi_id, "code": "I10", "_include": "Condition:encounter"},
    ).json()
    assert_valid(conds)
    assert {e["resource"]["resourceType"] for e in conds["entry"]} == {"Condition", "Encounter"}
    rxs = api.get(
        "/fhir/MedicationRequest", {"encounter": current, "_include": "MedicationRequest:encounter"}
    ).json()
    assert rxs["total"] == 1
    encs = api.get(
        "/fhir/Encounter",
        {"patient": person.mpi_id, "class": "AMB", "_include": "Encounter:patient"},
    ).json()
    assert_valid(encs)
    assert current.split("/")[1] in [e["resource"]["id"] for e in encs["entry"]]


def test_condition_needs_an_encounter_and_a_known_code(api_as, person):
    api = api_as("village_doctor")
    body = b.condition(person, "Encounter/1")
    del body["encounter"]
    resp = post_json(api, "/fhir/Condition", body)
    assert resp.status_code == 422 and "Condition.encounter" in expressions(resp)
    enc = post_json(api, "/fhir/Encounter", b.encounter(person)).json()
    resp = post_json(
        api, "/fhir/Condition", b.condition(person, f"Encounter/{enc['id']}", "X99.999")
    )
    assert resp.status_code == 422, resp.content
    assert "Condition.code" in expressions(resp)


def test_encounter_dates_checked(api_as, person):
    api = api_as("village_doctor")
    future = (timezone.now() + timedelta(days=3)).isoformat(timespec="seconds")
    resp = post_json(api, "/fhir/Encounter", b.encounter(person, start=future))
    assert resp.status_code == 422 and "Encounter.period.start" in expressions(resp)
    early = (person.birth_date - timedelta(days=1)).isoformat()
    resp = post_json(api, "/fhir/Encounter", b.encounter(person, start=early))
    assert resp.status_code == 422 and "Encounter.period.start" in expressions(resp)


def test_diagnostic_report_with_contained_results(api_as, person):
    api = api_as("village_doctor")
    resp = post_json(api, "/fhir/DiagnosticReport", b.report(person, ident="rep-1"))
    assert resp.status_code == 201, resp.content
    rep = assert_valid(resp.json())
    assert rep["category"][0]["coding"][0]["code"] == "LAB" and len(rep["result"]) == 1
    found = api.get(
        "/fhir/DiagnosticReport", {"patient": person.mpi_id, "_include": "DiagnosticReport:result"}
    ).json()
    assert_valid(found)
    inc = [e["resource"] for e in found["entry"] if e["search"]["mode"] == "include"]
    assert (
        inc[0]["code"]["coding"][0]["code"] == "14771-0" and inc[0]["valueQuantity"]["value"] == 7.8
    )
    bad = b.report(person)
    bad["contained"][0]["valueQuantity"]["value"] = 0
    resp = post_json(api, "/fhir/DiagnosticReport", bad)
    assert resp.status_code == 422
    assert "DiagnosticReport.contained[0].valueQuantity.value" in expressions(resp)


def test_outsider_cannot_read_search_or_write(api_as, person):
    api = api_as("village_doctor")
    obs = post_json(api, "/fhir/Observation", b.bp(person)).json()
    enc = post_json(api, "/fhir/Encounter", b.encounter(person)).json()
    out = api_as("outsider_doctor")
    for path in (f"/fhir/Observation/{obs['id']}", f"/fhir/Encounter/{enc['id']}"):
        resp = out.get(path)
        assert resp.status_code == 404 and issues(resp)[0]["code"] == "not-found"
    assert AuditEntry.objects.filter(action="denied", username="outsider_doctor").count() >= 2
    found = out.get("/fhir/Observation", {"patient": person.mpi_id}).json()
    assert found["total"] == 0
    resp = post_json(out, "/fhir/Observation", b.bp(person))
    assert resp.status_code == 403
    everything = out.get(f"/fhir/Patient/{person.mpi_id}/$everything")
    assert everything.status_code == 404


def test_reads_are_audited(api_as, person):
    api = api_as("village_doctor")
    obs = post_json(api, "/fhir/Observation", b.bp(person)).json()
    api.get(f"/fhir/Observation/{obs['id']}")
    assert AuditEntry.objects.filter(
        action="read", object_type="observation", object_id=obs["id"]
    ).exists()
