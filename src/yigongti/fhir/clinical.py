"""The shared health record ↔ FHIR R4: Encounter, Condition (one per Diagnosis), Observation,
MedicationRequest (one per Prescription) and DiagnosticReport, as plain JSON-ready dicts.

Outbound functions need the row with `resident` and `facility` loaded; resource ids are the
row ids. Our `source_system` / `source_id` (the sending system's own identity of the record)
are the resource's `identifier`. Inbound functions turn a structurally valid resource (already
checked by validation.py) into the records app's input dataclasses, raising FhirError(422)
naming the element for what R4 allows but we cannot store. No database access here except the
small lookups an inbound reference needs (done by the caller through `Refs`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from yigongti.diagnostics.actions import RECORD_SYSTEM as DIAGNOSTICS_SYSTEM
from yigongti.records import rules as rrules
from yigongti.records.actions import (
    DiagnosisInput,
    EncounterInput,
    ObservationInput,
    PrescriptionInput,
    Provenance,
    ReportInput,
)
from yigongti.records.models import (
    Diagnosis,
    DiagnosticReport,
    Encounter,
    EncounterKind,
    Observation,
    Prescription,
    ReportCategory,
    Source,
    VersionStatus,
)

from . import systems
from .mapping import JSON, facility_resource_id
from .outcome import FhirError, Issue

SHANGHAI = ZoneInfo("Asia/Shanghai")

#: Our encounter kinds ↔ v3 ActCode (Encounter.class).
KIND_TO_CLASS: dict[str, tuple[str, str]] = {
    EncounterKind.OUTPATIENT: ("AMB", "ambulatory"),
    EncounterKind.EMERGENCY: ("EMER", "emergency"),
    EncounterKind.INPATIENT: ("IMP", "inpatient encounter"),
    EncounterKind.HOME_VISIT: ("HH", "home health"),
    EncounterKind.OTHER: ("AMB", "ambulatory"),
}
CLASS_TO_KIND: dict[str, str] = {
    "AMB": EncounterKind.OUTPATIENT,
    "EMER": EncounterKind.EMERGENCY,
    "IMP": EncounterKind.INPATIENT,
    "ACUTE": EncounterKind.INPATIENT,
    "NONAC": EncounterKind.INPATIENT,
    "HH": EncounterKind.HOME_VISIT,
}
#: Report categories ↔ HL7 v2 table 0074.
CATEGORY_TO_V2: dict[str, str] = {
    ReportCategory.LAB: "LAB",
    ReportCategory.IMAGING: "RAD",
    ReportCategory.ECG: "EC",
    ReportCategory.PATHOLOGY: "PAT",
    ReportCategory.OTHER: "OTH",
}
V2_TO_CATEGORY: dict[str, str] = {v: k for k, v in CATEGORY_TO_V2.items()}
#: Frequencies as FHIR Timing.repeat (frequency per period periodUnit).
FREQ_TIMING: dict[str, tuple[int, float, str]] = {
    "qd": (1, 1, "d"),
    "bid": (2, 1, "d"),
    "tid": (3, 1, "d"),
    "qid": (4, 1, "d"),
    "qn": (1, 1, "d"),
    "q12h": (1, 12, "h"),
    "q8h": (1, 8, "h"),
    "q6h": (1, 6, "h"),
    "qw": (1, 1, "wk"),
    "biw": (2, 1, "wk"),
}
TIMING_FREQ: dict[tuple[int, float, str], str] = {v: k for k, v in FREQ_TIMING.items() if k != "qn"}


# --- small pieces ----------------------------------------------------------------------


def local_time(value: datetime) -> str:
    """A dateTime as Beijing time with its offset (2024-03-01T09:30:00+08:00)."""
    return value.astimezone(SHANGHAI).isoformat(timespec="seconds")


def identifiers(obj: Any) -> list[JSON]:
    if not obj.source_id:
        return []
    out: JSON = {"value": obj.source_id}
    if obj.source_system:
        out["system"] = obj.source_system
    return [out]


def patient_ref(mpi_id: str, name: str = "") -> JSON:
    out: JSON = {"reference": f"Patient/{mpi_id}"}
    if name:
        out["display"] = name
    return out


def _meta(obj: Any) -> JSON:
    meta: JSON = {"lastUpdated": local_time(obj.recorded_at)}
    if obj.status != VersionStatus.CURRENT:
        meta["tag"] = [
            {
                "system": systems.version_status_system(),
                "code": obj.status,
                "display": VersionStatus(obj.status).label,
            }
        ]
    return meta


def _org_ref(facility: Any) -> JSON | None:
    if facility is None:
        return None
    return {"reference": f"Organization/{facility_resource_id(facility)}", "display": facility.name}


def _base(resource_type: str, obj: Any, mpi_id: str) -> JSON:
    out: JSON = {"resourceType": resource_type, "id": str(obj.pk), "meta": _meta(obj)}
    ids = identifiers(obj)
    if ids:
        out["identifier"] = ids
    return out


def _quantity(value: float | Decimal, unit: str, code: str = "") -> JSON:
    out: JSON = {"value": _num(value), "unit": unit}
    if code:
        out["system"] = systems.UCUM
        out["code"] = code
    return out


# --- outbound --------------------------------------------------------------------------


def encounter(enc: Encounter, mpi_id: str, diagnoses: list[Diagnosis] | None = None) -> JSON:
    out = _base("Encounter", enc, mpi_id)
    if enc.status == VersionStatus.ERROR:
        status = "entered-in-error"
    elif enc.kind == EncounterKind.INPATIENT and enc.ended_at is None:
        status = "in-progress"
    else:
        status = "finished"
    code, display = KIND_TO_CLASS.get(enc.kind, ("AMB", "ambulatory"))
    out["status"] = status
    out["class"] = {"system": systems.V3_ACT_CODE, "code": code, "display": display}
    out["type"] = [
        {
            "coding": [
                {
                    "system": systems.encounter_kind_system(),
                    "code": enc.kind,
                    "display": enc.get_kind_display(),
                }
            ],
            "text": enc.get_kind_display(),
        }
    ]
    out["subject"] = patient_ref(mpi_id)
    period: JSON = {"start": local_time(enc.started_at)}
    if enc.ended_at is not None:
        period["end"] = local_time(enc.ended_at)
    out["period"] = period
    if enc.complaint:
        out["reasonCode"] = [{"text": enc.complaint}]
    if diagnoses:
        out["diagnosis"] = [
            {
                "condition": {"reference": f"Condition/{d.pk}", "display": d.name},
                "rank": d.rank,
            }
            for d in diagnoses
        ]
    org = _org_ref(enc.facility)
    if org is not None:
        out["serviceProvider"] = org
    if enc.amend_reason:
        out["text"] = {
            "status": "additional",
            "div": f'<div xmlns="http://www.w3.org/1999/xhtml">更正：{_xml(enc.amend_reason)}</div>',
        }
    return out


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def condition(d: Diagnosis, enc: Encounter, mpi_id: str) -> JSON:
    """A diagnosis of an encounter; it shares its encounter's version state."""
    out: JSON = {"resourceType": "Condition", "id": str(d.pk), "meta": _meta(enc)}
    error = enc.status == VersionStatus.ERROR
    out["clinicalStatus"] = {"coding": [{"system": systems.CONDITION_CLINICAL, "code": "active"}]}
    out["verificationStatus"] = {
        "coding": [
            {
                "system": systems.CONDITION_VER_STATUS,
                "code": "entered-in-error" if error else "confirmed",
            }
        ]
    }
    out["category"] = [
        {
            "coding": [
                {
                    "system": systems.CONDITION_CATEGORY,
                    "code": "encounter-diagnosis",
                    "display": "Encounter Diagnosis",
                }
            ]
        }
    ]
    out["code"] = {
        "coding": [{"system": systems.icd10_system(), "code": d.code_id, "display": d.name}],
        "text": d.name,
    }
    out["subject"] = patient_ref(mpi_id)
    out["encounter"] = {"reference": f"Encounter/{enc.pk}"}
    out["recordedDate"] = local_time(enc.started_at)
    out["onsetDateTime"] = local_time(enc.started_at)
    if d.is_primary:
        out["extension"] = [
            {"url": f"{systems.base()}/ext/primary-diagnosis", "valueBoolean": True}
        ]
    return out


