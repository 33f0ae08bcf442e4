"""Every write of the shared diagnosis centres. Each step is a conditional UPDATE of the state
(`WHERE state = <expected>`, so two readers cannot both claim), an audit entry and, where it
belongs on the record, a timeline item or a `records` DiagnosticReport, in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from yigongti.core import audit
from yigongti.core.actor import Actor
from yigongti.core.errors import Conflict, DomainError, FieldError, Forbidden, NotFound
from yigongti.network.models import Facility, FacilityKind
from yigongti.records import actions as records
from yigongti.records.models import EntryKind, ReportCategory
from yigongti.residents.models import Resident
from yigongti.residents.queries import in_scope

from . import queries, rules
from .models import (
    Centre,
    CentreKind,
    CriticalValue,
    FilmGrade,
    QualityReview,
    Report,
    ReportTemplate,
    Study,
    StudyState,
    Urgency,
)

CONSULT = "consult"
READ = "read_studies"
RECORD_SYSTEM = "ygt-diagnostics"
HOST_KINDS = (FacilityKind.COUNTY_HOSPITAL, FacilityKind.BRANCH)


def _need(actor: Actor, perm: str) -> None:
    if not (actor.is_system or actor.can(perm)):
        raise Forbidden()


def _name(actor: Actor, name: str = "") -> str:
    return (name or actor.username)[:30]


def _refused(s: Study, target: str) -> Conflict:
    return Conflict(
        FieldError(
            "state",
            f"诊断申请当前状态为“{StudyState(s.state).label}”，不能变更为“{StudyState(target).label}”",
            f"Cannot go from {s.state} to {target}",
            "invalid_transition",
        ),
        extra={"state": s.state},
    )


def _load(actor: Actor, pk: int, perm: str) -> Study:
    _need(actor, perm)
    s = queries.studies_visible_to(actor).filter(pk=pk).first()
    if s is None:
        audit.record(actor, audit.Action.DENIED, "study", str(pk), detail={"purpose": "update"})
        raise NotFound("诊断申请")
    return s


def _step(actor: Actor, s: Study, target: str, note: str = "", **fields: Any) -> Study:
    """Move `s` to `target` if the machine and the actor's side allow it. Call inside atomic."""
    if not rules.allowed(s.state, target):
        raise _refused(s, target)
    sides = queries.sides_of(actor, s)
    if not any(rules.may(s.state, target, side) for side in sides):
        raise Forbidden("您不能执行此诊断申请操作", "Not your side of the study")
    old = s.state
    n = Study.objects.filter(pk=s.pk, state=old).update(state=target, **fields)
    if not n:  # someone else moved it first
        s.refresh_from_db()
        raise _refused(s, target)
    for k, v in fields.items():
        setattr(s, k, v)
    s.state = target
    audit.record(
        actor,
        audit.Action.UPDATE,
        "study",
        str(s.pk),
        resident_id=s.resident_id,
        detail={"from": old, "to": target, "note": note[:200]},
    )
    return s


# ---------------------------------------------------------------------------------------------
# centres and templates


@dataclass
class CentreInput:
    name: str = ""
    kind: str = CentreKind.IMAGING
    facility_id: int | None = None
    serves_group: bool = True
    member_ids: tuple[int, ...] = ()
    ack_minutes: int = rules.DEFAULT_ACK_MINUTES
    escalate_minutes: int = rules.DEFAULT_ESCALATE_MINUTES
    recognition_days: int | None = None


