"""The scoring rules, table-driven: linear in both directions with the threshold edges,
pass/fail, judgement, missing data, totals and ranks."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from yigongti.indicators.rules import Direction
from yigongti.performance.rules import (
    ItemStatus,
    RuleKind,
    linear_fraction,
    ranks,
    score_item,
    thresholds_ok,
    total_of,
)

HI, LO, NONE = Direction.HIGHER, Direction.LOWER, Direction.NONE


@pytest.mark.parametrize(
    ("value", "full", "zero", "direction", "expected"),
    [
        # higher is better: full 80, zero 40
        ("80", "80", "40", HI, "1"),  # exactly at full
        ("95", "80", "40", HI, "1"),  # beyond full
        ("40", "80", "40", HI, "0"),  # exactly at zero
        ("10", "80", "40", HI, "0"),  # beyond zero
        ("60", "80", "40", HI, "0.5"),
        ("70", "80", "40", HI, "0.75"),
        # lower is better: full 10, zero 30 (e.g. 住院率)
        ("10", "10", "30", LO, "1"),
        ("5", "10", "30", LO, "1"),
        ("30", "10", "30", LO, "0"),
        ("45", "10", "30", LO, "0"),
        ("25", "10", "30", LO, "0.25"),
        # a volume without direction counts "more is better"
        ("15", "20", "10", NONE, "0.5"),
    ],
)
def test_linear_fraction(value, full, zero, direction, expected):
    assert linear_fraction(D(value), D(full), D(zero), direction) == D(expected)


@pytest.mark.parametrize(
    ("direction", "full", "zero", "ok"),
    [(HI, 80, 40, True), (HI, 40, 80, False), (HI, 50, 50, False),
     (LO, 10, 30, True), (LO, 30, 10, False), (NONE, 5, 1, True), (NONE, 1, 5, False)],
)  # fmt: skip
def test_thresholds_must_lie_on_the_better_side(direction, full, zero, ok):
    assert thresholds_ok(direction, D(full), D(zero)) is ok
    if not ok:
        with pytest.raises(ValueError):
            linear_fraction(D(1), D(full), D(zero), direction)


@pytest.mark.parametrize(
    ("value", "target", "direction", "points"),
    [("55", "55", HI, "150.00"), ("54.99", "55", HI, "0.00"), ("90", "55", HI, "150.00"),
     ("20", "20", LO, "150.00"), ("20.01", "20", LO, "0.00"), ("3", "20", LO, "150.00")],
)  # fmt: skip
def test_pass_fail_scores_all_or_nothing_at_the_target(value, target, direction, points):
    got = score_item(RuleKind.PASS_FAIL, D(150), direction, value=D(value), target=D(target))
    assert got.status == ItemStatus.SCORED and got.points == D(points)


def test_linear_points_round_half_up_to_cents():
    # 33.33 of 50 → 0.6666 × 200 = 133.32; 1/3 of the way × 100 = 33.333… → 33.33
    got = score_item(RuleKind.LINEAR, D(200), HI, value=D("33.33"), full=D(50), zero=D(0))
    assert got.points == D("133.32")
    got = score_item(RuleKind.LINEAR, D(100), HI, value=D(50), full=D(80), zero=D(35))
    assert got.points == D("33.33")
    got = score_item(RuleKind.LINEAR, D("12.5"), HI, value=D(50), full=D(100), zero=D(0))
    assert got.points == D("6.25")


@pytest.mark.parametrize(
    ("status", "expected"),
    [("not_collected", ItemStatus.NOT_COLLECTED), ("no_data", ItemStatus.NO_DATA),
     ("not_applicable", ItemStatus.NOT_APPLICABLE)],
)  # fmt: skip
def test_missing_value_scores_nothing_and_keeps_its_reason(status, expected):
    for rule in (RuleKind.LINEAR, RuleKind.PASS_FAIL):
        got = score_item(rule, D(100), HI, value=None, value_status=status, value_reason="原因",
                         full=D(80), zero=D(40), target=D(60))  # fmt: skip
        assert (got.points, got.status, got.reason) == (None, expected, "原因")


def test_pass_fail_without_any_target_is_missing_not_zero():
    got = score_item(RuleKind.PASS_FAIL, D(100), HI, value=D(70), target=None)
    assert got.points is None and got.status == ItemStatus.NO_TARGET


@pytest.mark.parametrize(
    ("fraction", "points", "status"),
    [(None, None, ItemStatus.NOT_REVIEWED), ("1", "50.00", ItemStatus.SCORED),
     ("0.8", "40.00", ItemStatus.SCORED), ("0", "0.00", ItemStatus.SCORED),
     ("1.5", "50.00", ItemStatus.SCORED)],
)  # fmt: skip
def test_judgement_is_the_review_share_and_unreviewed_is_missing(fraction, points, status):
    got = score_item(RuleKind.JUDGEMENT, D(50), NONE, value=None,
                     fraction=None if fraction is None else D(fraction))  # fmt: skip
    assert got.status == status
    assert got.points == (None if points is None else D(points))


def test_total_leaves_missing_items_out_of_the_points_available():
    t = total_of([(D(200), D(150)), (D(100), None), (D(300), D("200.5")), (D(400), None)])
    assert (t.earned, t.available, t.missing) == (D("350.5"), D(500), 2)
    assert t.normalised == D("701.00")  # 350.5 ÷ 500 × 1000


def test_total_with_nothing_available_has_no_score():
    t = total_of([(D(500), None), (D(500), None)])
    assert (t.earned, t.available, t.normalised, t.missing) == (0, 0, None, 2)


def test_ties_share_a_rank_and_the_next_rank_skips():
    got = ranks({"a": D("900"), "b": D("850.5"), "c": D("850.5"), "d": D("700"), "e": None})
    assert got == {"a": 1, "b": 2, "c": 2, "d": 4, "e": None}
