"""Every write of remote consultation and expert dispatch.

A consultation step is a conditional UPDATE of the state (`WHERE state = <expected>`): two
experts accepting the same request at once, exactly one wins, the other gets a 409 naming
the state. Each step writes a Step row, an audit entry and an item on the resident's
timeline in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from yigongti.accounts.models import Account
from yigongti.core import audit
from yigongti.core.actor import Actor
from yigongti.core.errors import Conflict, DomainError, FieldError, Forbidden, NotFound
from yigongti.network.models import Department, Facility, Staff
from yigongti.records.models import EntryKind
from yigongti.records.workflow import log_step, refused
from yigongti.residents.models import Resident
from yigongti.residents.queries import in_scope

from . import queries, rules
from .models import (
    PATIENT_KINDS,
    ActivityKind,
    Consultation,
    ConsultPolicy,
    DispatchActivity,
    DispatchKind,
    Secondment,
    State,
    Step,
    TitleLevel,
    Urgency,
)

CONSULT = "consult"
MANAGE_DISPATCH = "manage_dispatch"


def _need(actor: Actor, perm: str = CONSULT) -> None:
    if not (actor.is_system or actor.can(perm)):
        raise Forbidden()


def _title(c: Consultation, state: str) -> str:
    return f"远程会诊·{c.destination}：{State(state).label}"


def _log(actor: Actor, c: Consultation, old: str, new: str, note: str, now: datetime) -> None:
    log_step(actor, Step, "consultation", c, entry_kind=EntryKind.CONSULT,
             title=_title(c, new), old=old, new=new, note=note, now=now)  # fmt: skip


def _refused(c: Consultation, target: str) -> Conflict:
    return refused("会诊申请", c.state, State(c.state).label, target, State(target).label)


def _check(actor: Actor, c: Consultation, target: str) -> None:
    """The machine allows `target` from the current state (else 409) and the actor stands on a
    side that may take the step (else 403). Checked before the input is validated too."""
    if not rules.allowed(c.state, target):
        raise _refused(c, target)
    sides = {rules.REQUESTER, rules.CONSULTANT} if actor.is_system else queries.sides_of(actor, c)
    if not any(rules.may(c.state, target, s) for s in sides):
        raise Forbidden("本机构不能执行此会诊操作", "Not your side of the consultation")


def _step(
    actor: Actor, c: Consultation, target: str, note: str = "", **fields: Any
) -> Consultation:
    """Move `c` to `target` if the machine and the actor's side allow it. Call inside atomic."""
    _check(actor, c, target)
    old = c.state
    n = Consultation.objects.filter(pk=c.pk, state=old).update(state=target, **fields)
    if not n:  # someone else moved it first
        c.refresh_from_db()
        raise _refused(c, target)
    for k, v in fields.items():
        setattr(c, k, v)
    c.state = target
    _log(actor, c, old, target, note, fields.get("responded_at") or timezone.now())
    return c


def _load(actor: Actor, pk: int) -> Consultation:
    _need(actor)
    c = queries.consultations_visible_to(actor).filter(pk=pk).first()
    if c is None:
        audit.record(
            actor, audit.Action.DENIED, "consultation", str(pk), detail={"purpose": "update"}
        )
        raise NotFound("会诊申请")
    return c


# ---------------------------------------------------------------------------------------------
# request


@dataclass
class ConsultInput:
    to_facility_id: int | None = None
    to_department_id: int | None = None
    urgency: str = Urgency.ROUTINE
    consent: bool = False
    consent_signer: str = ""
    reason: str = ""
    purpose: str = ""
    case_summary: str = ""
    wanted_specialty: str = ""
    wanted_title: int = TitleLevel.ANY
    proposed_at: datetime | None = None
    requesting_doctor: str = ""
    requesting_phone: str = ""
    client_key: str = ""


