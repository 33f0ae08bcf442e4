"""Every write to the shared health record: one transaction, permission- and scope-checked,
audited, and mirrored into the timeline (`Entry`).

Sources other than the UI (FHIR, HIS files, HL7 messages, devices) call the same actions with
`source`, `source_system` and `source_id` set: re-sending the same thing finds the current
version by (source_system, source_id) and changes nothing when its content is the same
(`digest`), or records an amendment when it differs (`upsert_*` return the outcome)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.utils import timezone

from yigongti.core import audit
from yigongti.core.actor import Actor
from yigongti.core.errors import Conflict, DomainError, FieldError, Forbidden
from yigongti.network.models import Department, Facility, Staff
from yigongti.residents.models import Resident
from yigongti.residents.queries import in_scope, survivor_of

from . import rules
from .models import (
    ClinicalBase,
    Diagnosis,
    DiagnosticReport,
    Drug,
    Encounter,
    EncounterKind,
    Entry,
    EntryKind,
    ExamKind,
    HealthExam,
    HealthProfile,
    ICD10Code,
    Observation,
    Prescription,
    ReportCategory,
    Source,
    VersionStatus,
)

RECORD = "record_clinical"
SHANGHAI = ZoneInfo("Asia/Shanghai")
C = TypeVar("C", bound=ClinicalBase)


class Outcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"  # an amendment replaced the earlier version
    UNCHANGED = "unchanged"  # the same content was sent again


# ---------------------------------------------------------------------------------------------
# Inputs (the UI form, the REST API, FHIR and the HIS importers all build these)


@dataclass
class VitalInput:
    kind: str
    value: float | str | None = None
    value2: float | str | None = None  # diastolic, for kind "bp"
    effective_at: datetime | None = None  # defaults to the encounter's time


@dataclass
class DiagnosisInput:
    code: str
    is_primary: bool | None = None  # default: the first diagnosis is the primary one


@dataclass
class PrescriptionInput:
    drug_code: str
    dose: Decimal | float | str
    frequency: str
    days: int
    dose_unit: str = ""  # default: the dispensing unit (片), so the total can be computed
    route: str = "po"
    quantity: Decimal | float | str | None = None  # default: computed when it can be


@dataclass
class Provenance:
    """Where a record came from. Empty `source_id` means no outside identity (UI entries)."""

    source: str = Source.MANUAL
    source_system: str = ""
    source_id: str = ""


@dataclass
class EncounterInput:
    kind: str = EncounterKind.OUTPATIENT
    started_at: datetime | None = None  # default: now
    ended_at: datetime | None = None
    department_id: int | None = None
    doctor_id: int | None = None
    complaint: str = ""
    present_illness: str = ""
    notes: str = ""
    diagnoses: list[DiagnosisInput] = field(default_factory=list)
    vitals: list[VitalInput] = field(default_factory=list)
    prescriptions: list[PrescriptionInput] = field(default_factory=list)
    facility_id: int | None = None  # default: the actor's facility (required for system actors)
    provenance: Provenance = field(default_factory=Provenance)


@dataclass
class ObservationInput:
    """A standalone measurement (a device reading, a lab value) or one of a report."""

    kind: str = ""  # a rules.VITALS kind, or "lab" with code/name/unit given
    value: float | str | None = None
    value2: float | str | None = None
    value_text: str = ""
    code: str = ""
    name: str = ""
    unit: str = ""
    flag: str = ""
    effective_at: datetime | None = None
    device_serial: str = ""
    encounter_id: int | None = None
    facility_id: int | None = None
    provenance: Provenance = field(default_factory=Provenance)


@dataclass
class ExamInput:
    kind: str = ExamKind.ELDERLY
    exam_date: date | None = None
    vitals: list[VitalInput] = field(default_factory=list)
    findings: dict[str, Any] = field(default_factory=dict)
    conclusion: str = ""
    guidance: str = ""
    facility_id: int | None = None
    provenance: Provenance = field(default_factory=Provenance)


@dataclass
class ReportInput:
    category: str = ReportCategory.LAB
    name: str = ""
    code: str = ""
    issued_at: datetime | None = None
    conclusion: str = ""
    critical: bool = False
    results: list[ObservationInput] = field(default_factory=list)
    encounter_id: int | None = None
    facility_id: int | None = None
    provenance: Provenance = field(default_factory=Provenance)


# ---------------------------------------------------------------------------------------------
# Helpers


def _err(exc: rules.RuleError, prefix: str = "") -> FieldError:
    return FieldError(f"{prefix}{exc.field}", exc.msg_zh, exc.msg_en, exc.code)


def aware(value: datetime) -> datetime:
    """Naive times from forms and HIS files are Beijing time."""
    return value if timezone.is_aware(value) else value.replace(tzinfo=SHANGHAI)


def _birth_start(resident: Resident) -> datetime:
    return datetime.combine(resident.birth_date, time.min, tzinfo=SHANGHAI)


def _check_time(
    errors: list[FieldError], name: str, when: datetime, resident: Resident, now: datetime
) -> None:
    try:
        rules.check_clinical_time(
            name,
            when,
            now=now,
            birth_date=resident.birth_date,
            birth_day_start=_birth_start(resident),
        )
    except rules.RuleError as exc:
        errors.append(_err(exc))


def digest(data: object) -> str:
    def default(o: object) -> str:
        return o.isoformat() if isinstance(o, date | datetime) else str(o)

    payload = asdict(data) if hasattr(data, "__dataclass_fields__") else data  # type: ignore[call-overload]
    if isinstance(payload, dict):
        payload = {k: v for k, v in payload.items() if k != "provenance"}
    text = json.dumps(payload, sort_keys=True, default=default, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _may_write(actor: Actor, resident: Resident) -> None:
    if not (actor.is_system or actor.can(RECORD)):
        raise Forbidden("无权录入诊疗记录", "Not allowed to write clinical records")
    if not in_scope(actor, resident):
        audit.record(
            actor,
            audit.Action.DENIED,
            "resident",
            resident.mpi_id,
            resident_id=resident.pk,
            detail={"purpose": "record"},
        )
        raise Forbidden("该居民不在您的服务范围内", "Resident is outside your area")


def _facility_for(actor: Actor, facility_id: int | None) -> Facility:
    """Users record at their own facility; only the platform (imports) names another one."""
    wanted = facility_id if actor.is_system else actor.facility_id
    if wanted is None:
        raise DomainError.single("facility", "请指定就诊机构", "A facility is required", "required")
    facility = Facility.objects.filter(pk=wanted).first()
    if facility is None:
        raise DomainError.single("facility", "机构不存在", "Unknown facility", "unknown")
    return facility


def _current_by_source(model: type[C], prov: Provenance) -> C | None:
    if not prov.source_id:
        return None
    return (
        model._default_manager.filter(
            source_system=prov.source_system,
            source_id=prov.source_id,
            status=VersionStatus.CURRENT,
        )
        .select_related("resident")
        .first()
    )


def _stamp(obj: ClinicalBase, actor: Actor, prov: Provenance, content: str) -> None:
    obj.source = prov.source
    obj.source_system = prov.source_system
    obj.source_id = prov.source_id
    obj.digest = content
    obj.recorded_by_id = actor.user_id


def add_entry(
    resident: Resident,
    *,
    kind: str,
    occurred_at: datetime,
    object_type: str,
    object_id: int,
    title: str,
    summary: str = "",
    facility_id: int | None = None,
) -> Entry:
    """Put an item on the resident's timeline. Care apps (referrals, follow-ups, consults…)
    call this from their own actions, in their transaction."""
    return Entry.objects.create(
        resident=resident,
        kind=kind,
        occurred_at=occurred_at,
        object_type=object_type,
        object_id=object_id,
        title=title[:200],
        summary=summary[:500],
        facility_id=facility_id,
    )


def set_entry_status(object_type: str, object_id: int, status: str) -> None:
    Entry.objects.filter(object_type=object_type, object_id=object_id).update(status=status)


# ---------------------------------------------------------------------------------------------
# Validation of the parts


def _clean_vitals(
    vitals: list[VitalInput], default_at: datetime, prefix: str, errors: list[FieldError]
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    seen: dict[str, float] = {}
    for i, v in enumerate(vitals):
        try:
            value, value2 = rules.check_vital(v.kind, v.value, v.value2)
        except rules.RuleError as exc:
            errors.append(_err(exc, f"{prefix}.{i}."))
            continue
        seen[v.kind] = value
        out.append(
            {
                "kind": v.kind,
                "value": value,
                "value2": value2,
                "at": aware(v.effective_at or default_at),
            }
        )
    # 体质指数 from height and weight measured together, unless given.
    if "height" in seen and "weight" in seen and "bmi" not in seen:
        bmi = rules.bmi(seen["weight"], seen["height"])
        try:
            rules.check_vital("bmi", bmi)
            out.append({"kind": "bmi", "value": bmi, "value2": None, "at": default_at})
        except rules.RuleError as exc:
            errors.append(_err(exc, f"{prefix}."))
    return out


def _observation_from_vital(v: dict[str, Any]) -> Observation:
    spec = rules.VITALS[v["kind"]]
    return Observation(
        kind=v["kind"],
        code=spec.code,
        name=spec.name,
        value=v["value"],
        value2=v["value2"],
        unit=spec.unit_label,
        effective_at=v["at"],
    )


def find_icd(code: str) -> ICD10Code | None:
    normal = code.strip().upper()
    return ICD10Code.objects.filter(pk=normal, active=True).first() if normal else None


def _clean_diagnoses(items: list[DiagnosisInput], errors: list[FieldError]) -> list[Diagnosis]:
    out: list[Diagnosis] = []
    codes = {d.code.strip().upper() for d in items}
    known = {c.code: c for c in ICD10Code.objects.filter(pk__in=codes, active=True)}
    for i, d in enumerate(items):
        icd = known.get(d.code.strip().upper())
        if icd is None:
            errors.append(
                FieldError(
                    f"diagnoses.{i}.code",
                    f"未知的 ICD-10 编码：{d.code}",
                    f"Unknown ICD-10 code {d.code}",
                    "unknown_code",
                )
            )
            continue
        primary = d.is_primary if d.is_primary is not None else i == 0
        out.append(Diagnosis(code=icd, name=icd.name, is_primary=primary, rank=i + 1))
    return out


def find_drug(code: str) -> Drug | None:
    normal = code.strip()
    return Drug.objects.filter(pk=normal, active=True).first() if normal else None


def _clean_prescriptions(
    items: list[PrescriptionInput], at: datetime, errors: list[FieldError]
) -> list[Prescription]:
    out: list[Prescription] = []
    drugs = {d.code: d for d in Drug.objects.filter(pk__in={p.drug_code.strip() for p in items})}
    for i, p in enumerate(items):
        prefix = f"prescriptions.{i}."
        drug = drugs.get(p.drug_code.strip())
        if drug is None or not drug.active:
            errors.append(
                FieldError(
                    f"{prefix}drug_code",
                    f"药品目录中没有该药品：{p.drug_code}",
                    f"Unknown catalogue item {p.drug_code}",
                    "unknown_drug",
                )
            )
            continue
        try:
            dose = rules.check_dose(p.dose)
            frequency = rules.check_frequency(p.frequency)
            route = rules.check_route(p.route)
            days = rules.check_days(p.days)
        except rules.RuleError as exc:
            errors.append(_err(exc, prefix))
            continue
        dose_unit = p.dose_unit.strip() or drug.unit
        quantity: Decimal | None
        if p.quantity not in (None, ""):
            try:
                quantity = rules.check_dose(p.quantity)
            except rules.RuleError:
                errors.append(
                    FieldError(f"{prefix}quantity", "总量须大于 0", "quantity must be positive")
                )
                continue
        elif dose_unit == drug.unit:
            quantity = rules.total_quantity(dose, frequency, days)
        else:
            quantity = None
        if quantity is None:
            errors.append(
                FieldError(
                    f"{prefix}quantity",
                    f"请填写总量（{drug.unit}）",
                    f"quantity in {drug.unit} is required",
                    "required",
                )
            )
            continue
        out.append(
            Prescription(
                drug=drug,
                drug_name=str(drug),
                dose=dose,
                dose_unit=dose_unit,
                frequency=frequency,
                route=route,
                days=days,
                quantity=quantity,
                prescribed_at=at,
            )
        )
    return out


# ---------------------------------------------------------------------------------------------
# Encounters


@dataclass
class _CleanEncounter:
    facility: Facility
    started_at: datetime
    ended_at: datetime | None
    diagnoses: list[Diagnosis]
    observations: list[Observation]
    prescriptions: list[Prescription]


def _validate_encounter(actor: Actor, resident: Resident, data: EncounterInput) -> _CleanEncounter:
    errors: list[FieldError] = []
    now = timezone.now()
    if data.kind not in EncounterKind.values:
        errors.append(
            FieldError("kind", f"未知的就诊类型：{data.kind}", f"Unknown kind {data.kind}")
        )
    started = aware(data.started_at or now)
    _check_time(errors, "started_at", started, resident, now)
    ended = aware(data.ended_at) if data.ended_at else None
    if ended is not None:
        if ended < started:
            errors.append(
                FieldError("ended_at", "出院时间早于入院时间", "ended_at is before started_at")
            )
        else:
            _check_time(errors, "ended_at", ended, resident, now)
    try:
        facility = _facility_for(actor, data.facility_id)
    except DomainError as exc:
        raise DomainError(errors + exc.errors) from None
    if (
        data.department_id is not None
        and not Department.objects.filter(pk=data.department_id, facility=facility).exists()
    ):
        errors.append(
            FieldError("department_id", "科室不属于该机构", "Department is not of this facility")
        )
    if data.doctor_id is not None and not Staff.objects.filter(pk=data.doctor_id).exists():
        errors.append(FieldError("doctor_id", "医生不存在", "Unknown doctor"))
    for name, text, limit in (("complaint", data.complaint, 500),):
        if len(text) > limit:
            errors.append(FieldError(name, f"内容过长（最多 {limit} 字）", "too long"))
    diagnoses = _clean_diagnoses(data.diagnoses, errors)
    vitals = _clean_vitals(data.vitals, started, "vitals", errors)
    prescriptions = _clean_prescriptions(data.prescriptions, started, errors)
    if errors:
        raise DomainError(errors)
    return _CleanEncounter(
        facility=facility,
        started_at=started,
        ended_at=ended,
        diagnoses=diagnoses,
        observations=[_observation_from_vital(v) for v in vitals],
        prescriptions=prescriptions,
    )


def _encounter_title(enc: Encounter, diagnoses: list[Diagnosis], facility: Facility) -> str:
    head = f"{enc.get_kind_display()} · {facility.name}"
    if diagnoses:
        names = "、".join(f"{d.name}" for d in diagnoses[:3])
        head += f" · {names}"
    return head


def _encounter_summary(
    enc: Encounter, observations: list[Observation], prescriptions: list[Prescription]
) -> str:
    parts = []
    if enc.complaint:
        parts.append(f"主诉：{enc.complaint}")
    parts.extend(f"{o.name} {o.display_value}" for o in observations[:4])
    if prescriptions:
        parts.append("处方：" + "、".join(p.drug.generic_name for p in prescriptions[:4]))
    return "；".join(parts)


def _write_encounter(
    actor: Actor,
    resident: Resident,
    data: EncounterInput,
    clean: _CleanEncounter,
    *,
    replaces: Encounter | None,
    reason: str,
    digest: str,
) -> Encounter:
    enc = Encounter(
        resident=resident,
        facility=clean.facility,
        kind=data.kind,
        department_id=data.department_id,
        doctor_id=data.doctor_id,
        started_at=clean.started_at,
        ended_at=clean.ended_at,
        complaint=data.complaint.strip(),
        present_illness=data.present_illness.strip(),
        notes=data.notes.strip(),
        replaces=replaces,
        amend_reason=reason,
    )
    _stamp(enc, actor, data.provenance, digest)
    enc.save()
    for d in clean.diagnoses:
        d.encounter = enc
        d.resident = resident
    Diagnosis.objects.bulk_create(clean.diagnoses)
    for o in clean.observations:
        o.encounter = enc
        o.resident = resident
        o.facility = clean.facility
        o.source = data.provenance.source
        o.recorded_by_id = actor.user_id
    Observation.objects.bulk_create(clean.observations)
    for p in clean.prescriptions:
        p.encounter = enc
        p.resident = resident
        p.facility = clean.facility
        p.source = data.provenance.source
        p.recorded_by_id = actor.user_id
    Prescription.objects.bulk_create(clean.prescriptions)
    add_entry(
        resident,
        kind=EntryKind.ENCOUNTER,
        occurred_at=enc.started_at,
        object_type="encounter",
        object_id=enc.pk,
        title=_encounter_title(enc, clean.diagnoses, clean.facility),
        summary=_encounter_summary(enc, clean.observations, clean.prescriptions),
        facility_id=clean.facility.pk,
    )
    return enc


def _retire(obj: ClinicalBase, object_type: str, status: str) -> None:
    """Mark a version (and, for an encounter, its parts) no longer current."""
    type(obj)._default_manager.filter(pk=obj.pk).update(status=status)
    obj.status = status
    if isinstance(obj, Encounter):
        Observation.objects.filter(encounter=obj).update(status=status)
        Prescription.objects.filter(encounter=obj).update(status=status)
    if isinstance(obj, HealthExam):
        Observation.objects.filter(exam=obj).update(status=status)
    if isinstance(obj, DiagnosticReport):
        Observation.objects.filter(report=obj).update(status=status)
    set_entry_status(object_type, obj.pk, status)


def _lock_current(obj: C) -> C:
    """Re-read a version under a row lock; refuse if it was already amended or voided."""
    locked = type(obj)._default_manager.select_for_update().get(pk=obj.pk)
    if locked.status != VersionStatus.CURRENT:
        raise Conflict(
            FieldError(
                "status",
                "该记录已被更正或作废，请在最新版本上操作",
                "This version is no longer current",
                "not_current",
            )
        )
    return locked


def do_record_encounter(actor: Actor, resident: Resident, data: EncounterInput) -> Encounter:
    """Record a visit with its diagnoses, vitals and prescriptions."""
    enc, _ = upsert_encounter(actor, resident, data)
    return enc


def upsert_encounter(
    actor: Actor, resident: Resident, data: EncounterInput
) -> tuple[Encounter, Outcome]:
    """Record a visit; when its outside identity is known already, keep it (same content) or
    amend it (changed content)."""
    resident = survivor_of(resident)
    _may_write(actor, resident)
    clean = _validate_encounter(actor, resident, data)
    content = digest(data)
    try:
        with transaction.atomic():
            existing = _current_by_source(Encounter, data.provenance)
            if existing is not None:
                if existing.digest == content:
                    return existing, Outcome.UNCHANGED
                return _amend_encounter(
                    actor, existing, data, clean, "来源系统更新", content
                ), Outcome.UPDATED
            enc = _write_encounter(
                actor, resident, data, clean, replaces=None, reason="", digest=content
            )
            audit.record(
                actor,
                audit.Action.CREATE,
                "encounter",
                str(enc.pk),
                resident_id=resident.pk,
                detail={"kind": enc.kind, "source": enc.source},
            )
            return enc, Outcome.CREATED
    except IntegrityError:
        # The same outside record arrived twice at once: the other one won.
        existing = _current_by_source(Encounter, data.provenance)
        if existing is None:
            raise
        return existing, Outcome.UNCHANGED


def _amend_encounter(
    actor: Actor,
    old: Encounter,
    data: EncounterInput,
    clean: _CleanEncounter,
    reason: str,
    digest: str,
) -> Encounter:
    old = _lock_current(old)
    _retire(old, "encounter", VersionStatus.AMENDED)
    new = _write_encounter(
        actor, old.resident, data, clean, replaces=old, reason=reason, digest=digest
    )
    audit.record(
        actor,
        audit.Action.AMEND,
        "encounter",
        str(new.pk),
        resident_id=old.resident_id,
        detail={"replaces": old.pk, "reason": reason},
    )
    return new


def _require_reason(reason: str) -> str:
    text = reason.strip()
    if not text:
        raise DomainError.single(
            "reason", "请填写更正/作废原因", "A reason is required", "required"
        )
    return text[:200]


def do_amend_encounter(
    actor: Actor, encounter: Encounter, data: EncounterInput, reason: str
) -> Encounter:
    """Correct a visit: the old version stays, marked amended, and the new one replaces it."""
    reason = _require_reason(reason)
    resident = encounter.resident
    _may_write(actor, resident)
    if not actor.is_system and encounter.facility_id != actor.facility_id:
        raise Forbidden("只能更正本机构的就诊记录", "Only the recording facility may amend")
    if data.facility_id is None:
        data.facility_id = encounter.facility_id
    data.provenance = Provenance(encounter.source, encounter.source_system, encounter.source_id)
    clean = _validate_encounter(actor, resident, data)
    with transaction.atomic():
        return _amend_encounter(actor, encounter, data, clean, reason, digest(data))


def do_void(actor: Actor, obj: ClinicalBase, reason: str) -> ClinicalBase:
    """Mark an entry entered-in-error (作废): it stays in the history, off the timeline."""
    reason = _require_reason(reason)
    _may_write(actor, obj.resident)
    if not actor.is_system and obj.facility_id != actor.facility_id:
        raise Forbidden("只能作废本机构的记录", "Only the recording facility may void")
    object_type = _object_type(obj)
    with transaction.atomic():
        obj = _lock_current(obj)
        _retire(obj, object_type, VersionStatus.ERROR)
        type(obj)._default_manager.filter(pk=obj.pk).update(amend_reason=reason)
        obj.amend_reason = reason
        audit.record(
            actor,
            audit.Action.VOID,
            object_type,
            str(obj.pk),
            resident_id=obj.resident_id,
            detail={"reason": reason},
        )
    return obj


def _object_type(obj: ClinicalBase) -> str:
    return {
        Encounter: "encounter",
        Observation: "observation",
        HealthExam: "exam",
        DiagnosticReport: "report",
        Prescription: "prescription",
    }[type(obj)]


# ---------------------------------------------------------------------------------------------
# Standalone observations (devices, labs)


def _clean_observation(
    data: ObservationInput, resident: Resident, now: datetime, prefix: str, errors: list[FieldError]
) -> Observation | None:
    at = aware(data.effective_at or now)
    before = len(errors)
    _check_time(errors, f"{prefix}effective_at", at, resident, now)
    if data.kind in rules.VITALS:
        try:
            value, value2 = rules.check_vital(data.kind, data.value, data.value2)
        except rules.RuleError as exc:
            errors.append(_err(exc, prefix))
            return None
        obs = _observation_from_vital(
            {"kind": data.kind, "value": value, "value2": value2, "at": at}
        )
    else:
        if not (data.code.strip() and data.name.strip()):
            errors.append(
                FieldError(
                    f"{prefix}code",
                    "请填写检验项目编码和名称",
                    "code and name are required for a lab result",
                    "required",
                )
            )
            return None
        value_num: float | None = None
        if data.value not in (None, ""):
            try:
                value_num = float(data.value)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                errors.append(
                    FieldError(f"{prefix}value", "结果须为数字", "value must be a number")
                )
                return None
        elif not data.value_text.strip():
            errors.append(
                FieldError(f"{prefix}value", "请填写结果", "A value is required", "required")
            )
            return None
        obs = Observation(
            kind="lab",
            code=data.code.strip()[:24],
            name=data.name.strip()[:80],
            value=value_num,
            value_text=data.value_text.strip()[:200],
            unit=data.unit.strip()[:20],
            flag=data.flag.strip()[:2],
            effective_at=at,
        )
    if len(errors) > before:
        return None
    obs.device_serial = data.device_serial.strip()
    obs.encounter_id = data.encounter_id
    return obs


def upsert_observation(
    actor: Actor, resident: Resident, data: ObservationInput
) -> tuple[Observation, Outcome]:
    """Record one measurement outside a visit (a home device, a lab result)."""
    resident = survivor_of(resident)
    _may_write(actor, resident)
    errors: list[FieldError] = []
    obs = _clean_observation(data, resident, timezone.now(), "", errors)
    if errors or obs is None:
        raise DomainError(errors)
    facility = _optional_facility(actor, data.facility_id)
    content = digest(data)
    try:
        with transaction.atomic():
            existing, same = _previous_version(Observation, data.provenance, content, "observation")
            if existing is not None and same:
                return existing, Outcome.UNCHANGED
            if existing is not None:
                obs.replaces = existing
                obs.amend_reason = "来源系统更新"
            obs.resident = resident
            obs.facility = facility
            _stamp(obs, actor, data.provenance, content)
            obs.save()
            add_entry(
                resident,
                kind=EntryKind.OBSERVATION,
                occurred_at=obs.effective_at,
                object_type="observation",
                object_id=obs.pk,
                title=f"{obs.name} {obs.display_value}",
                summary="家用设备上传"
                if obs.device_serial
                else (facility.name if facility else ""),
                facility_id=facility.pk if facility else None,
            )
            audit.record(
                actor,
                audit.Action.AMEND if existing else audit.Action.CREATE,
                "observation",
                str(obs.pk),
                resident_id=resident.pk,
                detail={"kind": obs.kind, "source": obs.source},
            )
            return obs, (Outcome.UPDATED if existing else Outcome.CREATED)
    except IntegrityError:
        existing = _current_by_source(Observation, data.provenance)
        if existing is None:
            raise
        return existing, Outcome.UNCHANGED


def _previous_version(
    model: type[C], prov: Provenance, content: str, object_type: str
) -> tuple[C | None, bool]:
    """The current version with the same outside identity, and whether it already holds
    this content. A different content retires it (amended) so that the caller's new row
    replaces it; call inside the caller's transaction."""
    existing = _current_by_source(model, prov)
    if existing is None:
        return None, False
    if existing.digest == content:
        return existing, True
    existing = _lock_current(existing)
    _retire(existing, object_type, VersionStatus.AMENDED)
    return existing, False


