"""Shared diagnosis centre studies as ServiceRequest (ids study-<n>, beside the referrals at
the same endpoint), their reports as DiagnosticReport (basedOn, critical values): mapping
tables, search, create through the request action (mutual recognition), scope, audit, R4."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from yigongti.core.models import AuditEntry
from yigongti.diagnostics import actions
from yigongti.diagnostics.models import Centre, CentreKind, Study, StudyState, Urgency
from yigongti.fhir import studies as fs
from yigongti.fhir.clinical import local_time
from yigongti.fhir.mapping import facility_resource_id
from yigongti.referrals import actions as referral_actions
from yigongti.referrals.actions import ReferralInput
from yigongti.referrals.tests.conftest import staff_of
from yigongti.residents.models import Resident
from yigongti.residents.queries import residents_visible_to

from .helpers import assert_valid, issues, post_json

pytestmark = pytest.mark.django_db

EXAMS = {
    "ecg": ("ECG12", "常规12导联心电图", ""),
    "imaging": ("DR-CHEST", "胸部正位片", "胸部"),
    "lab": ("CBC", "血常规", ""),
    "pathology": ("HP", "组织病理", ""),
}


def _org(username: str) -> str:
    return f"Organization/{facility_resource_id(staff_of(username).facility)}"


@pytest.fixture
def centres(actor) -> dict[str, Centre]:
    host = actor("county_doctor").facility_id
    return {
        k: Centre.objects.create(name=f"{label}中心", kind=k, facility_id=host)
        for k, label in CentreKind.choices
    }


@pytest.fixture
def people(actor) -> list[Resident]:
    return list(residents_visible_to(actor("village_doctor")).order_by("pk")[:3])


@pytest.fixture
def ask(actor, centres, people):
    def make(kind: str = "ecg", person: Resident | None = None, **kw: Any) -> Study:
        code, name, part = EXAMS[kind]
        d = {
            "centre_id": centres[kind].pk,
            "exam_code": code,
            "exam_name": name,
            "body_part": part,
            "clinical_info": "胸闷2天",
            "requesting_doctor": "李村医",
        }
        d.update(kw)
        res = actions.do_request_study(
            actor("village_doctor"), person or people[0], actions.StudyInput(**d)
        )
        assert res.study is not None
        return res.study

    return make


def _report(actor, s: Study, critical: bool = False) -> Study:
    c = actor("county_doctor")
    actions.do_claim_study(c, s.pk)
    actions.do_report_study(
        c,
        s.pk,
        actions.ReportInput(
            findings="窦性心律，ST段抬高" if critical else "窦性心律",
            impression="急性下壁心肌梗死可能" if critical else "正常心电图",
            critical=critical,
            critical_text="ST段抬高，疑急性心梗" if critical else "",
        ),
    )
    s.refresh_from_db()
    return s


# --- tables ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "status"),
    [
        ("requested", "active"),
        ("claimed", "active"),
        ("reported", "completed"),
        ("reviewed", "completed"),
        ("cancelled", "revoked"),
    ],
)
def test_status_table(state, status):
    assert fs.REQUEST_STATUS[state] == status


def test_every_state_urgency_and_kind_is_mapped():
    assert set(fs.REQUEST_STATUS) == set(StudyState.values)
    assert set(fs.PRIORITY) == set(Urgency.values)
    assert set(fs.SNOMED_CATEGORY) == set(CentreKind.values)


@pytest.mark.parametrize(
    ("kind", "v2", "snomed"),
    [
        ("imaging", "RAD", "363679005"),
        ("ecg", "EC", "29303009"),
        ("lab", "LAB", "108252007"),
        ("pathology", "PAT", "108257001"),
    ],
)
def test_category_table(kind, v2, snomed):
    codes = [c["code"] for c in fs.category(kind)["coding"]]
    assert codes == [v2, snomed, kind]


@pytest.mark.parametrize(("urgency", "priority"), [(0, "stat"), (1, "urgent"), (2, "routine")])
def test_priority_table(urgency, priority):
    assert fs.PRIORITY[urgency] == priority


# --- read ------------------------------------------------------------------------------


def test_read_maps_the_study(api_as, ask, people):
    s = ask("imaging", urgency=Urgency.URGENT, client_key="his-1")
    resp = api_as("village_doctor").get(f"/fhir/ServiceRequest/study-{s.pk}")
    assert resp.status_code == 200, resp.content
    sr = assert_valid(resp.json())
    assert sr["id"] == f"study-{s.pk}"
    assert sr["status"] == "active" and sr["intent"] == "order" and sr["priority"] == "urgent"
    assert sr["category"][0]["coding"][0] == {
        "system": "http://terminology.hl7.org/CodeSystem/v2-0074",
        "code": "RAD",
        "display": "影像",
    }
    assert sr["code"]["coding"][0]["code"] == "DR-CHEST" and sr["code"]["text"] == "胸部正位片"
    assert sr["subject"]["reference"] == f"Patient/{people[0].mpi_id}"
    assert sr["requester"]["reference"] == _org("village_doctor")
    assert sr["performer"][0]["reference"] == _org("county_doctor")
    assert sr["reasonCode"] == [{"text": "胸闷2天"}]
    assert sr["bodySite"] == [{"text": "胸部"}]
    assert sr["identifier"][0]["value"] == "his-1"
    assert {"text": "申请医生：李村医"} in sr["note"]
    assert sr["extension"][0]["valueCoding"]["code"] == "requested"
    assert sr["authoredOn"] == local_time(s.requested_at)
    assert AuditEntry.objects.filter(
        action="read", object_type="study", object_id=str(s.pk), username="village_doctor"
    ).exists()
    # the centre's reader sees it too
    assert api_as("county_doctor").get(f"/fhir/ServiceRequest/study-{s.pk}").status_code == 200


def test_referral_urls_keep_working_beside_studies(api_as, actor, ask, people):
    staff = staff_of("county_doctor")
    r = referral_actions.do_create_referral(
        actor("village_doctor"),
        people[0],
        ReferralInput(
            urgency="routine",
            reason="血压控制不佳",
            to_facility_id=staff.facility_id,
            to_department_id=staff.department_id,
            referring_doctor="李村医",
        ),
    )
    s = ask()
    api = api_as("village_doctor")
    assert api.get(f"/fhir/ServiceRequest/{r.pk}").json()["category"][0]["coding"][0]["code"] == (
        "3457005"
    )
    assert (
        api.get(f"/fhir/ServiceRequest/study-{s.pk}").json()["code"]["text"] == "常规12导联心电图"
    )
    for bad in (f"study-{s.pk}x", "study-", f"referral-{r.pk}", f"consult-{s.pk}99"):
        assert api.get(f"/fhir/ServiceRequest/{bad}").status_code == 404
    both = api.get("/fhir/ServiceRequest", {"patient": people[0].mpi_id}).json()
    assert_valid(both)
    assert [e["resource"]["id"] for e in both["entry"]] == [str(r.pk), f"study-{s.pk}"]
    only_referrals = api.get(
        "/fhir/ServiceRequest", {"patient": people[0].mpi_id, "category": "3457005"}
    ).json()
    assert [e["resource"]["id"] for e in only_referrals["entry"]] == [str(r.pk)]
    # a study-only parameter leaves the referrals out
    coded = api.get("/fhir/ServiceRequest", {"patient": people[0].mpi_id, "code": "ecg12"}).json()
    assert [e["resource"]["id"] for e in coded["entry"]] == [f"study-{s.pk}"]


@pytest.mark.parametrize(
    ("step", "status", "state"),
    [
        ("claim", "active", "claimed"),
        ("report", "completed", "reported"),
        ("cancel", "revoked", "cancelled"),
    ],
)
def test_status_follows_the_study(api_as, actor, ask, step, status, state):
    s = ask()
    if step == "claim":
        actions.do_claim_study(actor("county_doctor"), s.pk)
    elif step == "report":
        _report(actor, s)
    else:
        actions.do_cancel_study(actor("village_doctor"), s.pk, "患者拒绝检查")
    sr = assert_valid(api_as("village_doctor").get(f"/fhir/ServiceRequest/study-{s.pk}").json())
    assert sr["status"] == status and sr["extension"][0]["valueCoding"]["code"] == state
    if step == "cancel":
        assert {"text": "撤销原因：患者拒绝检查"} in sr["note"]


# --- search ----------------------------------------------------------------------------


def test_search_by_patient_status_dates_category_organizations_and_paging(
    api_as, actor, ask, people
):
    a = ask("ecg", people[0], urgency=Urgency.STAT)
    b = ask("lab", people[1])
    c = ask("imaging", people[1])
    _report(actor, b)
    api = api_as("village_doctor")
    both = f"{people[0].mpi_id},{people[1].mpi_id}"
    found = assert_valid(api.get("/fhir/ServiceRequest", {"patient": both}).json())
    assert found["total"] == 3
    assert {e["resource"]["id"] for e in found["entry"]} == {f"study-{x.pk}" for x in (a, b, c)}
    today = timezone.localdate().isoformat()
    county, village = _org("county_doctor"), _org("village_doctor")
    for params, expected in (
        ({"status": "completed"}, {b}),
        ({"status": "active"}, {a, c}),
        ({"status": "revoked"}, set()),
        ({"category": "LAB"}, {b}),
        ({"category": "http://snomed.info/sct|363679005"}, {c}),
        ({"category": f"{fs.kind_system()}|ecg"}, {a}),
        ({"category": "ecg,lab"}, {a, b}),
        ({"priority": "stat"}, {a}),
        ({"authored": f"ge{today}"}, {a, b, c}),
        ({"authored": f"lt{today}"}, set()),
        ({"performer": county}, {a, b, c}),
        ({"performer": village}, set()),
        ({"requester": village}, {a, b, c}),
        ({"requester": county}, set()),
        ({"code": "CBC"}, {b}),
        ({"_id": f"study-{c.pk}"}, {c}),
        ({"subject": f"Patient/{people[0].mpi_id}"}, {a}),
    ):
        got = api.get("/fhir/ServiceRequest", {"patient": both, **params}).json()
        assert {e["resource"]["id"] for e in got.get("entry", [])} == {
            f"study-{x.pk}" for x in expected
        }, params
        assert got["total"] == len(expected), params
    paged = api.get("/fhir/ServiceRequest", {"patient": both, "_count": "2"}).json()
    assert paged["total"] == 3 and len(paged["entry"]) == 2
    nxt = next(link["url"] for link in paged["link"] if link["relation"] == "next")
    link = urlsplit(nxt)
    second = api.get(f"{link.path}?{link.query}").json()
    ids = [e["resource"]["id"] for e in paged["entry"] + second["entry"]]
    assert sorted(ids) == sorted(f"study-{x.pk}" for x in (a, b, c))
    assert AuditEntry.objects.filter(
        action="search", object_type="study", username="village_doctor"
    ).exists()


def test_outsider_gets_404_and_empty_searches(api_as, ask, people):
    s = ask()
    out = api_as("outsider_doctor")
    resp = out.get(f"/fhir/ServiceRequest/study-{s.pk}")
    assert resp.status_code == 404 and issues(resp)[0]["code"] == "not-found"
    assert AuditEntry.objects.filter(
        action="denied", username="outsider_doctor", object_type="study", object_id=str(s.pk)
    ).exists()
    found = out.get("/fhir/ServiceRequest", {"patient": people[0].mpi_id}).json()
    assert found["total"] == 0 and "entry" not in found
    everything = out.get("/fhir/ServiceRequest", {"_count": "100", "category": "ecg"}).json()
    assert f"study-{s.pk}" not in {e["resource"]["id"] for e in everything.get("entry", [])}
    assert AuditEntry.objects.filter(
        action="denied", username="outsider_doctor", object_type="resident"
    ).exists()


# --- create ----------------------------------------------------------------------------


def _body(person: Resident, **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "category": [
            {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "EC"}]}
        ],
        "priority": "stat",
        "code": {"coding": [{"code": "ECG12", "display": "常规12导联心电图"}]},
        "subject": {"reference": f"Patient/{person.mpi_id}"},
        "performer": [{"reference": _org("county_doctor")}],
        "reasonCode": [{"text": "胸痛1小时"}],
        "note": [{"text": "申请医生：王医生"}],
        "identifier": [{"value": "his-ecg-1"}],
    }
    body.update(over)
    return body


def test_create_runs_the_request_action_and_is_idempotent(api_as, centres, people):
    api = api_as("village_doctor")
    resp = post_json(api, "/fhir/ServiceRequest", _body(people[0]))
    assert resp.status_code == 201, resp.content
    sr = assert_valid(resp.json())
    s = Study.objects.get()
    assert sr["id"] == f"study-{s.pk}" and resp["Location"].endswith(
        f"/ServiceRequest/study-{s.pk}"
    )
    assert (s.centre_id, s.exam_code, s.urgency) == (centres["ecg"].pk, "ECG12", Urgency.STAT)
    assert (s.clinical_info, s.requesting_doctor) == ("胸痛1小时", "王医生")
    again = post_json(api, "/fhir/ServiceRequest", _body(people[0]))
    assert again.status_code == 200 and again.json()["id"] == sr["id"]
    assert Study.objects.count() == 1


def test_create_warns_on_a_recognised_result_then_proceeds_with_a_reason(
    api_as, actor, ask, people
):
    earlier = _report(actor, ask("ecg", people[0]))
    api = api_as("village_doctor")
    body = _body(people[0], identifier=[{"value": "his-ecg-2"}])
    resp = post_json(api, "/fhir/ServiceRequest", body)
    assert resp.status_code == 409
    (issue,) = issues(resp)
    assert issue["severity"] == "warning" and issue["code"] == "business-rule"
    assert f"ServiceRequest/study-{earlier.pk}" in issue["diagnostics"]
    assert issue["details"]["coding"][0]["code"] == "recognised_result"
    assert Study.objects.count() == 1
    body["note"] = [{"text": "仍需检查的理由：症状加重，需复查"}]
    ok = post_json(api, "/fhir/ServiceRequest", body)
    assert ok.status_code == 201, ok.content
    sr = assert_valid(ok.json())
    assert sr["supportingInfo"][0]["reference"] == f"ServiceRequest/study-{earlier.pk}"
    assert {"text": "仍需检查的理由：症状加重，需复查"} in sr["note"]


@pytest.mark.parametrize(
    ("change", "expression"),
    [
        ({"status": "draft"}, "ServiceRequest.status"),
        ({"intent": "plan"}, "ServiceRequest.intent"),
        ({"priority": "asap"}, "ServiceRequest.priority"),
        ({"performer": [{"reference": "Organization/NO-SUCH"}]}, "ServiceRequest.performer[0]"),
        ({"performer": []}, "ServiceRequest.performer"),
        ({"requester": {"reference": "Organization/NO-SUCH"}}, "ServiceRequest.requester"),
        ({"code": {"text": "心电图"}}, "ServiceRequest.code"),
        ({"subject": {"reference": "Group/1"}}, "ServiceRequest.subject"),
        ({"subject": {"reference": "Patient/NOPE"}}, "ServiceRequest.subject"),
    ],
)
def test_bad_input_names_the_element_and_writes_nothing(
    api_as, centres, people, change, expression
):
    resp = post_json(api_as("village_doctor"), "/fhir/ServiceRequest", _body(people[0], **change))
    assert resp.status_code in (400, 422), resp.content
    assert expression in {e for i in issues(resp) for e in i.get("expression", [])}
    assert not Study.objects.exists()


def test_outsider_cannot_create_for_a_resident_outside_its_area(api_as, centres, people):
    resp = post_json(api_as("outsider_doctor"), "/fhir/ServiceRequest", _body(people[0]))
    assert resp.status_code in (404, 422)
    assert not Study.objects.exists()


# --- reports ---------------------------------------------------------------------------


def test_report_is_based_on_the_study_and_shows_the_critical_value(api_as, actor, ask, people):
    s = _report(actor, ask("ecg", people[0]), critical=True)
    plain = _report(actor, ask("lab", people[0]))
    api = api_as("village_doctor")
    found = api.get("/fhir/DiagnosticReport", {"patient": people[0].mpi_id}).json()
    reports = {
        e["resource"]["basedOn"][0]["reference"]: assert_valid(e["resource"])
        for e in found["entry"]
    }
    critical = reports[f"ServiceRequest/study-{s.pk}"]
    assert critical["conclusionCode"][0]["coding"][0]["code"] == "AA"
    assert critical["conclusion"].startswith("【危急值】")
    normal = reports[f"ServiceRequest/study-{plain.pk}"]
    assert "conclusionCode" not in normal
    # the reference resolves
    sr = api.get(f"/fhir/{critical['basedOn'][0]['reference']}")
    assert sr.status_code == 200 and sr.json()["status"] == "completed"


def test_fhirpy_study_search(transactional_db, county, live_server, actor):
    from .test_fhirpy_live import connect

    host = actor("county_doctor").facility_id
    centre = Centre.objects.create(name="心电中心", kind="ecg", facility_id=host)
    person = residents_visible_to(actor("village_doctor")).order_by("pk").first()
    assert person is not None
    res = actions.do_request_study(
        actor("village_doctor"),
        person,
        actions.StudyInput(
            centre_id=centre.pk, exam_code="ECG12", exam_name="心电图", urgency=Urgency.STAT
        ),
    )
    assert res.study is not None
    client = connect(live_server, "village_doctor")
    found = (
        client.resources("ServiceRequest")
        .search(patient=person.mpi_id, status="active", category="EC")
        .fetch()
    )
    assert [s.id for s in found] == [f"study-{res.study.pk}"]
    assert_valid(found[0].serialize())
    assert found[0]["priority"] == "stat"
    read = client.reference("ServiceRequest", f"study-{res.study.pk}").to_resource()
    assert read["code"]["coding"][0]["code"] == "ECG12"
    dated = client.resources("ServiceRequest").search(
        patient=person.mpi_id, authored=f"ge{timezone.localdate().isoformat()}"
    )
    assert dated.count() == 1
    outsider = connect(live_server, "outsider_doctor")
    assert outsider.resources("ServiceRequest").search(patient=person.mpi_id).count() == 0


def test_capability_statement_describes_the_three_kinds(client):
    cs = assert_valid(client.get("/fhir/metadata").json())
    sr = next(r for r in cs["rest"][0]["resource"] if r["type"] == "ServiceRequest")
    assert [i["code"] for i in sr["interaction"]] == ["read", "search-type", "create"]
    names = {p["name"] for p in sr["searchParam"]}
    assert {"patient", "status", "authored", "category", "performer", "requester", "code"} <= names
    assert "study-<n>" in sr["documentation"] and "consult-<n>" in sr["documentation"]
    report = next(r for r in cs["rest"][0]["resource"] if r["type"] == "DiagnosticReport")
    assert "basedOn" in report["documentation"]
