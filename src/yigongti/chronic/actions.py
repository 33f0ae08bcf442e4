"""Every write of chronic-disease management: registers, screening, follow-ups, devices.

Each action checks the permission and the resident's scope, validates (collecting
`FieldError`s), runs in one transaction and writes its audit entry inside it. Measurements
taken at a follow-up go to the shared record through `records.actions.upsert_observation`,
so they appear on the timeline and in FHIR; the follow-up itself is put on the timeline
with `records.actions.add_entry`."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, time
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.utils import timezone

from yigongti.accounts.rules import Perm
from yigongti.core import audit
from yigongti.core.actor import Actor
from yigongti.core.errors import Conflict, DomainError, FieldError, Forbidden
from yigongti.records import rules as record_rules
from yigongti.records.actions import ObservationInput, Provenance, add_entry, upsert_observation
from yigongti.records.models import EntryKind, Source
from yigongti.residents.models import Resident
from yigongti.residents.queries import in_scope, survivor_of

from . import rules
from .models import (
    Device,
    DeviceBinding,
    DeviceType,
    DiagnosisSource,
    ExitReason,
    Followup,
    FollowupMethod,
    ManagementLevel,
    QuarantinedReading,
    QuarantineStatus,
    Registration,
    RegistrationStatus,
    Screening,
    ScreeningOutcome,
)
from .queries import recent_uncontrolled_home_readings

SHANGHAI = ZoneInfo("Asia/Shanghai")
REFERRAL_NEW_URL = "/referrals/new/"


# --- helpers -------------------------------------------------------------------------------------


def _require(actor: Actor, perm: str, msg_zh: str) -> None:
    if not (actor.is_system or actor.can(perm)):
        raise Forbidden(msg_zh, f"Not allowed ({perm})")


def _in_scope_or_deny(actor: Actor, resident: Resident, purpose: str) -> None:
    if in_scope(actor, resident):
        return
    audit.record(
        actor,
        audit.Action.DENIED,
        "resident",
        resident.mpi_id,
        resident_id=resident.pk,
        detail={"purpose": purpose},
    )
    raise Forbidden("该居民不在您的服务范围内", "Resident is outside your area")


def _facility_id(actor: Actor, facility_id: int | None = None) -> int:
    wanted = facility_id if actor.is_system else actor.facility_id
    if wanted is None:
        raise DomainError.single("facility", "请指定管理机构", "A facility is required", "required")
    return wanted


def _disease(errors: list[FieldError], code: str) -> rules.DiseaseDef | None:
    d = rules.DISEASES.get(code)
    if d is None:
        errors.append(FieldError("disease", f"未知的病种：{code}", "Unknown disease", "unknown"))
    return d


def _date_not_future(errors: list[FieldError], name: str, value: date | None, label: str) -> None:
    if value is not None and value > timezone.localdate():
        errors.append(
            FieldError(name, f"{label}不能晚于今天", f"{name} is in the future", "future")
        )


def _moment(day: date) -> datetime:
    """When a measurement of a dated form was taken: now for today, else noon Beijing time."""
    if day >= timezone.localdate():
        return timezone.now()
    return datetime.combine(day, time(12, 0), tzinfo=SHANGHAI)


# --- registers -----------------------------------------------------------------------------------


@dataclass
class EnrolInput:
    disease: str
    diagnosed_on: date | None = None
    diagnosis_source: str = DiagnosisSource.SCREENING
    diagnosis_note: str = ""
    enrolled_on: date | None = None
    level: str = ManagementLevel.ONE
    facility_id: int | None = None  # system actors only (the synthetic county, imports)


def do_enrol_resident(actor: Actor, resident: Resident, data: EnrolInput) -> Registration:
    """Put a diagnosed resident on a disease register (纳入慢病管理). One active registration
    per resident and disease: a second one is a Conflict (the database decides under races)."""
    _require(actor, Perm.MANAGE_CHRONIC, "无权管理慢病登记")
    resident = survivor_of(resident)
    _in_scope_or_deny(actor, resident, "chronic_enrol")
    errors: list[FieldError] = []
    today = timezone.localdate()
    _disease(errors, data.disease)
    diagnosed = data.diagnosed_on or today
    enrolled = data.enrolled_on or today
    _date_not_future(errors, "diagnosed_on", diagnosed, "确诊日期")
    _date_not_future(errors, "enrolled_on", enrolled, "纳入管理日期")
    if diagnosed < resident.birth_date:
        errors.append(
            FieldError("diagnosed_on", "确诊日期早于出生日期", "Before birth", "before_birth")
        )
    if enrolled < diagnosed:
        errors.append(
            FieldError("enrolled_on", "纳入管理日期不能早于确诊日期", "Before diagnosis", "order")
        )
    if data.diagnosis_source not in DiagnosisSource.values:
        errors.append(FieldError("diagnosis_source", "确诊方式不正确", "Unknown source"))
    if data.level not in ManagementLevel.values:
        errors.append(FieldError("level", "管理级别不正确", "Unknown level"))
    if errors:
        raise DomainError(errors)
    facility_id = _facility_id(actor, data.facility_id)
    try:
        with transaction.atomic():
            reg = Registration.objects.create(
                resident=resident,
                disease=data.disease,
                diagnosed_on=diagnosed,
                diagnosis_source=data.diagnosis_source,
                diagnosis_note=data.diagnosis_note.strip()[:200],
                enrolled_on=enrolled,
                level=data.level,
                facility_id=facility_id,
                next_due=enrolled + rules.SHORT_INTERVAL,
                created_by_id=actor.user_id,
            )
            audit.record(
                actor,
                audit.Action.CREATE,
                "chronic_registration",
                str(reg.pk),
                resident_id=resident.pk,
                detail={"disease": data.disease},
            )
    except IntegrityError:
        raise Conflict(
            FieldError(
                "disease",
                f"该居民已在{rules.DISEASES[data.disease].name}管理中",
                "Already registered for this disease",
                "duplicate",
            )
        ) from None
    return reg


def do_change_level(actor: Actor, registration: Registration, level: str) -> Registration:
    _require(actor, Perm.MANAGE_CHRONIC, "无权管理慢病登记")
    _in_scope_or_deny(actor, registration.resident, "chronic_level")
    if level not in ManagementLevel.values:
        raise DomainError.single("level", "管理级别不正确", "Unknown level")
    with transaction.atomic():
        old = registration.level
        registration.level = level
        registration.save(update_fields=["level"])
        audit.record(
            actor,
            audit.Action.UPDATE,
            "chronic_registration",
            str(registration.pk),
            resident_id=registration.resident_id,
            detail={"level": [old, level]},
        )
    return registration


def do_exit_registration(
    actor: Actor, registration: Registration, reason: str, *, on: date | None = None, note: str = ""
) -> Registration:
    """结案: death, moved, cured, refused — with a reason; the row stays."""
    _require(actor, Perm.MANAGE_CHRONIC, "无权管理慢病登记")
    _in_scope_or_deny(actor, registration.resident, "chronic_exit")
    errors: list[FieldError] = []
    if reason not in ExitReason.values:
        errors.append(FieldError("reason", "请选择结案原因", "A valid exit reason is required"))
    day = on or timezone.localdate()
    _date_not_future(errors, "exited_on", day, "结案日期")
    if day < registration.enrolled_on:
        errors.append(FieldError("exited_on", "结案日期早于纳入日期", "Before enrolment", "order"))
    if errors:
        raise DomainError(errors)
    with transaction.atomic():
        reg = Registration.objects.select_for_update().get(pk=registration.pk)
        if reg.status != RegistrationStatus.ACTIVE:
            raise Conflict(FieldError("status", "该登记已结案", "Already exited", "exited"))
        reg.status = RegistrationStatus.EXITED
        reg.exit_reason = reason
        reg.exited_on = day
        reg.exit_note = note.strip()[:200]
        reg.save(update_fields=["status", "exit_reason", "exited_on", "exit_note"])
        audit.record(
            actor,
            audit.Action.UPDATE,
            "chronic_registration",
            str(reg.pk),
            resident_id=reg.resident_id,
            detail={"exit": reason},
        )
    return reg


# --- screening -----------------------------------------------------------------------------------


@dataclass
class ScreeningInput:
    disease: str = rules.HYPERTENSION
    screened_on: date | None = None
    sbp: float | None = None
    dbp: float | None = None
    glucose: float | None = None
    bmi: float | None = None
    waist: float | None = None
    facility_id: int | None = None


def do_record_screening(actor: Actor, resident: Resident, data: ScreeningInput) -> Screening:
    """A screening result; the outcome (normal / high-risk / suspected) is computed from the
    norm's thresholds and the measurement goes on the shared record."""
    _require(actor, Perm.MANAGE_CHRONIC, "无权记录筛查")
    resident = survivor_of(resident)
    _in_scope_or_deny(actor, resident, "chronic_screen")
    errors: list[FieldError] = []
    d = _disease(errors, data.disease)
    day = data.screened_on or timezone.localdate()
    _date_not_future(errors, "screened_on", day, "筛查日期")
    _check_measurements(errors, data.sbp, data.dbp, data.glucose, None, None, data.waist)
    if d is not None and d.control_measure == "bp" and (data.sbp is None or data.dbp is None):
        errors.append(FieldError("sbp", "请填写血压", "Blood pressure is required", "required"))
    if d is not None and d.control_measure == "glucose" and data.glucose is None:
        errors.append(FieldError("glucose", "请填写空腹血糖", "Glucose is required", "required"))
    if errors or d is None:
        raise DomainError(errors)
    reasons: list[str] = []
    if d.control_measure == "bp":
        raised = rules.bp_raised(data.sbp, data.dbp)
        reasons = rules.high_risk_hypertension(
            data.sbp, data.dbp, data.bmi, data.waist, resident.sex
        )
    else:
        raised = bool(data.glucose is not None and data.glucose >= rules.GLUCOSE_TARGET)
    outcome = (
        ScreeningOutcome.SUSPECTED
        if raised
        else (ScreeningOutcome.HIGH_RISK if reasons else ScreeningOutcome.NORMAL)
    )
    facility_id = _facility_id(actor, data.facility_id)
    with transaction.atomic():
        s = Screening.objects.create(
            resident=resident,
            disease=d.code,
            screened_on=day,
            outcome=outcome,
            sbp=data.sbp,
            dbp=data.dbp,
            glucose=data.glucose,
            reasons=reasons,
            facility_id=facility_id,
            created_by_id=actor.user_id,
        )
        _record_measurements(
            actor,
            resident,
            f"screening:{s.pk}",
            day,
            facility_id,
            data.sbp,
            data.dbp,
            data.glucose,
            waist=data.waist,
            bmi=data.bmi,
        )
        audit.record(
            actor,
            audit.Action.CREATE,
            "chronic_screening",
            str(s.pk),
            resident_id=resident.pk,
            detail={"disease": d.code, "outcome": outcome},
        )
    return s


