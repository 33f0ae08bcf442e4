"""Every write of referrals. Each step: a conditional UPDATE of the state (`WHERE state =
<expected>`, so two clicks cannot both win), a Transition row, an audit entry and an item on
the resident's timeline, in one transaction. A refused step is a 409 naming the state."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from yigongti.core import audit
from yigongti.core.actor import Actor
from yigongti.core.errors import Conflict, DomainError, FieldError, Forbidden, NotFound
from yigongti.network.models import Department, Facility, FacilityKind, Staff
from yigongti.records.models import DiagnosticReport, Encounter, EntryKind, ICD10Code, Observation
from yigongti.records.workflow import log_step, refused
from yigongti.residents.models import Resident
from yigongti.residents.queries import identity_ids, in_scope
from yigongti.scheduling import actions as scheduling
from yigongti.scheduling.models import Slot, Ward

from . import queries, rules
from .models import Direction, Referral, State, Transition, Urgency

REFER = "refer"
ATTACHMENT_MODELS: dict[str, Any] = {
    "encounter": Encounter,
    "observation": Observation,
    "report": DiagnosticReport,
}
SENDING_KINDS = (FacilityKind.VILLAGE_CLINIC, FacilityKind.TOWNSHIP_CENTRE, FacilityKind.BRANCH)
RECEIVING_KINDS = (FacilityKind.COUNTY_HOSPITAL, FacilityKind.BRANCH)


def _need(actor: Actor) -> None:
    if not (actor.is_system or actor.can(REFER)):
        raise Forbidden()


def _title(r: Referral, state: str) -> str:
    label = State(state).label
    if r.direction == Direction.DOWN:
        return f"回转至{r.to_facility.name if r.to_facility else ''}：{label}"
    return f"上转至{r.destination}：{label}"


def _log(
    actor: Actor, r: Referral, old: str, new: str, note: str = "", now: datetime | None = None
) -> None:
    """The transition row, the audit entry and the timeline item of one step."""
    log_step(actor, Transition, "referral", r, entry_kind=EntryKind.REFERRAL,
             title=_title(r, new), old=old, new=new, note=note,
             now=now or timezone.now())  # fmt: skip


def _refused(r: Referral, target: str) -> Conflict:
    return refused("转诊单", r.state, State(r.state).label, target, State(target).label)


def _step(actor: Actor, r: Referral, target: str, note: str = "", **fields: Any) -> Referral:
    """Move `r` to `target` if the machine and the actor's side allow it. Call inside atomic."""
    if not rules.allowed(r.direction, r.state, target):
        raise _refused(r, target)
    sides = queries.sides_of(actor, r)
    if not any(rules.may(r.direction, r.state, target, s) for s in sides):
        raise Forbidden("本机构不能执行此转诊操作", "Not your side of the referral")
    old = r.state
    try:
        with transaction.atomic():
            n = Referral.objects.filter(pk=r.pk, state=old).update(state=target, **fields)
    except IntegrityError as exc:  # a second open referral of the person to the same place
        raise Conflict(
            FieldError(
                "resident",
                "该居民已有转往该院的在办转诊单",
                "An open referral to this hospital exists",
                "duplicate",
            )
        ) from exc
    if not n:  # someone else moved it first
        r.refresh_from_db()
        raise _refused(r, target)
    for k, v in fields.items():
        setattr(r, k, v)
    r.state = target
    _log(actor, r, old, target, note)
    return r


def _load(actor: Actor, pk: int) -> Referral:
    _need(actor)
    r = queries.referrals_visible_to(actor).filter(pk=pk).first()
    if r is None:
        audit.record(actor, audit.Action.DENIED, "referral", str(pk), detail={"purpose": "update"})
        raise NotFound("转诊单")
    return r


# ---------------------------------------------------------------------------------------------
# upward