def do_record_observation(actor: Actor, resident: Resident, data: ObservationInput) -> Observation:
    return upsert_observation(actor, resident, data)[0]


def _optional_facility(actor: Actor, facility_id: int | None) -> Facility | None:
    wanted = facility_id if actor.is_system else actor.facility_id
    return Facility.objects.filter(pk=wanted).first() if wanted else None


# ---------------------------------------------------------------------------------------------
# Health examinations and diagnostic reports


def upsert_exam(actor: Actor, resident: Resident, data: ExamInput) -> tuple[HealthExam, Outcome]:
    """Record a health examination (the yearly check of people 65+: DOMAIN.md §5)."""
    resident = survivor_of(resident)
    _may_write(actor, resident)
    errors: list[FieldError] = []
    today = timezone.localdate()
    day = data.exam_date or today
    if data.kind not in ExamKind.values:
        errors.append(FieldError("kind", f"未知的体检类型：{data.kind}", "Unknown exam kind"))
    try:
        rules.check_clinical_date("exam_date", day, today=today, birth_date=resident.birth_date)
    except rules.RuleError as exc:
        errors.append(_err(exc))
    at = datetime.combine(day, time(9), tzinfo=SHANGHAI)
    vitals = _clean_vitals(data.vitals, at, "vitals", errors)
    if errors:
        raise DomainError(errors)
    facility = _facility_for(actor, data.facility_id)
    content = digest(data)
    with transaction.atomic():
        existing, same = _previous_version(HealthExam, data.provenance, content, "exam")
        if existing is not None and same:
            return existing, Outcome.UNCHANGED
        exam = HealthExam(
            resident=resident,
            facility=facility,
            kind=data.kind,
            exam_date=day,
            findings=data.findings,
            conclusion=data.conclusion.strip(),
            guidance=data.guidance.strip(),
            replaces=existing,
        )
        _stamp(exam, actor, data.provenance, content)
        exam.save()
        observations = [_observation_from_vital(v) for v in vitals]
        for o in observations:
            o.exam = exam
            o.resident = resident
            o.facility = facility
            o.recorded_by_id = actor.user_id
        Observation.objects.bulk_create(observations)
        add_entry(
            resident,
            kind=EntryKind.EXAM,
            occurred_at=at,
            object_type="exam",
            object_id=exam.pk,
            title=f"{exam.get_kind_display()} · {facility.name}",
            summary="；".join(
                [f"{o.name} {o.display_value}" for o in observations[:4]]
                + ([exam.conclusion] if exam.conclusion else [])
            ),
            facility_id=facility.pk,
        )
        audit.record(
            actor,
            audit.Action.AMEND if existing else audit.Action.CREATE,
            "exam",
            str(exam.pk),
            resident_id=resident.pk,
        )
    return exam, (Outcome.UPDATED if existing else Outcome.CREATED)