# --- follow-ups ----------------------------------------------------------------------------------


@dataclass
class FollowupInput:
    followup_date: date | None = None
    method: str = FollowupMethod.CLINIC
    sbp: float | None = None
    dbp: float | None = None
    glucose: float | None = None
    weight: float | None = None
    height: float | None = None
    waist: float | None = None
    heart_rate: float | None = None
    temperature: float | None = None
    symptoms: list[str] = field(default_factory=list)
    signs: list[str] = field(default_factory=list)  # emergency signs (rules.*_EMERGENCY_SIGNS)
    adherence: str = ""
    adverse_reaction: str = rules.AdverseReaction.NONE
    adverse_note: str = ""
    complication: str = rules.Complication.NONE
    lifestyle: dict[str, object] = field(default_factory=dict)
    dorsalis_pedis: str = ""
    pregnant: bool = False
    notes: str = ""
    facility_id: int | None = None  # system actors only


@dataclass
class EmergencyPrompt:
    """Raised when a follow-up meets DOMAIN.md §5's emergency-referral criteria: the reasons
    and a link that pre-fills a referral (the referral app reads these query parameters)."""

    reasons: list[str]
    url: str


@dataclass
class FollowupOutcome:
    followup: Followup
    result: rules.FollowupResult
    emergency: EmergencyPrompt | None


