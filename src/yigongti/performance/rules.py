"""Pure rules of the 1000-point performance scoring (千分制绩效考核). No database.

DOMAIN.md §10: "Counties also score member facilities on a 1000-point scale (千分制) built
from such indicators (configurable weights). Provinces evaluate yearly, cities half-yearly.
An indicator value must always show numerator, denominator and definition; data that was
not collected is reported as missing, never as zero."

A scheme (考核方案) is a list of items; each item is one indicator with a weight (分值, its
points), a rule and the cell its value is read at. The weights of an active scheme sum to
exactly 1000 (`SCHEME_TOTAL`). Rules:

- `linear` (线性插值): full points when the value is at or beyond the `full` threshold on the
  indicator's better side, 0 at or beyond the `zero` threshold on the bad side, linear in
  between. The better side is the catalogue's direction; a volume without a direction
  (`Direction.NONE`, e.g. 门急诊人次) counts "more is better". So a higher-is-better item
  needs `full > zero`, a lower-is-better one `full < zero` (else: thresholds inverted).
- `pass_fail` (达标得分): full points when the value meets the target on the better side
  (the item's own target, else the indicator's local or catalogue target), else 0.
- `judgement` (评审): the qualitative indicators of the 紧密型 aspect, which the platform
  does not compute; an evidence review gives a fraction in [0, 1] of the points. No review
  yet is "未评审": missing, not 0.

Missing data (DOMAIN.md §10: never zero). An item whose value is missing — 未采集 (the
platform has no such data), 无数据 (denominator 0 in the period), 不适用 (no such cell, e.g. a
residence-attributed indicator at facility level), 未评审, 无目标值 — scores no points and is
left out of the points available to that facility. A facility's result is therefore

    得分 / 可得分  (points earned of points available), and
    千分制得分 = 得分 ÷ 可得分 × 1000  (the normalised score, two decimals),

and facilities are ranked by the normalised score, so a clinic is not ranked down for data
the platform does not hold. A facility with nothing available has no score and no rank.
Ties share a rank (standard competition ranking: 1, 2, 2, 4)."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from yigongti.indicators.rules import Direction

#: the points of a complete scheme (千分制)
SCHEME_TOTAL = Decimal(1000)
#: points are kept to two decimals (half up), the normalised score too
CENT = Decimal("0.01")
#: weights have at most one decimal (a county's scheme lists points like 50 or 12.5)
WEIGHT_STEP = Decimal("0.1")


class RuleKind(StrEnum):
    LINEAR = "linear"
    PASS_FAIL = "pass_fail"  # noqa: S105  (a rule's name, not a password)
    JUDGEMENT = "judgement"


RULE_LABELS = {
    RuleKind.LINEAR: "线性插值",
    RuleKind.PASS_FAIL: "达标得分",
    RuleKind.JUDGEMENT: "评审",
}


class Basis(StrEnum):
    """Which cell an item's value is read at."""

    FACILITY = "facility"  # the facility's own value
    AREA = "area"  # the area it serves: township, village or (county hospital) its group


BASIS_LABELS = {Basis.FACILITY: "本机构", Basis.AREA: "服务区域"}


class ItemStatus(StrEnum):
    SCORED = "scored"
    NOT_COLLECTED = "not_collected"
    NO_DATA = "no_data"
    NOT_APPLICABLE = "not_applicable"
    NOT_REVIEWED = "not_reviewed"
    NO_TARGET = "no_target"


STATUS_LABELS = {
    ItemStatus.SCORED: "已计分",
    ItemStatus.NOT_COLLECTED: "未采集",
    ItemStatus.NO_DATA: "无数据",
    ItemStatus.NOT_APPLICABLE: "不适用",
    ItemStatus.NOT_REVIEWED: "未评审",
    ItemStatus.NO_TARGET: "无目标值",
}

#: an indicator value's status (indicators.queries.Value.status) → the item's status
VALUE_STATUS = {
    "not_collected": ItemStatus.NOT_COLLECTED,
    "no_data": ItemStatus.NO_DATA,
    "not_applicable": ItemStatus.NOT_APPLICABLE,
}


def better_is_higher(direction: Direction) -> bool:
    """Higher-is-better, and volumes without a direction count "more is better"."""
    return direction != Direction.LOWER


def thresholds_ok(direction: Direction, full: Decimal, zero: Decimal) -> bool:
    """The full-points threshold lies on the better side of the zero-points one."""
    return full > zero if better_is_higher(direction) else full < zero


