"""Periods, values and targets (pure rules)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from yigongti.core.errors import DomainError
from yigongti.indicators.rules import (
    Direction,
    Grain,
    Unit,
    compute_value,
    parse_level,
    parse_period,
    periods_containing,
    target_met,
)


@pytest.mark.parametrize(
    ("text", "grain", "start", "end", "code"),
    [
        ("2026", Grain.YEAR, date(2026, 1, 1), date(2026, 12, 31), "2026"),
        ("2026H1", Grain.HALF, date(2026, 1, 1), date(2026, 6, 30), "2026H1"),
        ("2026h2", Grain.HALF, date(2026, 7, 1), date(2026, 12, 31), "2026H2"),
        ("2026Q1", Grain.QUARTER, date(2026, 1, 1), date(2026, 3, 31), "2026Q1"),
        ("2026Q3", Grain.QUARTER, date(2026, 7, 1), date(2026, 9, 30), "2026Q3"),
        ("2026q4", Grain.QUARTER, date(2026, 10, 1), date(2026, 12, 31), "2026Q4"),
        ("2026-07", Grain.MONTH, date(2026, 7, 1), date(2026, 7, 31), "2026-07"),
        ("2024-02", Grain.MONTH, date(2024, 2, 1), date(2024, 2, 29), "2024-02"),  # leap year
        ("2026-2", Grain.MONTH, date(2026, 2, 1), date(2026, 2, 28), "2026-02"),
        (" 2026-12 ", Grain.MONTH, date(2026, 12, 1), date(2026, 12, 31), "2026-12"),
    ],
)
def test_period_parsing(text, grain, start, end, code):
    p = parse_period(text)
    assert (p.grain, p.start, p.end, p.code) == (grain, start, end, code)
    assert parse_period(p.code) == p


@pytest.mark.parametrize(
    "text",
    ["", "26", "2026H3", "2026Q0", "2026Q5", "2026-13", "2026-00", "1999", "2026/07", "2026-07-01"],
)
def test_bad_periods_name_the_field(text):
    with pytest.raises(DomainError) as exc:
        parse_period(text)
    assert exc.value.errors[0].field == "period"


def test_bad_level_names_the_field():
    with pytest.raises(DomainError) as exc:
        parse_level("province")
    assert exc.value.errors[0].field == "level"


def test_a_month_belongs_to_one_period_of_each_grain():
    ps = periods_containing(date(2026, 8, 1))
    assert [p.code for p in ps] == ["2026-08", "2026Q3", "2026H2", "2026"]


def test_period_months():
    assert len(parse_period("2026H2").months()) == 6
    assert parse_period("2026Q4").months()[-1] == date(2026, 12, 1)


@pytest.mark.parametrize(
    ("unit", "num", "den", "value"),
    [
        (Unit.PERCENT, 7, 12, Decimal("58.33")),
        (Unit.PERCENT, 0, 5, Decimal("0.00")),  # a real zero
        (Unit.PERCENT, 3, 0, None),  # nothing to divide: missing, not zero
        (Unit.PERMILLE, 1, 3, Decimal("333.33")),
        (Unit.PER_10K, 3, 12000, Decimal("2.50")),
        (Unit.RATIO, 1, 3, Decimal("0.33")),
        (Unit.COUNT, 12, 0, Decimal(12)),
    ],
)
def test_compute_value(unit, num, den, value):
    assert compute_value(unit, Decimal(num), Decimal(den)) == value


@pytest.mark.parametrize(
    ("value", "target", "direction", "met"),
    [
        ("90", "90", Direction.HIGHER, True),  # exactly on target meets it
        ("89.99", "90", Direction.HIGHER, False),
        ("10", "10", Direction.LOWER, True),
        ("10.01", "10", Direction.LOWER, False),
        ("5", None, Direction.HIGHER, None),
        (None, "5", Direction.HIGHER, None),
        ("5", "5", Direction.NONE, None),
    ],
)
def test_target_met(value, target, direction, met):
    def d(x):
        return Decimal(x) if x is not None else None

    assert target_met(d(value), d(target), direction) is met
