"""Remote consultation clock and state machine (DOMAIN.md §7), professional title levels and
the dispatch indicator's counting rules (DOMAIN.md §10). Pure functions of plain values."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

#: DOMAIN.md §7: "Time limits are local (one hospital: arrange within 48 h, finish in 3 working
#: days, emergencies within 12 h) (configurable)". These are the fallbacks when neither a
#: `ConsultPolicy` row nor `settings.YGT` gives a number.
ARRANGE_HOURS = 48
FINISH_WORKING_DAYS = 3
EMERGENCY_HOURS = 12

LOCAL = ZoneInfo("Asia/Shanghai")

REQUESTER = "requester"
CONSULTANT = "consultant"

#: Who may take each step. The opinion is advice: the requester (the treating facility) closes
#: the consultation with its own final decision and a rating (DOMAIN.md §7: "the treating
#: facility keeps the final decision").
MACHINE: dict[str, dict[str, frozenset[str]]] = {
    "submitted": {
        "accepted": frozenset({CONSULTANT}),
        "declined": frozenset({CONSULTANT}),
        "cancelled": frozenset({REQUESTER}),
    },
    "accepted": {
        "answered": frozenset({CONSULTANT}),
        "cancelled": frozenset({REQUESTER}),
    },
    "answered": {"closed": frozenset({REQUESTER})},
    "declined": {},
    "closed": {},
    "cancelled": {},
}
TERMINAL = frozenset(s for s, nxt in MACHINE.items() if not nxt)
OPEN = ("submitted", "accepted")


def allowed(current: str, target: str) -> bool:
    return target in MACHINE.get(current, {})


def may(current: str, target: str, side: str) -> bool:
    return side in MACHINE.get(current, {}).get(target, frozenset())


def is_working_day(d: date) -> bool:
    """Monday to Friday. Public holidays and the weekend days worked in exchange (调休) are not
    modelled: a county that needs them sets a longer limit."""
    return d.weekday() < 5


def end_of_working_days(start: date, n: int) -> date:
    """The date whose midnight ends the `n`-th working day strictly after `start`
    (submitted Monday, 3 working days → the end of Thursday; submitted Friday or Saturday →
    the end of Wednesday). Returns the day after that working day."""
    d = start
    left = n
    while left > 0:
        d += timedelta(days=1)
        if is_working_day(d):
            left -= 1
    return d + timedelta(days=1)


def arrange_by(
    submitted_at: datetime, emergency: bool, arrange_hours: int, emergency_hours: int
) -> datetime:
    """By when the consulted side must accept (arrange) or decline. An emergency has to be
    finished within `emergency_hours`, so it has to be arranged within that time too."""
    hours = min(arrange_hours, emergency_hours) if emergency else arrange_hours
    return submitted_at + timedelta(hours=hours)


def finish_by(
    submitted_at: datetime, emergency: bool, finish_working_days: int, emergency_hours: int
) -> datetime:
    """By when the opinion is due: an emergency `emergency_hours` after the request; otherwise
    the end (local midnight, Asia/Shanghai) of the `finish_working_days`-th working day after
    the day of the request (Mon–Fri, see `is_working_day`)."""
    if emergency:
        return submitted_at + timedelta(hours=emergency_hours)
    local_day = submitted_at.astimezone(LOCAL).date()
    end = end_of_working_days(local_day, finish_working_days)
    return datetime.combine(end, time(0), tzinfo=LOCAL)


def overdue(
    state: str, arrange_deadline: datetime, finish_deadline: datetime, now: datetime
) -> str:
    """ "arrange" when still not accepted past the arrange limit, "finish" when the opinion is
    late, "" otherwise."""
    if state == "submitted":
        if now > finish_deadline:
            return "finish"
        if now > arrange_deadline:
            return "arrange"
    if state == "accepted" and now > finish_deadline:
        return "finish"
    return ""


# ---------------------------------------------------------------------------------------------
# professional titles (职称)

#: Physician title series (医师系列, incl. TCM 中医师): level 1 intermediate (中级), 2 associate
#: senior (副高), 3 senior (正高). DOMAIN.md §10 counts "doctors of intermediate title or above".
PHYSICIAN_TITLES: dict[str, int] = {
    "医士": 0,
    "医师": 0,
    "住院医师": 0,
    "中医师": 0,
    "主治医师": 1,
    "主治中医师": 1,
    "副主任医师": 2,
    "副主任中医师": 2,
    "主任医师": 3,
    "主任中医师": 3,
}
#: Other series, so that a consultation may still be answered by a technician or pharmacist of
#: the right level; they are not doctors and do not count for the dispatch indicator.
OTHER_TITLES: dict[str, int] = {
    "主管技师": 1,
    "副主任技师": 2,
    "主任技师": 3,
    "主管药师": 1,
    "副主任药师": 2,
    "主任药师": 3,
    "主管护师": 1,
    "副主任护师": 2,
    "主任护师": 3,
}


def title_level(title: str) -> int:
    """The level of a title (0 when unknown or junior)."""
    t = title.strip()
    return PHYSICIAN_TITLES.get(t, OTHER_TITLES.get(t, 0))


def is_physician_of_level(title: str, level: int = 1) -> bool:
    t = title.strip()
    return t in PHYSICIAN_TITLES and PHYSICIAN_TITLES[t] >= level


def qualifying_doctor_titles(level: int = 1) -> list[str]:
    """Physician titles at or above `level` (the SQL filter of the dispatch indicator)."""
    return sorted(t for t, lv in PHYSICIAN_TITLES.items() if lv >= level)


def per_10k(numerator: int, denominator: int) -> float | None:
    """DOMAIN.md §10: a rate per 10,000 residents; missing (None), never zero, when there is no
    population to divide by."""
    if denominator <= 0:
        return None
    return round(numerator * 10000 / denominator, 2)


def overlaps(starts_on: date, ends_on: date, since: date, until: date) -> bool:
    return starts_on <= until and ends_on >= since
