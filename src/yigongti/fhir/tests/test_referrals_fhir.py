"""ServiceRequest (referral notes) and Task (the receiving side's work): mapping, status
tables, search, create through the referral action, scope, audit, R4 validity."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from yigongti.core.models import AuditEntry
from yigongti.fhir import referrals as fr
from yigongti.fhir.clinical import local_time
from yigongti.fhir.mapping import facility_resource_id
from yigongti.referrals import actions
from yigongti.referrals.actions import ReferralInput, ReturnInput
from yigongti.referrals.models import Referral
from yigongti.referrals.tests.conftest import staff_of
from yigongti.residents.models import Resident
from yigongti.residents.queries import residents_visible_to
from yigongti.scheduling import actions as scheduling
from yigongti.scheduling.actions import SlotInput
from yigongti.scheduling.models import Slot

from .helpers import assert_valid, issues, post_json

pytestmark = pytest.mark.django_db

REASON = "血压控制不佳三个月，规律服药后仍≥160/100"


def _people(n: int, actor) -> list[Resident]:
    return list(residents_visible_to(actor("village_doctor")).order_by("pk")[:n])


def _input(**kw) -> ReferralInput:
    staff = staff_of("county_doctor")
    base: dict[str, Any] = {
        "urgency": "routine",
        "reason": REASON,
        "to_facility_id": staff.facility_id,
        "to_department_id": staff.department_id,
        "referring_doctor": "李村医",
        "referring_phone": "13900001111",
    }
    base.update(kw)
    return ReferralInput(**base)


def _slot(actor, capacity: int = 5) -> Slot:
    staff = staff_of("county_doctor")
    assert staff.department is not None
    s = scheduling.do_publish_session(
        actor("county_doctor"),
        staff.department,
        staff,
        timezone.localdate() + timedelta(days=7),
        [SlotInput(time(8), time(9), capacity)],
    )
    return Slot.objects.get(session=s)


def _org(username: str) -> str:
    return f"Organization/{facility_resource_id(staff_of(username).facility)}"


@pytest.fixture
def chain(actor):
    """An accepted family-doctor emergency referral with a booking (a) and a plain routine
    one (b), both from the village doctor to the county doctor's department."""
    v, c = actor("village_doctor"), actor("county_doctor")
    a_person, b_person = _people(2, actor)
    a = actions.do_create_referral(
        v,
        a_person,
        _input(
            urgency="emergency",
            family_doctor=True,
            diagnosis_code="I10",
            initial_impression="高血压3级",
            past_history="高血压10年",
        ),
    )
    a = actions.do_accept(c, a.pk, slot_id=_slot(actor).pk)
    b = actions.do_create_referral(v, b_person, _input())
    return {"a": a, "b": b, "a_person": a_person, "b_person": b_person}


def test_service_request_read_maps_the_referral(api_as, chain):
    api = api_as("village_doctor")
    a = chain["a"]
    resp = api.get(f"/fhir/ServiceRequest/{a.pk}")
    assert resp.status_code == 200, resp.content
    sr = assert_valid(resp.json())
    assert sr["status"] == "active" and sr["intent"] == "order" and sr["priority"] == "stat"
    assert sr["category"][0]["coding"][0]["code"] == "3457005"
    assert sr["category"][1]["coding"][0]["code"] == "up"
    assert sr["subject"]["reference"] == f"Patient/{chain['a_person'].mpi_id}"
    assert sr["requester"]["reference"] == _org("village_doctor")
    assert sr["performer"][0]["reference"] == _org("county_doctor")
    dept = staff_of("county_doctor").department
    assert sr["performerType"]["coding"][0]["code"] == str(dept.pk)
    assert sr["performerType"]["text"] == dept.name
    assert sr["reasonCode"][0]["coding"][0]["code"] == "I10"
    assert sr["reasonCode"][0]["text"] == "高血压3级"
    notes = [n["text"] for n in sr["note"]]
    assert f"{fr.NOTE_REASON}{REASON}" in notes and "既往史：高血压10年" in notes
    assert "转诊医生：李村医（13900001111）" in notes
    assert {"url": fr.family_doctor_extension(), "valueBoolean": True} in sr["extension"]
    assert sr["authoredOn"] == local_time(a.submitted_at)
    assert AuditEntry.objects.filter(
        action="read", object_type="referral", object_id=str(a.pk)
    ).exists()


