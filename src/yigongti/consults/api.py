"""REST endpoints of remote consultation (远程会诊) and expert dispatch (专家下沉)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Router, Schema, Status

from yigongti.core.api import ErrorOut, StateStepOut, actor_of
from yigongti.core.errors import Forbidden
from yigongti.residents.queries import get_resident_for

from . import actions, queries
from .models import Consultation, DispatchActivity, Secondment

router = Router(tags=["远程会诊与专家下沉"])
ERRORS: dict[int, type[Schema]] = {403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


def _need(request: HttpRequest, *perms: str) -> None:
    a = actor_of(request)
    if not (a.is_system or any(a.can(p) for p in perms or ("consult",))):
        raise Forbidden()


# ---------------------------------------------------------------------------------------------
# consultations


class ConsultIn(Schema):
    mpi_id: str = Field(..., description="居民主索引号")
    to_facility_id: int = Field(..., description="受邀机构（县级医院）")
    to_department_id: int | None = Field(None, description="受邀科室")
    urgency: str = Field("routine", description="emergency 急会诊 / routine 普通会诊")
    consent: bool = Field(..., description="患者已签署书面知情同意书（必须为 true）")
    consent_signer: str = Field(..., description="同意书签署人（本人或家属姓名）")
    reason: str = Field(..., description="会诊原因")
    purpose: str = Field(..., description="会诊目的")
    case_summary: str = Field(..., description="病情摘要（可由 /consults/case-summary 预填）")
    wanted_specialty: str = Field("", description="拟邀专业")
    wanted_title: int = Field(0, description="拟邀职称：0 不限，1 中级及以上，2 副高及以上，3 正高")
    proposed_at: datetime | None = Field(None, description="拟会诊时间")
    requesting_doctor: str = Field("", description="申请医生")
    requesting_phone: str = ""
    client_key: str = Field("", description="幂等键：重复提交返回同一申请")


class AcceptIn(Schema):
    scheduled_at: datetime | None = Field(None, description="会诊时间（默认拟会诊时间）")
    expert_id: int | None = Field(None, description="会诊专家（默认本人）")
    note: str = ""


class ReasonIn(Schema):
    reason: str = ""


class OpinionIn(Schema):
    opinion: str = Field(..., description="会诊意见")
    advice: str = Field("", description="诊疗建议")


class CloseIn(Schema):
    final_decision: str = Field(..., description="经治医生最终处理决定")
    rating: int | None = Field(None, description="评价 1-5 分")
    rating_note: str = ""


class StepOut(StateStepOut):
    pass


class ConsultOut(Schema):
    id: int
    state: str
    urgency: str
    mpi_id: str
    resident_name: str
    from_facility: str
    to_facility_id: int
    destination: str
    wanted_specialty: str
    wanted_title: int
    reason: str
    submitted_at: datetime
    arrange_by: datetime
    finish_by: datetime
    overdue: str = Field(..., description="arrange 超时未安排 / finish 超时未完成 / 空")
    expert_name: str
    scheduled_at: datetime | None


class ConsultDetail(ConsultOut):
    requesting_doctor: str
    requesting_phone: str
    consent_signer: str
    purpose: str
    case_summary: str
    proposed_at: datetime | None
    expert_title: str
    decline_reason: str
    cancel_reason: str
    opinion: str
    advice: str
    answered_at: datetime | None
    final_decision: str
    rating: int | None
    rating_note: str
    steps: list[StepOut]


class SummaryOut(Schema):
    mpi_id: str
    case_summary: str


def out(c: Consultation) -> ConsultOut:
    from . import rules

    return ConsultOut(
        id=c.pk,
        state=c.state,
        urgency=c.urgency,
        mpi_id=c.resident.mpi_id,
        resident_name=c.resident.name,
        from_facility=c.from_facility.name,
        to_facility_id=c.to_facility_id,
        destination=c.destination,
        wanted_specialty=c.wanted_specialty,
        wanted_title=c.wanted_title,
        reason=c.reason,
        submitted_at=c.submitted_at,
        arrange_by=c.arrange_by,
        finish_by=c.finish_by,
        overdue=rules.overdue(c.state, c.arrange_by, c.finish_by, timezone.now()),
        expert_name=c.expert_name,
        scheduled_at=c.scheduled_at,
    )


def detail(c: Consultation) -> ConsultDetail:
    return ConsultDetail(
        **out(c).dict(),
        requesting_doctor=c.requesting_doctor,
        requesting_phone=c.requesting_phone,
        consent_signer=c.consent_signer,
        purpose=c.purpose,
        case_summary=c.case_summary,
        proposed_at=c.proposed_at,
        expert_title=c.expert_title,
        decline_reason=c.decline_reason,
        cancel_reason=c.cancel_reason,
        opinion=c.opinion,
        advice=c.advice,
        answered_at=c.answered_at,
        final_decision=c.final_decision,
        rating=c.rating,
        rating_note=c.rating_note,
        steps=[StepOut.of(s) for s in queries.steps_of(c)],
    )


def _reload(request: HttpRequest, pk: int) -> ConsultDetail:
    return detail(queries.consultations_visible_to(actor_of(request)).get(pk=pk))


@router.post(
    "/consults",
    response={201: ConsultDetail, **ERRORS},
    summary="Request a remote consultation",
)
def create(request: HttpRequest, payload: ConsultIn) -> Status[ConsultDetail]:
    _need(request)
    a = actor_of(request)
    resident = get_resident_for(a, payload.mpi_id, purpose="consultation")
    c = actions.do_request_consultation(
        a, resident, actions.ConsultInput(**payload.dict(exclude={"mpi_id"}))
    )
    return Status(201, _reload(request, c.pk))


@router.get(
    "/consults",
    response={200: list[ConsultOut], 403: ErrorOut},
    summary="Worklists: inbox (waiting first), sent, overdue, decide (answered, to close)",
)
def worklist(request: HttpRequest, box: str = "inbox", limit: int = 100) -> list[ConsultOut]:
    _need(request)
    a = actor_of(request)
    n = max(1, min(limit, 500))
    if box == "sent":
        qs = queries.sent(a)
    elif box == "overdue":
        qs = queries.overdue(a)
    elif box == "decide":
        qs = queries.awaiting_decision(a)
    else:
        qs = queries.inbox(a)
    return [out(c) for c in qs[:n]]


@router.get(
    "/consults/case-summary",
    response={200: SummaryOut, 403: ErrorOut, 404: ErrorOut},
    summary="A case summary drafted from the health record (audited read)",
)
def case_summary(request: HttpRequest, mpi_id: str) -> SummaryOut:
    _need(request)
    r = get_resident_for(actor_of(request), mpi_id, purpose="consultation")
    return SummaryOut(mpi_id=r.mpi_id, case_summary=queries.case_summary_for(r))


@router.get(
    "/consults/{consult_id}",
    response={200: ConsultDetail, 403: ErrorOut, 404: ErrorOut},
    summary="Read a consultation (audited)",
)
def read(request: HttpRequest, consult_id: int) -> ConsultDetail:
    _need(request)
    return detail(queries.get_consultation_for(actor_of(request), consult_id))


@router.post("/consults/{consult_id}/accept", response={200: ConsultDetail, **ERRORS})
def accept(request: HttpRequest, consult_id: int, payload: AcceptIn) -> ConsultDetail:
    actions.do_accept_consultation(
        actor_of(request),
        consult_id,
        scheduled_at=payload.scheduled_at,
        expert_id=payload.expert_id,
        note=payload.note,
    )
    return _reload(request, consult_id)


@router.post("/consults/{consult_id}/decline", response={200: ConsultDetail, **ERRORS})
def decline(request: HttpRequest, consult_id: int, payload: ReasonIn) -> ConsultDetail:
    actions.do_decline_consultation(actor_of(request), consult_id, payload.reason)
    return _reload(request, consult_id)


@router.post("/consults/{consult_id}/opinion", response={200: ConsultDetail, **ERRORS})
def opinion(request: HttpRequest, consult_id: int, payload: OpinionIn) -> ConsultDetail:
    actions.do_give_opinion(actor_of(request), consult_id, payload.opinion, payload.advice)
    return _reload(request, consult_id)


@router.post(
    "/consults/{consult_id}/close",
    response={200: ConsultDetail, **ERRORS},
    summary="Record the final decision and the rating",
)
def close(request: HttpRequest, consult_id: int, payload: CloseIn) -> ConsultDetail:
    actions.do_close_consultation(
        actor_of(request),
        consult_id,
        final_decision=payload.final_decision,
        rating=payload.rating,
        rating_note=payload.rating_note,
    )
    return _reload(request, consult_id)


@router.post("/consults/{consult_id}/cancel", response={200: ConsultDetail, **ERRORS})
def cancel(request: HttpRequest, consult_id: int, payload: ReasonIn) -> ConsultDetail:
    actions.do_cancel_consultation(actor_of(request), consult_id, payload.reason)
    return _reload(request, consult_id)


class PolicyIn(Schema):
    arrange_hours: int = Field(48, description="安排时限（小时）")
    finish_working_days: int = Field(3, description="完成时限（工作日，周一至周五）")
    emergency_hours: int = Field(12, description="急会诊完成时限（小时）")


class PolicyOut(PolicyIn):
    facility_id: int


@router.get(
    "/consults/policy/{facility_id}",
    response={200: PolicyOut, 403: ErrorOut},
    summary="A consulted facility's time limits (defaults when none set)",
)
def read_policy(request: HttpRequest, facility_id: int) -> PolicyOut:
    _need(request, "consult", "manage_network")
    p = queries.policy_for(facility_id)
    return PolicyOut(
        facility_id=facility_id,
        arrange_hours=p.arrange_hours,
        finish_working_days=p.finish_working_days,
        emergency_hours=p.emergency_hours,
    )


@router.put(
    "/consults/policy/{facility_id}",
    response={200: PolicyOut, **ERRORS},
    summary="Set a consulted facility's time limits",
)
def set_policy(request: HttpRequest, facility_id: int, payload: PolicyIn) -> PolicyOut:
    p = actions.do_set_consult_policy(actor_of(request), facility_id, **payload.dict())
    return PolicyOut(
        facility_id=facility_id,
        arrange_hours=p.arrange_hours,
        finish_working_days=p.finish_working_days,
        emergency_hours=p.emergency_hours,
    )


# ---------------------------------------------------------------------------------------------
# dispatch


class SecondmentIn(Schema):
    staff_id: int = Field(..., description="下沉医生（县级医院人员）")
    to_facility_id: int = Field(..., description="派驻机构（乡镇卫生院/村卫生室）")
    kind: str = Field(
        "secondment", description="secondment 长期派驻 / support 短期帮扶 / mobile 巡回医疗"
    )
    starts_on: date
    ends_on: date
    note: str = ""


class EndIn(Schema):
    ends_on: date


class ActivityIn(Schema):
    kind: str = Field(
        "clinic",
        description=(
            "clinic 坐诊 / mobile_clinic 巡回义诊 / teaching_round 教学查房 / training 业务培训"
        ),
    )
    day: date
    facility_id: int | None = Field(None, description="开展机构（默认派驻机构）")
    patients_seen: int = Field(0, description="接诊人次（坐诊、义诊）")
    attendees: int = Field(0, description="参加人数（查房、培训）")
    topic: str = ""


class ActivityOut(Schema):
    id: int
    kind: str
    day: date
    facility: str
    patients_seen: int
    attendees: int
    topic: str


class SecondmentOut(Schema):
    id: int
    staff_id: int
    staff_name: str
    title: str
    kind: str
    from_facility: str
    to_facility_id: int
    to_facility: str
    starts_on: date
    ends_on: date
    note: str


class SecondmentDetail(SecondmentOut):
    activities: list[ActivityOut]


class IndicatorOut(Schema):
    numerator: int = Field(..., description="分子：符合条件的下沉医师人数")
    denominator: int = Field(..., description="分母：区域在册居民数")
    value: float | None = Field(..., description="每万人口；缺失为 null（不是 0）")
    missing: bool
    definition: str
    since: date
    until: date
    area: str
    area_id: int | None


def s_out(s: Secondment) -> SecondmentOut:
    return SecondmentOut(
        id=s.pk,
        staff_id=s.staff_id,
        staff_name=s.staff.name,
        title=s.title,
        kind=s.kind,
        from_facility=s.from_facility.name,
        to_facility_id=s.to_facility_id,
        to_facility=s.to_facility.name,
        starts_on=s.starts_on,
        ends_on=s.ends_on,
        note=s.note,
    )


def a_out(a: DispatchActivity) -> ActivityOut:
    return ActivityOut(
        id=a.pk,
        kind=a.kind,
        day=a.day,
        facility=a.facility.name,
        patients_seen=a.patients_seen,
        attendees=a.attendees,
        topic=a.topic,
    )


def s_detail(s: Secondment) -> SecondmentDetail:
    return SecondmentDetail(
        **s_out(s).dict(), activities=[a_out(a) for a in queries.activities_of(s)[:500]]
    )


@router.get(
    "/dispatch/secondments",
    response={200: list[SecondmentOut], 403: ErrorOut},
    summary="The dispatch roster (current on `on`, or all)",
)
def secondments(
    request: HttpRequest, on: date | None = None, kind: str = "", limit: int = 200
) -> list[SecondmentOut]:
    _need(request, "manage_dispatch")
    qs = queries.roster(actor_of(request), on=on, kind=kind)
    return [s_out(s) for s in qs[: max(1, min(limit, 1000))]]


@router.post(
    "/dispatch/secondments",
    response={201: SecondmentDetail, **ERRORS},
    summary="Put a doctor on the dispatch roster",
)
def add_secondment(request: HttpRequest, payload: SecondmentIn) -> Status[SecondmentDetail]:
    s = actions.do_add_secondment(actor_of(request), actions.SecondmentInput(**payload.dict()))
    return Status(201, s_detail(queries.secondments_visible_to(actor_of(request)).get(pk=s.pk)))


@router.get(
    "/dispatch/secondments/{secondment_id}",
    response={200: SecondmentDetail, 403: ErrorOut, 404: ErrorOut},
)
def read_secondment(request: HttpRequest, secondment_id: int) -> SecondmentDetail:
    _need(request, "manage_dispatch")
    return s_detail(queries.get_secondment_for(actor_of(request), secondment_id))


@router.post(
    "/dispatch/secondments/{secondment_id}/end",
    response={200: SecondmentDetail, **ERRORS},
    summary="End a secondment early",
)
def end_secondment(request: HttpRequest, secondment_id: int, payload: EndIn) -> SecondmentDetail:
    actions.do_end_secondment(actor_of(request), secondment_id, payload.ends_on)
    return s_detail(queries.get_secondment_for(actor_of(request), secondment_id))


@router.post(
    "/dispatch/secondments/{secondment_id}/activities",
    response={201: ActivityOut, **ERRORS},
    summary="Record a clinic session, mobile clinic, teaching round or training",
)
def add_activity(
    request: HttpRequest, secondment_id: int, payload: ActivityIn
) -> Status[ActivityOut]:
    a = actions.do_record_activity(
        actor_of(request), secondment_id, actions.ActivityInput(**payload.dict())
    )
    return Status(201, a_out(a))


@router.get(
    "/dispatch/indicator",
    response={200: IndicatorOut, **ERRORS},
    summary="Seconded doctors (intermediate title+) per 10,000 residents (DOMAIN.md §10)",
)
def indicator(
    request: HttpRequest,
    since: date | None = None,
    until: date | None = None,
    area: str = "county",
    area_id: int | None = None,
) -> IndicatorOut:
    _need(request, "manage_dispatch", "view_indicators")
    end = until or timezone.localdate()
    start = since or end - timedelta(days=364)
    v = queries.seconded_doctors_per_10k(start, end, area=area, area_id=area_id)
    return IndicatorOut(**v.__dict__)
