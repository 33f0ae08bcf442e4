"""Is this JSON a valid R4 resource? `fhir.resources` checks structure and types; on top of
that we check the codes whose value set FHIR binds as *required* (e.g. Patient.gender),
which the models describe but do not enforce.

fhir.resources 8 ships R5 as its default and R4B (4.3) as the nearest to R4; Patient,
Organization, Practitioner, Bundle, OperationOutcome and CapabilityStatement are the same in
R4 and R4B for every element we read or write, so the R4B models are our R4 validator."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.careplan import CarePlan
from fhir.resources.R4B.careteam import CareTeam
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.diagnosticreport import DiagnosticReport
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.fhirresourcemodel import FHIRResourceModel
from fhir.resources.R4B.location import Location
from fhir.resources.R4B.measure import Measure
from fhir.resources.R4B.measurereport import MeasureReport
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.practitioner import Practitioner
from fhir.resources.R4B.schedule import Schedule
from fhir.resources.R4B.servicerequest import ServiceRequest
from fhir.resources.R4B.slot import Slot
from fhir.resources.R4B.task import Task
from pydantic import BaseModel, ValidationError

from .outcome import FhirError, Issue, from_validation_error

MODELS: dict[str, type[FHIRResourceModel]] = {
    "Patient": Patient,
    "Organization": Organization,
    "Practitioner": Practitioner,
    "Bundle": Bundle,
    "OperationOutcome": OperationOutcome,
    "CapabilityStatement": CapabilityStatement,
    "Encounter": Encounter,
    "Condition": Condition,
    "Observation": Observation,
    "MedicationRequest": MedicationRequest,
    "DiagnosticReport": DiagnosticReport,
    "CareTeam": CareTeam,
    "CarePlan": CarePlan,
    "ServiceRequest": ServiceRequest,
    "Task": Task,
    "Schedule": Schedule,
    "Slot": Slot,
    "Appointment": Appointment,
    "Location": Location,
    "Measure": Measure,
    "MeasureReport": MeasureReport,
}


#: Elements whose generated `enum_values` are not a value set (CapabilityStatement.format
#: lists the words of its title: "formats, json, ttl, mime").
#: Expression.language is an extensible binding: its list ends with "etc.".
_NOT_VALUE_SETS = frozenset({("CapabilityStatement", "format"), ("Expression", "language")})

#: Value sets the generated models cut short (Task.status lists four codes and "+"): the
#: whole R4 value set.
_FULL_VALUE_SETS: dict[tuple[str, str], list[str]] = {
    ("Task", "status"): [
        "draft",
        "requested",
        "received",
        "accepted",
        "rejected",
        "ready",
        "cancelled",
        "in-progress",
        "on-hold",
        "failed",
        "completed",
        "entered-in-error",
    ],
}


def _binding_issues(obj: BaseModel, path: str) -> list[Issue]:
    """Codes outside their required value set, found by walking the validated model."""
    issues: list[Issue] = []
    for name, info in type(obj).model_fields.items():
        value = getattr(obj, name, None)
        if value is None:
            continue
        element = info.alias or name
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        allowed = extra.get("enum_values")
        if (type(obj).__name__, element) in _NOT_VALUE_SETS:
            allowed = None
        if (type(obj).__name__, element) in _FULL_VALUE_SETS:
            allowed = list(_FULL_VALUE_SETS[(type(obj).__name__, element)])
        values = value if isinstance(value, list) else [value]
        for i, item in enumerate(values):
            where = f"{path}.{element}" + (f"[{i}]" if isinstance(value, list) else "")
            if isinstance(allowed, list) and isinstance(item, str) and item not in allowed:
                shown = ", ".join(str(a) for a in allowed)
                issues.append(
                    Issue(
                        "code-invalid",
                        f"取值“{item}”不在允许的代码中（{shown}）",
                        f"'{item}' is not one of the required codes: {shown}",
                        where,
                        error_code="code_invalid",
                    )
                )
            elif isinstance(item, BaseModel):
                issues.extend(_binding_issues(item, where))
    return issues


def validate_resource(body: Any, resource_type: str) -> FHIRResourceModel:
    """The body as a validated model, or FhirError(400) naming every element that is wrong."""
    if not isinstance(body, dict):
        raise FhirError.single(
            400, "structure", "请求体应为 JSON 对象", "The body must be a JSON object"
        )
    if body.get("resourceType") != resource_type:
        raise FhirError.single(
            400,
            "structure",
            f"resourceType 应为 {resource_type}",
            f"resourceType must be {resource_type}",
            f"{resource_type}.resourceType",
        )
    try:
        model = MODELS[resource_type].model_validate(body)
    except ValidationError as exc:
        raise from_validation_error(resource_type, exc) from exc
    issues = _binding_issues(model, resource_type)
    if issues:
        raise FhirError(400, issues)
    return model