def test_task_read_is_the_receiving_work_item(api_as, chain):
    api = api_as("county_doctor")
    a, b = chain["a"], chain["b"]
    t = assert_valid(api.get(f"/fhir/Task/{a.pk}").json())
    assert t["status"] == "accepted" and t["intent"] == "order"
    assert t["businessStatus"]["text"] == "已接收"
    assert t["focus"] == {"reference": f"ServiceRequest/{a.pk}"}
    assert t["owner"]["reference"] == _org("county_doctor")
    assert t["code"]["coding"][0]["code"] == "fulfill"
    assert t["output"][0]["valueReference"] == {"reference": f"Appointment/{a.booking_id}"}
    waiting = assert_valid(api.get(f"/fhir/Task/{b.pk}").json())
    assert waiting["status"] == "requested" and waiting["businessStatus"]["text"] == "已提交"
    assert "end" in waiting["restriction"]["period"]  # respond by


def test_return_note_and_its_follow_up(api_as, actor, chain):
    c, v = actor("county_doctor"), actor("village_doctor")
    a = chain["a"]
    actions.do_mark_arrived(c, a.pk)
    ret = actions.do_send_return(
        c,
        ReturnInput(
            parent_id=a.pk,
            return_diagnosis="原发性高血压",
            next_steps="继续服药，两周后复查血压",
            rehab_advice="低盐饮食",
            diagnosis_code="I10",
        ),
    )
    api = api_as("village_doctor")
    sr = assert_valid(api.get(f"/fhir/ServiceRequest/{ret.pk}").json())
    assert sr["intent"] == "plan" and sr["basedOn"] == [{"reference": f"ServiceRequest/{a.pk}"}]
    assert sr["category"][1]["coding"][0]["code"] == "down"
    assert sr["patientInstruction"] == "低盐饮食"
    parent = assert_valid(api.get(f"/fhir/ServiceRequest/{a.pk}").json())
    assert parent["status"] == "completed"
    t = assert_valid(api.get(f"/fhir/Task/{ret.pk}").json())
    assert t["code"]["coding"][0]["code"] == "return-followup"
    assert t["status"] == "requested"
    assert t["restriction"]["period"]["end"] == ret.followup_due.isoformat()
    assert t["owner"]["reference"] == _org("village_doctor")
    actions.do_record_followup(v, ret.pk, "血压 132/84，按时服药")
    done = assert_valid(api.get(f"/fhir/Task/{ret.pk}").json())
    assert done["status"] == "completed" and "end" in done["executionPeriod"]
    assert done["output"][-1]["valueString"] == "血压 132/84，按时服药"
    found = api.get("/fhir/Task", {"code": "return-followup", "status": "completed"}).json()
    assert str(ret.pk) in {e["resource"]["id"] for e in found["entry"]}


@pytest.mark.parametrize(
    ("state", "request_status", "task_status"),
    [
        ("draft", "draft", "draft"),
        ("submitted", "active", "requested"),
        ("accepted", "active", "accepted"),
        ("arrived", "active", "in-progress"),
        ("completed", "completed", "completed"),
        ("declined", "revoked", "rejected"),
        ("expired", "revoked", "failed"),
        ("cancelled", "revoked", "cancelled"),
    ],
)
def test_status_tables(state, request_status, task_status):
    assert fr.REQUEST_STATUS[state] == request_status
    assert fr.TASK_STATUS[state] == task_status


def test_every_state_is_mapped():
    from yigongti.referrals.models import State

    assert set(fr.REQUEST_STATUS) == set(State.values) == set(fr.TASK_STATUS)