@dataclass
class ReferralInput:
    urgency: str = Urgency.ROUTINE
    reason: str = ""
    to_facility_id: int | None = None
    to_department_id: int | None = None
    to_doctor_id: int | None = None
    out_of_county: bool = False
    destination_name: str = ""
    family_doctor: bool = False
    initial_impression: str = ""
    diagnosis_code: str = ""
    past_history: str = ""
    treatment_so_far: str = ""
    attachments: list[str] = field(default_factory=list)  # "encounter:12", "report:3", ...
    referring_doctor: str = ""
    referring_phone: str = ""
    client_key: str = ""
    submit: bool = True


def _clean(actor: Actor, resident: Resident, d: ReferralInput) -> dict[str, Any]:
    errors: list[FieldError] = []
    out: dict[str, Any] = {}
    if d.urgency not in Urgency.values:
        errors.append(
            FieldError("urgency", "紧急程度应为急诊或普通", "emergency or routine", "choice")
        )
    if not d.reason.strip():
        errors.append(FieldError("reason", "请填写转诊原因", "Reason is required", "required"))
    if not (d.referring_doctor or actor.username).strip():
        errors.append(
            FieldError("referring_doctor", "请填写转诊医生", "Doctor required", "required")
        )
    if d.out_of_county:
        if not d.destination_name.strip():
            errors.append(
                FieldError(
                    "destination_name", "县外转诊请填写接收医院", "Destination required", "required"
                )
            )
        if not d.diagnosis_code.strip():
            errors.append(
                FieldError("diagnosis_code", "县外转诊请填写诊断", "Diagnosis required", "required")
            )
        out["to_facility"] = None
    else:
        fac = Facility.objects.filter(pk=d.to_facility_id).first() if d.to_facility_id else None
        if fac is None or fac.kind not in RECEIVING_KINDS:
            errors.append(
                FieldError(
                    "to_facility_id",
                    "请选择县级医院作为接收机构",
                    "Pick a county hospital",
                    "required",
                )
            )
        elif fac.pk == actor.facility_id:
            errors.append(
                FieldError("to_facility_id", "不能转诊到本机构", "Same facility", "invalid")
            )
        out["to_facility"] = fac
        if d.to_department_id:
            dept = Department.objects.filter(pk=d.to_department_id).first()
            if dept is None or (fac is not None and dept.facility_id != fac.pk):
                errors.append(
                    FieldError("to_department_id", "科室不属于接收机构", "Department not there")
                )
            out["to_department"] = dept
        if d.to_doctor_id:
            doc = Staff.objects.filter(pk=d.to_doctor_id, active=True).first()
            if doc is None or (fac is not None and doc.facility_id != fac.pk):
                errors.append(FieldError("to_doctor_id", "医生不属于接收机构", "Doctor not there"))
            out["to_doctor"] = doc
    if d.diagnosis_code.strip():
        code = ICD10Code.objects.filter(code=d.diagnosis_code.strip().upper()).first()
        if code is None:
            errors.append(
                FieldError("diagnosis_code", "诊断编码不存在", "Unknown ICD-10 code", "unknown")
            )
        out["diagnosis"] = code
    ids = identity_ids(resident)
    attachments = []
    for i, a in enumerate(d.attachments):
        kind, _, raw = a.partition(":")
        model = ATTACHMENT_MODELS.get(kind)
        if (
            model is None
            or not raw.isdigit()
            or not model.objects.filter(pk=int(raw), resident_id__in=ids).exists()
        ):
            errors.append(
                FieldError(
                    f"attachments.{i}",
                    "附件不是该居民健康档案中的记录",
                    "Not in this record",
                    "unknown",
                )
            )
            continue
        attachments.append({"type": kind, "id": int(raw)})
    out["attachments"] = attachments
    if errors:
        raise DomainError(errors)
    return out


