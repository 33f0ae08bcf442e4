"""Table-driven tests of the pure rules."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import pytest

from yigongti.pharmacy import rules

TODAY = date(2026, 6, 1)


@pytest.mark.parametrize(
    ("expiry", "days", "state"),
    [
        (date(2026, 5, 31), 90, "expired"),
        (date(2026, 6, 1), 90, "near"),
        (date(2026, 8, 30), 90, "near"),  # day 90: still near
        (date(2026, 8, 31), 90, "ok"),
        (date(2026, 7, 1), 30, "near"),
        (date(2026, 7, 2), 30, "ok"),
    ],
)
def test_expiry_state(expiry, days, state):
    assert rules.expiry_state(expiry, TODAY, days) == state


LOTS = [
    rules.Lot(1, date(2027, 1, 1), D(5)),
    rules.Lot(2, date(2026, 7, 1), D(2)),
    rules.Lot(3, date(2026, 5, 1), D(9)),  # expired
    rules.Lot(4, date(2026, 7, 1), D(3)),
]


@pytest.mark.parametrize(
    ("need", "plan"),
    [
        (D(1), [(2, D(1))]),
        (D(2), [(2, D(2))]),
        (D(4), [(2, D(2)), (4, D(2))]),
        (D(10), [(2, D(2)), (4, D(3)), (1, D(5))]),
        (D(11), None),  # the expired 9 do not count
    ],
)
def test_fefo(need, plan):
    assert rules.fefo(LOTS, need, TODAY) == plan


def test_transfer_suggestions_move_shortfall_from_surplus():
    stock = {(1, "A"): D(2), (2, "A"): D(50), (3, "A"): D(12), (1, "B"): D(0)}
    minimum = {(1, "A"): D(10), (2, "A"): D(10), (3, "A"): D(5), (1, "B"): D(3)}
    out = rules.transfer_suggestions(stock, minimum, D(2))
    # facility 2 keeps 20 (2×10) so spares 30; facility 3 keeps 10, spares 2
    assert out == [rules.Suggestion("A", 2, 1, D(8))]


def test_transfer_suggestions_split_across_givers():
    stock = {(1, "A"): D(0), (2, "A"): D(3), (3, "A"): D(4)}
    minimum = {(1, "A"): D(6)}
    out = rules.transfer_suggestions(stock, minimum, D(2))
    assert out == [rules.Suggestion("A", 3, 1, D(4)), rules.Suggestion("A", 2, 1, D(2))]


def test_shortage_stats():
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [
        ("handed_over", t0, t0 + timedelta(days=2)),
        ("handed_over", t0, t0 + timedelta(days=4)),
        ("handed_over", t0, t0 + timedelta(days=10)),
        ("sourcing", t0, None),
        ("cancelled", t0, None),
    ]
    s = rules.shortage_stats(rows)
    assert (s.registered, s.fulfilled, s.rate, s.median_days) == (4, 3, 0.75, 4)
    assert rules.shortage_stats([]).rate is None