def do_create_centre(actor: Actor, d: CentreInput) -> Centre:
    """A group administrator opens a centre at a county facility of their group."""
    _need(actor, "manage_network")
    _need(actor, READ)
    errors: list[FieldError] = []
    if not d.name.strip():
        errors.append(FieldError("name", "请填写中心名称", "Name is required", "required"))
    if d.kind not in CentreKind.values:
        errors.append(
            FieldError("kind", "类别应为影像、心电、检验或病理", "Unknown kind", "choice")
        )
    fac = Facility.objects.filter(pk=d.facility_id).first() if d.facility_id else None
    if fac is None or fac.kind not in HOST_KINDS:
        errors.append(
            FieldError("facility_id", "请选择县级医院作为承办机构", "Pick a county hospital")
        )
    elif not actor.is_system and fac.group_id != actor.group_id:
        errors.append(
            FieldError("facility_id", "承办机构不属于本医共体", "Not in your group", "scope")
        )
    if d.ack_minutes <= 0:
        errors.append(FieldError("ack_minutes", "确认时限须大于0分钟", "Must be positive"))
    if d.escalate_minutes <= 0:
        errors.append(FieldError("escalate_minutes", "升级间隔须大于0分钟", "Must be positive"))
    members = list(Facility.objects.filter(pk__in=d.member_ids))
    if len(members) != len(set(d.member_ids)):
        errors.append(FieldError("member_ids", "服务机构不存在", "Unknown facility", "unknown"))
    if errors:
        raise DomainError(errors)
    assert fac is not None
    try:
        with transaction.atomic():
            c = Centre.objects.create(
                name=d.name.strip()[:64],
                kind=d.kind,
                facility=fac,
                serves_group=d.serves_group,
                ack_minutes=d.ack_minutes,
                escalate_minutes=d.escalate_minutes,
                recognition_days=d.recognition_days,
            )
            c.members.set(members)
            audit.record(actor, audit.Action.CREATE, "diag_centre", str(c.pk))
    except IntegrityError as exc:
        raise Conflict.single(
            "kind", "该机构已有同类诊断中心", "This facility has such a centre", "duplicate"
        ) from exc
    return c


def do_save_template(
    actor: Actor,
    centre_id: int,
    *,
    name: str,
    findings: str,
    impression: str = "",
    exam_code: str = "",
) -> ReportTemplate:
    """Create or replace (by name) a report template of a centre the actor reads for."""
    _need(actor, READ)
    centre = queries.reader_centres(actor).filter(pk=centre_id).first()
    if centre is None:
        raise NotFound("诊断中心")
    errors = []
    if not name.strip():
        errors.append(FieldError("name", "请填写模板名称", "Name is required", "required"))
    if not findings.strip():
        errors.append(FieldError("findings", "请填写所见模板", "Findings required", "required"))
    if errors:
        raise DomainError(errors)
    with transaction.atomic():
        t, _ = ReportTemplate.objects.update_or_create(
            centre=centre,
            name=name.strip()[:64],
            defaults={
                "findings": findings.strip(),
                "impression": impression.strip(),
                "exam_code": exam_code.strip()[:40],
                "active": True,
            },
        )
        audit.record(actor, audit.Action.UPDATE, "diag_template", str(t.pk))
    return t


# ---------------------------------------------------------------------------------------------
# requests and mutual recognition


@dataclass
class StudyInput:
    centre_id: int | None = None
    exam_code: str = ""
    exam_name: str = ""
    body_part: str = ""
    urgency: int = Urgency.ROUTINE
    clinical_info: str = ""
    requesting_doctor: str = ""
    still_needed_reason: str = ""
    client_key: str = ""


@dataclass
class RecognitionWarning:
    """A same exam of the same person was reported within the centre's window (结果互认)."""

    prior: Study
    days: int

    @property
    def message(self) -> str:
        p = self.prior
        when = timezone.localtime(p.reported_at).strftime("%Y-%m-%d") if p.reported_at else ""
        return (
            f"该居民{when}已在{p.centre.name}完成“{p.exam_name}”检查并出具报告（{p.pk}号），"
            f"{self.days}天内结果互认；如仍需检查请填写理由"
        )


@dataclass
class RequestResult:
    study: Study | None = None
    warning: RecognitionWarning | None = None