def _clean(actor: Actor, d: ConsultInput, now: datetime) -> dict[str, Any]:
    errors: list[FieldError] = []
    out: dict[str, Any] = {}
    if d.urgency not in Urgency.values:
        errors.append(
            FieldError("urgency", "紧急程度应为急会诊或普通会诊", "emergency or routine", "choice")
        )
    if not d.consent:
        errors.append(
            FieldError(
                "consent",
                "远程会诊须有患者书面知情同意",
                "The patient's written consent is required",
                "required",
            )
        )
    if not d.consent_signer.strip():
        errors.append(
            FieldError("consent_signer", "请填写同意书签署人", "Who signed the consent", "required")
        )
    for name, label in (
        ("reason", "会诊原因"),
        ("purpose", "会诊目的"),
        ("case_summary", "病情摘要"),
    ):
        if not str(getattr(d, name)).strip():
            errors.append(FieldError(name, f"请填写{label}", f"{name} is required", "required"))
    if d.wanted_title not in TitleLevel.values:
        errors.append(FieldError("wanted_title", "拟邀职称无效", "Unknown title level", "choice"))
    if d.proposed_at is not None and d.proposed_at < now - _GRACE:
        errors.append(
            FieldError("proposed_at", "拟会诊时间不能早于现在", "Proposed time is past", "invalid")
        )
    fac = Facility.objects.filter(pk=d.to_facility_id).first() if d.to_facility_id else None
    if fac is None or fac.kind not in queries.CONSULTED_KINDS or not fac.active:
        errors.append(
            FieldError(
                "to_facility_id", "请选择县级医院作为受邀机构", "Pick a county hospital", "required"
            )
        )
    elif fac.pk == actor.facility_id:
        errors.append(
            FieldError("to_facility_id", "不能邀请本机构会诊", "Same facility", "invalid")
        )
    out["to_facility"] = fac
    out["to_department"] = None
    if d.to_department_id:
        dept = Department.objects.filter(pk=d.to_department_id).first()
        if dept is None or (fac is not None and dept.facility_id != fac.pk):
            errors.append(
                FieldError(
                    "to_department_id", "科室不属于受邀机构", "Department not there", "invalid"
                )
            )
        out["to_department"] = dept
    if errors:
        raise DomainError(errors)
    return out


_GRACE = timedelta(minutes=10)


def do_request_consultation(actor: Actor, resident: Resident, d: ConsultInput) -> Consultation:
    """A township/village doctor asks a county department for a remote consultation about a
    resident in their care (DOMAIN.md §7: written consent, reason, purpose, proposed time,
    case summary, specialty and title wanted). The deadlines come from the consulted
    facility's policy. Submitting the same `client_key` again returns the first request."""
    _need(actor)
    if not in_scope(actor, resident):
        raise NotFound("居民档案")
    fac = Facility.objects.filter(pk=actor.facility_id).first() if actor.facility_id else None
    if fac is None or fac.kind not in queries.REQUESTING_KINDS:
        raise Forbidden("远程会诊由乡镇卫生院、村卫生室发起", "Primary-care facilities request")
    if d.client_key:
        prior = Consultation.objects.filter(
            created_by_id=actor.user_id, client_key=d.client_key
        ).first()
        if prior is not None:
            return prior
    now = timezone.now()
    clean = _clean(actor, d, now)
    p = queries.policy_for(clean["to_facility"].pk)
    emergency = d.urgency == Urgency.EMERGENCY
    try:
        with transaction.atomic():
            c = Consultation.objects.create(
                state=State.SUBMITTED,
                urgency=d.urgency,
                resident=resident,
                from_facility=fac,
                requesting_doctor=(d.requesting_doctor or actor.username).strip()[:30],
                requesting_phone=d.requesting_phone.strip()[:20],
                created_by_id=actor.user_id,
                consent=True,
                consent_signer=d.consent_signer.strip()[:30],
                reason=d.reason.strip(),
                purpose=d.purpose.strip(),
                case_summary=d.case_summary.strip(),
                proposed_at=d.proposed_at,
                client_key=d.client_key[:64],
                wanted_specialty=d.wanted_specialty.strip()[:64],
                wanted_title=d.wanted_title,
                arrange_by=rules.arrange_by(now, emergency, p.arrange_hours, p.emergency_hours),
                finish_by=rules.finish_by(now, emergency, p.finish_working_days, p.emergency_hours),
                submitted_at=now,
                **clean,
            )
            _log(actor, c, "", State.SUBMITTED, "急会诊" if emergency else "", now)
    except IntegrityError as exc:  # the same client_key at the same moment
        prior = Consultation.objects.filter(
            created_by_id=actor.user_id, client_key=d.client_key
        ).first()
        if prior is not None:
            return prior
        raise Conflict.single(
            "client_key", "重复提交", "Duplicate submission", "duplicate"
        ) from exc
    return c


def _staff_of(actor: Actor) -> Staff | None:
    if actor.user_id is None:
        return None
    acc = Account.objects.select_related("staff").filter(user_id=actor.user_id).first()
    return acc.staff if acc is not None else None