def do_create_referral(actor: Actor, resident: Resident, d: ReferralInput) -> Referral:
    """An upward referral by a village/township doctor for a resident in their scope (or out of
    county). `submit=False` keeps a draft. Submitting the same `client_key` again returns the
    first referral; a second open referral of the person to the same hospital is refused."""
    _need(actor)
    if not in_scope(actor, resident):
        raise NotFound("居民档案")
    fac = Facility.objects.filter(pk=actor.facility_id).first() if actor.facility_id else None
    if fac is None or (fac.kind not in SENDING_KINDS and not d.out_of_county):
        raise Forbidden("上转由乡镇卫生院、村卫生室发起", "Primary-care facilities refer upward")
    if d.client_key:
        prior = Referral.objects.filter(
            created_by_id=actor.user_id, client_key=d.client_key
        ).first()
        if prior is not None:
            return prior
    clean = _clean(actor, resident, d)
    if not d.out_of_county:
        dup = Referral.objects.filter(
            resident_id__in=identity_ids(resident),
            direction=Direction.UP,
            to_facility=clean["to_facility"],
            state__in=queries.OPEN_UP,
        ).first()
        if dup is not None:
            raise Conflict(
                FieldError(
                    "resident",
                    f"该居民已有转往该院的在办转诊单（{dup.pk}号）",
                    "An open referral exists",
                    "duplicate",
                ),
                extra={"existing": dup.pk},
            )
    try:
        with transaction.atomic():
            r = Referral.objects.create(
                direction=Direction.UP,
                state=State.DRAFT,
                resident=resident,
                from_facility=fac,
                referring_doctor=(d.referring_doctor or actor.username)[:30],
                referring_phone=d.referring_phone[:20],
                created_by_id=actor.user_id,
                out_of_county=d.out_of_county,
                destination_name=d.destination_name.strip()[:128] if d.out_of_county else "",
                urgency=d.urgency,
                family_doctor=d.family_doctor,
                initial_impression=d.initial_impression[:200],
                reason=d.reason.strip(),
                past_history=d.past_history,
                treatment_so_far=d.treatment_so_far,
                client_key=d.client_key[:64],
                **clean,
            )
            _log(actor, r, "", State.DRAFT)
            if d.submit:
                _submit(actor, r)
    except IntegrityError as exc:  # the same client_key at the same moment
        prior = Referral.objects.filter(
            created_by_id=actor.user_id, client_key=d.client_key
        ).first()
        if prior is not None:
            return prior
        raise Conflict.single("resident", "重复提交", "Duplicate submission", "duplicate") from exc
    return r


def _submit(actor: Actor, r: Referral) -> Referral:
    now = timezone.now()
    due = None
    if not r.out_of_county:
        p = queries.policy_for(r.to_facility_id)
        due = rules.respond_by(
            now, r.urgency == Urgency.EMERGENCY, p.routine_hours, p.emergency_hours
        )
    note = "家庭医生转诊（优先）" if r.family_doctor else ""
    return _step(actor, r, State.SUBMITTED, note, submitted_at=now, respond_by=due)


def do_submit(actor: Actor, pk: int) -> Referral:
    r = _load(actor, pk)
    with transaction.atomic():
        return _submit(actor, r)


def do_accept(
    actor: Actor, pk: int, *, slot_id: int | None = None, ward_id: int | None = None, note: str = ""
) -> Referral:
    """The receiving department accepts with an appointment (a slot of its facility) or a bed.
    A family-doctor referral takes a reserved seat/bed first. A full slot or ward refuses the
    acceptance cleanly and leaves the referral submitted."""
    r = _load(actor, pk)
    if not r.out_of_county and not (slot_id or ward_id):
        raise DomainError.single(
            "slot_id", "接收时请安排号源或床位", "Give a slot or a ward", "required"
        )
    fac_id = r.to_facility_id or 0
    if (
        slot_id
        and not Slot.objects.filter(pk=slot_id, session__department__facility_id=fac_id).exists()
    ):
        raise DomainError.single(
            "slot_id", "号源不属于接收机构", "Slot not at this hospital", "unknown"
        )
    if ward_id and not Ward.objects.filter(pk=ward_id, department__facility_id=fac_id).exists():
        raise DomainError.single(
            "ward_id", "病区不属于接收机构", "Ward not at this hospital", "unknown"
        )
    with transaction.atomic():
        fields: dict[str, Any] = {"responded_at": timezone.now()}
        r = _step(actor, r, State.ACCEPTED, note, **fields)
        if slot_id:
            b = scheduling.book_for_referral(
                actor, slot_id, r.resident, family_doctor=r.family_doctor
            )
            Referral.objects.filter(pk=r.pk).update(booking=b)
            r.booking = b
        if ward_id:
            bed = scheduling.bed_for_referral(actor, ward_id, r.resident, referred=True)
            Referral.objects.filter(pk=r.pk).update(bed=bed)
            r.bed = bed
    return r


