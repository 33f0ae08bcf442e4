"""Reads of scheduling. Sessions, slots and beds are not personal data (every clinical user
may see what is free); bookings are, and are scoped to the facilities involved."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from yigongti.core import audit
from yigongti.core.actor import Actor, ScopeKind
from yigongti.core.errors import NotFound
from yigongti.network.models import Department
from yigongti.residents.models import Resident
from yigongti.residents.queries import identity_ids

from . import rules
from .models import (
    BedReservation,
    BedStatus,
    Booking,
    BookingStatus,
    ExpertSession,
    QuotaPolicy,
    Slot,
    Ward,
)


def policy_for(department: Department) -> QuotaPolicy:
    """The department's row, else its facility's, else the defaults (an unsaved row)."""
    rows = list(
        QuotaPolicy.objects.filter(facility_id=department.facility_id).filter(
            Q(department_id=department.pk) | Q(department__isnull=True)
        )
    )
    rows.sort(key=lambda p: p.department_id is None)
    return rows[0] if rows else QuotaPolicy(facility_id=department.facility_id)


def policies_for(departments: Iterable[Department]) -> dict[int, QuotaPolicy]:
    """`policy_for` of many departments in one query: department id → the department's row,
    else its facility's, else the defaults (an unsaved row of the department's facility)."""
    depts = {d.pk: d for d in departments}
    rows = QuotaPolicy.objects.filter(facility_id__in={d.facility_id for d in depts.values()})
    by_dept: dict[int, QuotaPolicy] = {}
    by_facility: dict[int, QuotaPolicy] = {}
    for p in rows:
        if p.department_id is not None:
            by_dept[p.department_id] = p
        else:
            by_facility[p.facility_id] = p
    return {
        pk: by_dept.get(pk)
        or by_facility.get(d.facility_id)
        or QuotaPolicy(facility_id=d.facility_id)
        for pk, d in depts.items()
    }


def effective_free(slot: Slot, hours_ahead: int, now: datetime | None = None) -> tuple[int, int]:
    """(reserved seats free, public seats free) as they stand now, counting a release that is
    due but not yet written (release on read)."""
    now = now or timezone.now()
    if slot.released_at is None and rules.release_due(slot.starts_at, now, hours_ahead):
        return 0, slot.capacity - slot.booked_reserved - slot.booked_public
    return slot.reserved_free, slot.public_free


def sessions_between(
    day_from: date,
    day_to: date,
    *,
    department_id: int | None = None,
    facility_id: int | None = None,
) -> QuerySet[ExpertSession]:
    qs = ExpertSession.objects.select_related("department__facility", "doctor").filter(
        day__gte=day_from, day__lte=day_to
    )
    if department_id:
        qs = qs.filter(department_id=department_id)
    if facility_id:
        qs = qs.filter(department__facility_id=facility_id)
    return qs.order_by("day", "department__name", "doctor__name")


@dataclass
class SlotView:
    slot: Slot
    reserved_free: int
    public_free: int


@dataclass
class SessionView:
    session: ExpertSession
    slots: list[SlotView]

    @property
    def public_free(self) -> int:
        return sum(x.public_free for x in self.slots)

    @property
    def reserved_free(self) -> int:
        return sum(x.reserved_free for x in self.slots)


def schedule_board(
    day_from: date,
    day_to: date,
    *,
    department_id: int | None = None,
    facility_id: int | None = None,
) -> list[SessionView]:
    """Sessions with their slots and the free seats of each pool, for the booking page."""
    sessions = list(
        sessions_between(day_from, day_to, department_id=department_id, facility_id=facility_id)
    )
    slots_by: dict[int, list[Slot]] = {}
    for s in Slot.objects.filter(session_id__in=[x.pk for x in sessions]).order_by("starts_at"):
        slots_by.setdefault(s.session_id, []).append(s)
    hours: dict[int, int] = {}
    out = []
    now = timezone.now()
    for sess in sessions:
        if sess.department_id not in hours:
            hours[sess.department_id] = policy_for(sess.department).release_hours_ahead
        rows = []
        for slot in slots_by.get(sess.pk, []):
            res_free, pub_free = effective_free(slot, hours[sess.department_id], now)
            rows.append(SlotView(slot, res_free, pub_free))
        out.append(SessionView(sess, rows))
    return out


def no_show_count(resident: Resident, window_days: int, now: datetime | None = None) -> int:
    now = now or timezone.now()
    return Booking.objects.filter(
        resident_id__in=identity_ids(resident),
        status=BookingStatus.NO_SHOW,
        slot__starts_at__gte=now - timedelta(days=window_days),
    ).count()


def bookings_visible_to(actor: Actor) -> QuerySet[Booking]:
    """Bookings made by the actor's facility or held at it."""
    qs = Booking.objects.select_related(
        "slot__session__department__facility", "slot__session__doctor", "resident", "facility"
    )
    if actor.is_system or actor.scope.kind == ScopeKind.ALL:
        return qs
    if actor.facility_id is None:
        if actor.group_id is not None:
            return qs.filter(
                Q(facility__group_id=actor.group_id)
                | Q(slot__session__department__facility__group_id=actor.group_id)
            )
        return qs.none()
    return qs.filter(
        Q(facility_id=actor.facility_id)
        | Q(slot__session__department__facility_id=actor.facility_id)
    )


def get_booking_for(actor: Actor, pk: int) -> Booking:
    b = bookings_visible_to(actor).filter(pk=pk).first()
    if b is None:
        audit.record(actor, audit.Action.DENIED, "booking", str(pk), detail={"purpose": "view"})
        raise NotFound("预约")
    audit.record(actor, audit.Action.READ, "booking", str(pk), resident_id=b.resident_id)
    return b


def wards_of(facility_id: int) -> QuerySet[Ward]:
    return Ward.objects.select_related("department").filter(department__facility_id=facility_id)


def live_beds(ward: Ward) -> QuerySet[BedReservation]:
    return BedReservation.objects.select_related("resident").filter(
        ward=ward, status=BedStatus.HELD
    )