def do_accept_consultation(
    actor: Actor,
    pk: int,
    *,
    scheduled_at: datetime | None = None,
    expert_id: int | None = None,
    note: str = "",
) -> Consultation:
    """The consulted department arranges the consultation: an expert of the facility (the
    actor by default) whose title meets the level asked for, and a time. Two experts
    accepting at once: one wins, the other gets 409."""
    c = _load(actor, pk)
    _check(actor, c, State.ACCEPTED)
    errors: list[FieldError] = []
    expert = (
        Staff.objects.filter(pk=expert_id, active=True).first() if expert_id else _staff_of(actor)
    )
    if expert is None or expert.facility_id != c.to_facility_id:
        errors.append(
            FieldError(
                "expert_id",
                "会诊专家须为受邀机构在职人员",
                "Expert not at this hospital",
                "invalid",
            )
        )
    elif rules.title_level(expert.title) < c.wanted_title:
        errors.append(
            FieldError(
                "expert_id",
                f"会诊专家职称（{expert.title or '未登记'}）低于申请要求"
                f"（{TitleLevel(c.wanted_title).label}）",
                "Expert title below the level asked for",
                "title",
            )
        )
    when = scheduled_at or c.proposed_at
    if when is not None and when > c.finish_by:
        errors.append(
            FieldError(
                "scheduled_at", "会诊时间晚于完成时限", "Scheduled after the finish limit", "late"
            )
        )
    if errors:
        raise DomainError(errors)
    assert expert is not None
    with transaction.atomic():
        return _step(
            actor,
            c,
            State.ACCEPTED,
            note or f"{expert.name}（{expert.title}）",
            responded_at=timezone.now(),
            expert=expert,
            expert_name=expert.name[:30],
            expert_title=expert.title[:32],
            scheduled_at=when,
        )


def do_decline_consultation(actor: Actor, pk: int, reason: str) -> Consultation:
    c = _load(actor, pk)
    _check(actor, c, State.DECLINED)
    if not reason.strip():
        raise DomainError.single("reason", "请填写拒绝原因", "Reason is required", "required")
    with transaction.atomic():
        return _step(
            actor,
            c,
            State.DECLINED,
            reason.strip(),
            decline_reason=reason.strip()[:200],
            responded_at=timezone.now(),
        )


def do_give_opinion(actor: Actor, pk: int, opinion: str, advice: str = "") -> Consultation:
    """The consulted expert's opinion. It is advice: the requesting doctor decides."""
    c = _load(actor, pk)
    _check(actor, c, State.ANSWERED)
    if not opinion.strip():
        raise DomainError.single("opinion", "请填写会诊意见", "Opinion is required", "required")
    with transaction.atomic():
        return _step(
            actor,
            c,
            State.ANSWERED,
            opinion.strip(),
            opinion=opinion.strip(),
            advice=advice.strip(),
            answered_at=timezone.now(),
        )


def do_close_consultation(
    actor: Actor, pk: int, *, final_decision: str, rating: int | None, rating_note: str = ""
) -> Consultation:
    """The requesting doctor records the final decision of the treating facility and rates
    the consultation (1–5)."""
    c = _load(actor, pk)
    _check(actor, c, State.CLOSED)
    errors: list[FieldError] = []
    if not final_decision.strip():
        errors.append(
            FieldError(
                "final_decision", "请填写最终处理决定", "Final decision is required", "required"
            )
        )
    if rating is None or not 1 <= rating <= 5:
        errors.append(FieldError("rating", "评价应为1至5分", "Rating 1 to 5", "range"))
    if errors:
        raise DomainError(errors)
    with transaction.atomic():
        return _step(
            actor,
            c,
            State.CLOSED,
            final_decision.strip(),
            final_decision=final_decision.strip(),
            rating=rating,
            rating_note=rating_note.strip()[:200],
            closed_at=timezone.now(),
        )


def do_cancel_consultation(actor: Actor, pk: int, reason: str) -> Consultation:
    c = _load(actor, pk)
    _check(actor, c, State.CANCELLED)
    if not reason.strip():
        raise DomainError.single("reason", "请填写撤销原因", "Reason is required", "required")
    with transaction.atomic():
        return _step(actor, c, State.CANCELLED, reason.strip(), cancel_reason=reason.strip()[:200])


# ---------------------------------------------------------------------------------------------
# expert dispatch


def _need_group(actor: Actor, *facility_ids: int) -> None:
    """A group administrator manages the secondments of their own group's facilities."""
    if actor.is_system:
        return
    groups = set(Facility.objects.filter(pk__in=facility_ids).values_list("group_id", flat=True))
    if actor.group_id is None or groups != {actor.group_id}:
        raise Forbidden("只能管理本医共体的专家下沉", "Only your own group's secondments")


@dataclass
class SecondmentInput:
    staff_id: int | None = None
    to_facility_id: int | None = None
    kind: str = DispatchKind.SECONDMENT
    starts_on: date | None = None
    ends_on: date | None = None
    note: str = ""


