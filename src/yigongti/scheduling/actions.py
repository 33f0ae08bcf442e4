"""Every write of scheduling: publish sessions and wards, book, cancel, mark, release.

No overbooking: seats are taken by a conditional UPDATE on the capacity row (`WHERE
booked_public < capacity - reserved`), which PostgreSQL re-evaluates after a concurrent
writer commits and SQLite runs one writer at a time; CHECK constraints on Slot and Ward
refuse anything that would slip past. A database busy error (SQLite) becomes a clean 409."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db import IntegrityError, OperationalError, transaction
from django.db.models import F
from django.utils import timezone

from yigongti.core import audit
from yigongti.core.actor import Actor, ScopeKind
from yigongti.core.errors import Conflict, DomainError, FieldError, Forbidden, NotFound
from yigongti.network.models import Department, FacilityKind, Staff
from yigongti.residents.models import Resident
from yigongti.residents.queries import in_scope

from . import queries, rules
from .models import (
    BedReservation,
    BedStatus,
    Booking,
    BookingSource,
    BookingStatus,
    ExpertSession,
    Pool,
    QuotaPolicy,
    Slot,
    Ward,
)

BOOK = "book"
MANAGE = "manage_schedules"
MAX_SLOT_CAPACITY = 200


# ---------------------------------------------------------------------------------------------
# helpers


def _need(actor: Actor, perm: str) -> None:
    if not (actor.is_system or actor.can(perm)):
        raise Forbidden()


def _manages(actor: Actor, department: Department) -> bool:
    if actor.is_system or actor.role == "sysadmin":
        return True
    if actor.facility_id is not None:
        return actor.facility_id == department.facility_id
    return actor.group_id is not None and actor.group_id == department.facility.group_id


def _at_facility(actor: Actor, facility_id: int) -> bool:
    return actor.is_system or actor.facility_id == facility_id or actor.scope.kind == ScopeKind.ALL


@contextmanager
def _busy_is_refusal() -> Iterator[None]:
    """SQLite answers a long write queue with "database is locked": refuse cleanly."""
    try:
        yield
    except OperationalError as exc:
        if "locked" in str(exc).lower() or "busy" in str(exc).lower():
            raise Conflict(
                FieldError("slot", "系统繁忙，请稍后重试", "Busy, please retry", "busy")
            ) from exc
        raise


def _full(field: str, what_zh: str, what_en: str) -> Conflict:
    return Conflict(FieldError(field, f"{what_zh}已满，无法预约", f"{what_en} full", "full"))


# ---------------------------------------------------------------------------------------------
# policies, sessions, wards


@dataclass
class PolicyInput:
    reserved_slot_pct: int = 20
    release_hours_ahead: int = 48
    reserved_bed_pct: int = 10
    noshow_limit: int = 3
    noshow_window_days: int = 90


def do_set_policy(actor: Actor, department: Department, data: PolicyInput) -> QuotaPolicy:
    _need(actor, MANAGE)
    if not _manages(actor, department):
        raise Forbidden("只能设置本机构科室的规则", "Not your facility")
    errors = [
        FieldError(name, "比例应在0到100之间", "Must be 0..100", "range")
        for name in ("reserved_slot_pct", "reserved_bed_pct")
        if not 0 <= getattr(data, name) <= 100
    ]
    errors.extend(
        FieldError(name, "不能为负数", "Must not be negative", "range")
        for name in ("release_hours_ahead", "noshow_limit", "noshow_window_days")
        if getattr(data, name) < 0
    )
    if errors:
        raise DomainError(errors)
    with transaction.atomic():
        policy, _ = QuotaPolicy.objects.update_or_create(
            department=department,
            defaults={"facility_id": department.facility_id, **data.__dict__},
        )
        audit.record(
            actor, audit.Action.UPDATE, "quota_policy", str(policy.pk), detail=data.__dict__
        )
    return policy


@dataclass
class SlotInput:
    start: time
    end: time
    capacity: int


def do_publish_session(
    actor: Actor,
    department: Department,
    doctor: Staff,
    day: date,
    slots: list[SlotInput],
    note: str = "",
) -> ExpertSession:
    """A county department publishes an expert session; each slot keeps the policy's share of
    its seats for family-doctor referrals."""
    _need(actor, MANAGE)
    if not _manages(actor, department):
        raise Forbidden("只能发布本机构科室的号源", "Not your facility")
    errors: list[FieldError] = []
    if department.facility.kind not in (FacilityKind.COUNTY_HOSPITAL, FacilityKind.BRANCH):
        errors.append(
            FieldError("department", "专家号源由县级医院科室发布", "County departments only")
        )
    if doctor.facility_id != department.facility_id:
        errors.append(FieldError("doctor", "出诊专家不属于该机构", "Doctor not of this facility"))
    if day < timezone.localdate():
        errors.append(FieldError("day", "出诊日期不能早于今天", "Day is in the past"))
    if not slots:
        errors.append(FieldError("slots", "至少需要一个时段", "At least one slot", "required"))
    spans: list[tuple[time, time]] = []
    for i, s in enumerate(slots):
        if s.end <= s.start:
            errors.append(
                FieldError(f"slots.{i}.end", "结束时间应晚于开始时间", "End before start")
            )
        if not 1 <= s.capacity <= MAX_SLOT_CAPACITY:
            errors.append(
                FieldError(
                    f"slots.{i}.capacity",
                    f"号源数应在1到{MAX_SLOT_CAPACITY}之间",
                    f"Capacity 1..{MAX_SLOT_CAPACITY}",
                    "range",
                )
            )
        for a, b in spans:
            if s.start < b and a < s.end:
                errors.append(
                    FieldError(f"slots.{i}.start", "时段重叠", "Slots overlap", "overlap")
                )
                break
        spans.append((s.start, s.end))
    if errors:
        raise DomainError(errors)
    policy = queries.policy_for(department)
    tz = timezone.get_current_timezone()
    with transaction.atomic():
        if ExpertSession.objects.filter(doctor=doctor, day=day).exists():
            raise Conflict(
                FieldError("day", "该专家当天已有出诊安排", "Session exists", "duplicate")
            )
        try:
            with transaction.atomic():
                session = ExpertSession.objects.create(
                    department=department,
                    doctor=doctor,
                    day=day,
                    note=note[:200],
                    created_by_id=actor.user_id,
                )
        except IntegrityError as exc:
            raise Conflict(
                FieldError("day", "该专家当天已有出诊安排", "Session exists", "duplicate")
            ) from exc
        Slot.objects.bulk_create(
            [
                Slot(
                    session=session,
                    starts_at=datetime.combine(day, s.start, tzinfo=tz),
                    ends_at=datetime.combine(day, s.end, tzinfo=tz),
                    capacity=s.capacity,
                    reserved=rules.reserved_share(s.capacity, policy.reserved_slot_pct),
                )
                for s in slots
            ]
        )
        audit.record(
            actor,
            audit.Action.CREATE,
            "expert_session",
            str(session.pk),
            detail={"slots": len(slots), "reserved_pct": policy.reserved_slot_pct},
        )
    return session


def do_set_ward(actor: Actor, department: Department, beds: int) -> Ward:
    _need(actor, MANAGE)
    if not _manages(actor, department):
        raise Forbidden("只能设置本机构科室的床位", "Not your facility")
    if not 0 < beds <= 2000:
        raise DomainError.single("beds", "床位数应在1到2000之间", "Beds 1..2000", "range")
    reserved = rules.reserved_share(beds, queries.policy_for(department).reserved_bed_pct)
    with transaction.atomic():
        ward = Ward.objects.select_for_update().filter(department=department).first()
        if ward is None:
            ward = Ward.objects.create(department=department, beds=beds, reserved=reserved)
        else:
            reserved = max(reserved, ward.used_reserved)
            if ward.used_public > beds - reserved:
                raise Conflict.single(
                    "beds", "床位数少于当前占用数", "Fewer beds than occupied", "occupied"
                )
            ward.beds, ward.reserved = beds, reserved
            ward.save(update_fields=["beds", "reserved"])
        audit.record(
            actor,
            audit.Action.UPDATE,
            "ward",
            str(ward.pk),
            detail={"beds": beds, "reserved": reserved},
        )
    return ward


# ---------------------------------------------------------------------------------------------
# release of unused reserved seats


def release_reserved_slots(now: datetime | None = None, *, slot_id: int | None = None) -> int:
    """Give unused reserved seats to the public pool once the department's release time before
    the slot has come. Idempotent; run by the `release_reserved_slots` command and before every
    booking of a slot. Returns the number of slots released."""
    now = now or timezone.now()
    pending = Slot.objects.filter(released_at__isnull=True, starts_at__gt=now - timedelta(days=1))
    if slot_id is not None:
        pending = pending.filter(pk=slot_id)
    dept_ids = set(pending.values_list("session__department_id", flat=True).distinct())
    n = 0
    for dept in Department.objects.filter(pk__in=dept_ids):
        hours = queries.policy_for(dept).release_hours_ahead
        n += pending.filter(
            session__department_id=dept.pk, starts_at__lte=now + timedelta(hours=hours)
        ).update(reserved=F("booked_reserved"), released_at=now)
    return n


# ---------------------------------------------------------------------------------------------
# bookings


def _take_seat(slot_id: int, pools: list[Pool]) -> Pool | None:
    for pool in pools:
        if pool == Pool.RESERVED:
            n = Slot.objects.filter(pk=slot_id, booked_reserved__lt=F("reserved")).update(
                booked_reserved=F("booked_reserved") + 1
            )
        else:
            n = Slot.objects.filter(
                pk=slot_id, booked_public__lt=F("capacity") - F("reserved")
            ).update(booked_public=F("booked_public") + 1)
        if n:
            return pool
    return None


def _release_if_due(slot: Slot, hours_ahead: int, now: datetime) -> None:
    """Release on booking: the one slot, with the policy already read."""
    if (
        slot.released_at is None
        and slot.reserved > slot.booked_reserved
        and rules.release_due(slot.starts_at, now, hours_ahead)
    ):
        Slot.objects.filter(pk=slot.pk, released_at__isnull=True).update(
            reserved=F("booked_reserved"), released_at=now
        )


def _duplicate() -> Conflict:
    return Conflict(FieldError("slot", "该居民已预约此时段", "Already booked", "duplicate"))


def _book(
    actor: Actor, slot_id: int, resident: Resident, pools: list[Pool], source: BookingSource
) -> Booking:
    slot = Slot.objects.select_related("session__department").filter(pk=slot_id).first()
    if slot is None:
        raise NotFound("号源")
    now = timezone.now()
    if slot.starts_at <= now:
        raise DomainError.single("slot", "该时段已开始或已过去", "Slot already started", "past")
    hours = queries.policy_for(slot.session.department).release_hours_ahead
    with _busy_is_refusal():
        _release_if_due(slot, hours, now)
        try:
            with transaction.atomic():
                pool = _take_seat(slot_id, pools)
                if pool is None:
                    if Booking.objects.filter(
                        slot_id=slot_id, resident=resident, status=BookingStatus.BOOKED
                    ).exists():
                        raise _duplicate()
                    if pools == [Pool.RESERVED]:
                        raise _full("slot", "该时段家庭医生转诊预留号", "Reserved seats")
                    raise _full("slot", "该时段号源", "Slot")
                booking = Booking.objects.create(
                    slot_id=slot_id,
                    resident=resident,
                    pool=pool,
                    source=source,
                    facility_id=actor.facility_id,
                    created_by_id=actor.user_id,
                )
                audit.record(
                    actor,
                    audit.Action.CREATE,
                    "booking",
                    str(booking.pk),
                    resident_id=resident.pk,
                    detail={"slot": slot_id, "pool": pool, "source": source},
                )
        except IntegrityError as exc:  # the partial unique index (same person) or a CHECK
            if Booking.objects.filter(
                slot_id=slot_id, resident=resident, status=BookingStatus.BOOKED
            ).exists():
                raise _duplicate() from exc
            raise Conflict.single("slot", "该时段号源已约满", "Slot taken", "full") from exc
    return booking


def do_book_slot(actor: Actor, slot_id: int, resident: Resident) -> Booking:
    """A direct booking (public seats only) for a resident in the actor's scope; refused for a
    resident blacklisted after repeated no-shows."""
    _need(actor, BOOK)
    if not in_scope(actor, resident):
        raise NotFound("居民档案")
    slot = Slot.objects.select_related("session__department").filter(pk=slot_id).first()
    if slot is None:
        raise NotFound("号源")
    policy = queries.policy_for(slot.session.department)
    n = queries.no_show_count(resident, policy.noshow_window_days)
    if rules.blacklisted(n, policy.noshow_limit):
        raise DomainError.single(
            "resident",
            f"该居民{policy.noshow_window_days}天内爽约{n}次（上限{policy.noshow_limit}次），"
            "暂停直接预约，请经家庭医生转诊预约",
            f"{n} no-shows in {policy.noshow_window_days} days: direct booking suspended",
            "blacklisted",
        )
    return _book(actor, slot_id, resident, [Pool.PUBLIC], BookingSource.DIRECT)


def book_for_referral(
    actor: Actor,
    slot_id: int,
    resident: Resident,
    *,
    family_doctor: bool,
    reserved_only: bool = False,
) -> Booking:
    """A booking made while accepting a referral (the caller checked who may see the resident).
    A family-doctor referral takes a reserved seat first, then a public one."""
    _need(actor, BOOK)
    if family_doctor:
        pools = [Pool.RESERVED] if reserved_only else [Pool.RESERVED, Pool.PUBLIC]
    else:
        pools = [Pool.PUBLIC]
    return _book(actor, slot_id, resident, pools, BookingSource.REFERRAL)


def _give_back_seat(booking: Booking) -> None:
    if booking.pool == Pool.RESERVED:
        slot = Slot.objects.get(pk=booking.slot_id)
        upd: dict[str, object] = {"booked_reserved": F("booked_reserved") - 1}
        if slot.released_at is not None:  # released: the freed seat goes public
            upd["reserved"] = F("reserved") - 1
        Slot.objects.filter(pk=booking.slot_id).update(**upd)
    else:
        Slot.objects.filter(pk=booking.slot_id).update(booked_public=F("booked_public") - 1)


def do_cancel_booking(actor: Actor, booking_id: int, reason: str = "") -> Booking:
    _need(actor, BOOK)
    b = queries.bookings_visible_to(actor).filter(pk=booking_id).first()
    if b is None:
        raise NotFound("预约")
    return _cancel(actor, b, reason)


def cancel_for_referral(actor: Actor, booking_id: int, reason: str = "") -> Booking:
    """Cancel a booking that a referral made (the caller checked the actor's side)."""
    _need(actor, BOOK)
    return _cancel(actor, Booking.objects.get(pk=booking_id), reason)


def _cancel(actor: Actor, b: Booking, reason: str) -> Booking:
    with _busy_is_refusal(), transaction.atomic():
        n = Booking.objects.filter(pk=b.pk, status=BookingStatus.BOOKED).update(
            status=BookingStatus.CANCELLED,
            closed_at=timezone.now(),
            cancel_reason=reason.strip()[:200],
        )
        if not n:
            raise Conflict.single("status", "该预约已取消或已就诊", "Not a live booking", "state")
        _give_back_seat(b)
        audit.record(
            actor,
            audit.Action.UPDATE,
            "booking",
            str(b.pk),
            resident_id=b.resident_id,
            detail={"status": "cancelled", "reason": reason.strip()[:200]},
        )
    b.refresh_from_db()
    return b


def do_mark_booking(actor: Actor, booking_id: int, *, attended: bool) -> Booking:
    """The receiving department marks a booking attended or a no-show (after the slot began)."""
    _need(actor, BOOK)
    b = queries.bookings_visible_to(actor).filter(pk=booking_id).first()
    if b is None:
        raise NotFound("预约")
    if not _at_facility(actor, b.slot.session.department.facility_id):
        raise Forbidden("只有接诊机构可标记就诊或爽约", "Receiving facility only")
    if not attended and b.slot.starts_at > timezone.now():
        raise DomainError.single(
            "status", "时段尚未开始，不能标记爽约", "Slot not started", "early"
        )
    status = BookingStatus.ATTENDED if attended else BookingStatus.NO_SHOW
    with transaction.atomic():
        n = Booking.objects.filter(pk=b.pk, status=BookingStatus.BOOKED).update(
            status=status, closed_at=timezone.now()
        )
        if not n:
            raise Conflict.single("status", "该预约已取消或已标记", "Not a live booking", "state")
        audit.record(
            actor,
            audit.Action.UPDATE,
            "booking",
            str(b.pk),
            resident_id=b.resident_id,
            detail={"status": status},
        )
    b.refresh_from_db()
    return b


# ---------------------------------------------------------------------------------------------
# beds


def _take_bed(ward_id: int, pools: list[Pool]) -> Pool | None:
    for pool in pools:
        if pool == Pool.RESERVED:
            n = Ward.objects.filter(pk=ward_id, used_reserved__lt=F("reserved")).update(
                used_reserved=F("used_reserved") + 1
            )
        else:
            n = Ward.objects.filter(pk=ward_id, used_public__lt=F("beds") - F("reserved")).update(
                used_public=F("used_public") + 1
            )
        if n:
            return pool
    return None


def _reserve_bed(
    actor: Actor, ward_id: int, resident: Resident, pools: list[Pool], source: BookingSource
) -> BedReservation:
    if not Ward.objects.filter(pk=ward_id).exists():
        raise NotFound("病区")
    with _busy_is_refusal():
        try:
            with transaction.atomic():
                if BedReservation.objects.filter(
                    ward_id=ward_id, resident=resident, status=BedStatus.HELD
                ).exists():
                    raise Conflict.single(
                        "ward", "该居民已在此病区占床", "Already holds a bed", "duplicate"
                    )
                pool = _take_bed(ward_id, pools)
                if pool is None:
                    raise _full("ward", "该病区床位", "Ward")
                r = BedReservation.objects.create(
                    ward_id=ward_id,
                    resident=resident,
                    pool=pool,
                    source=source,
                    created_by_id=actor.user_id,
                )
                audit.record(
                    actor,
                    audit.Action.CREATE,
                    "bed_reservation",
                    str(r.pk),
                    resident_id=resident.pk,
                    detail={"ward": ward_id, "pool": pool, "source": source},
                )
        except IntegrityError as exc:
            raise Conflict.single("ward", "该病区床位已满", "Ward full", "full") from exc
    return r


def do_reserve_bed(actor: Actor, ward_id: int, resident: Resident) -> BedReservation:
    """A direct admission hold (public beds) for a resident in scope, by the ward's facility."""
    _need(actor, BOOK)
    if not in_scope(actor, resident):
        raise NotFound("居民档案")
    return _reserve_bed(actor, ward_id, resident, [Pool.PUBLIC], BookingSource.DIRECT)


def bed_for_referral(
    actor: Actor, ward_id: int, resident: Resident, *, referred: bool = True
) -> BedReservation:
    """A bed for a referred admission: reserved beds first, then public ones."""
    _need(actor, BOOK)
    pools = [Pool.RESERVED, Pool.PUBLIC] if referred else [Pool.PUBLIC]
    return _reserve_bed(actor, ward_id, resident, pools, BookingSource.REFERRAL)


def do_release_bed(actor: Actor, reservation_id: int, *, cancelled: bool = False) -> BedReservation:
    _need(actor, BOOK)
    r = BedReservation.objects.select_related("ward__department").filter(pk=reservation_id).first()
    if r is None or not _at_facility(actor, r.ward.department.facility_id):
        raise NotFound("床位预留")
    return _release(actor, r, cancelled)


def release_bed_for_referral(actor: Actor, reservation_id: int) -> BedReservation:
    """Cancel a bed hold that a referral made (the caller checked the actor's side)."""
    _need(actor, BOOK)
    return _release(actor, BedReservation.objects.get(pk=reservation_id), True)


def _release(actor: Actor, r: BedReservation, cancelled: bool) -> BedReservation:
    with _busy_is_refusal(), transaction.atomic():
        n = BedReservation.objects.filter(pk=r.pk, status=BedStatus.HELD).update(
            status=BedStatus.CANCELLED if cancelled else BedStatus.RELEASED,
            closed_at=timezone.now(),
        )
        if not n:
            raise Conflict.single("status", "该床位已释放", "Already released", "state")
        field = "used_reserved" if r.pool == Pool.RESERVED else "used_public"
        Ward.objects.filter(pk=r.ward_id).update(**{field: F(field) - 1})
        audit.record(
            actor,
            audit.Action.UPDATE,
            "bed_reservation",
            str(r.pk),
            resident_id=r.resident_id,
            detail={"status": "cancelled" if cancelled else "released"},
        )
    r.refresh_from_db()
    return r