def linear_fraction(value: Decimal, full: Decimal, zero: Decimal, direction: Direction) -> Decimal:
    """The share of the points a value earns under the linear rule: 1 at or beyond `full`,
    0 at or beyond `zero`, linear in between (thresholds must be in the right order)."""
    if not thresholds_ok(direction, full, zero):
        raise ValueError("thresholds inverted for the direction")
    if better_is_higher(direction):
        if value >= full:
            return Decimal(1)
        if value <= zero:
            return Decimal(0)
        return (value - zero) / (full - zero)
    if value <= full:
        return Decimal(1)
    if value >= zero:
        return Decimal(0)
    return (zero - value) / (zero - full)


def pass_fail_fraction(value: Decimal, target: Decimal, direction: Direction) -> Decimal:
    """1 when the value meets the target on the better side (at the target counts), else 0."""
    met = value >= target if better_is_higher(direction) else value <= target
    return Decimal(1) if met else Decimal(0)


def points_of(weight: Decimal, fraction: Decimal) -> Decimal:
    return (weight * fraction).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class ItemScore:
    points: Decimal | None  # None: missing, left out of the points available
    status: ItemStatus
    reason: str = ""
    target: Decimal | None = None  # the target used by a pass/fail item


def score_item(
    rule: RuleKind,
    weight: Decimal,
    direction: Direction,
    *,
    value: Decimal | None,
    value_status: str = "ok",
    value_reason: str = "",
    full: Decimal | None = None,
    zero: Decimal | None = None,
    target: Decimal | None = None,
    fraction: Decimal | None = None,
) -> ItemScore:
    """Score one item for one facility.

    For `linear`/`pass_fail`, `value` is the indicator's value (None when missing, with the
    indicator's `value_status` and `value_reason`). For `judgement`, `fraction` is the
    evidence review's share in [0, 1], None when not reviewed."""
    if rule == RuleKind.JUDGEMENT:
        if fraction is None:
            return ItemScore(None, ItemStatus.NOT_REVIEWED, value_reason or "佐证材料尚未评审")
        share = min(max(fraction, Decimal(0)), Decimal(1))
        return ItemScore(points_of(weight, share), ItemStatus.SCORED)
    if value is None:
        status = VALUE_STATUS.get(value_status, ItemStatus.NO_DATA)
        return ItemScore(None, status, value_reason or STATUS_LABELS[status])
    if rule == RuleKind.LINEAR:
        assert full is not None and zero is not None
        return ItemScore(
            points_of(weight, linear_fraction(value, full, zero, direction)), ItemStatus.SCORED
        )
    if target is None:
        return ItemScore(None, ItemStatus.NO_TARGET, "未设置目标值")
    return ItemScore(
        points_of(weight, pass_fail_fraction(value, target, direction)),
        ItemStatus.SCORED,
        target=target,
    )


@dataclass(frozen=True)
class Total:
    earned: Decimal  # 得分: points of the scored items
    available: Decimal  # 可得分: weights of the scored items
    normalised: Decimal | None  # 千分制得分 = earned ÷ available × 1000; None: nothing scored
    missing: int  # items left out (missing data, not reviewed…)


def total_of(items: Iterable[tuple[Decimal, Decimal | None]]) -> Total:
    """`items`: (weight, points or None for missing) of one facility."""
    earned = Decimal(0)
    available = Decimal(0)
    missing = 0
    for weight, points in items:
        if points is None:
            missing += 1
            continue
        earned += points
        available += weight
    normalised = (
        (earned / available * SCHEME_TOTAL).quantize(CENT, rounding=ROUND_HALF_UP)
        if available
        else None
    )
    return Total(earned, available, normalised, missing)


def ranks(scores: dict[Hashable, Decimal | None]) -> dict[Hashable, int | None]:
    """Standard competition ranking by score, highest first: ties share a rank and the next
    rank skips (1, 2, 2, 4). Keys without a score have no rank (None)."""
    ordered = sorted((s for s in scores.values() if s is not None), reverse=True)
    first: dict[Decimal, int] = {}
    for i, s in enumerate(ordered, start=1):
        first.setdefault(s, i)
    return {k: (first[s] if s is not None else None) for k, s in scores.items()}


def weights_sum(weights: Iterable[Decimal]) -> Decimal:
    return sum(weights, Decimal(0))