def emergency_prompt(resident: Resident, reasons: list[str]) -> EmergencyPrompt | None:
    if not reasons:
        return None
    query = urlencode(
        {"resident": resident.mpi_id, "reason": "；".join(reasons), "urgency": "emergency"}
    )
    return EmergencyPrompt(reasons, f"{REFERRAL_NEW_URL}?{query}")


def _vital_error(errors: list[FieldError], name: str, kind: str, value: float | None) -> None:
    if value is None:
        return
    try:
        record_rules.check_vital(kind, value)
    except record_rules.RuleError as exc:
        errors.append(FieldError(name, exc.msg_zh, exc.msg_en, exc.code))


def _check_measurements(
    errors: list[FieldError],
    sbp: float | None,
    dbp: float | None,
    glucose: float | None,
    heart_rate: float | None,
    temperature: float | None,
    waist: float | None,
    weight: float | None = None,
    height: float | None = None,
) -> None:
    if (sbp is None) != (dbp is None):
        errors.append(
            FieldError(
                "dbp" if dbp is None else "sbp",
                "收缩压和舒张压须同时填写",
                "systolic and diastolic go together",
                "required",
            )
        )
    elif sbp is not None:
        try:
            record_rules.check_vital("bp", sbp, dbp)
        except record_rules.RuleError as exc:
            name = "sbp" if exc.field == "systolic" else "dbp"
            errors.append(FieldError(name, exc.msg_zh, exc.msg_en, exc.code))
    _vital_error(errors, "glucose", "glucose_fasting", glucose)
    _vital_error(errors, "heart_rate", "pulse", heart_rate)
    _vital_error(errors, "temperature", "temperature", temperature)
    _vital_error(errors, "waist", "waist", waist)
    _vital_error(errors, "weight", "weight", weight)
    _vital_error(errors, "height", "height", height)


