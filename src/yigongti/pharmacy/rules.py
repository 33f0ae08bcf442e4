"""Pure rules of stock keeping (DOMAIN.md §8: "stock per member facility with batches and
expiry; ... transfers between members (余缺调拨); drug-shortage registration (缺药登记) ...
tracked to delivery")."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.conf import settings

DEFAULT_NEAR_EXPIRY_DAYS = 90  # the issue: "near-expiry (configurable, e.g. 90 days)"
# A member whose stock is above SURPLUS_FACTOR × its minimum may give the excess away.
DEFAULT_SURPLUS_FACTOR = 2


def near_expiry_days() -> int:
    return int(getattr(settings, "YGT", {}).get("NEAR_EXPIRY_DAYS", DEFAULT_NEAR_EXPIRY_DAYS))


def surplus_factor() -> Decimal:
    return Decimal(getattr(settings, "YGT", {}).get("SURPLUS_FACTOR", DEFAULT_SURPLUS_FACTOR))


def expiry_state(expiry: date, today: date, days: int) -> str:
    """'expired' (past its date: never dispensed), 'near' (within `days`), or 'ok'."""
    if expiry < today:
        return "expired"
    if (expiry - today).days <= days:
        return "near"
    return "ok"


@dataclass(frozen=True)
class Lot:
    batch_id: int
    expiry: date
    quantity: Decimal


def fefo(lots: list[Lot], need: Decimal, today: date) -> list[tuple[int, Decimal]] | None:
    """First-expiry-first-out: take `need` from unexpired lots, the earliest expiry first (ties
    by batch id). None when the unexpired stock is short."""
    out: list[tuple[int, Decimal]] = []
    left = need
    for lot in sorted(lots, key=lambda x: (x.expiry, x.batch_id)):
        if left <= 0:
            break
        if lot.expiry < today or lot.quantity <= 0:
            continue
        take = min(lot.quantity, left)
        out.append((lot.batch_id, take))
        left -= take
    return out if left <= 0 else None


@dataclass(frozen=True)
class Suggestion:
    drug_code: str
    from_facility_id: int
    to_facility_id: int
    quantity: Decimal


def transfer_suggestions(
    stock: dict[tuple[int, str], Decimal],
    minimum: dict[tuple[int, str], Decimal],
    factor: Decimal,
) -> list[Suggestion]:
    """余缺调拨 before purchase: for every (facility, drug) below its minimum, move the shortfall
    (up to the minimum) from members holding more than `factor` × their own minimum (or any
    stock when they have no minimum), largest surplus first."""
    surplus: dict[str, list[list[Any]]] = {}
    for (fid, code), qty in stock.items():
        keep = minimum.get((fid, code), Decimal(0)) * factor
        if qty > keep:
            surplus.setdefault(code, []).append([fid, qty - keep])
    for offers in surplus.values():
        offers.sort(key=lambda o: (-o[1], o[0]))
    out: list[Suggestion] = []
    for (fid, code), low in sorted(minimum.items()):
        have = stock.get((fid, code), Decimal(0))
        if have >= low:
            continue
        need = low - have
        for offer in surplus.get(code, []):
            if need <= 0:
                break
            giver, spare = int(offer[0]), Decimal(str(offer[1]))
            if giver == fid or spare <= 0:
                continue
            qty = min(spare, need)
            out.append(Suggestion(code, giver, fid, qty))
            offer[1] = spare - qty
            need -= qty
    return out


@dataclass(frozen=True)
class ShortageStats:
    registered: int
    fulfilled: int
    rate: float | None  # fulfilled / registered (cancelled ones excluded)
    median_days: float | None  # registration → hand-over


def shortage_stats(rows: list[tuple[str, datetime, datetime | None]]) -> ShortageStats:
    """rows: (status, registered_at, handed_over_at)."""
    live = [r for r in rows if r[0] != "cancelled"]
    done = [r for r in live if r[2] is not None]
    days = [(r[2] - r[1]).total_seconds() / 86400 for r in done if r[2] is not None]
    return ShortageStats(
        registered=len(live),
        fulfilled=len(done),
        rate=(len(done) / len(live)) if live else None,
        median_days=statistics.median(days) if days else None,
    )