def do_request_study(actor: Actor, resident: Resident, d: StudyInput) -> RequestResult:
    """A township/village clinician requests a reading from a centre serving their facility.
    When the same exam of the person was reported within the centre's recognition window, no
    study is made and a warning names the earlier report; sending again with a
    `still_needed_reason` proceeds (and records the reason and the earlier study). The same
    `client_key` twice returns the first study."""
    _need(actor, CONSULT)
    if not in_scope(actor, resident):
        raise NotFound("居民档案")
    if d.client_key and actor.user_id is not None:
        prior = Study.objects.filter(requested_by_id=actor.user_id, client_key=d.client_key).first()
        if prior is not None:
            return RequestResult(study=prior)
    errors: list[FieldError] = []
    centre = (
        queries.requester_centres(actor).filter(pk=d.centre_id).first() if d.centre_id else None
    )
    if centre is None:
        errors.append(
            FieldError(
                "centre_id", "请选择为本机构服务的诊断中心", "Pick a centre serving you", "required"
            )
        )
    if not d.exam_code.strip():
        errors.append(FieldError("exam_code", "请填写项目编码", "Exam code required", "required"))
    if not d.exam_name.strip():
        errors.append(FieldError("exam_name", "请填写检查项目", "Exam name required", "required"))
    if d.urgency not in Urgency.values:
        errors.append(FieldError("urgency", "紧急程度应为急诊、加急或普通", "0, 1 or 2", "choice"))
    if centre is not None and centre.kind == CentreKind.IMAGING and not d.body_part.strip():
        errors.append(FieldError("body_part", "影像检查请填写检查部位", "Body part required"))
    if errors:
        raise DomainError(errors)
    assert centre is not None and actor.facility_id is not None  # requester_centres needs one
    now = timezone.now()
    code = d.exam_code.strip().upper()[:40]
    days = rules.recognition_days(centre.kind, centre.recognition_days)
    earlier = queries.prior_recognised(resident, code, now, days)
    if earlier is not None and not d.still_needed_reason.strip():
        audit.record(
            actor,
            audit.Action.READ,
            "study",
            str(earlier.pk),
            resident_id=resident.pk,
            detail={"purpose": "recognition"},
        )
        return RequestResult(warning=RecognitionWarning(earlier, days))
    try:
        with transaction.atomic():
            s = Study.objects.create(
                centre=centre,
                kind=centre.kind,
                resident=resident,
                requesting_facility_id=actor.facility_id,
                requested_by_id=actor.user_id,
                requesting_doctor=_name(actor, d.requesting_doctor.strip()),
                exam_code=code,
                exam_name=d.exam_name.strip()[:120],
                body_part=d.body_part.strip()[:60],
                urgency=d.urgency,
                clinical_info=d.clinical_info.strip(),
                requested_at=now,
                prior_study=earlier,
                still_needed_reason=d.still_needed_reason.strip()[:200] if earlier else "",
                client_key=d.client_key[:64],
            )
            audit.record(
                actor,
                audit.Action.CREATE,
                "study",
                str(s.pk),
                resident_id=resident.pk,
                detail={"centre": centre.pk, "exam": code, "recognised_prior": earlier.pk}
                if earlier
                else {"centre": centre.pk, "exam": code},
            )
            records.add_entry(
                resident,
                kind=EntryKind.REPORT,
                occurred_at=now,
                object_type="study",
                object_id=s.pk,
                title=f"申请{centre.get_kind_display()}诊断：{s.exam_name}",
                summary=(s.clinical_info or s.body_part)[:500],
                facility_id=actor.facility_id,
            )
    except IntegrityError as exc:  # the same client_key at the same moment
        prior = Study.objects.filter(requested_by_id=actor.user_id, client_key=d.client_key).first()
        if prior is not None:
            return RequestResult(study=prior)
        raise Conflict.single(
            "client_key", "重复提交", "Duplicate submission", "duplicate"
        ) from exc
    return RequestResult(study=s)


def do_cancel_study(actor: Actor, pk: int, reason: str) -> Study:
    s = _load(actor, pk, CONSULT)
    if not reason.strip():
        raise DomainError.single("reason", "请填写撤销原因", "Reason is required", "required")
    with transaction.atomic():
        s = _step(
            actor,
            s,
            StudyState.CANCELLED,
            reason,
            cancelled_at=timezone.now(),
            cancel_reason=reason.strip()[:200],
        )
        records.set_entry_status("study", s.pk, "entered_in_error")
    return s


# ---------------------------------------------------------------------------------------------
# the reader


def do_claim_study(actor: Actor, pk: int) -> Study:
    """A reader of the centre takes a study from the queue; of two readers claiming at once
    exactly one wins, the other gets a 409."""
    s = _load(actor, pk, READ)
    with transaction.atomic():
        return _step(
            actor, s, StudyState.CLAIMED, claimed_by_id=actor.user_id, claimed_at=timezone.now()
        )


def do_release_study(actor: Actor, pk: int) -> Study:
    """The reader who claimed gives the study back to the queue."""
    s = _load(actor, pk, READ)
    with transaction.atomic():
        return _step(actor, s, StudyState.REQUESTED, "退回队列", claimed_by_id=None)


@dataclass
class ReportInput:
    findings: str = ""
    impression: str = ""
    critical: bool = False
    critical_text: str = ""
    template_id: int | None = None
    reader_name: str = ""
    amend_reason: str = ""


