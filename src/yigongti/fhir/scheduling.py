"""Expert schedules (专家号源) as FHIR `Schedule` (an expert session: doctor, department, day),
`Slot` (one time slot with its seats, the share reserved for family-doctor referrals in an
extension) and `Appointment` (a booking). DOMAIN.md §4: "Lead hospitals reserve a share of
expert appointment slots … for family-doctor referrals … Unused reserved slots are released
back to the public pool ahead of time"; the share and the release time are the scheduling
app's QuotaPolicy, read here only to show the seats as the schedule board does.

Sessions and slots are not personal data: every user who may book or publish sees them (as in
the app's schedule board), unaudited like the network. Bookings are: reads and searches go
through scheduling.queries (the booking facility and the receiving facility), out of scope is
404 with a DENIED audit entry, and every read and search is audited.
`POST /fhir/Appointment` books through `scheduling.actions.do_book_slot`, the action the 预约
button uses: public seats only, no overbooking, a full slot is a 409."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import F, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from yigongti.core import audit
from yigongti.core.actor import Actor
from yigongti.core.errors import DomainError, NotFound
from yigongti.referrals.models import Referral
from yigongti.residents.queries import identity_ids, in_scope
from yigongti.scheduling import actions as scheduling_actions
from yigongti.scheduling.models import (
    Booking,
    BookingStatus,
    ExpertSession,
    Pool,
    Slot,
)
from yigongti.scheduling.queries import (
    bookings_visible_to,
    effective_free,
    get_booking_for,
    policies_for,
    policy_for,
)

from . import search, systems, validation
from .clinical import SHANGHAI, local_time, patient_ref
from .clinical_views import _date_q, _mpi_by_resident, resolve_patient
from .mapping import JSON, facility_resource_id
from .outcome import FhirError, from_domain_error
from .search import ParamSpec, SearchRequest
from .views import _json_body, _strict, fhir_base, fhir_response, fhir_view

TYPES = ("Schedule", "Slot", "Appointment")

SEE_SCHEDULES = ("book", "manage_schedules")

# --- code systems and extensions (under settings.YGT["IDENTIFIER_BASE"]) ----------------


def department_system() -> str:
    """科室: code = the department's row id."""
    return f"{systems.base()}/department"


def pool_system() -> str:
    """号源类别: reserved 家庭医生转诊预留 | public 普通."""
    return f"{systems.base()}/slot-pool"


def booking_source_system() -> str:
    """预约来源: direct 直接预约 | referral 转诊预约."""
    return f"{systems.base()}/booking-source"


def seats_extension() -> str:
    """Slot: capacity, reserved, reservedFree, publicFree (sub-extensions)."""
    return f"{systems.base()}/ext/slot-seats"


def pool_extension() -> str:
    return f"{systems.base()}/ext/booking-pool"


def source_extension() -> str:
    return f"{systems.base()}/ext/booking-source"


def organization_extension() -> str:
    """Schedule: the facility of the session's department (Schedule.actor cannot hold an
    Organization)."""
    return f"{systems.base()}/ext/organization"


APPOINTMENT_STATUS: dict[str, str] = {
    BookingStatus.BOOKED: "booked",
    BookingStatus.CANCELLED: "cancelled",
    BookingStatus.ATTENDED: "fulfilled",
    BookingStatus.NO_SHOW: "noshow",
}
SLOT_STATUSES = ("free", "busy", "busy-unavailable")
EXPERT_CLINIC = "专家门诊"

_DATE_DOC = "YYYY, YYYY-MM or YYYY-MM-DD with eq (default), ne, gt, ge, lt, le"
PARAMS: dict[str, tuple[ParamSpec, ...]] = {
    "Schedule": (
        search._ID,
        ParamSpec("actor", "reference", "the expert: Practitioner/<staff id>"),
        ParamSpec("date", "date", f"the session's day: {_DATE_DOC}"),
        ParamSpec("specialty", "token", "department id (…/department)"),
    ),
    "Slot": (
        search._ID,
        ParamSpec("schedule", "reference", "Schedule/<id>"),
        ParamSpec("start", "date", f"slot start (Beijing days): {_DATE_DOC}"),
        ParamSpec(
            "status",
            "token",
            "free (a seat left) | busy (full) | busy-unavailable (started or past)",
        ),
    ),
    "Appointment": (
        search._ID,
        ParamSpec("patient", "reference", "Patient/<主索引号> or the bare index number"),
        ParamSpec("date", "date", f"slot start (Beijing days): {_DATE_DOC}"),
        ParamSpec("status", "token", "booked | cancelled | fulfilled | noshow"),
        ParamSpec("slot", "reference", "Slot/<id>"),
        ParamSpec("practitioner", "reference", "the expert: Practitioner/<staff id>"),
    ),
}


