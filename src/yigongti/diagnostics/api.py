"""REST endpoints of the shared diagnosis centres (影像/心电/检验/病理中心)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Router, Schema, Status

from yigongti.core.api import ErrorOut, actor_of
from yigongti.core.errors import Forbidden
from yigongti.residents.queries import get_resident_for

from . import actions, queries
from .models import Centre, CriticalValue, QualityReview, Study

router = Router(tags=["共享诊断中心"])
ERRORS: dict[int, type[Schema]] = {403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


def _need(request: HttpRequest, *perms: str) -> None:
    a = actor_of(request)
    if not (a.is_system or any(a.can(p) for p in perms)):
        raise Forbidden()


# ---------------------------------------------------------------------------------------------
# schemas


class CentreIn(Schema):
    name: str = Field(..., description="中心名称")
    kind: str = Field(..., description="imaging 影像 / ecg 心电 / lab 检验 / pathology 病理")
    facility_id: int = Field(..., description="承办机构（县级医院）")
    serves_group: bool = Field(True, description="服务本医共体全部成员单位")
    member_ids: list[int] = Field(default_factory=list, description="其他服务机构")
    ack_minutes: int = Field(30, description="危急值确认时限（分钟）")
    escalate_minutes: int = Field(30, description="未确认再次升级间隔（分钟）")
    recognition_days: int | None = Field(None, description="结果互认窗口（天），空=按类别默认")


class CentreOut(Schema):
    id: int
    name: str
    kind: str
    facility_id: int
    facility: str
    ack_minutes: int
    escalate_minutes: int
    recognition_days: int | None
    active: bool


class TemplateIn(Schema):
    name: str = Field(..., description="模板名称")
    findings: str = Field(..., description="所见模板")
    impression: str = Field("", description="印象/结论模板")
    exam_code: str = Field("", description="适用项目编码")


class TemplateOut(Schema):
    id: int
    name: str
    exam_code: str
    findings: str
    impression: str


class StudyIn(Schema):
    mpi_id: str = Field(..., description="居民主索引号")
    centre_id: int = Field(..., description="诊断中心")
    exam_code: str = Field(..., description="项目编码")
    exam_name: str = Field(..., description="检查项目名称")
    body_part: str = Field("", description="检查部位（影像必填）")
    urgency: int = Field(2, description="0 急诊 / 1 加急 / 2 普通")
    clinical_info: str = Field("", description="临床信息")
    requesting_doctor: str = Field("", description="申请医生")
    still_needed_reason: str = Field(
        "", description="结果互认提示后仍需检查的理由（有可互认的既往报告时必填）"
    )
    client_key: str = Field("", description="幂等键：重复提交返回同一申请")


class RecognitionOut(Schema):
    created: bool = False
    warning: str
    prior_study_id: int
    prior_centre: str
    prior_reported_at: datetime | None
    window_days: int


class ReportIn(Schema):
    findings: str = Field(..., description="检查所见")
    impression: str = Field(..., description="诊断意见")
    critical: bool = Field(False, description="危急值")
    critical_text: str = Field("", description="危急值项目及数值")
    template_id: int | None = None
    reader_name: str = ""
    amend_reason: str = Field("", description="更正原因（更正时必填）")


class ReasonIn(Schema):
    reason: str = ""


class ReviewIn(Schema):
    consistent: bool = Field(..., description="复核诊断符合")
    film_grade: str = Field("", description="A 甲级 / B 乙级 / C 丙级（仅影像）")
    note: str = ""


class ResolveIn(Schema):
    action_taken: str = Field(..., description="处置措施")
    name: str = ""


class AckIn(Schema):
    name: str = ""


class ReportOut(Schema):
    version: int
    is_current: bool
    findings: str
    impression: str
    critical: bool
    critical_text: str
    reader: str
    signed_at: datetime
    amend_reason: str
    record_report_id: int | None


class CriticalOut(Schema):
    id: int
    study_id: int
    mpi_id: str
    resident_name: str
    item: str
    flagged_at: datetime
    ack_due_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str
    resolved_at: datetime | None
    resolved_by: str
    action_taken: str
    escalation_level: int
    escalated_at: datetime | None


class ReviewOut(Schema):
    reviewer: str
    reviewed_at: datetime
    consistent: bool
    film_grade: str
    note: str


class StudyOut(Schema):
    id: int
    centre_id: int
    centre: str
    kind: str
    state: str
    urgency: int
    mpi_id: str
    resident_name: str
    requesting_facility: str
    exam_code: str
    exam_name: str
    body_part: str
    requested_at: datetime
    prior_study_id: int | None


class StudyDetail(StudyOut):
    requesting_doctor: str
    clinical_info: str
    still_needed_reason: str
    claimed_at: datetime | None
    reported_at: datetime | None
    reviewed_at: datetime | None
    cancel_reason: str
    reports: list[ReportOut]
    critical_value: CriticalOut | None
    review: ReviewOut | None


class QueueOut(Schema):
    items: list[StudyOut]
    next: str | None = Field(None, description="下一页游标（after 参数）")


class RateRow(Schema):
    key: int | None
    name: str
    kind: str = ""
    reviewed: int
    consistent: int
    consistency_rate: float | None = Field(None, description="诊断符合率 = consistent / reviewed")
    graded: int
    grade_a: int
    grade_a_rate: float | None = Field(None, description="甲级片率 = grade_a / graded")


class LoopOut(Schema):
    flagged: int
    acknowledged: int
    in_time: int
    resolved: int
    escalated: int
    in_time_rate: float | None
    resolved_rate: float | None


class QualityOut(Schema):
    since: datetime
    until: datetime
    by_centre: list[RateRow]
    by_facility: list[RateRow]
    critical_values: LoopOut


def centre_out(c: Centre) -> CentreOut:
    return CentreOut(
        id=c.pk,
        name=c.name,
        kind=c.kind,
        facility_id=c.facility_id,
        facility=c.facility.name,
        ack_minutes=c.ack_minutes,
        escalate_minutes=c.escalate_minutes,
        recognition_days=c.recognition_days,
        active=c.active,
    )


def study_out(s: Study) -> StudyOut:
    return StudyOut(
        id=s.pk,
        centre_id=s.centre_id,
        centre=s.centre.name,
        kind=s.kind,
        state=s.state,
        urgency=s.urgency,
        mpi_id=s.resident.mpi_id,
        resident_name=s.resident.name,
        requesting_facility=s.requesting_facility.name,
        exam_code=s.exam_code,
        exam_name=s.exam_name,
        body_part=s.body_part,
        requested_at=s.requested_at,
        prior_study_id=s.prior_study_id,
    )


def critical_out(cv: CriticalValue) -> CriticalOut:
    return CriticalOut(
        id=cv.pk,
        study_id=cv.study_id,
        mpi_id=cv.resident.mpi_id,
        resident_name=cv.resident.name,
        item=cv.item,
        flagged_at=cv.flagged_at,
        ack_due_at=cv.ack_due_at,
        acknowledged_at=cv.acknowledged_at,
        acknowledged_by=cv.acknowledged_by_name,
        resolved_at=cv.resolved_at,
        resolved_by=cv.resolved_by_name,
        action_taken=cv.action_taken,
        escalation_level=cv.escalation_level,
        escalated_at=cv.escalated_at,
    )


def detail(s: Study) -> StudyDetail:
    cv = CriticalValue.objects.select_related("resident").filter(study=s).first()
    rv: QualityReview | None = QualityReview.objects.filter(study=s).first()
    return StudyDetail(
        **study_out(s).dict(),
        requesting_doctor=s.requesting_doctor,
        clinical_info=s.clinical_info,
        still_needed_reason=s.still_needed_reason,
        claimed_at=s.claimed_at,
        reported_at=s.reported_at,
        reviewed_at=s.reviewed_at,
        cancel_reason=s.cancel_reason,
        reports=[
            ReportOut(
                version=r.version,
                is_current=r.is_current,
                findings=r.findings,
                impression=r.impression,
                critical=r.critical,
                critical_text=r.critical_text,
                reader=r.reader_name,
                signed_at=r.signed_at,
                amend_reason=r.amend_reason,
                record_report_id=r.record_report_id,
            )
            for r in queries.reports_of(s)
        ],
        critical_value=critical_out(cv) if cv else None,
        review=ReviewOut(
            reviewer=rv.reviewer_name,
            reviewed_at=rv.reviewed_at,
            consistent=rv.consistent,
            film_grade=rv.film_grade,
            note=rv.note,
        )
        if rv
        else None,
    )


def _reload(request: HttpRequest, pk: int) -> StudyDetail:
    return detail(queries.studies_visible_to(actor_of(request)).get(pk=pk))


# ---------------------------------------------------------------------------------------------
# centres


@router.get(
    "/diagnostics/centres",
    response={200: list[CentreOut], 403: ErrorOut},
    summary="Centres the actor may request from (role=requester) or reads for (role=reader)",
)
def centres(request: HttpRequest, role: str = "requester") -> list[CentreOut]:
    _need(request, "consult", "read_studies")
    a = actor_of(request)
    qs = queries.reader_centres(a) if role == "reader" else queries.requester_centres(a)
    return [centre_out(c) for c in qs]


@router.post(
    "/diagnostics/centres",
    response={201: CentreOut, **ERRORS},
    summary="Open a centre (group administrator)",
)
def create_centre(request: HttpRequest, payload: CentreIn) -> Status[CentreOut]:
    d = payload.dict()
    d["member_ids"] = tuple(d["member_ids"])
    c = actions.do_create_centre(actor_of(request), actions.CentreInput(**d))
    return Status(201, centre_out(Centre.objects.select_related("facility").get(pk=c.pk)))


@router.get(
    "/diagnostics/centres/{centre_id}/templates",
    response={200: list[TemplateOut], 403: ErrorOut},
    summary="Report templates of a centre",
)
def templates(request: HttpRequest, centre_id: int) -> list[TemplateOut]:
    _need(request, "read_studies")
    if not queries.reader_centres(actor_of(request)).filter(pk=centre_id).exists():
        return []
    return [
        TemplateOut(
            id=t.pk,
            name=t.name,
            exam_code=t.exam_code,
            findings=t.findings,
            impression=t.impression,
        )
        for t in queries.templates_of(centre_id)
    ]


@router.post(
    "/diagnostics/centres/{centre_id}/templates",
    response={201: TemplateOut, **ERRORS},
    summary="Create or replace (by name) a report template",
)
def save_template(request: HttpRequest, centre_id: int, payload: TemplateIn) -> Status[TemplateOut]:
    t = actions.do_save_template(actor_of(request), centre_id, **payload.dict())
    return Status(
        201,
        TemplateOut(
            id=t.pk,
            name=t.name,
            exam_code=t.exam_code,
            findings=t.findings,
            impression=t.impression,
        ),
    )


@router.get(
    "/diagnostics/centres/{centre_id}/queue",
    response={200: QueueOut, 403: ErrorOut},
    summary="The centre's reading queue: urgency, then waiting time; keyset pages",
)
def queue(request: HttpRequest, centre_id: int, after: str = "", limit: int = 50) -> QueueOut:
    _need(request, "read_studies")
    cursor = queries.Cursor.decode(after) if after else None
    n = max(1, min(limit, 200))
    rows = queries.reading_queue(actor_of(request), centre_id, after=cursor, limit=n)
    nxt = None
    if len(rows) == n:
        last = rows[-1]
        nxt = queries.Cursor(last.urgency, last.requested_at, last.pk).encode()
    return QueueOut(items=[study_out(s) for s in rows], next=nxt)


# ---------------------------------------------------------------------------------------------
# studies


@router.post(
    "/diagnostics/studies",
    response={201: StudyDetail, 200: RecognitionOut, **ERRORS},
    summary="Request a reading (200 with a mutual-recognition warning, or 201 created)",
)
def request_study(
    request: HttpRequest, payload: StudyIn
) -> Status[StudyDetail] | Status[RecognitionOut]:
    a = actor_of(request)
    _need(request, "consult")
    resident = get_resident_for(a, payload.mpi_id, purpose="diagnostics")
    res = actions.do_request_study(
        a, resident, actions.StudyInput(**payload.dict(exclude={"mpi_id"}))
    )
    if res.warning is not None:
        p = res.warning.prior
        return Status(
            200,
            RecognitionOut(
                warning=res.warning.message,
                prior_study_id=p.pk,
                prior_centre=p.centre.name,
                prior_reported_at=p.reported_at,
                window_days=res.warning.days,
            ),
        )
    assert res.study is not None
    return Status(201, _reload(request, res.study.pk))


@router.get(
    "/diagnostics/studies",
    response={200: list[StudyOut], 403: ErrorOut},
    summary="The requesting facility's studies, newest first",
)
def requested(
    request: HttpRequest, state: str = "", limit: int = 50, offset: int = 0
) -> list[StudyOut]:
    _need(request, "consult")
    qs = queries.requested_by_facility(actor_of(request), state=state)
    start = max(0, offset)
    return [study_out(s) for s in qs[start : start + max(1, min(limit, 200))]]


@router.get(
    "/diagnostics/studies/{study_id}",
    response={200: StudyDetail, 403: ErrorOut, 404: ErrorOut},
    summary="Read a study with its reports (audited)",
)
def read(request: HttpRequest, study_id: int) -> StudyDetail:
    _need(request, "consult", "read_studies")
    return detail(queries.get_study_for(actor_of(request), study_id))


@router.post("/diagnostics/studies/{study_id}/claim", response={200: StudyDetail, **ERRORS})
def claim(request: HttpRequest, study_id: int) -> StudyDetail:
    actions.do_claim_study(actor_of(request), study_id)
    return _reload(request, study_id)


@router.post("/diagnostics/studies/{study_id}/release", response={200: StudyDetail, **ERRORS})
def release(request: HttpRequest, study_id: int) -> StudyDetail:
    actions.do_release_study(actor_of(request), study_id)
    return _reload(request, study_id)


@router.post(
    "/diagnostics/studies/{study_id}/report",
    response={200: StudyDetail, **ERRORS},
    summary="Sign the report (critical values open the closed loop)",
)
def report(request: HttpRequest, study_id: int, payload: ReportIn) -> StudyDetail:
    actions.do_report_study(actor_of(request), study_id, actions.ReportInput(**payload.dict()))
    return _reload(request, study_id)


@router.post(
    "/diagnostics/studies/{study_id}/amend",
    response={200: StudyDetail, **ERRORS},
    summary="Amend a signed report (new version, the old one kept)",
)
def amend(request: HttpRequest, study_id: int, payload: ReportIn) -> StudyDetail:
    actions.do_amend_report(actor_of(request), study_id, actions.ReportInput(**payload.dict()))
    return _reload(request, study_id)


@router.post("/diagnostics/studies/{study_id}/cancel", response={200: StudyDetail, **ERRORS})
def cancel(request: HttpRequest, study_id: int, payload: ReasonIn) -> StudyDetail:
    actions.do_cancel_study(actor_of(request), study_id, payload.reason)
    return _reload(request, study_id)


@router.post(
    "/diagnostics/studies/{study_id}/review",
    response={200: StudyDetail, **ERRORS},
    summary="Quality review: consistency and (imaging) film grade",
)
def review(request: HttpRequest, study_id: int, payload: ReviewIn) -> StudyDetail:
    actions.do_review_study(actor_of(request), study_id, **payload.dict())
    return _reload(request, study_id)


# ---------------------------------------------------------------------------------------------
# critical values


@router.get(
    "/diagnostics/critical-values",
    response={200: list[CriticalOut], 403: ErrorOut},
    summary="Unresolved critical values to acknowledge and act on",
)
def critical_values(request: HttpRequest, limit: int = 100) -> list[CriticalOut]:
    _need(request, "consult")
    rows = queries.critical_worklist(actor_of(request))[: max(1, min(limit, 500))]
    return [critical_out(cv) for cv in rows]


@router.post(
    "/diagnostics/critical-values/{cv_id}/acknowledge",
    response={200: CriticalOut, **ERRORS},
    summary="Acknowledge receipt (idempotent)",
)
def acknowledge(request: HttpRequest, cv_id: int, payload: AckIn) -> CriticalOut:
    cv = actions.do_acknowledge_critical(actor_of(request), cv_id, payload.name)
    return critical_out(CriticalValue.objects.select_related("resident").get(pk=cv.pk))


@router.post(
    "/diagnostics/critical-values/{cv_id}/resolve",
    response={200: CriticalOut, **ERRORS},
    summary="Record the action taken (closes the loop)",
)
def resolve(request: HttpRequest, cv_id: int, payload: ResolveIn) -> CriticalOut:
    cv = actions.do_resolve_critical(actor_of(request), cv_id, payload.action_taken, payload.name)
    return critical_out(CriticalValue.objects.select_related("resident").get(pk=cv.pk))


# ---------------------------------------------------------------------------------------------
# quality


def _rows(rows: list[dict[str, object]], by: str) -> list[RateRow]:
    out = []
    for r in rows:
        key = r.get("centre_id") if by == "centre" else r.get("requesting_facility_id")
        name = r.get("centre__name") if by == "centre" else r.get("requesting_facility__name")
        out.append(
            RateRow(
                key=key,  # type: ignore[arg-type]
                name=str(name or ""),
                kind=str(r.get("centre__kind") or ""),
                reviewed=r["reviewed"],  # type: ignore[arg-type]
                consistent=r["consistent"],  # type: ignore[arg-type]
                consistency_rate=r["consistency_rate"],  # type: ignore[arg-type]
                graded=r["graded"],  # type: ignore[arg-type]
                grade_a=r["grade_a"],  # type: ignore[arg-type]
                grade_a_rate=r["grade_a_rate"],  # type: ignore[arg-type]
            )
        )
    return out


@router.get(
    "/diagnostics/quality",
    response={200: QualityOut, 403: ErrorOut},
    summary="Report consistency and grade-A film rates with numerator/denominator",
)
def quality(
    request: HttpRequest, since: datetime | None = None, until: datetime | None = None
) -> QualityOut:
    _need(request, "read_studies", "view_indicators")
    a = actor_of(request)
    end = until or timezone.now()
    start = since or end - timedelta(days=365)
    return QualityOut(
        since=start,
        until=end,
        by_centre=_rows(queries.quality_rates(a, start, end, by="centre"), "centre"),
        by_facility=_rows(queries.quality_rates(a, start, end, by="facility"), "facility"),
        critical_values=LoopOut(**queries.critical_loop_summary(a, start, end)),  # type: ignore[arg-type]
    )
