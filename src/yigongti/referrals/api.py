"""REST endpoints of referrals (双向转诊)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Router, Schema, Status

from yigongti.core.api import ErrorOut, StateStepOut, actor_of
from yigongti.core.errors import Forbidden
from yigongti.residents.queries import get_resident_for

from . import actions, queries
from .models import Referral

router = Router(tags=["双向转诊"])
ERRORS: dict[int, type[Schema]] = {403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


def _need(request: HttpRequest, perm: str = "refer") -> None:
    a = actor_of(request)
    if not (a.is_system or a.can(perm)):
        raise Forbidden()


class ReferralIn(Schema):
    mpi_id: str
    urgency: str = Field("routine", description="emergency 急诊 / routine 普通")
    reason: str = Field(..., description="转诊原因/现病史")
    to_facility_id: int | None = None
    to_department_id: int | None = None
    to_doctor_id: int | None = None
    out_of_county: bool = False
    destination_name: str = Field("", description="县外接收医院")
    family_doctor: bool = Field(False, description="家庭医生转诊（由转出医生勾选，接收方优先）")
    initial_impression: str = ""
    diagnosis_code: str = Field("", description="ICD-10")
    past_history: str = ""
    treatment_so_far: str = ""
    attachments: list[str] = Field(
        default_factory=list, description='["encounter:12", "observation:5", "report:3"]'
    )
    referring_doctor: str = ""
    referring_phone: str = ""
    client_key: str = Field("", description="幂等键：重复提交返回同一转诊单")
    submit: bool = True


class ReturnIn(Schema):
    parent_id: int | None = None
    mpi_id: str = ""
    to_facility_id: int | None = None
    return_diagnosis: str
    next_steps: str
    findings: str = ""
    treatment: str = ""
    rehab_advice: str = ""
    inpatient_no: str = ""
    diagnosis_code: str = ""


class AcceptIn(Schema):
    slot_id: int | None = None
    ward_id: int | None = None
    note: str = ""


class ReasonIn(Schema):
    reason: str = ""


class TransitionOut(StateStepOut):
    pass


class ReferralOut(Schema):
    id: int
    direction: str
    state: str
    urgency: str
    family_doctor: bool
    mpi_id: str
    resident_name: str
    from_facility: str
    destination: str
    out_of_county: bool
    diagnosis_code: str
    reason: str
    respond_by: datetime | None
    booking_id: int | None
    bed_id: int | None
    followup_due: date | None
    followup_done_at: datetime | None
    created_at: datetime


class ReferralDetail(ReferralOut):
    referring_doctor: str
    initial_impression: str
    past_history: str
    treatment_so_far: str
    attachments: list[dict[str, object]]
    decline_reason: str
    return_diagnosis: str
    findings: str
    treatment: str
    next_steps: str
    rehab_advice: str
    parent_id: int | None
    transitions: list[TransitionOut]


class SummaryRow(Schema):
    code: str
    name: str
    n: int


class SummaryOut(Schema):
    since: date
    until: date
    total: int
    out_of_county: int
    share: float
    top_diagnoses: list[SummaryRow]


def out(r: Referral) -> ReferralOut:
    return ReferralOut(
        id=r.pk,
        direction=r.direction,
        state=r.state,
        urgency=r.urgency,
        family_doctor=r.family_doctor,
        mpi_id=r.resident.mpi_id,
        resident_name=r.resident.name,
        from_facility=r.from_facility.name,
        destination=r.destination,
        out_of_county=r.out_of_county,
        diagnosis_code=r.diagnosis_id or "",
        reason=r.reason,
        respond_by=r.respond_by,
        booking_id=r.booking_id,
        bed_id=r.bed_id,
        followup_due=r.followup_due,
        followup_done_at=r.followup_done_at,
        created_at=r.created_at,
    )


def detail(r: Referral) -> ReferralDetail:
    return ReferralDetail(
        **out(r).dict(),
        referring_doctor=r.referring_doctor,
        initial_impression=r.initial_impression,
        past_history=r.past_history,
        treatment_so_far=r.treatment_so_far,
        attachments=r.attachments,
        decline_reason=r.decline_reason,
        return_diagnosis=r.return_diagnosis,
        findings=r.findings,
        treatment=r.treatment,
        next_steps=r.next_steps,
        rehab_advice=r.rehab_advice,
        parent_id=r.parent_id,
        transitions=[TransitionOut.of(t) for t in queries.transitions_of(r)],
    )


def _reload(request: HttpRequest, pk: int) -> ReferralDetail:
    return detail(queries.referrals_visible_to(actor_of(request)).get(pk=pk))


@router.post(
    "/referrals",
    response={201: ReferralDetail, **ERRORS},
    summary="Create (and submit) an upward referral",
)
def create(request: HttpRequest, payload: ReferralIn) -> Status[ReferralDetail]:
    a = actor_of(request)
    _need(request)
    resident = get_resident_for(a, payload.mpi_id, purpose="referral")
    data = actions.ReferralInput(**payload.dict(exclude={"mpi_id"}))
    r = actions.do_create_referral(a, resident, data)
    return Status(201, _reload(request, r.pk))


@router.get(
    "/referrals",
    response=list[ReferralOut],
    summary="Worklists: received, sent, waiting, overdue, followups",
)
def worklist(
    request: HttpRequest, box: str = "received", state: str = "", limit: int = 100
) -> list[ReferralOut]:
    _need(request)
    a = actor_of(request)
    n = max(1, min(limit, 500))
    if box == "sent":
        qs = queries.sent(a, state=state or None)
    elif box == "waiting":
        qs = queries.waiting(a)
    elif box == "overdue":
        qs = queries.overdue_responses(a)
    elif box == "followups":
        return [out(r) for r, _ in queries.followups_due(a)[:n]]
    else:
        qs = queries.received(a, state=state or None)
    return [out(r) for r in qs[:n]]


@router.get(
    "/referrals/out-of-county",
    response={200: SummaryOut, 403: ErrorOut},
    summary="Out-of-county share of upward referrals and top diagnoses",
)
def out_of_county(
    request: HttpRequest, since: date | None = None, until: date | None = None
) -> SummaryOut:
    _need(request, "view_indicators")
    end = until or timezone.localdate()
    start = since or end - timedelta(days=365)
    return SummaryOut(**queries.out_of_county_summary(actor_of(request), start, end))  # type: ignore[arg-type]


@router.get(
    "/referrals/{referral_id}",
    response={200: ReferralDetail, 404: ErrorOut},
    summary="Read a referral (audited)",
)
def read(request: HttpRequest, referral_id: int) -> ReferralDetail:
    return detail(queries.get_referral_for(actor_of(request), referral_id))


@router.post("/referrals/{referral_id}/submit", response={200: ReferralDetail, **ERRORS})
def submit(request: HttpRequest, referral_id: int) -> ReferralDetail:
    actions.do_submit(actor_of(request), referral_id)
    return _reload(request, referral_id)


@router.post(
    "/referrals/{referral_id}/accept",
    response={200: ReferralDetail, **ERRORS},
    summary="Accept with an appointment slot or a bed",
)
def accept(request: HttpRequest, referral_id: int, payload: AcceptIn) -> ReferralDetail:
    actions.do_accept(
        actor_of(request),
        referral_id,
        slot_id=payload.slot_id,
        ward_id=payload.ward_id,
        note=payload.note,
    )
    return _reload(request, referral_id)


@router.post("/referrals/{referral_id}/decline", response={200: ReferralDetail, **ERRORS})
def decline(request: HttpRequest, referral_id: int, payload: ReasonIn) -> ReferralDetail:
    actions.do_decline(actor_of(request), referral_id, payload.reason)
    return _reload(request, referral_id)


@router.post("/referrals/{referral_id}/cancel", response={200: ReferralDetail, **ERRORS})
def cancel(request: HttpRequest, referral_id: int, payload: ReasonIn) -> ReferralDetail:
    actions.do_cancel(actor_of(request), referral_id, payload.reason)
    return _reload(request, referral_id)


@router.post("/referrals/{referral_id}/arrived", response={200: ReferralDetail, **ERRORS})
def arrived(request: HttpRequest, referral_id: int) -> ReferralDetail:
    actions.do_mark_arrived(actor_of(request), referral_id)
    return _reload(request, referral_id)


@router.post("/referrals/{referral_id}/complete", response={200: ReferralDetail, **ERRORS})
def complete(request: HttpRequest, referral_id: int, payload: ReasonIn) -> ReferralDetail:
    actions.do_complete(actor_of(request), referral_id, payload.reason)
    return _reload(request, referral_id)


@router.post(
    "/referrals/returns",
    response={201: ReferralDetail, **ERRORS},
    summary="Send a patient back (回转单)",
)
def send_return(request: HttpRequest, payload: ReturnIn) -> Status[ReferralDetail]:
    a = actor_of(request)
    _need(request)
    resident = (
        get_resident_for(a, payload.mpi_id, purpose="referral")
        if payload.mpi_id and not payload.parent_id
        else None
    )
    r = actions.do_send_return(a, actions.ReturnInput(**payload.dict(exclude={"mpi_id"})), resident)
    return Status(201, _reload(request, r.pk))


@router.post("/referrals/{referral_id}/receive", response={200: ReferralDetail, **ERRORS})
def receive(request: HttpRequest, referral_id: int) -> ReferralDetail:
    actions.do_receive_return(actor_of(request), referral_id)
    return _reload(request, referral_id)


@router.post("/referrals/{referral_id}/followup", response={200: ReferralDetail, **ERRORS})
def followup(request: HttpRequest, referral_id: int, payload: ReasonIn) -> ReferralDetail:
    actions.do_record_followup(actor_of(request), referral_id, payload.reason)
    return _reload(request, referral_id)
