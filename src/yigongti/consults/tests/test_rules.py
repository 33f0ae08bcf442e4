"""The consultation clock (DOMAIN.md §7: arrange within 48 h, finish in 3 working days,
emergencies within 12 h), the state machine, title levels and the per-10k rate (§10)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from yigongti.consults import rules

L = rules.LOCAL


def local(y: int, m: int, d: int, h: int = 10, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=L)


# 2026-11-23 is a Monday.
@pytest.mark.parametrize(
    ("submitted", "days", "due"),
    [
        (local(2026, 11, 23), 3, local(2026, 11, 27, 0)),  # Mon → end of Thu
        (local(2026, 11, 23, 23, 59), 3, local(2026, 11, 27, 0)),  # late Monday, same
        (local(2026, 11, 23, 0, 0), 3, local(2026, 11, 27, 0)),  # first minute of Monday
        (local(2026, 11, 26), 3, local(2026, 12, 2, 0)),  # Thu → Fri, Mon, Tue
        (local(2026, 11, 27), 3, local(2026, 12, 3, 0)),  # Fri → Mon, Tue, Wed
        (local(2026, 11, 28), 3, local(2026, 12, 3, 0)),  # Sat → Mon, Tue, Wed
        (local(2026, 11, 29), 3, local(2026, 12, 3, 0)),  # Sun → Mon, Tue, Wed
        (local(2026, 11, 27), 1, local(2026, 12, 1, 0)),  # Fri, 1 day → end of Mon
        (local(2026, 11, 23), 5, local(2026, 12, 1, 0)),  # a full week
        # Sunday 17:00 UTC is Monday 01:00 in Shanghai: the local day counts
        (datetime(2026, 11, 22, 17, 0, tzinfo=UTC), 3, local(2026, 11, 27, 0)),
    ],
)
def test_routine_finish_by_counts_working_days(submitted, days, due):
    assert rules.finish_by(submitted, False, days, 12) == due


@pytest.mark.parametrize("hours", [12, 6, 24])
def test_emergency_finish_by_is_hours_after_request(hours):
    t = local(2026, 11, 27, 22)  # a Friday night: weekends do not matter for emergencies
    assert rules.finish_by(t, True, 3, hours) == t + timedelta(hours=hours)


@pytest.mark.parametrize(
    ("emergency", "arrange", "emerg", "hours"),
    [
        (False, 48, 12, 48),
        (True, 48, 12, 12),  # an emergency must be arranged within its finish limit
        (True, 6, 12, 6),  # unless the arrange limit is shorter still
        (False, 24, 12, 24),
    ],
)
def test_arrange_by(emergency, arrange, emerg, hours):
    t = local(2026, 11, 23)
    assert rules.arrange_by(t, emergency, arrange, emerg) == t + timedelta(hours=hours)


@pytest.mark.parametrize(
    ("d", "working"),
    [(date(2026, 11, 23 + i), i < 5) for i in range(7)],
)
def test_working_days_are_monday_to_friday(d, working):
    assert rules.is_working_day(d) is working


A = local(2026, 11, 25)  # arrange limit
F = local(2026, 11, 27, 0)  # finish limit


@pytest.mark.parametrize(
    ("state", "now", "late"),
    [
        ("submitted", A, ""),  # exactly at the limit: not yet late
        ("submitted", A + timedelta(seconds=1), "arrange"),
        ("submitted", F + timedelta(seconds=1), "finish"),
        ("accepted", A + timedelta(hours=5), ""),  # arranged in time; the opinion is not due
        ("accepted", F, ""),
        ("accepted", F + timedelta(seconds=1), "finish"),
        ("answered", F + timedelta(days=9), ""),
        ("declined", F + timedelta(days=9), ""),
    ],
)
def test_overdue(state, now, late):
    assert rules.overdue(state, A, F, now) == late


@pytest.mark.parametrize(
    ("current", "target", "side", "ok"),
    [
        ("submitted", "accepted", rules.CONSULTANT, True),
        ("submitted", "accepted", rules.REQUESTER, False),
        ("submitted", "declined", rules.CONSULTANT, True),
        ("submitted", "cancelled", rules.REQUESTER, True),
        ("submitted", "cancelled", rules.CONSULTANT, False),
        ("submitted", "answered", rules.CONSULTANT, False),
        ("accepted", "answered", rules.CONSULTANT, True),
        ("accepted", "answered", rules.REQUESTER, False),
        ("accepted", "declined", rules.CONSULTANT, False),
        ("answered", "closed", rules.REQUESTER, True),
        ("answered", "closed", rules.CONSULTANT, False),  # the treating side decides
        ("closed", "answered", rules.CONSULTANT, False),
        ("declined", "accepted", rules.CONSULTANT, False),
    ],
)
def test_state_machine(current, target, side, ok):
    assert rules.may(current, target, side) is ok


@pytest.mark.parametrize(
    ("title", "level", "doctor"),
    [
        ("主任医师", 3, True),
        ("副主任医师", 2, True),
        ("主治医师", 1, True),
        ("主治中医师", 1, True),
        ("医师", 0, False),
        ("乡村医生", 0, False),
        ("主管护师", 1, False),  # intermediate, but not a doctor
        ("主任药师", 3, False),
        ("", 0, False),
        (" 主治医师 ", 1, True),
    ],
)
def test_title_levels(title, level, doctor):
    assert rules.title_level(title) == level
    assert rules.is_physician_of_level(title, 1) is doctor
    assert (title.strip() in rules.qualifying_doctor_titles(1)) is doctor


@pytest.mark.parametrize(
    ("num", "den", "value"),
    [(3, 30000, 1.0), (0, 30000, 0.0), (1, 3, 3333.33), (5, 0, None), (0, 0, None)],
)
def test_per_10k_is_missing_without_population(num, den, value):
    assert rules.per_10k(num, den) == value


@pytest.mark.parametrize(
    ("start", "end", "ok"),
    [
        (date(2026, 1, 1), date(2026, 3, 31), True),
        (date(2025, 6, 1), date(2025, 12, 31), False),  # ends the day before
        (date(2025, 6, 1), date(2026, 1, 1), True),  # the first day overlaps
        (date(2026, 12, 31), date(2027, 6, 1), True),  # the last day overlaps
        (date(2027, 1, 1), date(2027, 6, 1), False),
    ],
)
def test_overlaps_period(start, end, ok):
    assert rules.overlaps(start, end, date(2026, 1, 1), date(2026, 12, 31)) is ok