# --- mapping ---------------------------------------------------------------------------


def _concept(system: str, code: str, display: str) -> JSON:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def _specialty(department: Any) -> list[JSON]:
    return [_concept(department_system(), str(department.pk), department.name)]


def _org_ref(facility: Any) -> JSON:
    return {"reference": f"Organization/{facility_resource_id(facility)}", "display": facility.name}


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, SHANGHAI)
    return start, start + timedelta(days=1)


def schedule(session: ExpertSession) -> JSON:
    """An expert session (department, its facility and the doctor loaded)."""
    dept = session.department
    start, end = _day_bounds(session.day)
    comment = f"{dept.facility.name} {dept.name} {session.doctor.name} {EXPERT_CLINIC}"
    if session.note:
        comment += f"：{session.note}"
    return {
        "resourceType": "Schedule",
        "id": str(session.pk),
        "extension": [{"url": organization_extension(), "valueReference": _org_ref(dept.facility)}],
        "active": True,
        "serviceType": [{"text": EXPERT_CLINIC}],
        "specialty": _specialty(dept),
        "actor": [
            {"reference": f"Practitioner/{session.doctor_id}", "display": session.doctor.name}
        ],
        "planningHorizon": {"start": local_time(start), "end": local_time(end)},
        "comment": comment,
    }


def slot_status(slot: Slot, now: datetime) -> str:
    if slot.starts_at <= now:
        return "busy-unavailable"
    taken = slot.booked_reserved + slot.booked_public
    return "free" if taken < slot.capacity else "busy"


def _seat(name: str, value: int) -> JSON:
    return {"url": name, "valueUnsignedInt": value}


def slot_resource(slot: Slot, hours_ahead: int, now: datetime) -> JSON:
    """A slot (session and department loaded); `hours_ahead` is the department's release time,
    so a release that is due but not yet written shows as public seats (as on the board)."""
    reserved_free, public_free = effective_free(slot, hours_ahead, now)
    reserved = slot.booked_reserved + reserved_free
    pools = []
    if public_free > 0:
        pools.append(_concept(pool_system(), Pool.PUBLIC, Pool.PUBLIC.label))
    if reserved_free > 0:
        pools.append(_concept(pool_system(), Pool.RESERVED, Pool.RESERVED.label))
    out: JSON = {
        "resourceType": "Slot",
        "id": str(slot.pk),
        "extension": [
            {
                "url": seats_extension(),
                "extension": [
                    _seat("capacity", slot.capacity),
                    _seat("reserved", reserved),
                    _seat("reservedFree", reserved_free),
                    _seat("publicFree", public_free),
                ],
            }
        ],
    }
    if pools:
        out["serviceType"] = pools
    out["specialty"] = _specialty(slot.session.department)
    out["schedule"] = {"reference": f"Schedule/{slot.session_id}"}
    out["status"] = slot_status(slot, now)
    out["start"] = local_time(slot.starts_at)
    out["end"] = local_time(slot.ends_at)
    out["overbooked"] = False
    out["comment"] = (
        f"号源 {slot.capacity}，其中家庭医生转诊预留 {reserved}；"
        f"余号：普通 {public_free}，预留 {reserved_free}"
    )
    return out


def appointment(b: Booking, mpi_id: str, referral_id: int | None) -> JSON:
    """A booking (slot, session, department, doctor, resident and facility loaded)."""
    slot = b.slot
    session = slot.session
    out: JSON = {
        "resourceType": "Appointment",
        "id": str(b.pk),
        "extension": [
            {
                "url": pool_extension(),
                "valueCoding": {
                    "system": pool_system(),
                    "code": b.pool,
                    "display": Pool(b.pool).label,
                },
            },
            {
                "url": source_extension(),
                "valueCoding": {
                    "system": booking_source_system(),
                    "code": b.source,
                    "display": b.get_source_display(),
                },
            },
        ],
        "status": APPOINTMENT_STATUS[b.status],
        "serviceType": [{"text": EXPERT_CLINIC}],
        "specialty": _specialty(session.department),
        "description": f"{session.department.facility.name} {session.department.name} "
        f"{session.doctor.name} {EXPERT_CLINIC}",
        "start": local_time(slot.starts_at),
        "end": local_time(slot.ends_at),
        "created": local_time(b.created_at),
    }
    if b.status == BookingStatus.CANCELLED and b.cancel_reason:
        out["cancelationReason"] = {"text": b.cancel_reason}
    if b.facility_id is not None and b.facility is not None:
        out["comment"] = f"预约机构：{b.facility.name}"
    if referral_id is not None:
        out["basedOn"] = [{"reference": f"ServiceRequest/{referral_id}"}]
    out["slot"] = [{"reference": f"Slot/{slot.pk}"}]
    out["participant"] = [
        {
            "actor": patient_ref(mpi_id, b.resident.name),
            "required": "required",
            "status": "accepted",
        },
        {
            "actor": {
                "reference": f"Practitioner/{session.doctor_id}",
                "display": session.doctor.name,
            },
            "required": "required",
            "status": "accepted",
        },
    ]
    return out


