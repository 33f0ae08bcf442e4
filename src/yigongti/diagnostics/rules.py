"""Rules of the shared diagnosis centres (DOMAIN.md §7). Pure functions of plain values.

DOMAIN.md §7: "Shared imaging / ECG / lab / pathology centres: township facilities acquire,
the county centre reads and reports; critical values must be acknowledged and acted on
(closed loop); results are mutually recognised across member facilities. Quality figures a
county reports: imaging diagnosis consistency rate 40% → 90%, grade-A film rate 30% → 70%."

The time limits and the recognition windows are local choices: they live on the `Centre` row
(configurable); the constants here are only the defaults a new centre gets."""

from __future__ import annotations

from datetime import datetime, timedelta

#: Default critical-value acknowledgement limit (minutes) of a new centre; the number used is
#: `Centre.ack_minutes` (configurable).
DEFAULT_ACK_MINUTES = 30
#: Default interval (minutes) between escalation levels; `Centre.escalate_minutes`.
DEFAULT_ESCALATE_MINUTES = 30
#: Escalation levels: 1 = the requesting facility's head (机构负责人), 2 = the group's
#: administrator (医共体管理员). No level above 2.
LEVEL_FACILITY_HEAD = 1
LEVEL_GROUP_ADMIN = 2
MAX_LEVEL = LEVEL_GROUP_ADMIN
LEVEL_LABELS = {0: "未升级", 1: "已升级至申请机构负责人", 2: "已升级至医共体管理员"}

#: Default mutual-recognition windows (days) per centre kind when `Centre.recognition_days` is
#: empty (configurable per centre). 0 = no recognition warning (a pathology specimen is unique).
DEFAULT_RECOGNITION_DAYS = {"lab": 30, "ecg": 30, "imaging": 180, "pathology": 0}

# State machine. Sides: the requesting facility (REQUESTER), the centre's reader (READER; the
# one who claimed for report/release), a reviewer of the centre (REVIEWER).
REQUESTER = "requester"
READER = "reader"
REVIEWER = "reviewer"

MACHINE: dict[str, dict[str, frozenset[str]]] = {
    "requested": {"claimed": frozenset({READER}), "cancelled": frozenset({REQUESTER})},
    "claimed": {
        "reported": frozenset({READER}),
        "requested": frozenset({READER}),  # released back to the queue
        "cancelled": frozenset({REQUESTER}),
    },
    "reported": {"reviewed": frozenset({REVIEWER})},
    "reviewed": {},
    "cancelled": {},
}


def allowed(current: str, target: str) -> bool:
    return target in MACHINE.get(current, {})


def may(current: str, target: str, side: str) -> bool:
    return side in MACHINE.get(current, {}).get(target, frozenset())


def recognition_days(kind: str, configured: int | None) -> int:
    """The centre's window, or the kind's default when the centre leaves it empty."""
    if configured is not None:
        return configured
    return DEFAULT_RECOGNITION_DAYS.get(kind, 0)


def recognised(reported_at: datetime, now: datetime, days: int) -> bool:
    """An earlier report is mutually recognised (a repeat warns) when it was reported at most
    `days` days before `now` (inclusive: exactly 30 days ago still counts for a 30-day
    window). A window of 0 never recognises; a report dated in the future does not count."""
    if days <= 0 or reported_at > now:
        return False
    return now - reported_at <= timedelta(days=days)


def ack_due(flagged_at: datetime, ack_minutes: int) -> datetime:
    return flagged_at + timedelta(minutes=ack_minutes)


def escalation_level(
    flagged_at: datetime, now: datetime, ack_minutes: int, escalate_minutes: int
) -> int:
    """The escalation level an unacknowledged critical value should be at `now`: 0 within the
    acknowledgement limit, 1 once the limit is passed (strictly beyond it), 2 once a further
    `escalate_minutes` have passed."""
    due = ack_due(flagged_at, ack_minutes)
    if now <= due:
        return 0
    if now <= due + timedelta(minutes=escalate_minutes):
        return LEVEL_FACILITY_HEAD
    return LEVEL_GROUP_ADMIN


def rate(numerator: int, denominator: int) -> float | None:
    """A share with its denominator; no denominator means missing, never zero
    (DOMAIN.md §10: "data that was not collected is reported as missing, never as zero")."""
    if denominator <= 0:
        return None
    return round(numerator / denominator, 4)