def _clean_report(s: Study, d: ReportInput, amend: bool) -> ReportTemplate | None:
    errors: list[FieldError] = []
    if not d.findings.strip():
        errors.append(FieldError("findings", "请填写检查所见", "Findings required", "required"))
    if not d.impression.strip():
        errors.append(FieldError("impression", "请填写诊断意见", "Impression required", "required"))
    if d.critical and not d.critical_text.strip():
        errors.append(
            FieldError(
                "critical_text", "危急值须写明项目及数值", "Name the critical item", "required"
            )
        )
    if amend and not d.amend_reason.strip():
        errors.append(
            FieldError("amend_reason", "请填写更正原因", "Reason for amendment", "required")
        )
    template = None
    if d.template_id:
        template = ReportTemplate.objects.filter(pk=d.template_id, centre_id=s.centre_id).first()
        if template is None:
            errors.append(
                FieldError("template_id", "模板不属于该诊断中心", "Not this centre's", "unknown")
            )
    if errors:
        raise DomainError(errors)
    return template


def _to_record(actor: Actor, s: Study, r: Report) -> int:
    """The report goes into the resident's health record as a DiagnosticReport through the
    public records action (which also puts it on the timeline); an amendment re-sends the same
    source identity, so records keeps the earlier version as amended. The reader writes as
    themselves when the resident is in their record scope, else as the platform on behalf of
    the centre's facility (the centre reads for members outside its own catchment)."""
    writer = (
        actor
        if not actor.is_system and actor.can("record_clinical") and in_scope(actor, s.resident)
        else Actor.system(RECORD_SYSTEM)
    )
    text = r.findings if not r.critical else f"{r.findings}\n危急值：{r.critical_text}"
    report, _ = records.upsert_report(
        writer,
        s.resident,
        records.ReportInput(
            category=ReportCategory(s.kind).value,
            name=s.exam_name,
            code=s.exam_code,
            issued_at=r.signed_at,
            conclusion=f"{r.impression}\n{text}".strip()[:4000],
            critical=r.critical,
            facility_id=s.centre.facility_id,
            provenance=records.Provenance(
                source="manual", source_system=RECORD_SYSTEM, source_id=f"study-{s.pk}"
            ),
        ),
    )
    return report.pk


def _flag_critical(s: Study, r: Report, now: datetime) -> CriticalValue:
    return CriticalValue.objects.create(
        study=s,
        resident_id=s.resident_id,
        requesting_facility_id=s.requesting_facility_id,
        item=r.critical_text.strip()[:200],
        flagged_at=now,
        flagged_by_name=r.reader_name,
        ack_due_at=rules.ack_due(now, s.centre.ack_minutes),
    )


def do_report_study(actor: Actor, pk: int, d: ReportInput) -> Report:
    """The reader who claimed writes and signs the report. A critical value opens the closed
    loop (acknowledge by the requesting side within the centre's limit)."""
    s = _load(actor, pk, READ)
    template = _clean_report(s, d, amend=False)
    now = timezone.now()
    with transaction.atomic():
        s = _step(actor, s, StudyState.REPORTED, reported_at=now)
        r = Report.objects.create(
            study=s,
            version=1,
            findings=d.findings.strip(),
            impression=d.impression.strip(),
            critical=d.critical,
            critical_text=d.critical_text.strip()[:200] if d.critical else "",
            template=template,
            reader_id=actor.user_id,
            reader_name=_name(actor, d.reader_name.strip()),
            signed_at=now,
        )
        if r.critical:
            cv = _flag_critical(s, r, now)
            audit.record(
                actor,
                audit.Action.CREATE,
                "critical_value",
                str(cv.pk),
                resident_id=s.resident_id,
                detail={"item": cv.item},
            )
        r.record_report_id = _to_record(actor, s, r)
        r.save(update_fields=["record_report_id"])
        audit.record(
            actor, audit.Action.CREATE, "study_report", str(r.pk), resident_id=s.resident_id
        )
    return r


