"""Every read of pharmacy, scoped by `scope.stock_facility_ids`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import F, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from yigongti.core import audit
from yigongti.core.actor import Actor
from yigongti.core.errors import NotFound
from yigongti.network.models import Facility
from yigongti.records.models import Drug

from . import rules
from .models import (
    DeliveryNote,
    PurchaseOrder,
    PurchaseRequest,
    Shortage,
    StockBalance,
    StockMinimum,
    StockMovement,
    StockTake,
    StockTakeLine,
)
from .scope import manages_group, may_view, stock_facility_ids


def _in_scope(qs: QuerySet, actor: Actor, column: str = "facility_id") -> QuerySet:
    ids = stock_facility_ids(actor)
    return qs if ids is None else qs.filter(**{f"{column}__in": ids})


def facilities_for(actor: Actor) -> QuerySet[Facility]:
    return _in_scope(Facility.objects.order_by("code"), actor, "pk")


def get_facility_for(actor: Actor, facility_id: int) -> Facility:
    f = Facility.objects.filter(pk=facility_id).first()
    if f is None or not may_view(actor, f.pk):
        raise NotFound("机构")
    return f


@dataclass
class DrugStock:
    drug: Drug
    total: Decimal = Decimal(0)
    minimum: Decimal | None = None
    batches: list[StockBalance] = field(default_factory=list)  # FEFO order

    @property
    def low(self) -> bool:
        return self.minimum is not None and self.total < self.minimum


def facility_stock(
    actor: Actor, facility_id: int, *, q: str = "", limit: int = 200, offset: int = 0
) -> list[DrugStock]:
    """A facility's stock by item, each with its batches in FEFO order (positive balances)."""
    get_facility_for(actor, facility_id)
    rows = (
        StockBalance.objects.filter(facility_id=facility_id, quantity__gt=0)
        .select_related("drug", "batch")
        .order_by("drug_id", "expiry", "batch_id")
    )
    if q:
        rows = rows.filter(
            Q(drug__generic_name__contains=q)
            | Q(drug__initials__startswith=q.upper())
            | Q(drug_id=q)
        )
    codes = list(
        rows.order_by("drug_id")
        .values_list("drug_id", flat=True)
        .distinct()[offset : offset + limit]
    )
    minimums = dict(
        StockMinimum.objects.filter(facility_id=facility_id, drug_id__in=codes).values_list(
            "drug_id", "minimum"
        )
    )
    out: dict[str, DrugStock] = {}
    for b in rows.filter(drug_id__in=codes):
        ds = out.get(b.drug_id)
        if ds is None:
            ds = out[b.drug_id] = DrugStock(b.drug, minimum=minimums.get(b.drug_id))
        ds.batches.append(b)
        ds.total += b.quantity
    return list(out.values())


def movements(
    actor: Actor, facility_id: int, *, drug_code: str = "", limit: int = 100
) -> QuerySet[StockMovement]:
    get_facility_for(actor, facility_id)
    qs = StockMovement.objects.filter(facility_id=facility_id).select_related("drug", "batch")
    if drug_code:
        qs = qs.filter(drug_id=drug_code)
    return qs.order_by("-at", "-pk")[:limit]


@dataclass
class ExpiryRow:
    facility_id: int
    facility_name: str
    drug_code: str
    drug_name: str
    batch_no: str
    expiry: date
    quantity: Decimal
    state: str


def near_expiry(actor: Actor, *, days: int | None = None, limit: int = 500) -> list[ExpiryRow]:
    """Batches in stock that expire within `days` (default the configured near-expiry days)
    or have expired, across every facility the actor sees; soonest first."""
    days = rules.near_expiry_days() if days is None else days
    today = timezone.localdate()
    qs = _in_scope(
        StockBalance.objects.filter(quantity__gt=0, expiry__lte=today + timedelta(days=days)),
        actor,
    ).order_by("expiry", "facility_id", "drug_id")[:limit]
    rows = qs.values_list(
        "facility_id",
        "facility__name",
        "drug_id",
        "drug__generic_name",
        "batch__batch_no",
        "expiry",
        "quantity",
    )
    return [
        ExpiryRow(f, fn, d, dn, b, e, q, rules.expiry_state(e, today, days))
        for f, fn, d, dn, b, e, q in rows
    ]