def do_add_secondment(actor: Actor, d: SecondmentInput) -> Secondment:
    """Put a county doctor on the dispatch roster: where to, what kind (长期派驻, 短期帮扶,
    巡回医疗) and for which period. A doctor cannot be on two overlapping secondments."""
    _need(actor, MANAGE_DISPATCH)
    errors: list[FieldError] = []
    staff = (
        Staff.objects.select_related("facility").filter(pk=d.staff_id, active=True).first()
        if d.staff_id
        else None
    )
    if staff is None or staff.facility.kind not in queries.CONSULTED_KINDS:
        errors.append(
            FieldError(
                "staff_id", "请选择县级医院在职医生", "Pick a county hospital doctor", "required"
            )
        )
    to = (
        Facility.objects.filter(pk=d.to_facility_id, active=True).first()
        if d.to_facility_id
        else None
    )
    if to is None or to.kind not in queries.PRIMARY_KINDS_DEFAULT:
        errors.append(
            FieldError(
                "to_facility_id",
                "请选择乡镇卫生院或村卫生室",
                "Pick a primary facility",
                "required",
            )
        )
    if d.kind not in DispatchKind.values:
        errors.append(
            FieldError("kind", "类型应为长期派驻、短期帮扶或巡回医疗", "Unknown kind", "choice")
        )
    if d.starts_on is None:
        errors.append(FieldError("starts_on", "请填写开始日期", "Start date required", "required"))
    if d.ends_on is None:
        errors.append(FieldError("ends_on", "请填写结束日期", "End date required", "required"))
    elif d.starts_on is not None and d.ends_on < d.starts_on:
        errors.append(
            FieldError("ends_on", "结束日期早于开始日期", "Ends before it starts", "invalid")
        )
    if errors:
        raise DomainError(errors)
    assert staff is not None and to is not None and d.starts_on and d.ends_on
    _need_group(actor, staff.facility_id, to.pk)
    with transaction.atomic():
        Staff.objects.select_for_update().filter(pk=staff.pk).first()  # one roster change at a time
        clash = (
            Secondment.objects.filter(
                staff=staff, starts_on__lte=d.ends_on, ends_on__gte=d.starts_on
            )
            .order_by("starts_on")
            .first()
        )
        if clash is not None:
            raise Conflict.single(
                "starts_on",
                f"该医生在{clash.starts_on:%Y-%m-%d}至{clash.ends_on:%Y-%m-%d}已有下沉安排",
                "Overlaps another secondment of this doctor",
                "overlap",
            )
        s = Secondment.objects.create(
            staff=staff,
            title=staff.title,
            kind=d.kind,
            from_facility_id=staff.facility_id,
            to_facility=to,
            starts_on=d.starts_on,
            ends_on=d.ends_on,
            note=d.note.strip()[:200],
            created_by_id=actor.user_id,
        )
        audit.record(
            actor,
            audit.Action.CREATE,
            "secondment",
            str(s.pk),
            detail={
                "staff": staff.pk,
                "to": to.pk,
                "kind": d.kind,
                "from": str(d.starts_on),
                "until": str(d.ends_on),
            },
        )
    return s


def do_end_secondment(actor: Actor, pk: int, ends_on: date) -> Secondment:
    """End a secondment early (recall). Activities after the new end are refused."""
    _need(actor, MANAGE_DISPATCH)
    s = queries.secondments_visible_to(actor).filter(pk=pk).first()
    if s is None:
        raise NotFound("下沉登记")
    _need_group(actor, s.from_facility_id, s.to_facility_id)
    if ends_on < s.starts_on or ends_on > s.ends_on:
        raise DomainError.single(
            "ends_on", "新的结束日期须在原下沉期间内", "New end must lie in the period", "invalid"
        )
    if s.activities.filter(day__gt=ends_on).exists():
        raise DomainError.single(
            "ends_on", "结束日期之后已有工作记录", "Activities after the new end", "invalid"
        )
    with transaction.atomic():
        old = s.ends_on
        Secondment.objects.filter(pk=s.pk).update(ends_on=ends_on, updated_at=timezone.now())
        s.ends_on = ends_on
        audit.record(
            actor,
            audit.Action.UPDATE,
            "secondment",
            str(s.pk),
            detail={"ends_on": [str(old), str(ends_on)]},
        )
    return s


@dataclass
class ActivityInput:
    kind: str = ActivityKind.CLINIC
    day: date | None = None
    facility_id: int | None = None  # default: the secondment's facility
    patients_seen: int = 0
    attendees: int = 0
    topic: str = ""


