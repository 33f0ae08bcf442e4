from __future__ import annotations

from datetime import time, timedelta

import pytest
from django.utils import timezone

from yigongti.accounts.models import Account
from yigongti.network.models import Staff
from yigongti.residents.models import Resident
from yigongti.residents.queries import residents_visible_to
from yigongti.scheduling import actions as scheduling
from yigongti.scheduling.actions import SlotInput
from yigongti.scheduling.models import Slot, Ward


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
def slot(actor, county_staff) -> Slot:
    s = scheduling.do_publish_session(
        actor("county_doctor"),
        county_staff.department,
        county_staff,
        timezone.localdate() + timedelta(days=7),
        [SlotInput(time(8), time(9), 5)],
    )
    return Slot.objects.get(session=s)


@pytest.fixture
def ward(actor, county_staff) -> Ward:
    return scheduling.do_set_ward(actor("county_doctor"), county_staff.department, 10)


@pytest.fixture
def up_input(county_staff):
    from yigongti.referrals.actions import ReferralInput

    def make(**kw):
        base = {
            "urgency": "routine",
            "reason": "血压控制不佳三个月，规律服药后仍≥160/100",
            "to_facility_id": county_staff.facility_id,
            "to_department_id": county_staff.department_id,
            "referring_doctor": "村医",
        }
        base.update(kw)
        return ReferralInput(**base)

    return make
