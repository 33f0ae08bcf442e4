"""Remote consultations as ServiceRequest (category SNOMED 11429006, ids consult-<n>):
status table, mapping, search, scope, read-only, R4 validity."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from yigongti.consults import actions
from yigongti.consults.actions import ConsultInput
from yigongti.consults.models import Consultation, State, Urgency
from yigongti.core.models import AuditEntry
from yigongti.fhir import consultations as fc
from yigongti.fhir.clinical import local_time
from yigongti.fhir.mapping import facility_resource_id
from yigongti.referrals.tests.conftest import staff_of
from yigongti.residents.models import Resident
from yigongti.residents.queries import residents_visible_to

from .helpers import assert_valid, issues, post_json

pytestmark = pytest.mark.django_db


def _org(username: str) -> str:
    return f"Organization/{facility_resource_id(staff_of(username).facility)}"


@pytest.fixture
def people(actor) -> list[Resident]:
    return list(residents_visible_to(actor("village_doctor")).order_by("pk")[:2])


@pytest.fixture
def ask(actor, people):
    def make(person: Resident | None = None, **kw: Any) -> Consultation:
        staff = staff_of("county_doctor")
        d: dict[str, Any] = {
            "to_facility_id": staff.facility_id,
            "to_department_id": staff.department_id,
            "urgency": "routine",
            "consent": True,
            "consent_signer": "患者本人",
            "reason": "血压控制不佳，调整两种降压药后仍≥160/100",
            "purpose": "明确继发性高血压可能",
            "case_summary": "男，62岁，高血压10年。",
            "wanted_specialty": "心血管内科",
            "proposed_at": timezone.now() + timedelta(hours=20),
            "requesting_doctor": "王德福",
        }
        d.update(kw)
        return actions.do_request_consultation(
            actor("village_doctor"), person or people[0], ConsultInput(**d)
        )

    return make


@pytest.mark.parametrize(
    ("state", "status"),
    [
        ("submitted", "active"),
        ("accepted", "active"),
        ("answered", "completed"),
        ("closed", "completed"),
        ("declined", "revoked"),
        ("cancelled", "revoked"),
    ],
)
def test_status_table(state, status):
    assert fc.REQUEST_STATUS[state] == status


def test_every_state_and_urgency_is_mapped():
    assert set(fc.REQUEST_STATUS) == set(State.values)
    assert set(fc.PRIORITY) == set(Urgency.values)


def test_read_maps_the_consultation(api_as, actor, ask, people):
    x = ask(urgency="emergency", proposed_at=timezone.now() + timedelta(hours=2))
    api = api_as("village_doctor")
    resp = api.get(f"/fhir/ServiceRequest/consult-{x.pk}")
    assert resp.status_code == 200, resp.content
    sr = assert_valid(resp.json())
    assert sr["id"] == f"consult-{x.pk}"
    assert sr["status"] == "active" and sr["priority"] == "stat" and sr["intent"] == "order"
    assert sr["category"][0]["coding"][0]["code"] == "11429006"
    assert sr["subject"]["reference"] == f"Patient/{people[0].mpi_id}"
    assert sr["requester"]["reference"] == _org("village_doctor")
    assert sr["performer"][0]["reference"] == _org("county_doctor")
    assert sr["performerType"]["text"] == "心血管内科"
    assert sr["reasonCode"] == [{"text": x.reason}]
    assert {"text": "会诊目的：明确继发性高血压可能"} in sr["note"]
    assert sr["authoredOn"] == local_time(x.submitted_at)
    assert sr["extension"][0]["valueCoding"]["code"] == "submitted"
    assert AuditEntry.objects.filter(
        action="read", object_type="consultation", object_id=str(x.pk)
    ).exists()

    c = actor("county_doctor")
    actions.do_accept_consultation(c, x.pk)
    actions.do_give_opinion(c, x.pk, "考虑原发性醛固酮增多症", "加用螺内酯")
    done = assert_valid(api.get(f"/fhir/ServiceRequest/consult-{x.pk}").json())
    assert done["status"] == "completed"
    assert done["extension"][0]["valueCoding"]["code"] == "answered"
    assert done["performer"][1]["reference"].startswith("Practitioner/")
    assert {"text": "会诊意见：考虑原发性醛固酮增多症"} in done["note"]


def test_search_by_patient_status_authored_and_category(api_as, actor, ask, people):
    a = ask(people[0])
    b = ask(people[1], urgency="emergency", proposed_at=timezone.now() + timedelta(hours=2))
    actions.do_decline_consultation(actor("county_doctor"), b.pk, "本科室无此专业")
    api = api_as("village_doctor")
    both = f"{people[0].mpi_id},{people[1].mpi_id}"
    today = timezone.localdate().isoformat()
    for params, expected in (
        ({}, {a, b}),
        ({"status": "active"}, {a}),
        ({"status": "revoked"}, {b}),
        ({"category": "11429006"}, {a, b}),
        ({"category": "LAB"}, set()),
        ({"priority": "stat"}, {b}),
        ({"authored": f"ge{today}"}, {a, b}),
        ({"authored": f"lt{today}"}, set()),
        ({"requester": _org("village_doctor")}, {a, b}),
        ({"performer": _org("county_doctor")}, {a, b}),
        ({"_id": f"consult-{a.pk}"}, {a}),
        ({"code": "ECG12"}, set()),
    ):
        got = assert_valid(api.get("/fhir/ServiceRequest", {"patient": both, **params}).json())
        assert {e["resource"]["id"] for e in got.get("entry", [])} == {
            f"consult-{x.pk}" for x in expected
        }, params
    assert AuditEntry.objects.filter(
        action="search", object_type="consultation", username="village_doctor"
    ).exists()


def test_outsider_gets_404_and_empty_searches(api_as, ask, people):
    x = ask()
    out = api_as("outsider_doctor")
    resp = out.get(f"/fhir/ServiceRequest/consult-{x.pk}")
    assert resp.status_code == 404 and issues(resp)[0]["code"] == "not-found"
    assert AuditEntry.objects.filter(
        action="denied", username="outsider_doctor", object_type="consultation"
    ).exists()
    found = out.get("/fhir/ServiceRequest", {"patient": people[0].mpi_id}).json()
    assert found["total"] == 0
    everything = out.get("/fhir/ServiceRequest", {"category": "11429006"}).json()
    assert everything["total"] == 0


def test_consultations_are_read_only(api_as, people):
    body = {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "category": [{"coding": [{"system": "http://snomed.info/sct", "code": "11429006"}]}],
        "subject": {"reference": f"Patient/{people[0].mpi_id}"},
    }
    resp = post_json(api_as("village_doctor"), "/fhir/ServiceRequest", body)
    assert resp.status_code == 422
    assert issues(resp)[0]["expression"] == ["ServiceRequest.category"]
    assert not Consultation.objects.exists()
