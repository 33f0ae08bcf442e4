"""Builders for the clinical FHIR tests: valid R4 bodies for a resident."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from yigongti.fhir import systems
from yigongti.residents.models import Resident


def when(hours_ago: float = 2) -> str:
    at: datetime = timezone.now() - timedelta(hours=hours_ago)
    return at.isoformat(timespec="seconds")


def subject(r: Resident) -> dict[str, Any]:
    return {"reference": f"Patient/{r.mpi_id}"}


def bp(r: Resident, sbp: float = 150, dbp: float = 95, *, ident: str = "", at: str = "") -> dict:
    body: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": systems.OBSERVATION_CATEGORY, "code": "vital-signs"}]}],
        "code": {"coding": [{"system": systems.LOINC, "code": "85354-9"}]},
        "subject": subject(r),
        "effectiveDateTime": at or when(),
        "component": [
            {
                "code": {"coding": [{"system": systems.LOINC, "code": "8480-6"}]},
                "valueQuantity": {
                    "value": sbp,
                    "unit": "mmHg",
                    "system": systems.UCUM,
                    "code": "mm[Hg]",
                },
            },
            {
                "code": {"coding": [{"system": systems.LOINC, "code": "8462-4"}]},
                "valueQuantity": {
                    "value": dbp,
                    "unit": "mmHg",
                    "system": systems.UCUM,
                    "code": "mm[Hg]",
                },
            },
        ],
    }
    if ident:
        body["identifier"] = [{"system": "urn:his:test", "value": ident}]
    return body


def simple(
    r: Resident, loinc: str, value: float, unit: str, *, ident: str = "", at: str = ""
) -> dict:
    body: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": systems.LOINC, "code": loinc}]},
        "subject": subject(r),
        "effectiveDateTime": at or when(),
        "valueQuantity": {"value": value, "unit": unit, "system": systems.UCUM, "code": unit},
    }
    if ident:
        body["identifier"] = [{"system": "urn:his:test", "value": ident}]
    return body


def encounter(r: Resident, *, ident: str = "", start: str = "", cls: str = "AMB") -> dict:
    body: dict[str, Any] = {
        "resourceType": "Encounter",
        "status": "finished",
        "class": {"system": systems.V3_ACT_CODE, "code": cls},
        "subject": subject(r),
        "period": {"start": start or when(3)},
        "reasonCode": [{"text": "头晕三天"}],
    }
    if ident:
        body["identifier"] = [{"system": "urn:his:test", "value": ident}]
    return body


def condition(r: Resident, enc_ref: str, code: str = "I10") -> dict:
    return {
        "resourceType": "Condition",
        "subject": subject(r),
        "encounter": {"reference": enc_ref},
        "code": {"coding": [{"system": systems.ICD10_WHO, "code": code}]},
    }


def medication_request(r: Resident, enc_ref: str, drug: str = "YP0002") -> dict:
    return {
        "resourceType": "MedicationRequest",
        "status": "active",
        "intent": "order",
        "subject": subject(r),
        "encounter": {"reference": enc_ref},
        "medicationCodeableConcept": {"coding": [{"system": systems.drug_system(), "code": drug}]},
        "dosageInstruction": [
            {
                "timing": {
                    "code": {"coding": [{"system": systems.frequency_system(), "code": "qd"}]}
                },
                "route": {"coding": [{"system": systems.route_system(), "code": "po"}]},
                "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "片"}}],
            }
        ],
        "dispenseRequest": {
            "expectedSupplyDuration": {
                "value": 28,
                "unit": "天",
                "system": systems.UCUM,
                "code": "d",
            }
        },
    }


def report(r: Resident, *, ident: str = "") -> dict:
    body: dict[str, Any] = {
        "resourceType": "DiagnosticReport",
        "status": "final",
        "category": [{"coding": [{"system": systems.V2_0074, "code": "LAB"}]}],
        "code": {
            "coding": [{"system": systems.report_code_system(), "code": "GLU"}],
            "text": "血糖检测",
        },
        "subject": subject(r),
        "issued": when(1),
        "conclusion": "空腹血糖偏高",
        "contained": [
            {
                "resourceType": "Observation",
                "id": "g1",
                "status": "final",
                "code": {"coding": [{"system": systems.LOINC, "code": "14771-0"}]},
                "subject": subject(r),
                "effectiveDateTime": when(1),
                "valueQuantity": {
                    "value": 7.8,
                    "unit": "mmol/L",
                    "system": systems.UCUM,
                    "code": "mmol/L",
                },
            }
        ],
        "result": [{"reference": "#g1"}],
    }
    if ident:
        body["identifier"] = [{"system": "urn:his:test", "value": ident}]
    return body