def do_amend_report(actor: Actor, pk: int, d: ReportInput) -> Report:
    """A reader of the centre corrects a signed report: a new version, the old one kept. A
    newly flagged critical value opens the loop; one already open stays as it is."""
    s = _load(actor, pk, READ)
    if rules.REVIEWER not in queries.sides_of(actor, s):
        raise Forbidden("只有诊断中心的医生可以更正报告", "Only the centre's readers amend")
    if s.state not in (StudyState.REPORTED, StudyState.REVIEWED):
        raise _refused(s, StudyState.REPORTED)
    template = _clean_report(s, d, amend=True)
    now = timezone.now()
    with transaction.atomic():
        old = Report.objects.select_for_update().filter(study=s, is_current=True).first()
        if old is None:
            raise _refused(s, StudyState.REPORTED)
        Report.objects.filter(pk=old.pk).update(is_current=False)
        r = Report.objects.create(
            study=s,
            version=old.version + 1,
            findings=d.findings.strip(),
            impression=d.impression.strip(),
            critical=d.critical,
            critical_text=d.critical_text.strip()[:200] if d.critical else "",
            template=template,
            reader_id=actor.user_id,
            reader_name=_name(actor, d.reader_name.strip()),
            signed_at=now,
            amend_reason=d.amend_reason.strip()[:200],
        )
        if r.critical and not CriticalValue.objects.filter(study=s).exists():
            cv = _flag_critical(s, r, now)
            audit.record(
                actor,
                audit.Action.CREATE,
                "critical_value",
                str(cv.pk),
                resident_id=s.resident_id,
                detail={"item": cv.item},
            )
        r.record_report_id = _to_record(actor, s, r)
        r.save(update_fields=["record_report_id"])
        audit.record(
            actor,
            audit.Action.AMEND,
            "study_report",
            str(r.pk),
            resident_id=s.resident_id,
            detail={"version": r.version, "reason": r.amend_reason},
        )
    return r


# ---------------------------------------------------------------------------------------------
# critical values (危急值闭环)


def _load_cv(actor: Actor, pk: int) -> CriticalValue:
    _need(actor, CONSULT)
    cv = (
        CriticalValue.objects.select_related("study", "resident")
        .filter(pk=pk)
        .filter(study__in=queries.studies_visible_to(actor).values("pk"))
        .first()
    )
    if cv is None:
        audit.record(
            actor, audit.Action.DENIED, "critical_value", str(pk), detail={"purpose": "update"}
        )
        raise NotFound("危急值")
    may = actor.is_system or actor.facility_id == cv.requesting_facility_id
    if not may and actor.facility_id is None and actor.group_id is not None:
        may = cv.escalation_level >= rules.MAX_LEVEL  # the group administrator, once escalated
    if not may:
        raise Forbidden("危急值由申请机构确认和处置", "The requesting facility acknowledges")
    return cv


def do_acknowledge_critical(actor: Actor, pk: int, name: str = "") -> CriticalValue:
    """The requesting doctor acknowledges receipt. Idempotent: a second acknowledgement (or two
    at once) keeps the first time and person."""
    cv = _load_cv(actor, pk)
    now = timezone.now()
    with transaction.atomic():
        n = CriticalValue.objects.filter(pk=cv.pk, acknowledged_at__isnull=True).update(
            acknowledged_at=now,
            acknowledged_by_id=actor.user_id,
            acknowledged_by_name=_name(actor, name),
        )
        if n:
            audit.record(
                actor,
                audit.Action.UPDATE,
                "critical_value",
                str(cv.pk),
                resident_id=cv.resident_id,
                detail={"step": "acknowledged", "late": now > cv.ack_due_at},
            )
    cv.refresh_from_db()
    return cv


def do_resolve_critical(actor: Actor, pk: int, action_taken: str, name: str = "") -> CriticalValue:
    """The requesting side records what was done (closes the loop). Acknowledges first if
    nobody did. A second resolution is a 409."""
    cv = _load_cv(actor, pk)
    if not action_taken.strip():
        raise DomainError.single(
            "action_taken", "请填写处置措施", "Action taken is required", "required"
        )
    now = timezone.now()
    with transaction.atomic():
        CriticalValue.objects.filter(pk=cv.pk, acknowledged_at__isnull=True).update(
            acknowledged_at=now,
            acknowledged_by_id=actor.user_id,
            acknowledged_by_name=_name(actor, name),
        )
        n = CriticalValue.objects.filter(pk=cv.pk, resolved_at__isnull=True).update(
            resolved_at=now,
            resolved_by_id=actor.user_id,
            resolved_by_name=_name(actor, name),
            action_taken=action_taken.strip(),
        )
        if not n:
            raise Conflict.single(
                "resolved_at", "该危急值已处置", "Already resolved", "already_resolved"
            )
        cv.refresh_from_db()
        audit.record(
            actor,
            audit.Action.RESOLVE,
            "critical_value",
            str(cv.pk),
            resident_id=cv.resident_id,
            detail={"action": cv.action_taken[:200]},
        )
        records.add_entry(
            cv.resident,
            kind=EntryKind.REPORT,
            occurred_at=now,
            object_type="critical_value",
            object_id=cv.pk,
            title=f"危急值已处置：{cv.item}",
            summary=cv.action_taken,
            facility_id=cv.requesting_facility_id,
        )
    return cv