def test_search_by_patient_status_dates_organizations_and_paging(api_as, actor, chain):
    api = api_as("village_doctor")
    a, b = chain["a"], chain["b"]
    both = f"{chain['a_person'].mpi_id},{chain['b_person'].mpi_id}"
    found = assert_valid(api.get("/fhir/ServiceRequest", {"patient": both}).json())
    assert {e["resource"]["id"] for e in found["entry"]} == {str(a.pk), str(b.pk)}
    one = api.get("/fhir/ServiceRequest", {"subject": f"Patient/{chain['b_person'].mpi_id}"})
    assert [e["resource"]["id"] for e in one.json()["entry"]] == [str(b.pk)]

    actions.do_decline(actor("county_doctor"), b.pk, "本科室无床")
    revoked = api.get("/fhir/ServiceRequest", {"patient": both, "status": "revoked"}).json()
    assert [e["resource"]["id"] for e in revoked["entry"]] == [str(b.pk)]
    tasks = api.get("/fhir/Task", {"patient": both, "status": "rejected"}).json()
    assert [e["resource"]["id"] for e in tasks["entry"]] == [str(b.pk)]
    assert tasks["entry"][0]["resource"]["statusReason"]["text"] == "本科室无床"

    today = timezone.localdate()
    for value, expected in (
        (f"ge{today.isoformat()}", 2),
        (f"lt{today.isoformat()}", 0),
        (today.isoformat()[:7], 2),
        (f"gt{today.isoformat()}", 0),
        (f"le{today.isoformat()}", 2),
    ):
        got = api.get("/fhir/ServiceRequest", {"patient": both, "authored": value}).json()
        assert got["total"] == expected, value
    assert api.get("/fhir/ServiceRequest", {"authored": "yesterday"}).status_code == 400

    county, village = _org("county_doctor"), _org("village_doctor")
    for params, expected in (
        ({"performer": county}, 2),
        ({"performer": "Organization/NO-SUCH"}, 0),
        ({"requester": village}, 2),
        ({"requester": county}, 0),
        ({"priority": "stat"}, 1),
        ({"category": "up"}, 2),
        ({"category": "down"}, 0),
        ({"intent": "order"}, 2),
    ):
        got = api.get("/fhir/ServiceRequest", {"patient": both, **params}).json()
        assert got["total"] == expected, params
    owned = api_as("county_doctor").get("/fhir/Task", {"owner": county, "patient": both}).json()
    assert owned["total"] == 2
    focus = api.get("/fhir/Task", {"focus": f"ServiceRequest/{a.pk}"}).json()
    assert [e["resource"]["id"] for e in focus["entry"]] == [str(a.pk)]

    paged = api.get("/fhir/ServiceRequest", {"patient": both, "_count": "1"}).json()
    assert paged["total"] == 2 and len(paged["entry"]) == 1
    nxt = next(link["url"] for link in paged["link"] if link["relation"] == "next")
    link = urlsplit(nxt)
    second = api.get(f"{link.path}?{link.query}").json()
    assert second["entry"][0]["resource"]["id"] != paged["entry"][0]["resource"]["id"]
    assert AuditEntry.objects.filter(
        action="search", object_type="referral", username="village_doctor"
    ).exists()


def test_outsider_gets_404_and_empty_searches(api_as, chain):
    out = api_as("outsider_doctor")
    a = chain["a"]
    for path in (f"/fhir/ServiceRequest/{a.pk}", f"/fhir/Task/{a.pk}"):
        resp = out.get(path)
        assert resp.status_code == 404 and issues(resp)[0]["code"] == "not-found"
    assert AuditEntry.objects.filter(
        action="denied", username="outsider_doctor", object_type="referral", object_id=str(a.pk)
    ).exists()
    mpi = chain["a_person"].mpi_id
    for rtype in ("ServiceRequest", "Task"):
        found = out.get(f"/fhir/{rtype}", {"patient": mpi}).json()
        assert found["total"] == 0 and "entry" not in found
        everything = out.get(f"/fhir/{rtype}", {"_count": "100"}).json()
        ids = {e["resource"]["id"] for e in everything.get("entry", [])}
        assert not ids & {str(a.pk), str(chain["b"].pk)}
    assert AuditEntry.objects.filter(
        action="denied", username="outsider_doctor", object_type="resident", object_id=mpi
    ).exists()