def _obs_status(obs: Observation) -> str:
    if obs.status == VersionStatus.ERROR:
        return "entered-in-error"
    return "amended" if obs.replaces_id else "final"


def observation(obs: Observation, mpi_id: str) -> JSON:
    out = _base("Observation", obs, mpi_id)
    out["status"] = _obs_status(obs)
    vital = rrules.VITALS.get(obs.kind)
    category = (
        "vital-signs"
        if vital and obs.kind not in ("glucose_fasting", "glucose_random", "hba1c")
        else "laboratory"
    )
    out["category"] = [{"coding": [{"system": systems.OBSERVATION_CATEGORY, "code": category}]}]
    if vital is not None:
        out["code"] = {
            "coding": [{"system": systems.LOINC, "code": vital.code, "display": vital.name_en}],
            "text": vital.name,
        }
    else:
        out["code"] = {
            "coding": [
                {"system": systems.lab_code_system(), "code": obs.code, "display": obs.name}
            ],
            "text": obs.name,
        }
    out["subject"] = patient_ref(mpi_id)
    if obs.encounter_id:
        out["encounter"] = {"reference": f"Encounter/{obs.encounter_id}"}
    out["effectiveDateTime"] = local_time(obs.effective_at)
    org = _org_ref(obs.facility)
    if org is not None:
        out["performer"] = [org]
    if obs.kind == "bp" and obs.value is not None and obs.value2 is not None:
        out["component"] = [
            {
                "code": {
                    "coding": [
                        {
                            "system": systems.LOINC,
                            "code": rrules.SBP_CODE,
                            "display": "Systolic blood pressure",
                        }
                    ],
                    "text": "收缩压",
                },
                "valueQuantity": _quantity(obs.value, "mmHg", "mm[Hg]"),
            },
            {
                "code": {
                    "coding": [
                        {
                            "system": systems.LOINC,
                            "code": rrules.DBP_CODE,
                            "display": "Diastolic blood pressure",
                        }
                    ],
                    "text": "舒张压",
                },
                "valueQuantity": _quantity(obs.value2, "mmHg", "mm[Hg]"),
            },
        ]
    elif obs.value is not None:
        if vital is not None:
            out["valueQuantity"] = _quantity(obs.value, vital.unit_label, vital.unit)
        else:
            out["valueQuantity"] = (
                _quantity(obs.value, obs.unit) if obs.unit else {"value": _num(obs.value)}
            )
    elif obs.value_text:
        out["valueString"] = obs.value_text
    if obs.flag:
        out["interpretation"] = [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                        "code": obs.flag,
                    }
                ]
            }
        ]
    if obs.device_serial:
        out["device"] = {"display": f"设备 {obs.device_serial}"}
    return out


