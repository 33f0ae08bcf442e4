"""REST endpoints of scheduling (预约与号源): sessions, slots, bookings, wards."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Router, Schema, Status
from ninja.errors import ValidationError as NinjaValidationError
from pydantic import ValidationError as PydanticValidationError

from yigongti.core.api import ErrorOut, actor_of
from yigongti.core.errors import Forbidden, NotFound
from yigongti.network.models import Department, Staff
from yigongti.residents.queries import get_resident_for

from . import actions, queries
from .models import BedReservation, Booking, Ward

router = Router(tags=["预约与号源"])
ERRORS: dict[int, type[Schema]] = {403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


def _need(request: HttpRequest, perm: str) -> None:
    a = actor_of(request)
    if not (a.is_system or a.can(perm)):
        raise Forbidden()


class SlotIn(Schema):
    start: time
    end: time
    capacity: int = Field(..., description="号源数")


class SessionIn(Schema):
    department_id: int
    doctor_id: int = Field(..., description="出诊专家（人员 id）")
    day: date
    slots: list[SlotIn]
    note: str = ""


class SlotOut(Schema):
    id: int
    starts_at: datetime
    ends_at: datetime
    capacity: int
    reserved_free: int = Field(..., description="家庭医生转诊预留号余量（含到期释放）")
    public_free: int


class SessionOut(Schema):
    id: int
    department_id: int
    department: str
    facility: str
    doctor: str
    doctor_title: str
    day: date
    slots: list[SlotOut]


class BookIn(Schema):
    slot_id: int
    mpi_id: str


class BookingOut(Schema):
    id: int
    slot_id: int
    starts_at: datetime
    department: str
    doctor: str
    mpi_id: str
    resident_name: str
    pool: str
    source: str
    status: str
    cancel_reason: str = ""


class CancelIn(Schema):
    reason: str = Field("", max_length=200, description="取消原因（选填）")


class WardIn(Schema):
    department_id: int
    beds: int


class WardOut(Schema):
    id: int
    department_id: int
    department: str
    beds: int
    reserved: int
    reserved_free: int
    public_free: int


class BedIn(Schema):
    ward_id: int
    mpi_id: str


class BedOut(Schema):
    id: int
    ward_id: int
    mpi_id: str
    pool: str
    status: str


class PolicyIn(Schema):
    reserved_slot_pct: int = 20
    release_hours_ahead: int = 48
    reserved_bed_pct: int = 10
    noshow_limit: int = 3
    noshow_window_days: int = 90


def booking_out(b: Booking) -> BookingOut:
    return BookingOut(
        id=b.pk,
        slot_id=b.slot_id,
        starts_at=b.slot.starts_at,
        department=b.slot.session.department.name,
        doctor=b.slot.session.doctor.name,
        mpi_id=b.resident.mpi_id,
        resident_name=b.resident.name,
        pool=b.pool,
        source=b.source,
        status=b.status,
        cancel_reason=b.cancel_reason,
    )


def ward_out(w: Ward) -> WardOut:
    return WardOut(
        id=w.pk,
        department_id=w.department_id,
        department=w.department.name,
        beds=w.beds,
        reserved=w.reserved,
        reserved_free=w.reserved_free,
        public_free=w.public_free,
    )


def _booking(pk: int) -> Booking:
    return Booking.objects.select_related(
        "slot__session__department", "slot__session__doctor", "resident"
    ).get(pk=pk)


def _dept(pk: int) -> Department:
    d = Department.objects.select_related("facility").filter(pk=pk).first()
    if d is None:
        raise NotFound("科室")
    return d


@router.get(
    "/scheduling/sessions", response=list[SessionOut], summary="Expert sessions with free seats"
)
def list_sessions(
    request: HttpRequest,
    day_from: date | None = None,
    day_to: date | None = None,
    department_id: int | None = None,
    facility_id: int | None = None,
) -> list[SessionOut]:
    if not actor_of(request).can("manage_schedules"):
        _need(request, "book")
    start = day_from or timezone.localdate()
    end = day_to or start + timedelta(days=14)
    board = queries.schedule_board(
        start,
        min(end, start + timedelta(days=62)),
        department_id=department_id,
        facility_id=facility_id,
    )
    return [
        SessionOut(
            id=s.session.pk,
            department_id=s.session.department_id,
            department=s.session.department.name,
            facility=s.session.department.facility.name,
            doctor=s.session.doctor.name,
            doctor_title=s.session.doctor.title,
            day=s.session.day,
            slots=[
                SlotOut(
                    id=x.slot.pk,
                    starts_at=x.slot.starts_at,
                    ends_at=x.slot.ends_at,
                    capacity=x.slot.capacity,
                    reserved_free=x.reserved_free,
                    public_free=x.public_free,
                )
                for x in s.slots
            ],
        )
        for s in board
    ]


@router.post(
    "/scheduling/sessions",
    response={201: SessionOut, **ERRORS},
    summary="Publish an expert session",
)
def publish(request: HttpRequest, payload: SessionIn) -> Status[SessionOut]:
    a = actor_of(request)
    dept = _dept(payload.department_id)
    doctor = Staff.objects.filter(pk=payload.doctor_id).first()
    if doctor is None:
        raise NotFound("出诊专家")
    s = actions.do_publish_session(
        a,
        dept,
        doctor,
        payload.day,
        [actions.SlotInput(x.start, x.end, x.capacity) for x in payload.slots],
        payload.note,
    )
    out = list_sessions(request, s.day, s.day, s.department_id)
    return Status(201, next(x for x in out if x.id == s.pk))


@router.put(
    "/scheduling/policies/{department_id}",
    response={200: PolicyIn, **ERRORS},
    summary="Set a department's reserved shares, release time and no-show rule",
)
def set_policy(request: HttpRequest, department_id: int, payload: PolicyIn) -> PolicyIn:
    p = actions.do_set_policy(
        actor_of(request), _dept(department_id), actions.PolicyInput(**payload.dict())
    )
    return PolicyIn(
        reserved_slot_pct=p.reserved_slot_pct,
        release_hours_ahead=p.release_hours_ahead,
        reserved_bed_pct=p.reserved_bed_pct,
        noshow_limit=p.noshow_limit,
        noshow_window_days=p.noshow_window_days,
    )


@router.post(
    "/scheduling/bookings", response={201: BookingOut, **ERRORS}, summary="Book a slot directly"
)
def book(request: HttpRequest, payload: BookIn) -> Status[BookingOut]:
    a = actor_of(request)
    _need(request, "book")
    resident = get_resident_for(a, payload.mpi_id, purpose="booking")
    b = actions.do_book_slot(a, payload.slot_id, resident)
    return Status(201, booking_out(_booking(b.pk)))


@router.get(
    "/scheduling/bookings", response=list[BookingOut], summary="Bookings made at or by my facility"
)
def list_bookings(
    request: HttpRequest, status: str = "booked", limit: int = 100
) -> list[BookingOut]:
    _need(request, "book")
    qs = (
        queries.bookings_visible_to(actor_of(request))
        .filter(status=status)
        .order_by("slot__starts_at")
    )
    return [booking_out(b) for b in qs[: max(1, min(limit, 500))]]


@router.post("/scheduling/bookings/{booking_id}/cancel", response={200: BookingOut, **ERRORS})
def cancel(request: HttpRequest, booking_id: int) -> BookingOut:
    """Body optional: JSON `{"reason": "取消原因"}` (at most 200 characters), or a form field
    `reason`."""
    reason = ""
    if request.content_type != "application/json":
        reason = request.POST.get("reason", "")
    elif request.body.strip():
        try:
            reason = CancelIn.model_validate_json(request.body).reason
        except PydanticValidationError as exc:
            raise NinjaValidationError(
                [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
            ) from exc
    b = actions.do_cancel_booking(actor_of(request), booking_id, reason)
    return booking_out(_booking(b.pk))


@router.post("/scheduling/bookings/{booking_id}/no-show", response={200: BookingOut, **ERRORS})
def no_show(request: HttpRequest, booking_id: int) -> BookingOut:
    b = actions.do_mark_booking(actor_of(request), booking_id, attended=False)
    return booking_out(_booking(b.pk))


@router.post("/scheduling/bookings/{booking_id}/attended", response={200: BookingOut, **ERRORS})
def attended(request: HttpRequest, booking_id: int) -> BookingOut:
    b = actions.do_mark_booking(actor_of(request), booking_id, attended=True)
    return booking_out(_booking(b.pk))


@router.get("/scheduling/wards", response=list[WardOut], summary="Bed board of a facility")
def wards(request: HttpRequest, facility_id: int | None = None) -> list[WardOut]:
    _need(request, "book")
    fid = facility_id or actor_of(request).facility_id
    return [ward_out(w) for w in queries.wards_of(fid)] if fid else []


@router.put("/scheduling/wards", response={200: WardOut, **ERRORS}, summary="Set a ward's beds")
def set_ward(request: HttpRequest, payload: WardIn) -> WardOut:
    w = actions.do_set_ward(actor_of(request), _dept(payload.department_id), payload.beds)
    return ward_out(Ward.objects.select_related("department").get(pk=w.pk))


@router.post(
    "/scheduling/beds", response={201: BedOut, **ERRORS}, summary="Hold a bed (direct admission)"
)
def hold_bed(request: HttpRequest, payload: BedIn) -> Status[BedOut]:
    a = actor_of(request)
    _need(request, "book")
    resident = get_resident_for(a, payload.mpi_id, purpose="admission")
    r = actions.do_reserve_bed(a, payload.ward_id, resident)
    return Status(
        201,
        BedOut(id=r.pk, ward_id=r.ward_id, mpi_id=resident.mpi_id, pool=r.pool, status=r.status),
    )


@router.post("/scheduling/beds/{reservation_id}/release", response={200: BedOut, **ERRORS})
def release_bed(request: HttpRequest, reservation_id: int) -> BedOut:
    r = actions.do_release_bed(actor_of(request), reservation_id)
    r = BedReservation.objects.select_related("resident").get(pk=r.pk)
    return BedOut(
        id=r.pk, ward_id=r.ward_id, mpi_id=r.resident.mpi_id, pool=r.pool, status=r.status
    )