# --- helpers ---------------------------------------------------------------------------


def _may_see_schedules(actor: Actor) -> bool:
    return actor.is_system or any(actor.can(p) for p in SEE_SCHEDULES)


def _pk(resource_id: str, what: str) -> int:
    if not resource_id.isdigit():
        raise NotFound(what)
    return int(resource_id)


def _sessions() -> QuerySet[ExpertSession]:
    return ExpertSession.objects.select_related("department__facility", "doctor")


def _slots() -> QuerySet[Slot]:
    return Slot.objects.select_related("session__department")


def _bookings(actor: Actor) -> QuerySet[Booking]:
    return bookings_visible_to(actor)


class SlotEmitter:
    """Slots → resources, with each department's release time (`policies_for` /
    `policy_for` of scheduling.queries: the department's QuotaPolicy row, else its
    facility's, else the default)."""

    def __init__(self) -> None:
        self.hours: dict[int, int] = {}
        self.now = timezone.now()

    def prime(self, slots: list[Slot]) -> None:
        """Read the policies of every department of `slots` in one query."""
        depts = {s.session.department.pk: s.session.department for s in slots}
        for pk, policy in policies_for(depts.values()).items():
            self.hours[pk] = policy.release_hours_ahead

    def __call__(self, slot: Slot) -> JSON:
        dept = slot.session.department
        if dept.pk not in self.hours:
            self.hours[dept.pk] = policy_for(dept).release_hours_ahead
        return slot_resource(slot, self.hours[dept.pk], self.now)


def _referrals_of(bookings: list[Booking]) -> dict[int, int]:
    """booking id → the referral that made it."""
    rows = Referral.objects.filter(booking_id__in=[b.pk for b in bookings]).values_list(
        "booking_id", "pk"
    )
    return {booking_id: pk for booking_id, pk in rows if booking_id is not None}


def _appointments(bookings: list[Booking]) -> list[JSON]:
    mpi = _mpi_by_resident(b.resident_id for b in bookings)
    refs = _referrals_of(bookings)
    return [appointment(b, mpi[b.resident_id], refs.get(b.pk)) for b in bookings]


# --- reads -----------------------------------------------------------------------------


def read(actor: Actor, resource_type: str, resource_id: str) -> JSON:
    if resource_type == "Appointment":
        b = get_booking_for(actor, _pk(resource_id, "预约"))  # READ / DENIED
        return _appointments([b])[0]
    if not _may_see_schedules(actor):
        raise NotFound("号源")
    pk = _pk(resource_id, "号源")
    if resource_type == "Schedule":
        session = _sessions().filter(pk=pk).first()
        if session is None:
            raise NotFound("出诊")
        return schedule(session)
    slot = _slots().filter(pk=pk).first()
    if slot is None:
        raise NotFound("号源")
    return SlotEmitter()(slot)


# --- searches --------------------------------------------------------------------------


def _ref_pk(kind: str) -> Callable[[str], int | None]:
    def get(value: str) -> int | None:
        head, _, key = value.rpartition("/")
        if head and not head.endswith(kind):
            return None
        return int(key) if key.isdigit() else None

    return get


def _pk_q(field_name: str, kind: str) -> Callable[[str], Q]:
    get = _ref_pk(kind)

    def make(value: str) -> Q:
        pk = get(value)
        return Q(**{field_name: pk}) if pk is not None else search.NOTHING

    return make


def _day_q(value: str) -> Q:
    """Schedule date: the session's day, a DateField."""
    prefix, text = "eq", value
    if value[:2] in ("eq", "ne", "gt", "ge", "lt", "le"):
        prefix, text = value[:2], value[2:]
    try:
        start, end = search.date_range(text)
    except ValueError:
        raise search._bad("date", f"日期“{text}”格式不正确", f"'{text}' is not a date") from None
    within = Q(day__gte=start, day__lte=end)
    return {
        "eq": within,
        "ne": ~within,
        "gt": Q(day__gt=end),
        "ge": Q(day__gte=start),
        "lt": Q(day__lt=start),
        "le": Q(day__lte=end),
    }[prefix]