def _num(value: float | Decimal) -> float | int:
    number = float(value)
    return int(number) if number.is_integer() else number


def medication_request(rx: Prescription, mpi_id: str) -> JSON:
    out = _base("MedicationRequest", rx, mpi_id)
    if rx.status == VersionStatus.ERROR:
        status = "entered-in-error"
    elif rx.status == VersionStatus.AMENDED:
        status = "cancelled"
    else:
        ends = rx.prescribed_at.timestamp() + rx.days * 86400
        status = "completed" if ends < timezone.now().timestamp() else "active"
    out["status"] = status
    out["intent"] = "order"
    out["medicationCodeableConcept"] = {
        "coding": [{"system": systems.drug_system(), "code": rx.drug_id, "display": rx.drug_name}],
        "text": rx.drug_name,
    }
    out["subject"] = patient_ref(mpi_id)
    if rx.encounter_id:
        out["encounter"] = {"reference": f"Encounter/{rx.encounter_id}"}
    out["authoredOn"] = local_time(rx.prescribed_at)
    freq_zh, _ = rrules.FREQUENCIES.get(rx.frequency, (rx.frequency, None))
    route_zh = rrules.ROUTES.get(rx.route, rx.route)
    timing: JSON = {
        "code": {
            "coding": [
                {"system": systems.frequency_system(), "code": rx.frequency, "display": freq_zh}
            ],
            "text": freq_zh,
        }
    }
    repeat = FREQ_TIMING.get(rx.frequency)
    if repeat is not None:
        timing["repeat"] = {
            "frequency": repeat[0],
            "period": _num(repeat[1]),
            "periodUnit": repeat[2],
            "boundsDuration": {"value": rx.days, "unit": "天", "system": systems.UCUM, "code": "d"},
        }
    dosage: JSON = {
        "sequence": 1,
        "text": f"每次{_num(rx.dose)}{rx.dose_unit}，{freq_zh}，{route_zh}，{rx.days}天",
        "timing": timing,
        "doseAndRate": [{"doseQuantity": {"value": _num(rx.dose), "unit": rx.dose_unit}}],
    }
    if rx.route:
        dosage["route"] = {
            "coding": [{"system": systems.route_system(), "code": rx.route, "display": route_zh}],
            "text": route_zh,
        }
    out["dosageInstruction"] = [dosage]
    out["dispenseRequest"] = {
        "quantity": {"value": _num(rx.quantity), "unit": rx.drug.unit if _drug_loaded(rx) else ""},
        "expectedSupplyDuration": {
            "value": rx.days,
            "unit": "天",
            "system": systems.UCUM,
            "code": "d",
        },
    }
    if not out["dispenseRequest"]["quantity"]["unit"]:
        del out["dispenseRequest"]["quantity"]["unit"]
    org = _org_ref(rx.facility)
    if org is not None:
        out["performer"] = org
    return out


