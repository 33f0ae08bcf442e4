"""The last reserved seat, asked for by 50 requests at once: one booking, 49 refusals."""

from __future__ import annotations

import pytest

from yigongti.core.errors import Conflict
from yigongti.core.testing import run_together
from yigongti.scheduling import actions
from yigongti.scheduling.models import Booking, Pool, Slot

from .conftest import any_residents

pytestmark = pytest.mark.django_db(transaction=True)


def test_fifty_requests_for_the_last_reserved_seat(county, actor, publish):
    doctor = actor("county_doctor")
    session = publish(doctor, [5])  # 20% of 5 → 1 reserved seat
    slot = Slot.objects.get(session=session)
    assert slot.reserved == 1
    people = any_residents(50)
    assert len(people) == 50

    def one(i: int):
        return actions.book_for_referral(
            doctor, slot.pk, people[i], family_doctor=True, reserved_only=True
        )

    results = run_together(50, one)
    booked = [r for r in results if isinstance(r, Booking)]
    refused = [r for r in results if isinstance(r, Conflict)]
    assert len(booked) == 1, [r for r in results if not isinstance(r, Booking | Conflict)]
    assert len(refused) == 49
    assert all(e.errors[0].code in ("full", "busy") for e in refused)
    assert any(e.errors[0].code == "full" for e in refused)
    slot.refresh_from_db()
    assert slot.booked_reserved == 1
    assert Booking.objects.filter(slot=slot, pool=Pool.RESERVED).count() == 1


def test_fifty_requests_for_four_public_seats(county, actor, publish):
    doctor = actor("county_doctor")
    session = publish(doctor, [5])
    slot = Slot.objects.get(session=session)
    people = any_residents(50)
    results = run_together(
        50, lambda i: actions.book_for_referral(doctor, slot.pk, people[i], family_doctor=False)
    )
    booked = [r for r in results if isinstance(r, Booking)]
    assert len(booked) == 4, results
    assert all(isinstance(r, Booking | Conflict) for r in results)
    slot.refresh_from_db()
    assert slot.booked_public == 4 and slot.booked_reserved == 0