def do_decline(actor: Actor, pk: int, reason: str) -> Referral:
    r = _load(actor, pk)
    if not reason.strip():
        raise DomainError.single("reason", "请填写拒绝原因", "Reason is required", "required")
    with transaction.atomic():
        return _step(
            actor,
            r,
            State.DECLINED,
            reason,
            decline_reason=reason.strip()[:200],
            responded_at=timezone.now(),
        )


def do_cancel(actor: Actor, pk: int, reason: str) -> Referral:
    r = _load(actor, pk)
    if not reason.strip():
        raise DomainError.single("reason", "请填写撤销原因", "Reason is required", "required")
    with transaction.atomic():
        r = _step(actor, r, State.CANCELLED, reason, cancel_reason=reason.strip()[:200])
        if r.booking_id:
            with suppress(Conflict):  # already cancelled or attended
                scheduling.cancel_for_referral(actor, r.booking_id, "转诊撤销")
        if r.bed_id:
            with suppress(Conflict):
                scheduling.release_bed_for_referral(actor, r.bed_id)
    return r


def do_mark_arrived(actor: Actor, pk: int) -> Referral:
    r = _load(actor, pk)
    with transaction.atomic():
        return _step(actor, r, State.ARRIVED, "", arrived_at=timezone.now())


def do_complete(actor: Actor, pk: int, note: str = "") -> Referral:
    r = _load(actor, pk)
    if r.direction == Direction.DOWN:
        return do_record_followup(actor, pk, note)
    with transaction.atomic():
        return _step(actor, r, State.COMPLETED, note, completed_at=timezone.now())


def expire_overdue(now: datetime | None = None) -> int:
    """Submitted referrals past their response time become expired (run by the
    `expire_referrals` command and before the worklists are shown)."""
    now = now or timezone.now()
    system = Actor.system("referral-expiry")
    n = 0
    for r in Referral.objects.select_related("resident", "to_facility", "to_department").filter(
        state=State.SUBMITTED, respond_by__lt=now
    ):
        with transaction.atomic():
            try:
                _step(system, r, State.EXPIRED, "超时未响应", responded_at=now)
                n += 1
            except Conflict:
                continue
    return n


# ---------------------------------------------------------------------------------------------
# downward (回转)


@dataclass
class ReturnInput:
    return_diagnosis: str = ""
    next_steps: str = ""
    findings: str = ""
    treatment: str = ""
    rehab_advice: str = ""
    inpatient_no: str = ""
    parent_id: int | None = None
    to_facility_id: int | None = None
    diagnosis_code: str = ""
    referring_doctor: str = ""
    referring_phone: str = ""


