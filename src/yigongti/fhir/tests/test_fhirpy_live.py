"""A real FHIR client (fhirpy) against the live server: what an HIS adapter would do."""

from __future__ import annotations

import pytest
import requests
from fhirpy import SyncFHIRClient
from fhirpy.base.exceptions import OperationOutcome, ResourceNotFound

from yigongti.conftest import TEST_PASSWORD
from yigongti.fhir import systems
from yigongti.fhir.validation import validate_resource
from yigongti.residents.models import Resident

from .helpers import home_resident, home_village, new_id, patient_body


def connect(live_server, username: str) -> SyncFHIRClient:
    resp = requests.post(
        f"{live_server.url}/api/v1/auth/token",
        json={"username": username, "password": TEST_PASSWORD},
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    return SyncFHIRClient(f"{live_server.url}/fhir", authorization=f"Bearer {resp.json()['token']}")


def test_fhirpy_reads_searches_creates_and_gets_errors(
    transactional_db, county, live_server, actor
):
    client = connect(live_server, "village_doctor")
    resident = home_resident(actor("village_doctor"))

    # read
    patient = client.reference("Patient", resident.mpi_id).to_resource()
    assert patient["name"][0]["text"] == resident.name
    validate_resource(patient.serialize(), "Patient")

    # search by name (pinyin initials), following next links page by page
    found = client.resources("Patient").search(name=resident.name_initials).limit(2).fetch_all()
    assert resident.mpi_id in [p.id for p in found]
    assert all(p["meta"]["tag"][0]["code"] == "SUBSETTED" for p in found)
    by_id = client.resources("Patient").search(identifier=resident.doc_number).get()
    assert by_id.id == resident.mpi_id

    # create
    village = home_village(actor("village_doctor"))
    body = patient_body(village, name="上官 云", doc_number=new_id())
    body.pop("resourceType")
    created = client.resource("Patient", **body)
    created.save()
    assert created.id and Resident.objects.get(mpi_id=created.id).name == "上官云"
    assert created["name"][0]["family"] == "上官"

    # update through the client
    created["telecom"] = [{"system": "phone", "value": "13511112222", "use": "mobile"}]
    created.save()
    assert Resident.objects.get(mpi_id=created.id).phone == "13511112222"

    # bad data comes back as an OperationOutcome
    bad = client.resource(
        "Patient",
        **{
            **body,
            "identifier": [{"system": systems.ID_CARD_SYSTEM, "value": "419998196104120000"}],
        },
    )
    with pytest.raises(OperationOutcome) as excinfo:
        bad.save()
    outcome = excinfo.value.resource
    validate_resource(outcome, "OperationOutcome")
    assert outcome["issue"][0]["expression"] == ["Patient.identifier"]
    with pytest.raises(OperationOutcome):
        client.resource("Patient", gender="robot").save()

    # out of scope looks absent
    outsider = connect(live_server, "outsider_doctor")
    with pytest.raises(ResourceNotFound):
        outsider.reference("Patient", resident.mpi_id).to_resource()

    # the network
    orgs = client.resources("Organization").search(type="medical_group").fetch()
    assert orgs and all(o.id.startswith("group-") for o in orgs)


def test_fhirpy_clinical_record(transactional_db, county, live_server, actor):
    """An HIS adapter pushing a visit and measurements, then reading them back."""
    from yigongti.records.tests.helpers import resident_of

    from . import clinical_helpers as b

    client = connect(live_server, "village_doctor")
    person = resident_of(actor("village_doctor"))

    enc_body = b.encounter(person, ident="live-enc-1")
    enc_body.pop("resourceType")
    enc = client.resource("Encounter", **enc_body)
    enc.save()
    assert enc.id
    cond_body = b.condition(person, f"Encounter/{enc.id}")
    cond_body.pop("resourceType")
    cond = client.resource("Condition", **cond_body)
    cond.save()
    assert cond["code"]["coding"][0]["code"] == "I10"

    for i in range(3):
        body = b.bp(person, 140 + i, 90, ident=f"live-bp-{i}", at=b.when(10 + i))
        body.pop("resourceType")
        client.resource("Observation", **body).save()
    found = (
        client.resources("Observation")
        .search(patient=person.mpi_id, code="http://loinc.org|85354-9")
        .limit(2)
        .fetch_all()
    )
    assert sorted(o["component"][0]["valueQuantity"]["value"] for o in found) == [140, 141, 142]
    for o in found:
        validate_resource(o.serialize(), "Observation")
    with_patient = (
        client.resources("Observation")
        .search(patient=person.mpi_id)
        .include("Observation", "patient")
        .fetch_raw()
    )
    assert any(e["resource"]["resourceType"] == "Patient" for e in with_patient["entry"])

    # everything, through the client's raw request
    bundle = client.execute(f"Patient/{person.mpi_id}/$everything", method="get")
    kinds = {e["resource"]["resourceType"] for e in bundle["entry"]}
    assert {"Patient", "Encounter", "Condition", "Observation"} <= kinds

    # an impossible value comes back as an OperationOutcome naming the element
    bad = b.bp(person, 999, 5)
    bad.pop("resourceType")
    with pytest.raises(OperationOutcome) as excinfo:
        client.resource("Observation", **bad).save()
    assert excinfo.value.resource["issue"][0]["expression"] == [
        "Observation.component[0].valueQuantity.value"
    ]

    # out of scope looks absent
    outsider = connect(live_server, "outsider_doctor")
    with pytest.raises(ResourceNotFound):
        outsider.reference("Observation", found[0].id).to_resource()
    with pytest.raises(ResourceNotFound):
        outsider.reference("Encounter", enc.id).to_resource()