@dataclass
class LowRow:
    facility_id: int
    facility_name: str
    drug_code: str
    drug_name: str
    minimum: Decimal
    quantity: Decimal


def low_stock(actor: Actor, *, limit: int = 500) -> list[LowRow]:
    """(facility, item) pairs below their minimum; unexpired stock counts."""
    today = timezone.localdate()
    have = (
        StockBalance.objects.filter(
            facility_id=OuterRef("facility_id"), drug_id=OuterRef("drug_id"), expiry__gte=today
        )
        .values("facility_id")
        .annotate(s=Sum("quantity"))
        .values("s")
    )
    qs = (
        _in_scope(StockMinimum.objects.all(), actor)
        .annotate(have=Coalesce(Subquery(have), Decimal(0)))
        .filter(have__lt=F("minimum"))
        .order_by("facility_id", "drug_id")[:limit]
    )
    return [
        LowRow(*r)
        for r in qs.values_list(
            "facility_id", "facility__name", "drug_id", "drug__generic_name", "minimum", "have"
        )
    ]


def transfer_suggestions(actor: Actor, group_id: int | None = None) -> list[rules.Suggestion]:
    """余缺调拨: who could give what to members below their minimum, before buying."""
    gid = group_id or actor.group_id
    if gid is None or not (
        actor.is_system or manages_group(actor, gid) or stock_facility_ids(actor) is None
    ):
        return []
    today = timezone.localdate()
    members = set(Facility.objects.filter(group_id=gid).values_list("pk", flat=True))
    low = [r for r in low_stock(actor, limit=5000) if r.facility_id in members]
    codes = {r.drug_code for r in low}
    if not codes:
        return []
    stock = {
        (f, d): q
        for f, d, q in StockBalance.objects.filter(
            facility__group_id=gid, drug_id__in=codes, expiry__gte=today
        )
        .values("facility_id", "drug_id")
        .annotate(q=Sum("quantity"))
        .values_list("facility_id", "drug_id", "q")
    }
    minimum = {
        (f, d): m
        for f, d, m in StockMinimum.objects.filter(
            facility__group_id=gid, drug_id__in=codes
        ).values_list("facility_id", "drug_id", "minimum")
    }
    return rules.transfer_suggestions(stock, minimum, rules.surplus_factor())


def in_transit(actor: Actor) -> QuerySet[DeliveryNote]:
    """Delivery notes the actor sends or receives (or its group's), newest first."""
    ids = stock_facility_ids(actor)
    qs = DeliveryNote.objects.select_related("from_facility", "to_facility").prefetch_related(
        "lines__drug", "lines__batch"
    )
    if ids is not None:
        qs = qs.filter(Q(to_facility_id__in=ids) | Q(from_facility_id__in=ids))
    return qs.order_by("status", "-sent_at")


def requests_for(actor: Actor) -> QuerySet[PurchaseRequest]:
    return _in_scope(
        PurchaseRequest.objects.select_related("facility").prefetch_related("lines__drug"), actor
    ).order_by("-created_at")


def orders_for(actor: Actor) -> QuerySet[PurchaseOrder]:
    ids = stock_facility_ids(actor)
    qs = PurchaseOrder.objects.select_related("supplier").prefetch_related("lines__drug")
    if ids is not None:
        groups = set(Facility.objects.filter(pk__in=ids).values_list("group_id", flat=True))
        if not (actor.group_id in groups and manages_group(actor, actor.group_id)):
            return qs.none()
        qs = qs.filter(group_id=actor.group_id)
    return qs.order_by("-ordered_at")