def test_receiving_county_doctor_sees_the_referral_of_a_resident_outside_its_area(api_as, chain):
    api = api_as("county_doctor")
    found = api.get("/fhir/ServiceRequest", {"patient": chain["a_person"].mpi_id}).json()
    assert [e["resource"]["id"] for e in found["entry"]] == [str(chain["a"].pk)]


# --- create ----------------------------------------------------------------------------


def _body(person: Resident, **over) -> dict:
    staff = staff_of("county_doctor")
    body = {
        "resourceType": "ServiceRequest",
        "identifier": [{"system": "urn:his:village", "value": "ref-0001"}],
        "status": "active",
        "intent": "order",
        "priority": "routine",
        "subject": {"reference": f"Patient/{person.mpi_id}"},
        "performer": [{"reference": _org("county_doctor")}],
        "performerType": {
            "coding": [{"system": fr.department_system(), "code": str(staff.department_id)}]
        },
        "reasonCode": [
            {
                "coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I10"}],
                "text": "高血压",
            }
        ],
        "note": [{"text": REASON}, {"text": "已做治疗：氨氯地平 5mg qd"}],
    }
    body.update(over)
    return body


def test_create_runs_the_referral_action_and_is_idempotent(api_as, actor):
    (person,) = _people(1, actor)
    api = api_as("village_doctor")
    resp = post_json(api, "/fhir/ServiceRequest", _body(person))
    assert resp.status_code == 201, resp.content
    sr = assert_valid(resp.json())
    r = Referral.objects.get(pk=int(sr["id"]))
    assert resp["Location"].endswith(f"/fhir/ServiceRequest/{r.pk}")
    assert r.state == "submitted" and r.reason == REASON and r.diagnosis_id == "I10"
    assert r.treatment_so_far == "氨氯地平 5mg qd" and r.initial_impression == "高血压"
    assert r.to_department_id == staff_of("county_doctor").department_id
    assert r.from_facility_id == staff_of("village_doctor").facility_id
    assert sr["identifier"][0]["value"] == "ref-0001"
    assert AuditEntry.objects.filter(
        action="create", object_type="referral", object_id=str(r.pk)
    ).exists()

    again = post_json(api, "/fhir/ServiceRequest", _body(person))
    assert again.status_code == 200 and again.json()["id"] == str(r.pk)
    assert Referral.objects.filter(resident=person).count() == 1

    other_key = _body(person, identifier=[{"value": "ref-0002"}])
    dup = post_json(api, "/fhir/ServiceRequest", other_key)
    assert dup.status_code == 409
    assert issues(dup)[0]["expression"] == ["ServiceRequest.subject"]
    assert "在办转诊单" in issues(dup)[0]["diagnostics"]


def test_create_names_the_department_by_its_name(api_as, actor):
    (person,) = _people(1, actor)
    dept = staff_of("county_doctor").department
    assert dept is not None
    body = _body(person, performerType={"text": dept.name}, identifier=[{"value": "by-name"}])
    resp = post_json(api_as("village_doctor"), "/fhir/ServiceRequest", body)
    assert resp.status_code == 201, resp.content
    assert Referral.objects.get(pk=int(resp.json()["id"])).to_department_id == dept.pk


def test_create_out_of_county_and_draft(api_as, actor):
    (person,) = _people(1, actor)
    api = api_as("village_doctor")
    body = _body(
        person,
        status="draft",
        extension=[{"url": fr.out_of_county_extension(), "valueBoolean": True}],
        performer=[{"display": "省人民医院"}],
    )
    del body["performerType"]
    resp = post_json(api, "/fhir/ServiceRequest", body)
    assert resp.status_code == 201, resp.content
    sr = assert_valid(resp.json())
    assert sr["status"] == "draft" and sr["performer"] == [{"display": "省人民医院（县外）"}]
    r = Referral.objects.get(pk=int(sr["id"]))
    assert r.out_of_county and r.destination_name == "省人民医院" and r.state == "draft"


