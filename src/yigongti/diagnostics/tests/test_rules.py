"""The pure rules, table-driven from the numbers of the brief and DOMAIN.md §7/§10."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from yigongti.diagnostics import rules

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("minutes", "level"),
    [
        (0, 0),
        (29, 0),
        (30, 0),  # exactly at the 30-minute limit: not yet beyond it
        (31, 1),
        (60, 1),  # exactly at limit + 30
        (61, 2),
        (600, 2),  # no level above the group administrator
    ],
)
def test_escalation_level_with_default_limits(minutes, level):
    now = T0 + timedelta(minutes=minutes)
    assert rules.escalation_level(T0, now, 30, 30) == level


def test_escalation_uses_the_centres_limits():
    now = T0 + timedelta(minutes=20)
    assert rules.escalation_level(T0, now, 15, 10) == 1
    assert rules.escalation_level(T0, now, 5, 10) == 2
    assert rules.ack_due(T0, 15) == T0 + timedelta(minutes=15)


@pytest.mark.parametrize(
    ("age", "days", "expected"),
    [
        (timedelta(0), 30, True),
        (timedelta(days=30), 30, True),  # exactly the window
        (timedelta(days=30, seconds=1), 30, False),
        (timedelta(days=180), 180, True),
        (timedelta(days=181), 180, False),
        (timedelta(days=1), 0, False),  # window 0: recognition off
        (-timedelta(minutes=1), 30, False),  # a report dated in the future does not count
    ],
)
def test_recognised_edges(age, days, expected):
    assert rules.recognised(T0 - age, T0, days) is expected


@pytest.mark.parametrize(
    ("kind", "configured", "days"),
    [
        ("lab", None, 30),
        ("ecg", None, 30),
        ("imaging", None, 180),
        ("pathology", None, 0),
        ("imaging", 90, 90),
        ("lab", 0, 0),
    ],
)
def test_recognition_days_default_and_configured(kind, configured, days):
    assert rules.recognition_days(kind, configured) == days


@pytest.mark.parametrize(
    ("num", "den", "value"),
    [(4, 10, 0.4), (9, 10, 0.9), (3, 10, 0.3), (7, 10, 0.7), (0, 5, 0.0), (0, 0, None)],
)
def test_rate_is_missing_without_denominator(num, den, value):
    assert rules.rate(num, den) == value


@pytest.mark.parametrize(
    ("current", "target", "side", "ok"),
    [
        ("requested", "claimed", rules.READER, True),
        ("requested", "claimed", rules.REQUESTER, False),
        ("requested", "cancelled", rules.REQUESTER, True),
        ("claimed", "reported", rules.READER, True),
        ("claimed", "requested", rules.READER, True),
        ("claimed", "cancelled", rules.REQUESTER, True),
        ("reported", "reviewed", rules.REVIEWER, True),
        ("reported", "cancelled", rules.REQUESTER, False),
        ("reviewed", "reported", rules.READER, False),
        ("cancelled", "claimed", rules.READER, False),
    ],
)
def test_state_machine(current, target, side, ok):
    assert rules.may(current, target, side) is ok


@pytest.mark.parametrize(
    "at", [T0, T0 + timedelta(microseconds=7), datetime(2026, 3, 1, tzinfo=UTC)]
)
def test_queue_cursor_round_trips_url_safe(at):
    from yigongti.diagnostics.queries import Cursor

    c = Cursor(1, at, 42)
    text = c.encode()
    assert Cursor.decode(text) == c and all(ch.isdigit() or ch == "~" for ch in text)
    assert Cursor.decode("garbage") is None and Cursor.decode("1~x~2") is None