def shortages_for(actor: Actor, *, status: str = "") -> QuerySet[Shortage]:
    """Shortage registrations of the facilities the actor sees. Lists show the patient's
    name; opening one (`get_shortage_for`) is audited like any resident read."""
    qs = _in_scope(Shortage.objects.select_related("resident", "drug", "facility"), actor).order_by(
        "-registered_at"
    )
    return qs.filter(status=status) if status else qs


def get_shortage_for(actor: Actor, shortage_id: int) -> Shortage:
    sh = (
        Shortage.objects.select_related("resident", "drug", "facility")
        .filter(pk=shortage_id)
        .first()
    )
    if sh is None or not may_view(actor, sh.facility_id):
        if sh is not None:
            audit.record(actor, audit.Action.DENIED, "shortage", sh.pk, resident_id=sh.resident_id)
        raise NotFound("缺药登记")
    audit.record(actor, audit.Action.READ, "shortage", sh.pk, resident_id=sh.resident_id)
    return sh


def shortage_stats(actor: Actor) -> rules.ShortageStats:
    rows = list(
        _in_scope(Shortage.objects.all(), actor).values_list(
            "status", "registered_at", "handed_over_at"
        )
    )
    return rules.shortage_stats(rows)


@dataclass
class Mismatch:
    facility_id: int
    batch_id: int
    balance: Decimal
    ledger: Decimal


def check_stock() -> tuple[int, list[Mismatch]]:
    """Every balance equals the sum of its movements, and no movement lacks a balance."""
    ledger = {
        (f, b): q
        for f, b, q in StockMovement.objects.values("facility_id", "batch_id")
        .annotate(q=Sum("quantity"))
        .values_list("facility_id", "batch_id", "q")
    }
    bad: list[Mismatch] = []
    n = 0
    for f, b, q in StockBalance.objects.values_list("facility_id", "batch_id", "quantity").iterator(
        chunk_size=20000
    ):
        n += 1
        s = ledger.pop((f, b), Decimal(0))
        if s != q or q < 0:
            bad.append(Mismatch(f, b, q, s))
    for (f, b), s in ledger.items():
        bad.append(Mismatch(f, b, Decimal(0), s))
    return n, bad


# --- reads for the stock-keeping pages -------------------------------------------------------


def balances_at(
    actor: Actor, facility_id: int, *, q: str = "", limit: int = 300
) -> list[StockBalance]:
    """A facility's batch balances (zero ones too: a return may go back into an emptied
    batch), by item and FEFO, for the loss / return / stock-take forms."""
    get_facility_for(actor, facility_id)
    rows = StockBalance.objects.filter(facility_id=facility_id).select_related("drug", "batch")
    if q:
        rows = rows.filter(
            Q(drug__generic_name__contains=q)
            | Q(drug__initials__startswith=q.upper())
            | Q(drug_id=q)
        )
    return list(rows.order_by("drug_id", "expiry", "batch_id")[:limit])


def minimums_at(actor: Actor, facility_id: int, *, limit: int = 500) -> list[StockMinimum]:
    """A facility's minimum stock levels (库存下限), by item."""
    get_facility_for(actor, facility_id)
    return list(
        StockMinimum.objects.filter(facility_id=facility_id)
        .select_related("drug")
        .order_by("drug_id")[:limit]
    )


def get_stock_take_for(actor: Actor, take_id: int) -> StockTake:
    """One stock take with its lines (expected, counted, variance); out of scope → NotFound."""
    take = StockTake.objects.filter(pk=take_id).first()
    if take is None or not may_view(actor, take.facility_id):
        raise NotFound("盘点")
    return take


def stock_take_lines(take: StockTake) -> QuerySet[StockTakeLine]:
    return StockTakeLine.objects.filter(take=take).select_related("batch__drug").order_by("pk")