def escalate_critical_values(now: datetime | None = None) -> int:
    """Raise the escalation level of every unacknowledged critical value past its centre's
    limits (level 1: the requesting facility's head; level 2: the group administrator's
    worklist). Run by `manage.py escalate_critical_values` every few minutes and idempotent:
    a conditional UPDATE per row, so two runs at once escalate each step once."""
    now = now or timezone.now()
    system = Actor.system("critical-escalation")
    n = 0
    rows = (
        CriticalValue.objects.filter(
            acknowledged_at__isnull=True,
            ack_due_at__lt=now,
            escalation_level__lt=rules.MAX_LEVEL,
        )
        .select_related("study__centre")
        .order_by("ack_due_at", "pk")
    )
    for cv in rows.iterator(chunk_size=500):
        # the acknowledgement limit is the one stated when the value was flagged
        ack_minutes = int((cv.ack_due_at - cv.flagged_at).total_seconds() // 60)
        level = rules.escalation_level(
            cv.flagged_at, now, ack_minutes, cv.study.centre.escalate_minutes
        )
        if level <= cv.escalation_level:
            continue
        with transaction.atomic():
            done = CriticalValue.objects.filter(
                pk=cv.pk, escalation_level=cv.escalation_level, acknowledged_at__isnull=True
            ).update(escalation_level=level, escalated_at=now)
            if done:
                n += 1
                audit.record(
                    system,
                    audit.Action.UPDATE,
                    "critical_value",
                    str(cv.pk),
                    resident_id=cv.resident_id,
                    detail={"step": "escalated", "level": level},
                )
    return n


# ---------------------------------------------------------------------------------------------
# quality review


def do_review_study(
    actor: Actor,
    pk: int,
    *,
    consistent: bool,
    film_grade: str = "",
    note: str = "",
    reviewer_name: str = "",
) -> QualityReview:
    """A reviewer of the centre (not the reporting reader) records whether the report holds on
    review and, for imaging, the film grade. One review per study."""
    s = _load(actor, pk, READ)
    errors: list[FieldError] = []
    if s.kind == CentreKind.IMAGING and film_grade not in FilmGrade.values:
        errors.append(
            FieldError("film_grade", "影像质控请评定甲/乙/丙级片", "Grade A, B or C", "required")
        )
    if s.kind != CentreKind.IMAGING and film_grade:
        errors.append(
            FieldError("film_grade", "仅影像检查评定胶片等级", "Only imaging is graded", "invalid")
        )
    current = queries.current_report(s)
    if current is not None and current.reader_id is not None and current.reader_id == actor.user_id:
        errors.append(
            FieldError(
                "reviewer", "质控须由报告医生以外的医生进行", "Reviewer must differ", "same_reader"
            )
        )
    if errors:
        raise DomainError(errors)
    now = timezone.now()
    with transaction.atomic():
        s = _step(actor, s, StudyState.REVIEWED, reviewed_at=now)
        q = QualityReview.objects.create(
            study=s,
            centre_id=s.centre_id,
            requesting_facility_id=s.requesting_facility_id,
            reviewer_id=actor.user_id,
            reviewer_name=_name(actor, reviewer_name.strip()),
            reviewed_at=now,
            consistent=consistent,
            film_grade=film_grade,
            note=note.strip()[:200],
        )
        audit.record(
            actor,
            audit.Action.CREATE,
            "study_review",
            str(q.pk),
            resident_id=s.resident_id,
            detail={"consistent": consistent, "grade": film_grade},
        )
    return q


__all__ = [
    "CentreInput",
    "RecognitionWarning",
    "ReportInput",
    "RequestResult",
    "StudyInput",
    "do_acknowledge_critical",
    "do_amend_report",
    "do_cancel_study",
    "do_claim_study",
    "do_create_centre",
    "do_release_study",
    "do_report_study",
    "do_request_study",
    "do_resolve_critical",
    "do_review_study",
    "do_save_template",
    "escalate_critical_values",
]
