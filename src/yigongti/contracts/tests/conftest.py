"""Builders for the contracts tests: a team at the village doctor's clinic serving their
village, and two packages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest

from yigongti.accounts.models import Account
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
from yigongti.contracts.models import Contract, ServicePackage, Team
from yigongti.core.actor import Actor
from yigongti.residents.models import Resident
from yigongti.residents.queries import residents_visible_to


def staff_of(username: str) -> int:
    sid = Account.objects.filter(user__username=username).values_list("staff_id", flat=True).first()
    assert sid is not None, username
    return sid


@pytest.fixture
def admin(actor: Callable[[str], Actor]) -> Actor:
    return actor("group_admin")


@pytest.fixture
def doctor(actor: Callable[[str], Actor]) -> Actor:
    return actor("village_doctor")


@pytest.fixture
def village_id(doctor: Actor) -> int:
    return next(iter(doctor.scope.division_ids))


@pytest.fixture
def team(admin: Actor, doctor: Actor, village_id: int) -> Team:
    return do_create_team(
        admin,
        TeamInput(
            name="测试家庭医生团队",
            facility_id=doctor.facility_id,
            village_ids=[village_id],
            members=[
                MemberInput(staff_of("village_doctor"), "doctor"),
                MemberInput(staff_of("township_doctor"), "public_health"),
                MemberInput(staff_of("county_doctor"), "specialist"),
            ],
        ),
    )


@pytest.fixture
def package(admin: Actor) -> ServicePackage:
    return do_save_package(
        admin,
        PackageInput(
            code="T-BASIC",
            name="测试基础包",
            kind="basic",
            services=[
                {"service": "annual_check", "count": 1},
                {"service": "home_visit", "count": 2},
                {"service": "bp_followup", "count": 4},
                {"service": "consultation", "count": 2},
            ],
            fee="120",
            covered_share="0.75",
        ),
    )


def unsigned(actor: Actor, n: int = 1, **filters: object) -> list[Resident]:
    active = Contract.objects.filter(status="active").values("resident_id")
    return list(
        residents_visible_to(actor).filter(**filters).exclude(pk__in=active).order_by("pk")[:n]
    )


@pytest.fixture
def resident(doctor: Actor) -> Resident:
    return unsigned(doctor)[0]


def consent(name: str = "本人") -> ConsentInput:
    return ConsentInput(method="paper", signer_name=name, signer_relation="本人")


@pytest.fixture
def sign(doctor: Actor, team: Team, package: ServicePackage) -> Callable[..., Contract]:
    def make(resident: Resident, start: date | None = None, end: date | None = None) -> Contract:
        return do_sign_contract(
            doctor,
            resident,
            SignInput(
                team_id=team.pk,
                package_id=package.pk,
                start_date=start,
                end_date=end,
                consent=consent(resident.name),
            ),
        )

    return make