def upsert_report(
    actor: Actor, resident: Resident, data: ReportInput
) -> tuple[DiagnosticReport, Outcome]:
    """Record a lab / imaging / ECG / pathology report with its result values."""
    resident = survivor_of(resident)
    _may_write(actor, resident)
    errors: list[FieldError] = []
    now = timezone.now()
    issued = aware(data.issued_at or now)
    if data.category not in ReportCategory.values:
        errors.append(
            FieldError("category", f"未知的报告类别：{data.category}", "Unknown category")
        )
    if not data.name.strip():
        errors.append(FieldError("name", "请填写项目名称", "name is required", "required"))
    _check_time(errors, "issued_at", issued, resident, now)
    results = []
    for i, r in enumerate(data.results):
        if r.effective_at is None:
            r.effective_at = issued
        obs = _clean_observation(r, resident, now, f"results.{i}.", errors)
        if obs is not None:
            results.append(obs)
    if errors:
        raise DomainError(errors)
    facility = _facility_for(actor, data.facility_id)
    content = digest(data)
    with transaction.atomic():
        existing, same = _previous_version(DiagnosticReport, data.provenance, content, "report")
        if existing is not None and same:
            return existing, Outcome.UNCHANGED
        report = DiagnosticReport(
            resident=resident,
            facility=facility,
            encounter_id=data.encounter_id,
            category=data.category,
            code=data.code.strip()[:40],
            name=data.name.strip()[:120],
            issued_at=issued,
            conclusion=data.conclusion.strip(),
            critical=data.critical,
            replaces=existing,
        )
        _stamp(report, actor, data.provenance, content)
        report.save()
        for o in results:
            o.report = report
            o.resident = resident
            o.facility = facility
            o.source = data.provenance.source
            o.recorded_by_id = actor.user_id
        Observation.objects.bulk_create(results)
        add_entry(
            resident,
            kind=EntryKind.REPORT,
            occurred_at=issued,
            object_type="report",
            object_id=report.pk,
            title=f"{report.get_category_display()}报告 · {report.name}"
            + (" · 危急值" if report.critical else ""),
            summary=report.conclusion
            or "；".join(f"{o.name} {o.display_value}" for o in results[:4]),
            facility_id=facility.pk,
        )
        audit.record(
            actor,
            audit.Action.AMEND if existing else audit.Action.CREATE,
            "report",
            str(report.pk),
            resident_id=resident.pk,
        )
    return report, (Outcome.UPDATED if existing else Outcome.CREATED)


