"""The referral state machine and the clock rules (DOMAIN.md §6). Pure functions."""

from __future__ import annotations

from datetime import date, datetime, timedelta

#: DOMAIN.md §6: "The sending clinic follows the patient up within 2 weeks." The number used is
#: `ResponsePolicy.followup_days` (default 14); this is the fallback when no row exists.
FOLLOWUP_DAYS = 14

SENDER = "sender"
RECEIVER = "receiver"
SYSTEM = "system"

#: Upward: draft → submitted → accepted / declined / expired → arrived → completed; cancel
#: while not yet arrived. Who may take each step.
UP: dict[str, dict[str, frozenset[str]]] = {
    "draft": {"submitted": frozenset({SENDER}), "cancelled": frozenset({SENDER})},
    "submitted": {
        "accepted": frozenset({RECEIVER}),
        "declined": frozenset({RECEIVER}),
        "expired": frozenset({SYSTEM}),
        "cancelled": frozenset({SENDER}),
    },
    "accepted": {
        "arrived": frozenset({RECEIVER}),
        "cancelled": frozenset({SENDER, RECEIVER}),
    },
    "arrived": {"completed": frozenset({RECEIVER})},
    "declined": {},
    "expired": {},
    "completed": {},
    "cancelled": {},
}

#: Downward (回转): sent → received by the township/village → completed by the follow-up.
DOWN: dict[str, dict[str, frozenset[str]]] = {
    "draft": {"submitted": frozenset({SENDER}), "cancelled": frozenset({SENDER})},
    "submitted": {"accepted": frozenset({RECEIVER}), "cancelled": frozenset({SENDER})},
    "accepted": {"completed": frozenset({RECEIVER})},
    "completed": {},
    "cancelled": {},
}

TERMINAL = frozenset({"declined", "expired", "completed", "cancelled"})


def machine(direction: str) -> dict[str, dict[str, frozenset[str]]]:
    return UP if direction == "up" else DOWN


def allowed(direction: str, current: str, target: str) -> bool:
    return target in machine(direction).get(current, {})


def may(direction: str, current: str, target: str, side: str) -> bool:
    return side in machine(direction).get(current, {}).get(target, frozenset())


def respond_by(
    submitted_at: datetime, emergency: bool, routine_hours: int, emergency_hours: int
) -> datetime:
    return submitted_at + timedelta(hours=emergency_hours if emergency else routine_hours)


def followup_due(sent_on: date, days: int = FOLLOWUP_DAYS) -> date:
    """DOMAIN.md §6: after a downward referral "the sending clinic follows the patient up within
    2 weeks" — the receiving township/village owes a follow-up by this day."""
    return sent_on + timedelta(days=days)


def followup_overdue(due: date | None, done: bool, today: date) -> bool:
    return due is not None and not done and today > due
