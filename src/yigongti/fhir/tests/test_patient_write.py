"""Creating and updating Patients: the registration rules, errors as OperationOutcome."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from yigongti.core.models import AuditEntry
from yigongti.fhir import systems
from yigongti.residents.models import Resident
from yigongti.residents.rules import make_id_number

from .helpers import (
    assert_valid,
    expressions,
    home_resident,
    home_village,
    issues,
    new_id,
    patient_body,
    post_json,
    put_json,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def doctor(api_as):
    return api_as("village_doctor")


@pytest.fixture
def village(actor):
    return home_village(actor("village_doctor"))


def test_create_gives_201_location_and_the_new_patient(doctor, village):
    body = patient_body(village, name="司马 晓燕", gender="female", doc_number=new_id(male=False))
    resp = post_json(doctor, "/fhir/Patient", body)
    assert resp.status_code == 201, resp.content
    p = assert_valid(resp.json())
    assert resp["Location"] == f"http://testserver/fhir/Patient/{p['id']}"
    assert p["name"][0] == {
        "use": "official",
        "text": "司马晓燕",
        "family": "司马",
        "given": ["晓燕"],
    }
    r = Resident.objects.get(mpi_id=p["id"])
    assert (r.sex, r.birth_date, r.doc_type) == ("2", date(1961, 4, 12), "id_card")
    assert r.doc_number == body["identifier"][0]["value"]
    assert (r.phone, r.village_id, r.address) == ("13900139000", village.pk, f"{village.name}6号")
    assert AuditEntry.objects.filter(action="create", object_id=p["id"]).exists()
    # and the same resident reads back the same
    again = doctor.get(f"/fhir/Patient/{p['id']}").json()
    assert {k: v for k, v in again.items() if k != "meta"} == {
        k: v for k, v in p.items() if k != "meta"
    }


def test_a_resident_without_documents_can_be_created(doctor, village):
    resp = post_json(doctor, "/fhir/Patient", patient_body(village, identifier=[]))
    assert resp.status_code == 201, resp.content
    assert Resident.objects.get(mpi_id=resp.json()["id"]).doc_type == "none"


def test_a_wrong_check_character_is_422_on_the_identifier(doctor, village):
    good = new_id()
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    resp = post_json(doctor, "/fhir/Patient", patient_body(village, doc_number=bad))
    assert resp.status_code == 422
    [issue] = issues(resp)
    assert issue["severity"] == "error" and issue["code"] == "invalid"
    assert issue["expression"] == ["Patient.identifier"]
    assert "校验位" in issue["diagnostics"] and "check character" in issue["diagnostics"]
    assert issue["details"]["coding"][0]["code"] == "checksum"


def test_a_future_birth_date_is_422_on_birth_date(doctor, village):
    future = timezone.localdate() + timedelta(days=3)
    resp = post_json(doctor, "/fhir/Patient", patient_body(village, birth=future, identifier=[]))
    assert resp.status_code == 422
    assert expressions(resp) == {"Patient.birthDate"}


def test_every_field_error_is_reported_at_once(doctor):
    body = {
        "resourceType": "Patient",
        "name": [{"text": "张3"}],
        "telecom": [{"system": "phone", "value": "12345"}],
    }
    resp = post_json(doctor, "/fhir/Patient", body)
    assert resp.status_code == 422
    assert expressions(resp) == {
        "Patient.name",
        "Patient.gender",
        "Patient.birthDate",
        "Patient.telecom",
        "Patient.address",
    }


def test_sex_that_disagrees_with_the_id_number_is_422_on_gender(doctor, village):
    resp = post_json(doctor, "/fhir/Patient", patient_body(village, gender="female"))
    assert resp.status_code == 422
    assert expressions(resp) == {"Patient.gender"}


@pytest.mark.parametrize(
    ("over", "expression", "code"),
    [
        ({"gender": "robot"}, "Patient.gender", "code-invalid"),
        ({"colour": "blue"}, "Patient.colour", "structure"),
        ({"name": "张三"}, "Patient.name", "structure"),
        ({"birthDate": "1961-02-30"}, "Patient.birthDate", "structure"),
        ({"telecom": [{"system": "pigeon", "value": "x"}]}, "Patient.telecom[0].system", None),
        ({"resourceType": "Observation"}, "Patient.resourceType", "structure"),
    ],
)
def test_json_that_is_not_an_r4_patient_is_400(doctor, village, over, expression, code):
    body = {**patient_body(village), **over}
    resp = post_json(doctor, "/fhir/Patient", body)
    assert resp.status_code == 400
    found = issues(resp)
    assert expression in {e for i in found for e in i.get("expression", [])}
    if code:
        assert {i["code"] for i in found} == {code}


def test_a_body_that_is_not_json_is_400_and_another_media_type_415(doctor):
    resp = doctor.post("/fhir/Patient", "{not json", content_type="application/fhir+json")
    assert resp.status_code == 400 and issues(resp)[0]["code"] == "structure"
    resp = doctor.post("/fhir/Patient", "<Patient/>", content_type="application/fhir+xml")
    assert resp.status_code == 415


@pytest.mark.parametrize(
    ("over", "expression"),
    [
        ({"birthDate": "1961"}, "Patient.birthDate"),
        (
            {"identifier": [{"system": "urn:oid:1.2.3", "value": "1"}]},
            "Patient.identifier[0].system",
        ),
        ({"identifier": [{"value": "419998196104120013"}]}, "Patient.identifier[0].system"),
    ],
)
def test_valid_r4_we_cannot_store_is_422(doctor, village, over, expression):
    resp = post_json(doctor, "/fhir/Patient", {**patient_body(village), **over})
    assert resp.status_code == 422
    assert expression in expressions(resp)


def test_a_second_registration_of_the_same_document_is_409(doctor, village):
    body = patient_body(village)
    first = post_json(doctor, "/fhir/Patient", body)
    assert first.status_code == 201
    resp = post_json(doctor, "/fhir/Patient", body)
    assert resp.status_code == 409
    [issue] = issues(resp)
    assert issue["code"] == "duplicate"
    assert first.json()["id"] in issue["diagnostics"]
    assert issue["expression"] == ["Patient.identifier"]


def test_if_none_exist_makes_a_retried_create_harmless(doctor, village):
    body = patient_body(village)
    condition = f"identifier={systems.ID_CARD_SYSTEM}|{body['identifier'][0]['value']}"
    first = post_json(doctor, "/fhir/Patient", body, **{"If-None-Exist": condition})
    again = post_json(doctor, "/fhir/Patient", body, **{"If-None-Exist": condition})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert Resident.objects.filter(doc_number=body["identifier"][0]["value"]).count() == 1


def test_only_who_may_register_creates(api_as, village):
    resp = post_json(api_as("pharmacist"), "/fhir/Patient", patient_body(village))
    assert resp.status_code == 403 and issues(resp)[0]["code"] == "forbidden"
    resp = post_json(api_as("outsider_doctor"), "/fhir/Patient", patient_body(village))
    assert resp.status_code == 403
    assert expressions(resp) == {"Patient.address"}


def test_update_changes_the_record(doctor, actor):
    r = home_resident(actor("village_doctor"))
    body = doctor.get(f"/fhir/Patient/{r.mpi_id}").json()
    body["telecom"] = [{"system": "phone", "value": "13612345678", "use": "mobile"}]
    body["address"][0]["line"] = ["新地址18号"]
    resp = put_json(doctor, f"/fhir/Patient/{r.mpi_id}", body)
    assert resp.status_code == 200, resp.content
    p = assert_valid(resp.json())
    assert p["telecom"][0]["value"] == "13612345678"
    r.refresh_from_db()
    assert (r.phone, r.address) == ("13612345678", "新地址18号")
    entry = AuditEntry.objects.filter(action="update", object_id=r.mpi_id).last()
    assert entry is not None and set(entry.detail["fields"]) == {"phone", "address"}


def test_update_without_a_document_keeps_the_stored_one(doctor, actor):
    r = home_resident(actor("village_doctor"))
    body = doctor.get(f"/fhir/Patient/{r.mpi_id}").json()
    body["identifier"] = []
    body["name"] = [{"family": "欧阳", "given": ["修改"]}]
    resp = put_json(doctor, f"/fhir/Patient/{r.mpi_id}", body)
    assert resp.status_code == 200, resp.content
    r.refresh_from_db()
    assert r.name == "欧阳修改" and r.doc_type == "id_card" and r.doc_number


def test_update_runs_the_same_checks(doctor, actor):
    r = home_resident(actor("village_doctor"))
    body = doctor.get(f"/fhir/Patient/{r.mpi_id}").json()
    body["birthDate"] = "1900-01-01"  # disagrees with the ID number
    resp = put_json(doctor, f"/fhir/Patient/{r.mpi_id}", body)
    assert resp.status_code == 422
    assert "Patient.birthDate" in expressions(resp)


def test_update_needs_the_matching_id_and_a_full_copy(doctor, actor):
    r = home_resident(actor("village_doctor"))
    body = doctor.get(f"/fhir/Patient/{r.mpi_id}").json()
    assert put_json(doctor, f"/fhir/Patient/{r.mpi_id}", {**body, "id": "1"}).status_code == 400
    subsetted = doctor.get("/fhir/Patient", {"_id": r.mpi_id}).json()["entry"][0]["resource"]
    resp = put_json(doctor, f"/fhir/Patient/{r.mpi_id}", subsetted)
    assert resp.status_code == 422 and expressions(resp) == {"Patient.meta.tag"}


def test_the_outsider_cannot_update(api_as, doctor, actor):
    r = home_resident(actor("village_doctor"))
    body = doctor.get(f"/fhir/Patient/{r.mpi_id}").json()
    resp = put_json(api_as("outsider_doctor"), f"/fhir/Patient/{r.mpi_id}", body)
    assert resp.status_code == 404


def test_changing_the_id_number_to_another_residents_is_409(doctor, actor, village):
    r = home_resident(actor("village_doctor"))
    other = make_id_number("419998", r.birth_date, 991 if r.sex == "1" else 992)
    created = post_json(
        doctor,
        "/fhir/Patient",
        patient_body(
            village,
            doc_number=other,
            birth=r.birth_date,
            gender={"1": "male", "2": "female"}[r.sex],
        ),
    )
    assert created.status_code == 201, created.content
    body = doctor.get(f"/fhir/Patient/{r.mpi_id}").json()
    body["identifier"] = [{"system": systems.ID_CARD_SYSTEM, "value": other}]
    resp = put_json(doctor, f"/fhir/Patient/{r.mpi_id}", body)
    assert resp.status_code == 409
    assert created.json()["id"] in issues(resp)[0]["diagnostics"]


def test_a_retried_create_with_an_idempotency_key_is_replayed(doctor, village):
    body = patient_body(village)
    key = {"Idempotency-Key": "fhir-retry-1"}
    first = post_json(doctor, "/fhir/Patient", body, **key)
    again = post_json(doctor, "/fhir/Patient", body, **key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again["Idempotent-Replay"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert Resident.objects.filter(doc_number=body["identifier"][0]["value"]).count() == 1


def test_retried_create_with_idempotency_key_replays_location(api_as, actor):
    c = api_as("village_doctor")
    body = patient_body(home_village(actor("village_doctor")))
    first = post_json(c, "/fhir/Patient", body, **{"Idempotency-Key": "fhir-1"})
    again = post_json(c, "/fhir/Patient", body, **{"Idempotency-Key": "fhir-1"})
    assert first.status_code == again.status_code == 201
    assert again["Location"] == first["Location"]
    assert again["Idempotent-Replay"] == "true"
    doc = next(i["value"] for i in body["identifier"] if i["system"] == systems.ID_CARD_SYSTEM)
    assert Resident.objects.filter(doc_number=doc).count() == 1


def test_idempotency_key_reused_elsewhere_is_an_operation_outcome(api_as, actor):
    c = api_as("village_doctor")
    body = patient_body(home_village(actor("village_doctor")))
    post_json(c, "/fhir/Patient", body, **{"Idempotency-Key": "fhir-2"})
    other = post_json(c, "/fhir/Organization", {}, **{"Idempotency-Key": "fhir-2"})
    assert other.status_code == 422
    assert issues(other)[0]["expression"] == ["header.Idempotency-Key"]
