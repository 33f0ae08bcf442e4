"""The synthetic loader: deterministic, and the rows it writes satisfy the invariants."""

from __future__ import annotations

from django.utils import timezone

from yigongti.referrals.models import Referral, Transition
from yigongti.scheduling.models import Booking, Slot


def test_load_referrals_is_consistent(county):
    from yigongti.synth.referrals import load_referrals

    counts = load_referrals(seed=7, today=timezone.localdate())
    assert counts["slots"] > 0 and counts["referrals_up"] > 0
    assert Referral.objects.filter(direction="up").count() == counts["referrals_up"]
    assert Transition.objects.count() == counts["transitions"]
    for s in Slot.objects.all()[:200]:
        n_res = Booking.objects.filter(slot=s, pool="reserved").count()
        n_pub = Booking.objects.filter(slot=s, pool="public").count()
        assert (n_res, n_pub) == (s.booked_reserved, s.booked_public)
        assert s.booked_public <= s.capacity - s.reserved
    # every referral's last transition is its state
    for r in Referral.objects.filter(direction="up")[:100]:
        assert r.transitions.order_by("at", "pk").last().to_state == r.state
    assert Referral.objects.filter(out_of_county=True).exclude(destination_name="").count() == (
        Referral.objects.filter(out_of_county=True).count()
    )