def _drug_loaded(rx: Prescription) -> bool:
    return "drug" in rx._state.fields_cache


def diagnostic_report(report: DiagnosticReport, mpi_id: str, result_ids: list[int]) -> JSON:
    out = _base("DiagnosticReport", report, mpi_id)
    study = study_request_id(report)
    if study:
        out["basedOn"] = [{"reference": f"ServiceRequest/{study}"}]
    if report.status == VersionStatus.ERROR:
        out["status"] = "entered-in-error"
    else:
        out["status"] = "amended" if report.replaces_id else "final"
    out["category"] = [
        {
            "coding": [
                {
                    "system": systems.V2_0074,
                    "code": CATEGORY_TO_V2.get(report.category, "OTH"),
                    "display": report.get_category_display(),
                }
            ]
        }
    ]
    code: JSON = {"text": report.name}
    if report.code:
        code["coding"] = [
            {"system": systems.report_code_system(), "code": report.code, "display": report.name}
        ]
    out["code"] = code
    out["subject"] = patient_ref(mpi_id)
    if report.encounter_id:
        out["encounter"] = {"reference": f"Encounter/{report.encounter_id}"}
    out["effectiveDateTime"] = local_time(report.issued_at)
    out["issued"] = local_time(report.issued_at)
    org = _org_ref(report.facility)
    if org is not None:
        out["performer"] = [org]
    if result_ids:
        out["result"] = [{"reference": f"Observation/{pk}"} for pk in result_ids]
    conclusion = report.conclusion
    if report.critical:
        conclusion = f"【危急值】{conclusion}" if conclusion else "【危急值】"
    if conclusion:
        out["conclusion"] = conclusion
    if report.critical:
        out["conclusionCode"] = [CRITICAL_CONCLUSION]
    return out


#: A report with a critical value (危急值): conclusionCode = HL7 v3 ObservationInterpretation
#: AA "Critical abnormal" (R4 DiagnosticReport has no `interpretation`; the conclusion text
#: also starts with 【危急值】).
CRITICAL_CONCLUSION: JSON = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
            "code": "AA",
            "display": "Critical abnormal",
        }
    ],
    "text": "危急值",
}

#: The provenance the shared diagnosis centres write their reports with
#: (diagnostics.actions.RECORD_SYSTEM, source id "study-<pk>"), which is also the id of the
#: study's ServiceRequest.
_STUDY_SOURCE = re.compile(r"^study-\d+$")


