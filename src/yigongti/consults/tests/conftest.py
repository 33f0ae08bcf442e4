from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from yigongti.accounts.actors import actor_for
from yigongti.accounts.models import Account
from yigongti.accounts.rules import Role
from yigongti.consults.actions import ConsultInput
from yigongti.core.actor import Actor
from yigongti.network.models import Staff
from yigongti.residents.models import Resident
from yigongti.residents.queries import residents_visible_to


def staff_of(username: str) -> Staff:
    return (
        Account.objects.select_related("staff__facility", "staff__department")
        .get(user__username=username)
        .staff  # type: ignore[return-value]
    )


@pytest.fixture
def county_staff(county) -> Staff:
    return staff_of("county_doctor")


@pytest.fixture
def resident(actor) -> Resident:
    return residents_visible_to(actor("village_doctor")).order_by("pk").first()  # type: ignore[return-value]


@pytest.fixture
def consult_input(county_staff) -> Callable[..., ConsultInput]:
    def make(**kw: object) -> ConsultInput:
        base: dict[str, object] = {
            "to_facility_id": county_staff.facility_id,
            "to_department_id": county_staff.department_id,
            "urgency": "routine",
            "consent": True,
            "consent_signer": "患者本人",
            "reason": "血压控制不佳，调整两种降压药后仍≥160/100",
            "purpose": "明确继发性高血压可能，调整治疗方案",
            "case_summary": "男，62岁，高血压10年。",
            "wanted_specialty": "心血管内科",
            "proposed_at": timezone.now() + timedelta(hours=20),
            "requesting_doctor": "王德福",
        }
        base.update(kw)
        return ConsultInput(**base)  # type: ignore[arg-type]

    return make


@pytest.fixture
def second_expert(county_staff) -> Callable[[str], Actor]:
    """Another county doctor of the same hospital department, with a login, of a given title."""

    def make(title: str = "副主任医师", username: str = "county_doctor_2") -> Actor:
        user, _ = get_user_model().objects.get_or_create(username=username)
        staff, _ = Staff.objects.get_or_create(
            licence_no=f"test-{username}",
            defaults={
                "name": "周卫东",
                "facility_id": county_staff.facility_id,
                "department_id": county_staff.department_id,
                "title": title,
            },
        )
        Account.objects.update_or_create(
            user=user, defaults={"role": Role.COUNTY_DOCTOR, "staff": staff}
        )
        a = actor_for(user, ip="127.0.0.1")
        assert a is not None
        return a

    return make