def do_record_activity(actor: Actor, secondment_id: int, d: ActivityInput) -> DispatchActivity:
    """A clinic session (patients seen), mobile clinic, teaching round or training (attendees)
    held by a seconded doctor, on a day inside the secondment, at a primary facility of the
    group."""
    _need(actor, MANAGE_DISPATCH)
    s = queries.secondments_visible_to(actor).filter(pk=secondment_id).first()
    if s is None:
        raise NotFound("下沉登记")
    errors: list[FieldError] = []
    if d.kind not in ActivityKind.values:
        errors.append(
            FieldError(
                "kind", "类型应为坐诊、巡回义诊、教学查房或业务培训", "Unknown kind", "choice"
            )
        )
    if d.day is None:
        errors.append(FieldError("day", "请填写日期", "Day required", "required"))
    elif not s.starts_on <= d.day <= s.ends_on:
        errors.append(
            FieldError("day", "日期不在下沉期间内", "Day outside the secondment", "invalid")
        )
    elif d.day > timezone.localdate():
        errors.append(FieldError("day", "不能登记未来的工作", "Day in the future", "invalid"))
    fac_id = d.facility_id or s.to_facility_id
    fac = Facility.objects.filter(pk=fac_id).first()
    if fac is None or fac.kind not in queries.PRIMARY_KINDS_DEFAULT:
        errors.append(
            FieldError(
                "facility_id", "请选择乡镇卫生院或村卫生室", "Pick a primary facility", "required"
            )
        )
    if d.patients_seen < 0:
        errors.append(FieldError("patients_seen", "接诊人次不能为负数", "Negative count", "range"))
    if d.attendees < 0:
        errors.append(FieldError("attendees", "参加人数不能为负数", "Negative count", "range"))
    if d.kind in PATIENT_KINDS and d.patients_seen == 0:
        errors.append(
            FieldError(
                "patients_seen", "坐诊/义诊请填写接诊人次", "Patients seen required", "required"
            )
        )
    if d.kind not in PATIENT_KINDS and d.kind in ActivityKind.values and d.attendees == 0:
        errors.append(
            FieldError("attendees", "查房/培训请填写参加人数", "Attendees required", "required")
        )
    if errors:
        raise DomainError(errors)
    assert fac is not None and d.day is not None
    _need_group(actor, s.from_facility_id, fac.pk)
    with transaction.atomic():
        a = DispatchActivity.objects.create(
            secondment=s,
            kind=d.kind,
            facility=fac,
            day=d.day,
            patients_seen=d.patients_seen,
            attendees=d.attendees,
            topic=d.topic.strip()[:200],
            created_by_id=actor.user_id,
        )
        audit.record(
            actor,
            audit.Action.CREATE,
            "dispatch_activity",
            str(a.pk),
            detail={"secondment": s.pk, "kind": d.kind, "day": str(d.day)},
        )
    return a


# ---------------------------------------------------------------------------------------------
# time limits (configurable, DOMAIN.md §7)

#: Plausible bounds for a facility's limits (a typo such as 4800 hours is refused).
POLICY_BOUNDS = {
    "arrange_hours": (1, 720),
    "finish_working_days": (1, 30),
    "emergency_hours": (1, 72),
}


def do_set_consult_policy(
    actor: Actor,
    facility_id: int,
    *,
    arrange_hours: int,
    finish_working_days: int,
    emergency_hours: int,
) -> ConsultPolicy:
    """Set a consulted facility's time limits (who manages the network: the group
    administrator for the group's hospitals, the system administrator for all). New requests
    use them; requests already made keep their deadlines."""
    _need(actor, "manage_network")
    from yigongti.network.queries import facilities_manageable_by

    fac = facilities_manageable_by(actor).filter(pk=facility_id).first()
    if fac is None:
        raise NotFound("医疗机构")
    values = {
        "arrange_hours": arrange_hours,
        "finish_working_days": finish_working_days,
        "emergency_hours": emergency_hours,
    }
    errors = [
        FieldError(name, f"取值应在{lo}至{hi}之间", f"Between {lo} and {hi}", "range")
        for name, (lo, hi) in POLICY_BOUNDS.items()
        if not lo <= values[name] <= hi
    ]
    if fac.kind not in queries.CONSULTED_KINDS:
        errors.append(
            FieldError(
                "facility_id", "只能为县级医院设置会诊时限", "County hospitals only", "invalid"
            )
        )
    if errors:
        raise DomainError(errors)
    with transaction.atomic():
        p, _ = ConsultPolicy.objects.update_or_create(facility=fac, defaults=values)
        audit.record(actor, audit.Action.UPDATE, "consult_policy", str(fac.pk), detail=values)
    return p