# ---------------------------------------------------------------------------------------------
# Personal basic information


@dataclass
class ProfileInput:
    blood_type: str = ""
    rh_negative: bool | None = None
    past_history: list[dict[str, Any]] = field(default_factory=list)
    family_history: list[dict[str, Any]] = field(default_factory=list)
    allergies: list[str] = field(default_factory=list)
    disabilities: list[str] = field(default_factory=list)
    lifestyle: dict[str, Any] = field(default_factory=dict)
    note: str = ""


def do_update_profile(actor: Actor, resident: Resident, data: ProfileInput) -> HealthProfile:
    """A new version of the personal basic information; earlier versions stay readable."""
    resident = survivor_of(resident)
    _may_write(actor, resident)
    errors: list[FieldError] = []
    if data.blood_type not in ("", "A", "B", "O", "AB"):
        errors.append(
            FieldError("blood_type", "血型只能是 A、B、O、AB 或不详", "Unknown blood type")
        )
    for i, item in enumerate(data.past_history):
        code = str(item.get("icd", "")).strip()
        if code and find_icd(code) is None:
            errors.append(
                FieldError(
                    f"past_history.{i}.icd", f"未知的 ICD-10 编码：{code}", "Unknown ICD-10 code"
                )
            )
    if errors:
        raise DomainError(errors)
    with transaction.atomic():
        profile = HealthProfile.objects.create(
            resident=resident,
            blood_type=data.blood_type,
            rh_negative=data.rh_negative,
            past_history=data.past_history,
            family_history=data.family_history,
            allergies=[a.strip() for a in data.allergies if a.strip()],
            disabilities=[d.strip() for d in data.disabilities if d.strip()],
            lifestyle=data.lifestyle,
            note=data.note.strip()[:200],
            recorded_by_id=actor.user_id,
            facility_id=actor.facility_id,
        )
        audit.record(
            actor, audit.Action.UPDATE, "profile", str(profile.pk), resident_id=resident.pk
        )
    return profile