def study_request_id(report: DiagnosticReport) -> str:
    """The ServiceRequest id of the centre study a report answers, or ""."""
    if report.source_system == DIAGNOSTICS_SYSTEM and _STUDY_SOURCE.match(report.source_id):
        return report.source_id
    return ""


# --- inbound ---------------------------------------------------------------------------


@dataclass
class Refs:
    """How the caller resolves a reference: "Patient/X", "Encounter/12" or, inside a
    transaction Bundle, "urn:uuid:…" → (resource type, our id). Returns None if unknown."""

    resolve: Callable[[str], tuple[str, str] | None]


@dataclass
class Parsed:
    """An inbound resource in the records app's terms, and who it is about."""

    resource_type: str
    patient: str  # "Patient/<mpi>" resolved: the mpi id
    data: Any  # EncounterInput | ObservationInput | ReportInput | DiagnosisInput | …
    encounter_id: int | None = None
    issues: list[Issue] = field(default_factory=list)


def _fail(issues: list[Issue]) -> None:
    if issues:
        raise FhirError(422, issues)


def _issue(path: str, msg_zh: str, msg_en: str, code: str = "invalid", err: str = "") -> Issue:
    return Issue(code, msg_zh, msg_en, path, error_code=err or code)


def parse_time(raw: Any) -> datetime | None:
    """A FHIR date or dateTime; a bare date is midnight Beijing time."""
    if not raw:
        return None
    text = str(raw)
    try:
        if len(text) == 10:
            return datetime.combine(datetime.fromisoformat(text).date(), time.min, SHANGHAI)
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=SHANGHAI)


def provenance(body: JSON, path: str, issues: list[Issue]) -> Provenance:
    """The resource's first identifier is the sending system's identity of the record: the
    idempotency key. No identifier: no key (each POST records a new item)."""
    for i, ident in enumerate(body.get("identifier") or []):
        value = str(ident.get("value") or "").strip()
        system = str(ident.get("system") or "").strip()
        if not value:
            continue
        if len(system) > 64 or len(value) > 128:
            issues.append(
                _issue(
                    f"{path}.identifier[{i}]",
                    "标识过长（system 最多 64 字符，value 最多 128 字符）",
                    "identifier too long (system ≤ 64, value ≤ 128 characters)",
                    err="too_long",
                )
            )
            return Provenance(source=Source.FHIR)
        return Provenance(source=Source.FHIR, source_system=system, source_id=value)
    return Provenance(source=Source.FHIR)


def subject_of(body: JSON, path: str, refs: Refs, issues: list[Issue]) -> str:
    """The mpi id of the resident a resource is about (subject reference or identifier)."""
    subject = body.get("subject") or body.get("patient") or {}
    where = f"{path}.subject"
    ref = str(subject.get("reference") or "")
    if ref:
        found = refs.resolve(ref)
        if found is None or found[0] != "Patient":
            issues.append(
                _issue(
                    where,
                    f"找不到引用的居民：{ref}",
                    f"Unknown patient {ref}",
                    "not-found",
                    "unknown_patient",
                )
            )
            return ""
        return found[1]
    ident = subject.get("identifier") or {}
    if ident.get("value"):
        found = refs.resolve(f"Patient?identifier={ident.get('system') or ''}|{ident['value']}")
        if found is not None:
            return found[1]
        issues.append(
            _issue(
                f"{where}.identifier",
                "找不到该证件号的居民",
                "No resident with this identifier",
                "not-found",
                "unknown_patient",
            )
        )
        return ""
    issues.append(
        _issue(where, "缺少 subject（居民）", "subject is required", "required", "required")
    )
    return ""


def encounter_ref(
    body: JSON, path: str, refs: Refs, issues: list[Issue], *, required: bool
) -> int | None:
    ref = str((body.get("encounter") or {}).get("reference") or "")
    if not ref:
        if required:
            issues.append(
                _issue(
                    f"{path}.encounter",
                    "须引用所属就诊（encounter），诊断和处方只能记在一次就诊上",
                    "encounter is required: diagnoses and prescriptions belong to an encounter",
                    "required",
                    "required",
                )
            )
        return None
    found = refs.resolve(ref)
    if found is None or found[0] != "Encounter" or not found[1].isdigit():
        issues.append(
            _issue(
                f"{path}.encounter",
                f"找不到引用的就诊：{ref}",
                f"Unknown encounter {ref}",
                "not-found",
                "unknown_encounter",
            )
        )
        return None
    return int(found[1])


