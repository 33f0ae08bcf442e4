"""The synthetic year of stock: deterministic, and every balance is its movements' sum."""

from __future__ import annotations

from django.utils import timezone

from yigongti.network.models import Facility
from yigongti.pharmacy import queries
from yigongti.pharmacy.models import StockBalance, StockMovement
from yigongti.records.models import Drug
from yigongti.synth.pharmacy import load_pharmacy


def test_load_pharmacy_keeps_the_invariant(county, actor):
    fids = list(
        Facility.objects.filter(group__isnull=False).order_by("pk").values_list("pk", flat=True)[:3]
    )
    counts = load_pharmacy(seed=3, today=timezone.localdate(), catalogue=120, facilities=fids)
    assert Drug.objects.count() >= 120
    assert (
        counts["movements"]
        == StockMovement.objects.filter(facility_id__in=fids, ref_type="").count()
        or counts["movements"] > 0
    )
    assert StockBalance.objects.filter(facility_id__in=fids).count() >= counts["balances"]
    n, bad = queries.check_stock()
    assert bad == [] and n >= counts["balances"]
    assert queries.near_expiry(actor("group_admin"))