def do_send_return(actor: Actor, d: ReturnInput, resident: Resident | None = None) -> Referral:
    """The county doctor sends the patient back with the return note. With `parent_id` (the
    upward referral they received) the note goes to its sender; otherwise to `to_facility_id`
    for a resident in the actor's scope. A follow-up is due within the receiving facility's
    limit (default 14 days, DOMAIN.md §6)."""
    _need(actor)
    fac = Facility.objects.filter(pk=actor.facility_id).first() if actor.facility_id else None
    if fac is None or fac.kind not in RECEIVING_KINDS:
        raise Forbidden("回转由县级医院发起", "County hospitals send patients back")
    errors: list[FieldError] = []
    parent = None
    if d.parent_id:
        parent = (
            queries.referrals_visible_to(actor)
            .filter(pk=d.parent_id, direction=Direction.UP)
            .first()
        )
        if parent is None or parent.to_facility_id != fac.pk:
            raise NotFound("转诊单")
        if parent.state not in (State.ARRIVED, State.COMPLETED, State.ACCEPTED):
            errors.append(
                FieldError("parent_id", "患者尚未到达，不能回转", "Patient not arrived", "state")
            )
        resident = parent.resident
        to_id: int | None = d.to_facility_id or parent.from_facility_id
    else:
        if resident is None or not in_scope(actor, resident):
            raise NotFound("居民档案")
        to_id = d.to_facility_id
    to = Facility.objects.filter(pk=to_id).first() if to_id else None
    if to is None or to.kind not in (FacilityKind.TOWNSHIP_CENTRE, FacilityKind.VILLAGE_CLINIC):
        errors.append(
            FieldError(
                "to_facility_id",
                "请选择乡镇卫生院或村卫生室",
                "Pick a primary facility",
                "required",
            )
        )
    if not d.return_diagnosis.strip():
        errors.append(
            FieldError("return_diagnosis", "请填写诊断", "Diagnosis required", "required")
        )
    if not d.next_steps.strip():
        errors.append(
            FieldError("next_steps", "请填写下一步治疗方案", "Next steps required", "required")
        )
    code = None
    if d.diagnosis_code.strip():
        code = ICD10Code.objects.filter(code=d.diagnosis_code.strip().upper()).first()
        if code is None:
            errors.append(
                FieldError("diagnosis_code", "诊断编码不存在", "Unknown ICD-10 code", "unknown")
            )
    if errors:
        raise DomainError(errors)
    assert resident is not None and to is not None
    now = timezone.now()
    days = queries.policy_for(to.pk).followup_days
    with transaction.atomic():
        r = Referral.objects.create(
            direction=Direction.DOWN,
            state=State.DRAFT,
            resident=resident,
            from_facility=fac,
            to_facility=to,
            referring_doctor=(d.referring_doctor or actor.username)[:30],
            referring_phone=d.referring_phone[:20],
            created_by_id=actor.user_id,
            urgency=Urgency.ROUTINE,
            reason=d.next_steps.strip(),
            diagnosis=code,
            parent=parent,
            return_diagnosis=d.return_diagnosis.strip()[:200],
            inpatient_no=d.inpatient_no[:32],
            findings=d.findings,
            treatment=d.treatment,
            next_steps=d.next_steps.strip(),
            rehab_advice=d.rehab_advice,
        )
        _log(actor, r, "", State.DRAFT)
        _step(
            actor,
            r,
            State.SUBMITTED,
            "回转单",
            submitted_at=now,
            followup_due=rules.followup_due(timezone.localdate(), days),
        )
        if parent is not None and parent.state == State.ARRIVED:
            _step(actor, parent, State.COMPLETED, "已回转", completed_at=now)
    return r


def do_receive_return(actor: Actor, pk: int) -> Referral:
    r = _load(actor, pk)
    with transaction.atomic():
        return _step(actor, r, State.ACCEPTED, "已接收回转", responded_at=timezone.now())


def do_record_followup(actor: Actor, pk: int, note: str) -> Referral:
    """The receiving township/village records the follow-up owed after a return note."""
    r = _load(actor, pk)
    if r.direction != Direction.DOWN:
        raise _refused(r, State.COMPLETED)
    if not note.strip():
        raise DomainError.single("note", "请填写随访情况", "Follow-up note required", "required")
    now = timezone.now()
    with transaction.atomic():
        if r.state == State.SUBMITTED:
            r = _step(actor, r, State.ACCEPTED, "已接收回转", responded_at=now)
        return _step(
            actor,
            r,
            State.COMPLETED,
            note,
            followup_done_at=now,
            followup_note=note.strip(),
            completed_at=now,
        )