def _codings(concept: Any) -> list[JSON]:
    return list((concept or {}).get("coding") or [])


def encounter_in(body: JSON, refs: Refs, facility_ids: Callable[[str], int | None]) -> Parsed:
    issues: list[Issue] = []
    mpi = subject_of(body, "Encounter", refs, issues)
    cls = body.get("class") or {}
    kind = CLASS_TO_KIND.get(str(cls.get("code") or ""), EncounterKind.OTHER)
    for t in body.get("type") or []:
        for c in _codings(t):
            if (
                c.get("system") == systems.encounter_kind_system()
                and c.get("code") in EncounterKind.values
            ):
                kind = c["code"]
    period = body.get("period") or {}
    started = parse_time(period.get("start"))
    if started is None:
        issues.append(
            _issue(
                "Encounter.period.start",
                "缺少就诊时间 period.start",
                "period.start is required",
                "required",
                "required",
            )
        )
    ended = parse_time(period.get("end"))
    complaint = "；".join(
        str(r.get("text") or (_codings(r)[0].get("display") if _codings(r) else "") or "")
        for r in body.get("reasonCode") or []
    ).strip("；")
    facility_id = None
    provider = str((body.get("serviceProvider") or {}).get("reference") or "")
    if provider:
        facility_id = facility_ids(provider.rsplit("/", 1)[-1])
        if facility_id is None:
            issues.append(
                _issue(
                    "Encounter.serviceProvider",
                    f"找不到机构：{provider}",
                    f"Unknown organization {provider}",
                    "not-found",
                    "unknown_facility",
                )
            )
    prov = provenance(body, "Encounter", issues)
    _fail(issues)
    data = EncounterInput(
        kind=kind,
        started_at=started,
        ended_at=ended,
        complaint=complaint[:500],
        facility_id=facility_id,
        provenance=prov,
    )
    return Parsed("Encounter", mpi, data)


def icd_code_of(body: JSON, path: str, issues: list[Issue]) -> str:
    concept = body.get("code") or {}
    for c in _codings(concept):
        system = str(c.get("system") or "")
        if c.get("code") and (
            system in (systems.icd10_system(), systems.ICD10_WHO)
            or "icd-10" in system.lower()
            or not system
        ):
            return str(c["code"]).strip().upper()
    issues.append(
        _issue(
            f"{path}.code",
            "缺少 ICD-10 诊断编码",
            "An ICD-10 coding is required",
            "required",
            "required",
        )
    )
    return ""


def condition_in(body: JSON, refs: Refs) -> Parsed:
    issues: list[Issue] = []
    mpi = subject_of(body, "Condition", refs, issues)
    code = icd_code_of(body, "Condition", issues)
    enc_id = encounter_ref(body, "Condition", refs, issues, required=True)
    _fail(issues)
    primary = None
    for ext in body.get("extension") or []:
        if ext.get("url") == f"{systems.base()}/ext/primary-diagnosis":
            primary = bool(ext.get("valueBoolean"))
    return Parsed(
        "Condition", mpi, DiagnosisInput(code=code, is_primary=primary), encounter_id=enc_id
    )


def _value_quantity(holder: JSON) -> Any:
    q = holder.get("valueQuantity")
    if isinstance(q, dict):
        return q.get("value")
    if "valueInteger" in holder:
        return holder["valueInteger"]
    return None


