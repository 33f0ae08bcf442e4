"""The state machine, table-driven (DOMAIN.md §6: draft → submitted → accepted / declined /
expired → arrived → completed; cancellation)."""

from datetime import UTC, date, datetime

import pytest

from yigongti.referrals import rules

STATES = [
    "draft",
    "submitted",
    "accepted",
    "declined",
    "expired",
    "arrived",
    "completed",
    "cancelled",
]

UP_ALLOWED = {
    ("draft", "submitted"),
    ("draft", "cancelled"),
    ("submitted", "accepted"),
    ("submitted", "declined"),
    ("submitted", "expired"),
    ("submitted", "cancelled"),
    ("accepted", "arrived"),
    ("accepted", "cancelled"),
    ("arrived", "completed"),
}
DOWN_ALLOWED = {
    ("draft", "submitted"),
    ("draft", "cancelled"),
    ("submitted", "accepted"),
    ("submitted", "cancelled"),
    ("accepted", "completed"),
}


@pytest.mark.parametrize("a", STATES)
@pytest.mark.parametrize("b", STATES)
def test_up_transitions(a, b):
    assert rules.allowed("up", a, b) is ((a, b) in UP_ALLOWED)


@pytest.mark.parametrize("a", STATES)
@pytest.mark.parametrize("b", STATES)
def test_down_transitions(a, b):
    assert rules.allowed("down", a, b) is ((a, b) in DOWN_ALLOWED)


@pytest.mark.parametrize(
    ("cur", "to", "side", "ok"),
    [
        ("submitted", "accepted", "receiver", True),
        ("submitted", "accepted", "sender", False),
        ("submitted", "declined", "sender", False),
        ("submitted", "expired", "receiver", False),
        ("submitted", "expired", "system", True),
        ("submitted", "cancelled", "receiver", False),
        ("accepted", "cancelled", "receiver", True),
        ("accepted", "arrived", "sender", False),
        ("arrived", "completed", "receiver", True),
    ],
)
def test_who_may(cur, to, side, ok):
    assert rules.may("up", cur, to, side) is ok


def test_clocks():
    t = datetime(2026, 3, 1, 8, tzinfo=UTC)
    assert rules.respond_by(t, False, 48, 2) == datetime(2026, 3, 3, 8, tzinfo=UTC)
    assert rules.respond_by(t, True, 48, 2) == datetime(2026, 3, 1, 10, tzinfo=UTC)
    assert rules.followup_due(date(2026, 3, 1)) == date(2026, 3, 15)  # within 2 weeks
    assert not rules.followup_overdue(date(2026, 3, 15), False, date(2026, 3, 15))
    assert rules.followup_overdue(date(2026, 3, 15), False, date(2026, 3, 16))
    assert not rules.followup_overdue(date(2026, 3, 15), True, date(2026, 4, 1))
