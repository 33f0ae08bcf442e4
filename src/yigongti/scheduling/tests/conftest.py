from __future__ import annotations

from datetime import time, timedelta

import pytest
from django.utils import timezone

from yigongti.accounts.models import Account
from yigongti.core.actor import Actor
from yigongti.network.models import Department, Staff
from yigongti.residents.models import Resident
from yigongti.residents.queries import residents_visible_to
from yigongti.scheduling import actions
from yigongti.scheduling.actions import SlotInput


def staff_of(username: str) -> Staff:
    return Account.objects.select_related("staff__facility").get(user__username=username).staff  # type: ignore[return-value]


@pytest.fixture
def cardiology(county) -> Department:
    return staff_of("county_doctor").department  # type: ignore[return-value]


@pytest.fixture
def expert(county) -> Staff:
    return staff_of("county_doctor")


@pytest.fixture
def publish(cardiology, expert):
    """Publish a session `days` ahead with the given slot capacities."""

    def make(doctor: Actor, capacities: list[int], days: int = 7):
        slots = [SlotInput(time(8 + i), time(9 + i), c) for i, c in enumerate(capacities)]
        return actions.do_publish_session(
            doctor, cardiology, expert, timezone.localdate() + timedelta(days=days), slots
        )

    return make


@pytest.fixture
def village_residents(actor) -> list[Resident]:
    return list(residents_visible_to(actor("village_doctor")).order_by("pk")[:10])


def any_residents(n: int) -> list[Resident]:
    return list(Resident.objects.order_by("pk")[:n])