def _slot_status_q(now: datetime) -> Callable[[str], Q]:
    def make(value: str) -> Q:
        code = search._token(value)[1]
        future = Q(starts_at__gt=now)
        has_seat = Q(capacity__gt=F("booked_reserved") + F("booked_public"))
        if code == "free":
            return future & has_seat
        if code == "busy":
            return future & ~has_seat
        if code == "busy-unavailable":
            return Q(starts_at__lte=now)
        return search.NOTHING

    return make


def _appointment_status_q(value: str) -> Q:
    code = search._token(value)[1]
    wanted = [s for s, fhir in APPOINTMENT_STATUS.items() if fhir == code]
    return Q(status__in=wanted) if wanted else search.NOTHING


def _apply(qs: QuerySet[Any], req: SearchRequest, makers: dict[str, Callable[[str], Q]]) -> Any:
    for c in req.criteria:
        if c.name in makers:
            qs = qs.filter(search._any_of(c.values, makers[c.name]))
    return qs


def _id_q(value: str) -> Q:
    return Q(pk=int(value)) if value.isdigit() else search.NOTHING


def schedule_queryset(actor: Actor, req: SearchRequest) -> QuerySet[ExpertSession]:
    if not _may_see_schedules(actor):
        return ExpertSession.objects.none()
    makers = {
        "_id": _id_q,
        "actor": _pk_q("doctor_id", "Practitioner"),
        "date": _day_q,
        "specialty": lambda v: _pk_q("department_id", "")(search._token(v)[1]),
    }
    return _apply(_sessions(), req, makers).order_by("day", "pk")


def slot_queryset(actor: Actor, req: SearchRequest, now: datetime) -> QuerySet[Slot]:
    if not _may_see_schedules(actor):
        return Slot.objects.none()
    makers = {
        "_id": _id_q,
        "schedule": _pk_q("session_id", "Schedule"),
        "start": lambda v: _date_q("starts_at", "start", v),
        "status": _slot_status_q(now),
    }
    return _apply(_slots(), req, makers).order_by("starts_at", "pk")


def _patient_ids(actor: Actor, req: SearchRequest, visible: QuerySet[Booking]) -> list[int] | None:
    """The patient criteria as resident ids (merged records included). A resident outside the
    user's area with no booking the user may see gets a DENIED audit entry."""
    crits = req.values("patient")
    if not crits:
        return None
    allowed: set[int] | None = None
    for c in crits:
        ids: set[int] = set()
        for v in c.values:
            person = resolve_patient(v if "/" in v or "?" in v else f"Patient/{v}")
            if person is None:
                continue
            theirs = identity_ids(person)
            if not in_scope(actor, person) and not visible.filter(resident_id__in=theirs).exists():
                audit.record(
                    actor,
                    audit.Action.DENIED,
                    "resident",
                    person.mpi_id,
                    resident_id=person.pk,
                    detail={"purpose": "fhir_search"},
                )
                continue
            ids.update(theirs)
        allowed = ids if allowed is None else allowed & ids
    return sorted(allowed or set())


def appointment_queryset(actor: Actor, req: SearchRequest) -> QuerySet[Booking]:
    qs = _bookings(actor)
    resident_ids = _patient_ids(actor, req, qs)
    if resident_ids is not None:
        qs = qs.filter(resident_id__in=resident_ids)
    makers = {
        "_id": _id_q,
        "date": lambda v: _date_q("slot__starts_at", "date", v),
        "status": _appointment_status_q,
        "slot": _pk_q("slot_id", "Slot"),
        "practitioner": _pk_q("slot__session__doctor_id", "Practitioner"),
    }
    return _apply(qs, req, makers).order_by("-slot__starts_at", "-pk")