def _record_measurements(
    actor: Actor,
    resident: Resident,
    key: str,
    day: date,
    facility_id: int,
    sbp: float | None,
    dbp: float | None,
    glucose: float | None,
    *,
    heart_rate: float | None = None,
    weight: float | None = None,
    height: float | None = None,
    waist: float | None = None,
    bmi: float | None = None,
) -> None:
    """The measurements on the shared record (timeline, FHIR), keyed so a retry is a no-op."""
    at = _moment(day)
    items: list[tuple[str, float | None, float | None]] = [
        ("bp", sbp, dbp),
        ("glucose_fasting", glucose, None),
        ("pulse", heart_rate, None),
        ("weight", weight, None),
        ("height", height, None),
        ("waist", waist, None),
        ("bmi", bmi, None),
    ]
    for kind, value, value2 in items:
        if value is None:
            continue
        upsert_observation(
            actor,
            resident,
            ObservationInput(
                kind=kind,
                value=value,
                value2=value2,
                effective_at=at,
                facility_id=facility_id,
                provenance=Provenance(
                    source=Source.MANUAL, source_system="chronic", source_id=f"{key}:{kind}"
                ),
            ),
        )


def _validate_followup(
    reg: Registration, resident: Resident, data: FollowupInput
) -> tuple[date, list[FieldError]]:
    errors: list[FieldError] = []
    day = data.followup_date or timezone.localdate()
    _date_not_future(errors, "followup_date", day, "随访日期")
    if day < reg.diagnosed_on:
        errors.append(
            FieldError("followup_date", "随访日期早于确诊日期", "Before diagnosis", "order")
        )
    if data.method not in FollowupMethod.values:
        errors.append(FieldError("method", "随访方式不正确", "Unknown method"))
    _check_measurements(
        errors,
        data.sbp,
        data.dbp,
        data.glucose,
        data.heart_rate,
        data.temperature,
        data.waist,
        data.weight,
        data.height,
    )
    d = rules.DISEASES[reg.disease]
    if d.control_measure == "bp" and data.sbp is None and data.method != FollowupMethod.PHONE:
        errors.append(FieldError("sbp", "面对面随访须测量血压", "BP is required", "required"))
    if (
        d.control_measure == "glucose"
        and data.glucose is None
        and data.method != FollowupMethod.PHONE
    ):
        errors.append(
            FieldError("glucose", "请填写空腹血糖", "Fasting glucose is required", "required")
        )
    if data.adverse_reaction not in rules.AdverseReaction.__members__.values():
        errors.append(FieldError("adverse_reaction", "不良反应选项不正确", "Unknown value"))
    if data.complication not in rules.Complication.__members__.values():
        errors.append(FieldError("complication", "并发症选项不正确", "Unknown value"))
    if data.adherence and data.adherence not in rules.ADHERENCE_LABELS:
        errors.append(FieldError("adherence", "服药依从性选项不正确", "Unknown value"))
    if data.dorsalis_pedis not in rules.DORSALIS_LABELS:
        errors.append(FieldError("dorsalis_pedis", "足背动脉搏动选项不正确", "Unknown value"))
    for i, s in enumerate(data.symptoms):
        if s not in rules.COMMON_SYMPTOMS:
            errors.append(FieldError(f"symptoms.{i}", f"未知症状：{s}", "Unknown symptom"))
    for i, s in enumerate(data.signs):
        if s not in d.emergency_signs:
            errors.append(FieldError(f"signs.{i}", f"未知征象：{s}", "Unknown sign"))
    if data.pregnant and resident.sex != "2":
        errors.append(FieldError("pregnant", "男性不能勾选妊娠/哺乳", "Not applicable", "invalid"))
    return day, errors