@pytest.mark.parametrize(
    ("change", "expression"),
    [
        ({"note": [{"text": "既往史：无"}]}, "ServiceRequest.note"),
        ({"priority": "urgent"}, "ServiceRequest.priority"),
        ({"performerType": {"text": "不存在的科室"}}, "ServiceRequest.performerType"),
        ({"intent": "plan"}, "ServiceRequest.intent"),
        ({"status": "completed"}, "ServiceRequest.status"),
        ({"performer": [{"reference": "Organization/NO-SUCH"}]}, "ServiceRequest.performer[0]"),
        (
            {
                "reasonCode": [
                    {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "Q999"}]}
                ]
            },
            "ServiceRequest.reasonCode",
        ),
        (
            {"supportingInfo": [{"reference": "Encounter/999999999"}]},
            "ServiceRequest.supportingInfo[0]",
        ),
        ({"subject": {"reference": "Patient/0000000000000000"}}, "ServiceRequest.subject"),
    ],
)
def test_bad_input_names_the_element_and_writes_nothing(api_as, actor, change, expression):
    (person,) = _people(1, actor)
    before = Referral.objects.count()
    resp = post_json(api_as("village_doctor"), "/fhir/ServiceRequest", _body(person, **change))
    assert resp.status_code == 422, resp.content
    assert expression in {e for i in issues(resp) for e in i.get("expression", [])}
    assert Referral.objects.count() == before


def test_not_r4_is_400_and_refused_roles(api_as, actor):
    (person,) = _people(1, actor)
    before = Referral.objects.count()
    bad = post_json(api_as("village_doctor"), "/fhir/ServiceRequest", _body(person, priority=7))
    assert bad.status_code == 400
    refused = post_json(api_as("pharmacist"), "/fhir/ServiceRequest", _body(person))
    assert refused.status_code == 403
    outside = post_json(api_as("outsider_doctor"), "/fhir/ServiceRequest", _body(person))
    assert outside.status_code == 404
    assert Referral.objects.count() == before
    assert (
        api_as("village_doctor")
        .post("/fhir/Task", {}, content_type="application/fhir+json")
        .status_code
        == 405
    )


def test_capability_statement_lists_referral_types(client):
    cs = assert_valid(client.get("/fhir/metadata").json())
    types = {r["type"]: r for r in cs["rest"][0]["resource"]}
    sr = types["ServiceRequest"]
    assert [i["code"] for i in sr["interaction"]] == ["read", "search-type", "create"]
    assert {"patient", "status", "authored", "performer", "requester", "_count"} <= {
        p["name"] for p in sr["searchParam"]
    }
    assert {"patient", "status", "owner"} <= {p["name"] for p in types["Task"]["searchParam"]}


def test_fhirpy_service_request_search(transactional_db, county, live_server, actor):
    from .test_fhirpy_live import connect

    v = actor("village_doctor")
    (person,) = _people(1, actor)
    r = actions.do_create_referral(v, person, _input(urgency="emergency"))
    client = connect(live_server, "village_doctor")
    found = (
        client.resources("ServiceRequest").search(patient=person.mpi_id, status="active").fetch()
    )
    assert [s.id for s in found] == [str(r.pk)]
    assert_valid(found[0].serialize())
    assert found[0]["priority"] == "stat"
    task = client.reference("Task", str(r.pk)).to_resource()
    assert task["status"] == "requested" and task["focus"]["reference"] == f"ServiceRequest/{r.pk}"
    dated = client.resources("ServiceRequest").search(
        patient=person.mpi_id, authored=f"ge{timezone.localdate().isoformat()}"
    )
    assert dated.count() == 1
