"""CareTeam (family-doctor teams) and CarePlan (chronic-disease registrations): read,
search, scope, audit, R4 validity; one fhirpy search against the live server."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from yigongti.accounts.models import Account
from yigongti.chronic.actions import EnrolInput, do_enrol_resident, do_exit_registration
from yigongti.chronic.models import Registration
from yigongti.contracts.actions import (
    ConsentInput,
    MemberInput,
    PackageInput,
    SignInput,
    TeamInput,
    do_create_team,
    do_save_package,
    do_sign_contract,
)
from yigongti.contracts.models import Contract, Team
from yigongti.core.actor import Actor
from yigongti.core.models import AuditEntry
from yigongti.fhir.careplans import plan_status
from yigongti.residents.models import Resident
from yigongti.residents.queries import residents_visible_to

from .helpers import assert_valid, issues


def _staff(username: str) -> int:
    sid = Account.objects.filter(user__username=username).values_list("staff_id", flat=True).first()
    assert sid is not None, username
    return sid


def _unsigned(doctor: Actor, n: int) -> list[Resident]:
    taken = Contract.objects.filter(status="active").values("resident_id")
    registered = Registration.objects.values("resident_id")
    qs = residents_visible_to(doctor).exclude(pk__in=taken).exclude(pk__in=registered)
    return list(qs.order_by("pk")[:n])


def _team(admin: Actor, doctor: Actor) -> Team:
    return do_create_team(
        admin,
        TeamInput(
            name="FHIR测试家庭医生团队",
            facility_id=doctor.facility_id,
            village_ids=[next(iter(doctor.scope.division_ids))],
            members=[
                MemberInput(_staff("village_doctor"), "doctor"),
                MemberInput(_staff("township_doctor"), "public_health"),
            ],
        ),
    )


def _sign(admin: Actor, doctor: Actor, team: Team, resident: Resident) -> Contract:
    package = do_save_package(
        admin,
        PackageInput(
            code="FHIR-BASIC",
            name="FHIR测试基础包",
            kind="basic",
            services=[{"service": "bp_followup", "count": 4}],
            fee="120",
            covered_share="0.75",
        ),
    )
    return do_sign_contract(
        doctor,
        resident,
        SignInput(
            team_id=team.pk,
            package_id=package.pk,
            consent=ConsentInput(method="paper", signer_name=resident.name),
        ),
    )


@pytest.fixture
def care(actor):
    """A team at the village doctor's clinic; resident `signed` has a contract with it and a
    hypertension registration; resident `plain` has a diabetes registration only."""
    admin, doctor = actor("group_admin"), actor("village_doctor")
    signed, plain = _unsigned(doctor, 2)
    team = _team(admin, doctor)
    contract = _sign(admin, doctor, team, signed)
    enrolled = timezone.localdate() - timedelta(days=30)
    reg = do_enrol_resident(
        doctor,
        signed,
        EnrolInput(disease="hypertension", diagnosed_on=enrolled, enrolled_on=enrolled, level="2"),
    )
    other = do_enrol_resident(doctor, plain, EnrolInput(disease="diabetes"))
    return {
        "team": team,
        "contract": contract,
        "signed": signed,
        "plain": plain,
        "reg": reg,
        "other": other,
    }


pytestmark = pytest.mark.django_db


def test_care_team_read_and_search_by_patient(api_as, care):
    api = api_as("village_doctor")
    team = care["team"]
    resp = api.get(f"/fhir/CareTeam/{team.pk}")
    assert resp.status_code == 200, resp.content
    ct = assert_valid(resp.json())
    assert ct["name"] == "FHIR测试家庭医生团队" and ct["status"] == "active"
    assert "subject" not in ct
    roles = {p["role"][0]["coding"][0]["code"]: p["member"]["reference"] for p in ct["participant"]}
    assert roles == {
        "doctor": f"Practitioner/{_staff('village_doctor')}",
        "public_health": f"Practitioner/{_staff('township_doctor')}",
    }
    assert ct["managingOrganization"][0]["display"] == team.facility.name
    assert AuditEntry.objects.filter(
        action="read", object_type="fd_team", object_id=str(team.pk)
    ).exists()

    found = api.get("/fhir/CareTeam", {"patient": care["signed"].mpi_id}).json()
    assert_valid(found)
    assert found["total"] == 1 and found["entry"][0]["resource"]["id"] == str(team.pk)
    none = api.get("/fhir/CareTeam", {"patient": f"Patient/{care['plain'].mpi_id}"}).json()
    assert none["total"] == 0 and "entry" not in none
    page = api.get("/fhir/CareTeam", {"_count": "0"}).json()
    assert page["total"] >= 1 and "entry" not in page


def test_care_plan_read_maps_the_registration(api_as, care):
    api = api_as("village_doctor")
    reg = care["reg"]
    resp = api.get(f"/fhir/CarePlan/{reg.pk}")
    assert resp.status_code == 200, resp.content
    cp = assert_valid(resp.json())
    assert cp["status"] == "active" and cp["intent"] == "plan"
    assert cp["category"][0]["coding"][0]["code"] == "hypertension"
    assert cp["category"][0]["text"] == "高血压"
    assert cp["subject"]["reference"] == f"Patient/{care['signed'].mpi_id}"
    assert cp["period"]["start"] == reg.enrolled_on.isoformat()
    detail = cp["activity"][0]["detail"]
    assert detail["status"] == "scheduled"
    assert detail["scheduledPeriod"]["start"] == reg.next_due.isoformat()
    assert cp["careTeam"] == [{"reference": f"CareTeam/{care['team'].pk}"}]
    assert cp["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "2"
    assert AuditEntry.objects.filter(
        action="read", object_type="chronic_registration", object_id=str(reg.pk)
    ).exists()

    # no contract: no careTeam
    other = assert_valid(api.get(f"/fhir/CarePlan/{care['other'].pk}").json())
    assert "careTeam" not in other and other["category"][0]["coding"][0]["code"] == "diabetes"


def test_care_plan_search_by_patient_status_and_count(api_as, actor, care):
    api = api_as("village_doctor")
    signed = care["signed"]
    found = assert_valid(api.get("/fhir/CarePlan", {"patient": signed.mpi_id}).json())
    assert [e["resource"]["id"] for e in found["entry"]] == [str(care["reg"].pk)]
    assert found["entry"][0]["resource"]["careTeam"][0]["reference"].startswith("CareTeam/")

    both = {"patient": f"{signed.mpi_id},{care['plain'].mpi_id}"}
    paged = api.get("/fhir/CarePlan", {**both, "_count": "1"}).json()
    assert paged["total"] == 2 and len(paged["entry"]) == 1
    assert any(link["relation"] == "next" for link in paged["link"])

    do_exit_registration(actor("village_doctor"), care["other"], "cured")
    done = api.get("/fhir/CarePlan", {**both, "status": "completed"}).json()
    assert [e["resource"]["id"] for e in done["entry"]] == [str(care["other"].pk)]
    cp = assert_valid(done["entry"][0]["resource"])
    assert cp["status"] == "completed" and "activity" not in cp and "end" in cp["period"]
    active = api.get("/fhir/CarePlan", {**both, "status": "active"}).json()
    assert [e["resource"]["id"] for e in active["entry"]] == [str(care["reg"].pk)]
    by_disease = api.get("/fhir/CarePlan", {**both, "category": "diabetes"}).json()
    assert by_disease["total"] == 1


@pytest.mark.parametrize(
    ("status", "reason", "expected"),
    [
        ("active", "", "active"),
        ("exited", "cured", "completed"),
        ("exited", "death", "revoked"),
        ("exited", "moved", "revoked"),
        ("exited", "refused", "revoked"),
    ],
)
def test_plan_status_from_registration(status, reason, expected):
    assert plan_status(Registration(status=status, exit_reason=reason)) == expected


def test_outsider_gets_404_empty_search_and_a_denied_entry(api_as, care):
    out = api_as("outsider_doctor")
    for path in (f"/fhir/CareTeam/{care['team'].pk}", f"/fhir/CarePlan/{care['reg'].pk}"):
        resp = out.get(path)
        assert resp.status_code == 404 and issues(resp)[0]["code"] == "not-found"
    assert AuditEntry.objects.filter(
        action="denied", username="outsider_doctor", object_type="fd_team"
    ).exists()
    assert AuditEntry.objects.filter(
        action="denied", username="outsider_doctor", object_type="chronic_registration"
    ).exists()
    mpi = care["signed"].mpi_id
    for rtype in ("CareTeam", "CarePlan"):
        found = out.get(f"/fhir/{rtype}", {"patient": mpi}).json()
        assert found["total"] == 0 and "entry" not in found
    assert AuditEntry.objects.filter(
        action="denied", username="outsider_doctor", object_type="resident", object_id=mpi
    ).exists()
    # and an unfiltered search shows none of them
    plans = out.get("/fhir/CarePlan", {"_count": "100"}).json()
    ids = {e["resource"]["id"] for e in plans.get("entry", [])}
    assert not ids & {str(care["reg"].pk), str(care["other"].pk)}
    teams = out.get("/fhir/CareTeam", {"_count": "100"}).json()
    assert str(care["team"].pk) not in {e["resource"]["id"] for e in teams.get("entry", [])}


def test_bad_ids_and_writes(api_as, care):
    api = api_as("village_doctor")
    assert api.get("/fhir/CarePlan/abc").status_code == 404
    assert api.get("/fhir/CareTeam/999999999").status_code == 404
    resp = api.post("/fhir/CarePlan", {}, content_type="application/fhir+json")
    assert resp.status_code == 405


def test_capability_statement_lists_them(client):
    cs = assert_valid(client.get("/fhir/metadata").json())
    types = {r["type"]: r for r in cs["rest"][0]["resource"]}
    for name in ("CareTeam", "CarePlan"):
        assert [i["code"] for i in types[name]["interaction"]] == ["read", "search-type"]
        assert "patient" in {p["name"] for p in types[name]["searchParam"]}


def test_fhirpy_care_plan_search(transactional_db, county, live_server, actor):
    from .test_fhirpy_live import connect

    admin, doctor = actor("group_admin"), actor("village_doctor")
    (person,) = _unsigned(doctor, 1)
    team = _team(admin, doctor)
    _sign(admin, doctor, team, person)
    reg = do_enrol_resident(doctor, person, EnrolInput(disease="hypertension"))

    client = connect(live_server, "village_doctor")
    plans = client.resources("CarePlan").search(patient=person.mpi_id, status="active").fetch()
    assert [p.id for p in plans] == [str(reg.pk)]
    assert_valid(plans[0].serialize())
    team_ref = plans[0]["careTeam"][0]["reference"]
    care_team = client.reference(reference=team_ref).to_resource()
    assert care_team["name"] == team.name
    teams = client.resources("CareTeam").search(patient=person.mpi_id).fetch()
    assert [t.id for t in teams] == [str(team.pk)]


def test_without_the_chronic_permission_a_search_is_empty_and_a_read_absent(api_as, care):
    commission = api_as("commission")  # sees every resident, manages no registers
    found = commission.get("/fhir/CarePlan", {"patient": care["signed"].mpi_id}).json()
    assert found["total"] == 0
    assert commission.get(f"/fhir/CarePlan/{care['reg'].pk}").status_code == 404
    team = commission.get("/fhir/CareTeam", {"patient": care["signed"].mpi_id}).json()
    assert team["total"] == 1  # the contract itself is visible to the commission