def do_record_followup(
    actor: Actor, registration: Registration, data: FollowupInput
) -> FollowupOutcome:
    """Record one follow-up per the norm (DOMAIN.md §5): store it, put its measurements on the
    shared record, compute the classification and the next due date, put it on the timeline,
    and return the emergency-referral prompt when the criteria match."""
    _require(actor, Perm.MANAGE_CHRONIC, "无权记录随访")
    resident = registration.resident
    _in_scope_or_deny(actor, resident, "chronic_followup")
    if registration.status != RegistrationStatus.ACTIVE:
        raise Conflict(FieldError("registration", "该登记已结案，不能随访", "Registration exited"))
    day, errors = _validate_followup(registration, resident, data)
    if errors:
        raise DomainError(errors)
    d = rules.DISEASES[registration.disease]
    facility_id = _facility_id(actor, data.facility_id)
    bmi = (
        record_rules.bmi(data.weight, data.height)
        if data.weight is not None and data.height is not None
        else None
    )
    m = rules.Measurements(
        sbp=data.sbp,
        dbp=data.dbp,
        glucose=data.glucose,
        heart_rate=data.heart_rate,
        temperature=data.temperature,
        pregnant_or_breastfeeding=data.pregnant,
        signs=frozenset(data.signs),
    )
    try:
        with transaction.atomic():
            reg = Registration.objects.select_for_update().get(pk=registration.pk)
            prev = (
                Followup.objects.filter(registration=reg, followup_date__lt=day)
                .order_by("-followup_date")
                .values("followup_date", "controlled")
                .first()
            )
            result = d.classify(
                m,
                previous_uncontrolled=bool(prev and prev["controlled"] is False),
                visit_date=day,
                adverse_reaction=data.adverse_reaction,
                complication=data.complication,
            )
            reasons = rules.emergency_referral_reasons(reg.disease, m)
            fu = Followup.objects.create(
                registration=reg,
                resident=resident,
                disease=reg.disease,
                followup_date=day,
                method=data.method,
                facility_id=facility_id,
                sbp=data.sbp,
                dbp=data.dbp,
                glucose=data.glucose,
                weight=data.weight,
                height=data.height,
                bmi=bmi,
                waist=data.waist,
                heart_rate=data.heart_rate,
                temperature=data.temperature,
                symptoms=list(data.symptoms),
                signs=list(data.signs),
                adherence=data.adherence,
                adverse_reaction=data.adverse_reaction,
                adverse_note=data.adverse_note.strip()[:200],
                complication=data.complication,
                lifestyle=dict(data.lifestyle),
                dorsalis_pedis=data.dorsalis_pedis,
                pregnant=data.pregnant,
                notes=data.notes.strip()[:500],
                controlled=d.controlled(m),
                classification=result.classification,
                reasons=list(result.reasons),
                next_due=result.next_due,
                emergency=reasons,
                prev_date=prev["followup_date"] if prev else None,
                gap_days=(day - prev["followup_date"]).days if prev else None,
                recorded_by_id=actor.user_id,
            )
            # a follow-up recorded late, between two others: the next one's gap changes
            nxt = (
                Followup.objects.filter(registration=reg, followup_date__gt=day)
                .order_by("followup_date")
                .first()
            )
            if nxt is not None:
                nxt.prev_date = day
                nxt.gap_days = (nxt.followup_date - day).days
                nxt.save(update_fields=["prev_date", "gap_days"])
            elif reg.last_followup_on is None or day >= reg.last_followup_on:
                reg.last_followup_on = day
                reg.last_classification = result.classification
                reg.risk = rules.RISK_RANK[result.classification] + (2 if reasons else 0)
                reg.next_due = result.next_due
                reg.alert = ""
                reg.alert_at = None
                reg.save(
                    update_fields=[
                        "last_followup_on",
                        "last_classification",
                        "risk",
                        "next_due",
                        "alert",
                        "alert_at",
                    ]
                )
            _record_measurements(
                actor,
                resident,
                f"followup:{fu.pk}",
                day,
                facility_id,
                data.sbp,
                data.dbp,
                data.glucose,
                heart_rate=data.heart_rate,
                weight=data.weight,
                height=data.height,
                waist=data.waist,
                bmi=bmi,
            )
            add_entry(
                resident,
                kind=EntryKind.FOLLOWUP,
                occurred_at=_moment(day),
                object_type="chronic_followup",
                object_id=fu.pk,
                title=f"{d.name}随访：{result.label}",
                summary=_summary(fu, result, reasons),
                facility_id=facility_id,
            )
            audit.record(
                actor,
                audit.Action.CREATE,
                "chronic_followup",
                str(fu.pk),
                resident_id=resident.pk,
                detail={
                    "disease": reg.disease,
                    "classification": result.classification,
                    "emergency": bool(reasons),
                },
            )
    except IntegrityError:
        raise Conflict(
            FieldError(
                "followup_date", "该日期已有随访记录", "A follow-up exists that day", "duplicate"
            )
        ) from None
    return FollowupOutcome(fu, result, emergency_prompt(resident, reasons))


