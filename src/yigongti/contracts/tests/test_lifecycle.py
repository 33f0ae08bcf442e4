"""Contract lifecycle: sign, one active contract, term, renew, change team, terminate."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from yigongti.contracts import queries
from yigongti.contracts.actions import (
    ChangeTeamInput,
    MemberInput,
    RenewInput,
    SignInput,
    TeamInput,
    do_change_team,
    do_create_team,
    do_renew_contract,
    do_sign_contract,
    do_terminate_contract,
)
from yigongti.contracts.models import Contract, ContractStatus
from yigongti.core.errors import Conflict, DomainError, Forbidden, NotFound
from yigongti.records.models import Entry

from .conftest import consent, staff_of, unsigned

pytestmark = pytest.mark.django_db


def test_signing_records_consent_and_puts_it_on_the_timeline(sign, resident, doctor, team):
    c = sign(resident)
    assert c.status == ContractStatus.ACTIVE
    assert c.consent_method == "paper" and c.signer_name == resident.name
    assert c.end_date == c.start_date.replace(year=c.start_date.year + 1) - timedelta(days=1)
    entry = Entry.objects.get(object_type="contract", object_id=c.pk)
    assert entry.kind == "contract" and team.name in entry.title
    assert queries.get_contract_for(doctor, c.pk) == c


def test_second_signing_is_a_conflict(sign, resident):
    sign(resident)
    with pytest.raises(Conflict) as exc:
        sign(resident)
    assert exc.value.errors[0].field == "resident"
    assert Contract.objects.filter(resident=resident).count() == 1


def test_term_shorter_than_a_year_is_refused(sign, resident):
    today = timezone.localdate()
    with pytest.raises(DomainError) as exc:
        sign(resident, start=today, end=today + timedelta(days=300))
    assert [e.field for e in exc.value.errors] == ["end_date"]
    assert not Contract.objects.filter(resident=resident).exists()


def test_missing_consent_names_the_field(doctor, team, package, resident):
    with pytest.raises(DomainError) as exc:
        do_sign_contract(
            doctor,
            resident,
            SignInput(team_id=team.pk, package_id=package.pk, consent=consent(name=" ")),
        )
    assert "consent.signer_name" in [e.field for e in exc.value.errors]
    assert not Contract.objects.filter(resident=resident).exists()


def test_team_must_serve_the_residents_village(actor, team, package):
    township = actor("township_doctor")
    other = [
        r for r in unsigned(township, 50) if not team.villages.filter(pk=r.village_id).exists()
    ]
    assert other
    with pytest.raises(DomainError) as exc:
        do_sign_contract(
            township,
            other[0],
            SignInput(team_id=team.pk, package_id=package.pk, consent=consent()),
        )
    assert [e.field for e in exc.value.errors] == ["team_id"]


def test_an_expired_contract_does_not_block_a_new_one(sign, resident):
    c = sign(resident)
    Contract.objects.filter(pk=c.pk).update(
        start_date=c.start_date - timedelta(days=800), end_date=c.start_date - timedelta(days=2)
    )
    new = sign(resident)
    c.refresh_from_db()
    assert c.status == ContractStatus.EXPIRED and new.status == ContractStatus.ACTIVE


def test_renew_in_the_expiring_window(sign, resident, doctor):
    c = sign(resident)
    with pytest.raises(DomainError) as exc:
        do_renew_contract(doctor, c, RenewInput(consent=consent()))
    assert exc.value.errors[0].field == "end_date"
    today = timezone.localdate()
    Contract.objects.filter(pk=c.pk).update(
        start_date=today - timedelta(days=350), end_date=today + timedelta(days=14)
    )
    c.refresh_from_db()
    assert c in queries.expiring_contracts(doctor)
    new = do_renew_contract(doctor, c, RenewInput(years=2, consent=consent()))
    c.refresh_from_db()
    assert c.status == ContractStatus.RENEWED
    assert new.start_date == today + timedelta(days=15) and new.previous == c
    assert new.end_date.year == new.start_date.year + 2
    assert c not in queries.expiring_contracts(doctor)


def test_expiring_list_shows_30_days_ahead_configurable(sign, resident, doctor, settings):
    c = sign(resident)
    today = timezone.localdate()
    Contract.objects.filter(pk=c.pk).update(
        start_date=today - timedelta(days=340), end_date=today + timedelta(days=30)
    )
    assert c in queries.expiring_contracts(doctor)
    Contract.objects.filter(pk=c.pk).update(end_date=today + timedelta(days=31))
    assert c not in queries.expiring_contracts(doctor)
    settings.YGT = {**settings.YGT, "CONTRACT_EXPIRING_DAYS": 45}
    assert c in queries.expiring_contracts(doctor)


def test_change_team_needs_a_reason_and_another_team(
    sign, resident, doctor, admin, team, village_id
):
    c = sign(resident)
    other = do_create_team(
        admin,
        TeamInput(
            name="另一团队",
            facility_id=doctor.facility_id,
            village_ids=[village_id],
            members=[MemberInput(staff_of("township_doctor"), "doctor")],
        ),
    )
    with pytest.raises(DomainError) as exc:
        do_change_team(doctor, c, ChangeTeamInput(team_id=other.pk, reason="", consent=consent()))
    assert exc.value.errors[0].field == "reason"
    with pytest.raises(DomainError) as exc:
        do_change_team(doctor, c, ChangeTeamInput(team_id=team.pk, reason="换", consent=consent()))
    assert exc.value.errors[0].field == "team_id"
    new = do_change_team(
        doctor, c, ChangeTeamInput(team_id=other.pk, reason="居民要求更换", consent=consent())
    )
    c.refresh_from_db()
    assert c.status == ContractStatus.CHANGED and c.end_reason == "居民要求更换"
    assert new.team == other and new.status == ContractStatus.ACTIVE


def test_terminate_needs_a_reason(sign, resident, doctor):
    c = sign(resident)
    with pytest.raises(DomainError) as exc:
        do_terminate_contract(doctor, c, "  ")
    assert exc.value.errors[0].field == "reason"
    c.refresh_from_db()
    assert c.status == ContractStatus.ACTIVE
    do_terminate_contract(doctor, c, "迁出本县")
    c.refresh_from_db()
    assert c.status == ContractStatus.TERMINATED and c.end_reason == "迁出本县"
    with pytest.raises(DomainError):
        do_terminate_contract(doctor, c, "再次")


def test_outsider_cannot_sign_read_or_terminate(sign, resident, actor, team, package):
    outsider = actor("outsider_doctor")
    with pytest.raises(Forbidden):
        do_sign_contract(
            outsider, resident, SignInput(team_id=team.pk, package_id=package.pk, consent=consent())
        )
    c = sign(resident)
    with pytest.raises(NotFound):
        queries.get_contract_for(outsider, c.pk)
    with pytest.raises(Forbidden):
        do_terminate_contract(outsider, c, "无")
    assert not queries.contracts_visible_to(outsider).filter(pk=c.pk).exists()


def test_scope_of_contract_lists(sign, resident, actor):
    c = sign(resident)
    for name in ("village_doctor", "township_doctor", "group_admin", "county_doctor", "commission"):
        assert queries.contracts_visible_to(actor(name)).filter(pk=c.pk).exists(), name


def test_commission_cannot_sign(actor, team, package, resident):
    with pytest.raises(Forbidden):
        do_sign_contract(
            actor("commission"),
            resident,
            SignInput(team_id=team.pk, package_id=package.pk, consent=consent()),
        )


def test_village_doctor_cannot_manage_teams(doctor, village_id):
    with pytest.raises(Forbidden):
        do_create_team(doctor, TeamInput(name="x", facility_id=doctor.facility_id))


def test_team_needs_exactly_one_doctor(admin, doctor, village_id):
    with pytest.raises(DomainError) as exc:
        do_create_team(
            admin,
            TeamInput(
                name="无医生团队",
                facility_id=doctor.facility_id,
                village_ids=[village_id],
                members=[MemberInput(staff_of("village_doctor"), "nurse")],
            ),
        )
    assert "members" in [e.field for e in exc.value.errors]