def _search(request: HttpRequest, actor: Actor, resource_type: str) -> HttpResponse:
    req = search.parse(request.GET, PARAMS[resource_type], strict=_strict(request))
    start, stop = req.offset, req.offset + req.count
    resources: list[JSON]
    if resource_type == "Schedule":
        sqs = schedule_queryset(actor, req)
        total = sqs.count()
        resources = [schedule(s) for s in sqs[start:stop]] if req.count else []
    elif resource_type == "Slot":
        emit = SlotEmitter()
        lqs = slot_queryset(actor, req, emit.now)
        total = lqs.count()
        slots = list(lqs[start:stop]) if req.count else []
        emit.prime(slots)
        resources = [emit(s) for s in slots]
    else:
        bqs = appointment_queryset(actor, req)
        total = bqs.count()
        rows = list(bqs[start:stop]) if req.count else []
        resources = _appointments(rows)
        audit.record(
            actor,
            audit.Action.SEARCH,
            "booking",
            "",
            detail={
                "via": "fhir",
                "query": {c.key: c.values for c in req.criteria},
                "total": total,
                "returned": [b.pk for b in rows],
            },
        )
    return fhir_response(search.searchset(fhir_base(request), resource_type, resources, total, req))


# --- create: POST /fhir/Appointment ----------------------------------------------------

EXPRESSIONS = {
    "slot": "Appointment.slot",
    "resident": "Appointment.participant",
    "status": "Appointment.status",
}


def _unprocessable(code: str, zh: str, en: str, where: str) -> FhirError:
    return FhirError.single(422, code, zh, en, where)


def booking_request(body: JSON) -> tuple[int, str]:
    """A validated Appointment body → (slot id, the patient reference)."""
    if body.get("status") != "booked":
        raise _unprocessable(
            "not-supported",
            "新建预约的 status 应为 booked",
            "A new appointment has status booked",
            "Appointment.status",
        )
    slots = body.get("slot") or []
    get = _ref_pk("Slot")
    slot_id = get(str((slots[0] if slots else {}).get("reference") or ""))
    if len(slots) != 1 or slot_id is None:
        raise _unprocessable(
            "required",
            "请给出一个号源：slot 为 [Slot/<id>]",
            "Give exactly one slot: [Slot/<id>]",
            "Appointment.slot",
        )
    patients = [
        str((p.get("actor") or {}).get("reference") or "")
        for p in body.get("participant") or []
        if str((p.get("actor") or {}).get("reference") or "").startswith("Patient")
    ]
    if len(patients) != 1:
        raise _unprocessable(
            "required",
            "参与者中应有且只有一名居民（Patient/<主索引号>）",
            "Exactly one participant must be a Patient",
            "Appointment.participant",
        )
    return slot_id, patients[0]


def create(actor: Actor, body: JSON) -> Booking:
    slot_id, patient = booking_request(body)
    if not Slot.objects.filter(pk=slot_id).exists():
        raise _unprocessable("not-found", "号源不存在", "Unknown slot", "Appointment.slot")
    person = resolve_patient(patient)
    if person is None:
        raise _unprocessable(
            "not-found", "找不到居民", "Unknown patient", "Appointment.participant"
        )
    try:
        return scheduling_actions.do_book_slot(actor, slot_id, person)
    except DomainError as exc:
        where = {e.field: EXPRESSIONS.get(e.field, "Appointment") for e in exc.errors}
        raise from_domain_error(exc, where) from exc


# --- views -----------------------------------------------------------------------------


def _reload(b: Booking) -> JSON:
    """The stored booking, without a second audit entry (the booking has one)."""
    row = Booking.objects.select_related(
        "slot__session__department__facility", "slot__session__doctor", "resident", "facility"
    ).get(pk=b.pk)
    return _appointments([row])[0]


@fhir_view("GET")
def schedule_type(request: HttpRequest, actor: Actor) -> HttpResponse:
    return _search(request, actor, "Schedule")


@fhir_view("GET")
def schedule_instance(request: HttpRequest, actor: Actor, resource_id: str) -> HttpResponse:
    return fhir_response(read(actor, "Schedule", resource_id))


@fhir_view("GET")
def slot_type(request: HttpRequest, actor: Actor) -> HttpResponse:
    return _search(request, actor, "Slot")


@fhir_view("GET")
def slot_instance(request: HttpRequest, actor: Actor, resource_id: str) -> HttpResponse:
    return fhir_response(read(actor, "Slot", resource_id))


@fhir_view("GET", "POST")
def appointment_type(request: HttpRequest, actor: Actor) -> HttpResponse:
    if request.method == "POST":
        body = _json_body(request)
        validation.validate_resource(body, "Appointment")
        b = create(actor, body)
        location = f"{fhir_base(request)}/Appointment/{b.pk}"
        return fhir_response(_reload(b), 201, {"Location": location})
    return _search(request, actor, "Appointment")


@fhir_view("GET")
def appointment_instance(request: HttpRequest, actor: Actor, resource_id: str) -> HttpResponse:
    return fhir_response(read(actor, "Appointment", resource_id))