def _summary(fu: Followup, result: rules.FollowupResult, reasons: list[str]) -> str:
    parts = []
    if fu.sbp is not None:
        parts.append(f"血压 {fu.sbp:g}/{fu.dbp:g} mmHg")
    if fu.glucose is not None:
        parts.append(f"空腹血糖 {fu.glucose:g} mmol/L")
    parts.append(f"下次随访 {result.next_due.isoformat()}")
    if reasons:
        parts.append("紧急转诊：" + "、".join(reasons))
    return "；".join(parts)


# --- devices -------------------------------------------------------------------------------------


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_device_secret(device: Device, secret: str) -> bool:
    return bool(device.secret_hash) and hmac.compare_digest(
        device.secret_hash, _hash_secret(secret)
    )


@dataclass
class DeviceInput:
    serial: str
    type: str
    model_name: str = ""
    facility_id: int | None = None


def do_register_device(actor: Actor, data: DeviceInput) -> tuple[Device, str]:
    """Register a device; returns it and its HTTP secret (shown once, stored hashed)."""
    _require(actor, Perm.MANAGE_DEVICES, "无权管理家用设备")
    errors: list[FieldError] = []
    serial = data.serial.strip()
    if not serial or len(serial) > 64 or "/" in serial or "+" in serial or "#" in serial:
        errors.append(
            FieldError("serial", "序列号须为1–64位且不含 / + #", "Invalid serial", "invalid")
        )
    if data.type not in DeviceType.values:
        errors.append(FieldError("type", "设备类型不正确", "Unknown device type"))
    if errors:
        raise DomainError(errors)
    secret = secrets.token_urlsafe(24)
    try:
        with transaction.atomic():
            device = Device.objects.create(
                serial=serial,
                type=data.type,
                model_name=data.model_name.strip()[:60],
                facility_id=_facility_id(actor, data.facility_id),
                secret_hash=_hash_secret(secret),
            )
            audit.record(actor, audit.Action.CREATE, "device", serial, detail={"type": data.type})
    except IntegrityError:
        raise Conflict(
            FieldError("serial", "该序列号已登记", "Serial already registered", "duplicate")
        ) from None
    return device, secret


