"""Races through the referral side: many receptions for the last reserved seat, and two
clicks on the same referral."""

from __future__ import annotations

import pytest

from yigongti.core.errors import Conflict
from yigongti.core.testing import run_together
from yigongti.referrals import actions
from yigongti.referrals.models import Referral, Transition
from yigongti.residents.models import Resident
from yigongti.scheduling.models import Booking, Slot

pytestmark = pytest.mark.django_db(transaction=True)


def test_fifty_referrals_accepted_at_once_for_the_last_reserved_seat(actor, up_input, slot):
    """Public seats are full; one reserved seat left; 50 family-doctor referrals are accepted at
    once: exactly one gets the seat, 49 are refused and stay submitted."""
    Slot.objects.filter(pk=slot.pk).update(booked_public=slot.capacity - slot.reserved)
    system = actor("county_doctor")
    people = list(Resident.objects.order_by("pk")[:50])
    refs = []
    for p in people:
        r = Referral.objects.create(
            direction="up",
            state="submitted",
            resident=p,
            from_facility_id=actor("village_doctor").facility_id,
            to_facility_id=system.facility_id,
            referring_doctor="村医",
            urgency="routine",
            family_doctor=True,
            reason="复诊",
        )
        refs.append(r)
    results = run_together(50, lambda i: actions.do_accept(system, refs[i].pk, slot_id=slot.pk))
    ok = [r for r in results if isinstance(r, Referral)]
    refused = [r for r in results if isinstance(r, Conflict)]
    assert len(ok) == 1, [r for r in results if not isinstance(r, Referral | Conflict)]
    assert len(refused) == 49
    assert Booking.objects.filter(slot=slot).count() == 1
    assert Referral.objects.filter(pk__in=[r.pk for r in refs], state="accepted").count() == 1
    assert Referral.objects.filter(pk__in=[r.pk for r in refs], state="submitted").count() == 49
    slot.refresh_from_db()
    assert slot.booked_reserved == slot.reserved


def test_two_clicks_on_accept_give_one_booking(actor, resident, up_input, slot):
    r = actions.do_create_referral(actor("village_doctor"), resident, up_input())
    c = actor("county_doctor")
    results = run_together(2, lambda i: actions.do_accept(c, r.pk, slot_id=slot.pk))
    assert sum(isinstance(x, Referral) for x in results) == 1, results
    assert sum(isinstance(x, Conflict) for x in results) == 1
    assert Booking.objects.filter(slot=slot).count() == 1
    assert Transition.objects.filter(referral=r, to_state="accepted").count() == 1


def test_same_referral_submitted_twice_at_once_makes_one(actor, resident, up_input):
    """Two submissions of the same person to the same hospital (no idempotency key): one open
    referral, one clear refusal."""
    v = actor("village_doctor")
    results = run_together(2, lambda i: actions.do_create_referral(v, resident, up_input()))
    made = [r for r in results if isinstance(r, Referral)]
    refused = [r for r in results if isinstance(r, Conflict)]
    assert len(made) == 1 and len(refused) == 1, results
    assert refused[0].errors[0].code == "duplicate"
    assert Referral.objects.filter(resident=resident, state="submitted").count() == 1