def observation_fields(
    body: JSON, path: str = "Observation"
) -> tuple[ObservationInput, list[Issue], dict[str, str]]:
    """The ObservationInput of an Observation body, the structural issues, and where each of
    our field names sits in this body (for error expressions)."""
    issues: list[Issue] = []
    where: dict[str, str] = {
        "effective_at": f"{path}.effectiveDateTime",
        "value": f"{path}.valueQuantity.value",
        "code": f"{path}.code",
    }
    codings = _codings(body.get("code"))
    kind, code, name = "", "", ""
    for c in codings:
        if c.get("system") == systems.LOINC and c.get("code") in rrules.KIND_BY_CODE:
            kind = rrules.KIND_BY_CODE[str(c["code"])]
            break
    if not kind:
        first = codings[0] if codings else {}
        code = str(first.get("code") or "").strip()
        name = str((body.get("code") or {}).get("text") or first.get("display") or "").strip()
        kind = "lab"
    data = ObservationInput(kind=kind, code=code, name=name)
    data.effective_at = parse_time(
        body.get("effectiveDateTime")
        or (body.get("effectivePeriod") or {}).get("start")
        or body.get("issued")
    )
    if data.effective_at is None:
        issues.append(
            _issue(
                f"{path}.effective[x]",
                "缺少测量时间 effectiveDateTime",
                "effectiveDateTime is required",
                "required",
                "required",
            )
        )
    if kind == "bp":
        for i, comp in enumerate(body.get("component") or []):
            ccodes = {str(c.get("code")) for c in _codings(comp.get("code"))}
            if rrules.SBP_CODE in ccodes:
                data.value = _value_quantity(comp)
                where["systolic"] = f"{path}.component[{i}].valueQuantity.value"
            elif rrules.DBP_CODE in ccodes:
                data.value2 = _value_quantity(comp)
                where["diastolic"] = f"{path}.component[{i}].valueQuantity.value"
        where.setdefault("systolic", f"{path}.component")
        where.setdefault("diastolic", f"{path}.component")
    elif kind in rrules.VITALS:
        data.value = _value_quantity(body)
        where[kind] = f"{path}.valueQuantity.value"
        q = body.get("valueQuantity") or {}
        unit = str(q.get("code") or q.get("unit") or "")
        vital = rrules.VITALS[kind]
        if unit and unit not in (vital.unit, vital.unit_label):
            issues.append(
                _issue(
                    f"{path}.valueQuantity.code",
                    f"单位应为 {vital.unit_label}（UCUM {vital.unit}）",
                    f"unit must be {vital.unit} (UCUM)",
                    err="wrong_unit",
                )
            )
    else:
        data.value = _value_quantity(body)
        data.value_text = str(body.get("valueString") or "")
        q = body.get("valueQuantity") or {}
        data.unit = str(q.get("unit") or q.get("code") or "")
    for interp in body.get("interpretation") or []:
        for c in _codings(interp):
            if c.get("code"):
                data.flag = str(c["code"])[:2]
    return data, issues, where


def observation_in(body: JSON, refs: Refs) -> tuple[Parsed, dict[str, str]]:
    issues: list[Issue] = []
    mpi = subject_of(body, "Observation", refs, issues)
    data, more, where = observation_fields(body)
    issues += more
    enc_id = encounter_ref(body, "Observation", refs, issues, required=False)
    data.provenance = provenance(body, "Observation", issues)
    data.encounter_id = enc_id
    _fail(issues)
    return Parsed("Observation", mpi, data, encounter_id=enc_id), where


