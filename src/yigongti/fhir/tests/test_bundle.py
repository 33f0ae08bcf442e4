"""Transaction Bundles (all or nothing, urn:uuid references), Patient/$everything, $import."""

from __future__ import annotations

import json

import pytest

from yigongti.core.models import AuditEntry
from yigongti.fhir import systems
from yigongti.network.models import Facility
from yigongti.records.models import (
    Diagnosis,
    Encounter,
    Entry,
    ImportJob,
    Observation,
    Prescription,
    VersionStatus,
)
from yigongti.records.tests.helpers import resident_of
from yigongti.residents.models import Resident

from . import clinical_helpers as b
from .helpers import assert_valid, expressions, home_village, new_id, patient_body, post_json

pytestmark = pytest.mark.django_db

P, E = (
    "urn:uuid:7f1e0c1a-0000-4000-8000-000000000001",
    "urn:uuid:7f1e0c1a-0000-4000-8000-000000000002",
)


def _entry(url: str, resource: dict, **request: str) -> dict:
    resource = {**resource}
    return {
        "fullUrl": url,
        "resource": resource,
        "request": {"method": "POST", "url": resource["resourceType"], **request},
    }


START, TAKEN = b.when(3), b.when(2)


def visit_bundle(actor, doc_number: str, *, sbp: float = 150) -> dict:
    village = home_village(actor("village_doctor"))
    patient = patient_body(village, name="事务测试", doc_number=doc_number)
    fake = Resident(mpi_id="x")
    enc = b.encounter(fake, ident=f"enc-{doc_number}", start=START)
    cond = b.condition(fake, E, "I10")
    rx = b.medication_request(fake, E)
    obs = b.bp(fake, sbp, 95, ident=f"obs-{doc_number}", at=TAKEN)
    obs["encounter"] = {"reference": E}
    for res in (enc, cond, rx, obs):
        res["subject"] = {"reference": P}
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            _entry(P, patient, ifNoneExist=f"identifier={systems.ID_CARD_SYSTEM}|{doc_number}"),
            _entry(E, enc),
            _entry("urn:uuid:7f1e0c1a-0000-4000-8000-000000000003", cond),
            _entry("urn:uuid:7f1e0c1a-0000-4000-8000-000000000004", rx),
            _entry("urn:uuid:7f1e0c1a-0000-4000-8000-000000000005", obs),
        ],
    }


def test_transaction_creates_patient_visit_and_parts_and_is_idempotent(api_as, actor):
    api = api_as("village_doctor")
    doc = new_id()
    resp = post_json(api, "/fhir/", visit_bundle(actor, doc))
    assert resp.status_code == 200, resp.content
    out = assert_valid(resp.json())
    assert out["type"] == "transaction-response"
    statuses = [e["response"]["status"] for e in out["entry"]]
    assert statuses[0] == "201 Created" and statuses[1] == "201 Created"
    resident = Resident.objects.get(doc_number=doc)
    enc = Encounter.objects.get(resident=resident)
    assert [d.code_id for d in Diagnosis.objects.filter(encounter=enc)] == ["I10"]
    assert Prescription.objects.filter(encounter=enc).count() == 1
    obs = Observation.objects.get(resident=resident, source_id=f"obs-{doc}")
    assert obs.encounter_id == enc.pk and obs.value == 150

    again = post_json(api, "/fhir/", visit_bundle(actor, doc))
    assert again.status_code == 200, again.content
    assert [e["response"]["status"] for e in again.json()["entry"]][:2] == ["200 OK", "200 OK"]
    assert Encounter.objects.filter(resident=resident).count() == 1
    assert Observation.objects.filter(resident=resident, status=VersionStatus.CURRENT).count() == 1