def do_bind_device(
    actor: Actor, device: Device, resident: Resident, *, reason: str = ""
) -> DeviceBinding:
    """Bind (or rebind: the open binding is closed first) a device to a resident."""
    _require(actor, Perm.MANAGE_DEVICES, "无权管理家用设备")
    resident = survivor_of(resident)
    _in_scope_or_deny(actor, resident, "device_bind")
    now = timezone.now()
    try:
        with transaction.atomic():
            dev = Device.objects.select_for_update().get(pk=device.pk)
            if dev.resident_id is not None and not actor.is_system:
                current = Resident.objects.get(pk=dev.resident_id)
                _in_scope_or_deny(actor, current, "device_rebind")
            DeviceBinding.objects.filter(device=dev, unbound_at=None).update(unbound_at=now)
            b = DeviceBinding.objects.create(
                device=dev,
                resident=resident,
                bound_at=now,
                reason=reason[:200],
                bound_by_id=actor.user_id,
            )
            old = dev.resident_id
            dev.resident = resident
            dev.bound_at = now
            dev.save(update_fields=["resident", "bound_at"])
            audit.record(
                actor,
                audit.Action.UPDATE,
                "device",
                dev.serial,
                resident_id=resident.pk,
                detail={"bind": resident.mpi_id, "previous_resident_id": old},
            )
    except IntegrityError:
        raise Conflict(
            FieldError("device", "设备正在被绑定，请重试", "Concurrent bind", "busy")
        ) from None
    return b


def do_unbind_device(actor: Actor, device: Device, *, reason: str = "") -> Device:
    _require(actor, Perm.MANAGE_DEVICES, "无权管理家用设备")
    with transaction.atomic():
        dev = Device.objects.select_for_update().get(pk=device.pk)
        if dev.resident_id is None:
            raise Conflict(FieldError("device", "设备未绑定", "Device is not bound", "unbound"))
        current = Resident.objects.get(pk=dev.resident_id)
        _in_scope_or_deny(actor, current, "device_unbind")
        DeviceBinding.objects.filter(device=dev, unbound_at=None).update(
            unbound_at=timezone.now(), reason=reason[:200]
        )
        dev.resident = None
        dev.bound_at = None
        dev.save(update_fields=["resident", "bound_at"])
        audit.record(
            actor,
            audit.Action.UPDATE,
            "device",
            dev.serial,
            resident_id=current.pk,
            detail={"unbind": current.mpi_id},
        )
    return dev