def medication_request_in(body: JSON, refs: Refs) -> Parsed:
    issues: list[Issue] = []
    path = "MedicationRequest"
    mpi = subject_of(body, path, refs, issues)
    enc_id = encounter_ref(body, path, refs, issues, required=True)
    drug = ""
    for c in _codings(body.get("medicationCodeableConcept")):
        if c.get("code") and c.get("system") in (systems.drug_system(), None, ""):
            drug = str(c["code"])
    if not drug:
        issues.append(
            _issue(
                f"{path}.medicationCodeableConcept",
                "须给出药品目录编码（system …/drug）",
                "A catalogue drug code (system …/drug) is required",
                "required",
                "required",
            )
        )
    dosages = body.get("dosageInstruction") or []
    dosage = dosages[0] if dosages else {}
    dp = f"{path}.dosageInstruction[0]"
    dose: Any = None
    dose_unit = ""
    for dr in dosage.get("doseAndRate") or []:
        q = dr.get("doseQuantity") or {}
        if q.get("value") is not None:
            dose, dose_unit = q["value"], str(q.get("unit") or q.get("code") or "")
    if dose is None:
        issues.append(
            _issue(
                f"{dp}.doseAndRate[0].doseQuantity",
                "缺少单次剂量",
                "doseQuantity is required",
                "required",
                "required",
            )
        )
    timing = dosage.get("timing") or {}
    frequency = ""
    for c in _codings(timing.get("code")):
        if c.get("code"):
            frequency = str(c["code"])
    repeat = timing.get("repeat") or {}
    if not frequency and repeat.get("frequency"):
        key = (
            int(repeat.get("frequency") or 1),
            float(repeat.get("period") or 1),
            str(repeat.get("periodUnit") or "d"),
        )
        frequency = TIMING_FREQ.get(key, "")
    if not frequency:
        issues.append(
            _issue(
                f"{dp}.timing",
                "缺少或无法识别用药频次",
                "timing (frequency) is missing or not recognised",
                "required",
                "required",
            )
        )
    route = "po"
    for c in _codings(dosage.get("route")):
        if c.get("code"):
            route = str(c["code"])
    days: Any = None
    supply = (body.get("dispenseRequest") or {}).get("expectedSupplyDuration") or {}
    if supply.get("value") is not None:
        days = supply["value"]
    elif (repeat.get("boundsDuration") or {}).get("value") is not None:
        days = repeat["boundsDuration"]["value"]
    if days is None:
        issues.append(
            _issue(
                f"{path}.dispenseRequest.expectedSupplyDuration",
                "缺少用药天数",
                "duration (days) is required",
                "required",
                "required",
            )
        )
    quantity = ((body.get("dispenseRequest") or {}).get("quantity") or {}).get("value")
    _fail(issues)
    data = PrescriptionInput(
        drug_code=drug,
        dose=Decimal(str(dose)),
        frequency=frequency,
        days=int(days),
        dose_unit=dose_unit,
        route=route,
        quantity=None if quantity is None else Decimal(str(quantity)),
    )
    return Parsed(path, mpi, data, encounter_id=enc_id)


def report_in(
    body: JSON, refs: Refs, results: list[tuple[int, JSON]], result_path: Callable[[int], str]
) -> tuple[Parsed, dict[str, str]]:
    """`results` are the result Observations given with the report (contained ones, or the
    entries of the same transaction Bundle), with their index for error paths."""
    issues: list[Issue] = []
    path = "DiagnosticReport"
    mpi = subject_of(body, path, refs, issues)
    category: str = ReportCategory.OTHER
    for cat in body.get("category") or []:
        for c in _codings(cat):
            if c.get("code") in V2_TO_CATEGORY:
                category = V2_TO_CATEGORY[str(c["code"])]
            elif c.get("code") in ReportCategory.values:
                category = c["code"]
    codings = _codings(body.get("code"))
    name = str(
        (body.get("code") or {}).get("text") or (codings[0].get("display") if codings else "") or ""
    )
    code = str(codings[0].get("code") or "") if codings else ""
    issued = parse_time(body.get("issued") or body.get("effectiveDateTime"))
    if issued is None:
        issues.append(
            _issue(
                f"{path}.issued",
                "缺少报告时间",
                "issued (or effectiveDateTime) is required",
                "required",
                "required",
            )
        )
    enc_id = encounter_ref(body, path, refs, issues, required=False)
    where: dict[str, str] = {
        "issued_at": f"{path}.issued",
        "name": f"{path}.code",
        "category": f"{path}.category",
    }
    obs_inputs: list[ObservationInput] = []
    for n, (index, res) in enumerate(results):
        o, more, o_where = observation_fields(res, result_path(index))
        issues += more
        obs_inputs.append(o)
        for key, value in o_where.items():
            where[f"results.{n}.{key}"] = value
    conclusion = str(body.get("conclusion") or "")
    critical = conclusion.startswith("【危急值】")
    prov = provenance(body, path, issues)
    _fail(issues)
    data = ReportInput(
        category=category,
        name=name or code,
        code=code,
        issued_at=issued,
        conclusion=conclusion.removeprefix("【危急值】"),
        critical=critical,
        results=obs_inputs,
        encounter_id=enc_id,
        provenance=prov,
    )
    return Parsed(path, mpi, data, encounter_id=enc_id), where