def test_transaction_rolls_back_when_one_entry_is_bad(api_as, actor):
    api = api_as("village_doctor")
    doc = new_id()
    before = (Resident.objects.count(), Encounter.objects.count(), Observation.objects.count())
    resp = post_json(api, "/fhir/", visit_bundle(actor, doc, sbp=999))
    assert resp.status_code == 422, resp.content
    assert "Bundle.entry[4].resource.component[0].valueQuantity.value" in expressions(resp)
    assert "entry[4]" in resp.json()["issue"][0]["diagnostics"]
    after = (Resident.objects.count(), Encounter.objects.count(), Observation.objects.count())
    assert after == before and not Resident.objects.filter(doc_number=doc).exists()


def test_transaction_entry_not_valid_r4_names_the_entry(api_as, actor):
    bundle = visit_bundle(actor, new_id())
    bundle["entry"][2]["resource"]["code"] = "I10"
    resp = post_json(api_as("village_doctor"), "/fhir/", bundle)
    assert resp.status_code == 400
    assert any(e.startswith("Bundle.entry[2]") for e in expressions(resp))


def test_everything_returns_the_whole_record_audited_once(api_as, actor):
    api = api_as("village_doctor")
    person = resident_of(actor("village_doctor"))
    post_json(api, "/fhir/", visit_bundle(actor, new_id()))
    post_json(api, "/fhir/Observation", b.bp(person))
    enc = post_json(api, "/fhir/Encounter", b.encounter(person)).json()
    post_json(api, "/fhir/Condition", b.condition(person, f"Encounter/{enc['id']}"))
    post_json(api, "/fhir/DiagnosticReport", b.report(person))
    n = AuditEntry.objects.count()
    resp = api.get(f"/fhir/Patient/{person.mpi_id}/$everything")
    assert resp.status_code == 200, resp.content
    bundle = assert_valid(resp.json())
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds[0] == "Patient" and bundle["total"] == len(kinds)
    assert {"Encounter", "Condition", "Observation", "DiagnosticReport"} <= set(kinds)
    ids = {
        e["resource"]["id"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Encounter"
    }
    assert enc["id"] not in ids  # only current versions
    assert AuditEntry.objects.count() == n + 1


def ndjson(*resources: dict) -> bytes:
    return b"\n".join(json.dumps(r, ensure_ascii=False).encode() for r in resources)


def test_import_ndjson_keeps_good_lines_reports_bad_ones_and_is_idempotent(api_as, actor):
    person = resident_of(actor("group_admin"))
    lines = [b.bp(person, 130 + i, 80, ident=f"nd-{i}") for i in range(5)]
    lines.insert(2, b.bp(person, 999, 5, ident="nd-bad"))
    lines.append({"resourceType": "Observation", "status": "final"})
    raw = ndjson(*lines) + b"\n{not json\n"
    api = api_as("group_admin")
    resp = api.post("/fhir/$import", raw, content_type="application/fhir+ndjson")
    assert resp.status_code == 200, resp.content
    out = assert_valid(resp.json())
    job = ImportJob.objects.latest("pk")
    assert (job.created, job.unchanged, job.failed) == (5, 0, 3)
    assert sorted(e["line"] for e in job.errors) == [3, 7, 8]
    bad = next(e for e in job.errors if e["line"] == 3)
    assert bad["path"] == "Observation.component[0].valueQuantity.value"
    assert "第 3 行" in out["issue"][1]["diagnostics"]
    assert Entry.objects.filter(resident=person, summary="FHIR 批量导入").count() == 5
    assert AuditEntry.objects.filter(action="import", object_id=str(job.pk)).count() == 1

    resp = api.post("/fhir/$import", raw, content_type="application/fhir+ndjson")
    job = ImportJob.objects.latest("pk")
    assert (job.created, job.unchanged, job.failed) == (0, 5, 3)
    changed = ndjson(b.bp(person, 171, 80, ident="nd-0"))
    api.post("/fhir/$import", changed, content_type="application/fhir+ndjson")
    job = ImportJob.objects.latest("pk")
    assert job.updated == 1
    assert (
        Observation.objects.filter(source_id="nd-0", status=VersionStatus.CURRENT).get().value
        == 171
    )


def test_import_needs_the_permission_and_the_scope(api_as, actor):
    person = resident_of(actor("village_doctor"))
    raw = ndjson(b.bp(person, ident="nd-x"))
    resp = api_as("village_doctor").post(
        "/fhir/$import", raw, content_type="application/fhir+ndjson"
    )
    assert resp.status_code == 403  # clinical staff may write one by one, not import
    resp = api_as("outsider_doctor").post(
        "/fhir/$import", raw, content_type="application/fhir+ndjson"
    )
    assert resp.status_code == 403
    resp = api_as("group_admin").post("/fhir/$import", raw, content_type="application/json")
    assert resp.status_code == 415


def test_import_encounter_with_conditions_from_the_same_file(api_as, actor):
    person = resident_of(actor("group_admin"))
    enc = b.encounter(person, ident="nd-enc")
    enc["id"] = "e1"
    hospital = Facility.objects.get(pk=actor("county_doctor").facility_id)
    enc["serviceProvider"] = {"reference": f"Organization/{hospital.code}"}
    lines = ndjson(
        enc, b.condition(person, "Encounter/e1", "I10"), b.condition(person, "Encounter/e1", "ZZZ")
    )
    resp = api_as("group_admin").post(
        "/fhir/$import", lines, content_type="application/fhir+ndjson"
    )
    assert resp.status_code == 200
    job = ImportJob.objects.latest("pk")
    assert (job.created, job.failed) == (2, 1), job.errors
    assert job.errors[0]["line"] == 3
    current = Encounter.objects.get(source_id="nd-enc", status=VersionStatus.CURRENT)
    assert [d.code_id for d in current.diagnoses.all()] == ["I10"]


def test_batch_entries_succeed_or_fail_on_their_own(api_as, actor):
    person = resident_of(actor("village_doctor"))
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            _entry("urn:uuid:7f1e0c1a-0000-4000-8000-0000000000a1", b.bp(person, 130, 85)),
            _entry(
                "urn:uuid:7f1e0c1a-0000-4000-8000-0000000000a2",
                b.simple(person, "8867-4", 400, "/min"),
            ),
        ],
    }
    resp = post_json(api_as("village_doctor"), "/fhir/", bundle)
    assert resp.status_code == 200, resp.content
    out = assert_valid(resp.json())
    first, second = (e["response"] for e in out["entry"])
    assert first["status"] == "201 Created"
    assert second["status"].startswith("422")
    assert second["outcome"]["issue"][0]["expression"] == [
        "Bundle.entry[1].resource.valueQuantity.value"
    ]
    assert Observation.objects.filter(resident=person, value=130).exists()


def test_transaction_with_an_out_of_scope_entry_is_refused_whole(api_as, actor):
    person = resident_of(actor("village_doctor"))
    mine = resident_of(actor("outsider_doctor"))
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            _entry("urn:uuid:7f1e0c1a-0000-4000-8000-0000000000b1", b.bp(mine, 131, 85)),
            _entry("urn:uuid:7f1e0c1a-0000-4000-8000-0000000000b2", b.bp(person, 132, 85)),
        ],
    }
    resp = post_json(api_as("outsider_doctor"), "/fhir/", bundle)
    assert resp.status_code == 403
    assert "entry[1]" in resp.json()["issue"][0]["diagnostics"]
    assert not Observation.objects.filter(value__in=(131, 132)).exists()


def test_import_body_may_exceed_the_form_size_limit(api_as, actor, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    person = resident_of(actor("group_admin"))
    raw = ndjson(*(b.bp(person, 120 + i, 80, ident=f"big-{i}") for i in range(10)))
    assert len(raw) > 1000
    resp = api_as("group_admin").post("/fhir/$import", raw, content_type="application/fhir+ndjson")
    assert resp.status_code == 200, resp.content
    assert ImportJob.objects.latest("pk").created == 10