def do_assign_quarantined(
    actor: Actor, reading: QuarantinedReading, resident: Resident
) -> QuarantinedReading:
    """File a quarantined reading on a resident's record (the doctor knows whose it is)."""
    from .ingest import parse_payload, store_observations

    _require(actor, Perm.MANAGE_DEVICES, "无权处理待认领读数")
    resident = survivor_of(resident)
    _in_scope_or_deny(actor, resident, "quarantine_assign")
    parsed = parse_payload(reading.payload, fallback_serial=reading.serial)
    if isinstance(parsed, str):
        raise DomainError.single("reading", f"读数无法解析：{parsed}", "Unparseable reading")
    with transaction.atomic():
        q = QuarantinedReading.objects.select_for_update().get(pk=reading.pk)
        if q.status != QuarantineStatus.PENDING:
            raise Conflict(FieldError("reading", "该读数已处理", "Already handled", "handled"))
        store_observations(actor, resident, parsed)
        q.status = QuarantineStatus.ASSIGNED
        q.resident = resident
        q.resolved_at = timezone.now()
        q.save(update_fields=["status", "resident", "resolved_at"])
        audit.record(
            actor,
            audit.Action.UPDATE,
            "quarantined_reading",
            str(q.pk),
            resident_id=resident.pk,
            detail={"assign": resident.mpi_id},
        )
    return q


def do_discard_quarantined(actor: Actor, reading: QuarantinedReading) -> QuarantinedReading:
    _require(actor, Perm.MANAGE_DEVICES, "无权处理待认领读数")
    with transaction.atomic():
        q = QuarantinedReading.objects.select_for_update().get(pk=reading.pk)
        if q.status != QuarantineStatus.PENDING:
            raise Conflict(FieldError("reading", "该读数已处理", "Already handled", "handled"))
        q.status = QuarantineStatus.DISCARDED
        q.resolved_at = timezone.now()
        q.save(update_fields=["status", "resolved_at"])
        audit.record(actor, audit.Action.VOID, "quarantined_reading", str(q.pk))
    return q


def home_reading_alert(resident_id: int, kind: str, m: rules.Measurements, day: date) -> None:
    """An abnormal home reading raises an alert on the worklist (emergency criteria of
    DOMAIN.md §5); repeated uncontrolled home readings bring the next follow-up forward to
    within two weeks. Runs inside the ingest transaction."""
    disease = rules.HYPERTENSION if kind == "bp" else rules.DIABETES
    reg = (
        Registration.objects.select_for_update()
        .filter(resident_id=resident_id, disease=disease, status=RegistrationStatus.ACTIVE)
        .first()
    )
    if reg is None:
        return
    d = rules.DISEASES[disease]
    reasons = rules.emergency_referral_reasons(disease, m)
    fields: list[str] = []
    if reasons:
        reg.alert = ("家庭监测：" + "、".join(reasons))[:200]
        reg.alert_at = timezone.now()
        reg.risk = max(reg.risk, rules.RISK_RANK[rules.Classification.REFER] + 2)
        fields += ["alert", "alert_at", "risk"]
    if kind != "glucose_random" and d.controlled(m) is False:  # control: fasting glucose only
        since = day - rules.HOME_WINDOW
        if (
            recent_uncontrolled_home_readings(resident_id, kind, since)
            >= rules.HOME_UNCONTROLLED_REPEAT
        ):
            forward = day + rules.SHORT_INTERVAL
            if reg.next_due > forward:
                reg.next_due = forward
                fields.append("next_due")
            if not reg.alert:
                reg.alert = "家庭监测多次未达标，随访已提前"
                reg.alert_at = timezone.now()
                fields += ["alert", "alert_at"]
    if fields:
        reg.save(update_fields=list(dict.fromkeys(fields)))
