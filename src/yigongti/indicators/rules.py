"""Pure rules of the monitoring indicators (DOMAIN.md §10): reporting periods, how a value is
computed from its numerator and denominator, and whether it meets its target. No database.

DOMAIN.md §10: "An indicator value must always show numerator, denominator and definition;
data that was not collected is reported as missing, never as zero." Provinces evaluate
yearly, cities half-yearly; the dashboard also shows months and quarters."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

from yigongti.core.errors import DomainError, FieldError


class Grain(StrEnum):
    MONTH = "M"
    QUARTER = "Q"
    HALF = "H"
    YEAR = "Y"


GRAIN_LABELS = {Grain.MONTH: "月", Grain.QUARTER: "季度", Grain.HALF: "半年", Grain.YEAR: "年"}
GRAIN_MONTHS = {Grain.MONTH: 1, Grain.QUARTER: 3, Grain.HALF: 6, Grain.YEAR: 12}


class Level(StrEnum):
    COUNTY = "county"
    GROUP = "group"
    FACILITY = "facility"
    TOWNSHIP = "township"
    VILLAGE = "village"


LEVEL_LABELS = {
    Level.COUNTY: "全县",
    Level.GROUP: "医共体",
    Level.FACILITY: "机构",
    Level.TOWNSHIP: "乡镇",
    Level.VILLAGE: "村",
}


class Direction(StrEnum):
    HIGHER = "higher"  # higher is better
    LOWER = "lower"  # lower is better
    NONE = "none"  # a volume: no better side


class Unit(StrEnum):
    PERCENT = "%"
    PERMILLE = "‰"
    PER_10K = "per10k"
    COUNT = "count"
    RATIO = "ratio"
    YUAN = "yuan"
    HOURS = "hours"


UNIT_LABELS = {
    Unit.PERCENT: "%",
    Unit.PERMILLE: "‰",
    Unit.PER_10K: "每万人",
    Unit.COUNT: "人次",
    Unit.RATIO: "比值",
    Unit.YUAN: "元",
    Unit.HOURS: "小时",
}

#: multiplier applied to numerator ÷ denominator
UNIT_SCALE = {
    Unit.PERCENT: Decimal(100),
    Unit.PERMILLE: Decimal(1000),
    Unit.PER_10K: Decimal(10000),
    Unit.RATIO: Decimal(1),
    Unit.YUAN: Decimal(1),
    Unit.HOURS: Decimal(1),
}


@dataclass(frozen=True)
class Period:
    """A calendar reporting period; `end` is its last day (inclusive)."""

    grain: Grain
    start: date
    end: date

    @property
    def code(self) -> str:
        y = self.start.year
        if self.grain == Grain.YEAR:
            return f"{y}"
        if self.grain == Grain.HALF:
            return f"{y}H{1 if self.start.month == 1 else 2}"
        if self.grain == Grain.QUARTER:
            return f"{y}Q{(self.start.month - 1) // 3 + 1}"
        return f"{y}-{self.start.month:02d}"

    @property
    def label(self) -> str:
        y = self.start.year
        if self.grain == Grain.YEAR:
            return f"{y}年"
        if self.grain == Grain.HALF:
            return f"{y}年{'上' if self.start.month == 1 else '下'}半年"
        if self.grain == Grain.QUARTER:
            return f"{y}年第{(self.start.month - 1) // 3 + 1}季度"
        return f"{y}年{self.start.month}月"

    def months(self) -> list[date]:
        return [add_months(self.start, i) for i in range(GRAIN_MONTHS[self.grain])]


def add_months(d: date, n: int) -> date:
    """The first day of the month n months after d's month."""
    k = d.year * 12 + d.month - 1 + n
    return date(k // 12, k % 12 + 1, 1)


def month_start(d: date) -> date:
    return date(d.year, d.month, 1)


def period_of(grain: Grain, start: date) -> Period:
    start = month_start(start)
    first = {
        Grain.MONTH: start.month,
        Grain.QUARTER: 3 * ((start.month - 1) // 3) + 1,
        Grain.HALF: 1 if start.month <= 6 else 7,
        Grain.YEAR: 1,
    }[grain]
    s = date(start.year, first, 1)
    return Period(grain, s, add_months(s, GRAIN_MONTHS[grain]) - timedelta(days=1))


def periods_containing(month: date) -> list[Period]:
    """The month, quarter, half-year and year a month belongs to."""
    return [period_of(g, month) for g in Grain]


_PATTERNS = (
    (re.compile(r"^(\d{4})$"), Grain.YEAR),
    (re.compile(r"^(\d{4})[Hh]([12])$"), Grain.HALF),
    (re.compile(r"^(\d{4})[Qq]([1-4])$"), Grain.QUARTER),
    (re.compile(r"^(\d{4})-(\d{1,2})$"), Grain.MONTH),
)


def parse_period(text: str, field: str = "period") -> Period:
    """`2026` (year), `2026H1` (half), `2026Q3` (quarter), `2026-07` (month)."""
    t = (text or "").strip()
    for pattern, grain in _PATTERNS:
        m = pattern.match(t)
        if not m:
            continue
        year = int(m.group(1))
        n = int(m.group(2)) if m.lastindex and m.lastindex > 1 else 1
        if not 2000 <= year <= 2100:
            break
        if grain == Grain.MONTH and not 1 <= n <= 12:
            break
        first = {Grain.YEAR: 1, Grain.HALF: 6 * (n - 1) + 1, Grain.QUARTER: 3 * (n - 1) + 1}
        return period_of(grain, date(year, first.get(grain, n), 1))
    raise DomainError(
        [
            FieldError(
                field,
                "统计期格式不正确，应为 2026、2026H1、2026Q3 或 2026-07",
                "period must look like 2026, 2026H1, 2026Q3 or 2026-07",
                "invalid",
            )
        ]
    )


def parse_level(text: str, field: str = "level") -> Level:
    try:
        return Level(text or "county")
    except ValueError:
        raise DomainError(
            [
                FieldError(
                    field,
                    "统计层级应为 county/group/facility/township/village 之一",
                    "level must be one of county, group, facility, township, village",
                    "invalid",
                )
            ]
        ) from None


def compute_value(unit: Unit, numerator: Decimal, denominator: Decimal) -> Decimal | None:
    """A count is its numerator; a rate is numerator ÷ denominator × scale, None when the
    denominator is 0 (nothing to divide: shown as "无数据", never as 0)."""
    if unit == Unit.COUNT:
        return numerator
    if not denominator:
        return None
    return (numerator / denominator * UNIT_SCALE[unit]).quantize(Decimal("0.01"))


def target_met(value: Decimal | None, target: Decimal | None, direction: Direction) -> bool | None:
    """Whether the value meets the target on the indicator's better side (None: unknown)."""
    if value is None or target is None or direction == Direction.NONE:
        return None
    return value >= target if direction == Direction.HIGHER else value <= target
