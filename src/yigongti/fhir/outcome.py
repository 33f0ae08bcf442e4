"""OperationOutcome: how every FHIR error leaves the server.

One `FhirError` carries the HTTP status and the issues; the views raise it (or let a domain
error through) and `fhir_view` in views.py turns it into a response. Diagnostics are Chinese
first with the English twin, as everywhere in the API (DESIGN.md "Errors")."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from yigongti.core.errors import Conflict, DomainError, FieldError

from .systems import error_code_system

#: Our field names (ResidentInput, FieldError.field) → the Patient element they came from.
PATIENT_EXPRESSIONS: dict[str, str] = {
    "name": "Patient.name",
    "birth_date": "Patient.birthDate",
    "sex": "Patient.gender",
    "doc_type": "Patient.identifier",
    "doc_number": "Patient.identifier",
    "phone": "Patient.telecom",
    "village_code": "Patient.address",
    "address": "Patient.address",
    "household_key": "Patient",
    "mpi_id": "Patient.id",
    "qr": "Patient.identifier",
}

#: FieldError codes that mean "this person is already registered".
DUPLICATE_CODES = frozenset({"duplicate", "possible_duplicate"})


@dataclass(frozen=True)
class Issue:
    """One OperationOutcome.issue. `code` is from the FHIR IssueType value set."""

    code: str
    msg_zh: str
    msg_en: str
    expression: str = ""
    error_code: str = ""  # our own machine-readable code (FieldError.code)
    severity: str = "error"

    def as_fhir(self) -> dict[str, Any]:
        issue: dict[str, Any] = {
            "severity": self.severity,
            "code": self.code,
            "diagnostics": f"{self.msg_zh} / {self.msg_en}",
        }
        details: dict[str, Any] = {"text": self.msg_zh}
        if self.error_code:
            details["coding"] = [{"system": error_code_system(), "code": self.error_code}]
        issue["details"] = details
        if self.expression:
            issue["expression"] = [self.expression]
        return issue


class FhirError(Exception):
    """A request the FHIR facade refuses, with its HTTP status."""

    def __init__(
        self, status: int, issues: Issue | Sequence[Issue], headers: dict[str, str] | None = None
    ):
        self.status = status
        self.issues = [issues] if isinstance(issues, Issue) else list(issues)
        self.headers = headers or {}
        super().__init__("; ".join(i.msg_en for i in self.issues))

    @classmethod
    def single(
        cls,
        status: int,
        code: str,
        msg_zh: str,
        msg_en: str,
        expression: str = "",
        **headers: str,
    ) -> FhirError:
        return cls(status, Issue(code, msg_zh, msg_en, expression), headers=headers)


def operation_outcome(issues: Iterable[Issue]) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": [i.as_fhir() for i in issues]}


# --- from what the domain and the validators raise ---------------------------------------


def _issue_code(status: int, err: FieldError) -> str:
    if status == 409:
        return "duplicate" if err.code in DUPLICATE_CODES else "conflict"
    if status == 403:
        return "forbidden"
    if status == 404:
        return "not-found"
    return "invalid"


def from_domain_error(exc: DomainError, expressions: dict[str, str]) -> FhirError:
    """One issue per FieldError, each pointing at the FHIR element the field came from. A
    refused duplicate names the existing index number in its diagnostics."""
    status = exc.status
    existing = exc.extra.get("existing") if isinstance(exc, Conflict) else None
    issues = []
    for err in exc.errors:
        msg_zh, msg_en = err.msg_zh, err.msg_en
        mpi = existing.get("mpi_id") if isinstance(existing, dict) else None
        if mpi and str(mpi) not in msg_zh:
            msg_zh = f"{msg_zh}（主索引号 {mpi}）"
        if mpi and str(mpi) not in msg_en:
            msg_en = f"{msg_en} (index number {mpi})"
        issues.append(
            Issue(
                _issue_code(status, err),
                msg_zh,
                msg_en,
                expressions.get(err.field, ""),
                error_code=err.code,
            )
        )
    return FhirError(status, issues)


# Chinese for the pydantic error types a FHIR client is likely to hit.
_PYDANTIC_ZH = {
    "extra_forbidden": "不是该资源的元素（R4 中无此字段）",
    "missing": "缺少必需元素",
    "list_type": "应为数组",
    "string_type": "应为字符串",
    "bool_type": "应为布尔值",
    "int_type": "应为整数",
    "model_type": "应为对象",
    "dict_type": "应为对象",
    "value_error": "取值格式不正确",
}


def pydantic_location(resource_type: str, loc: Sequence[int | str]) -> str:
    """('name', 0, 'given') → "Patient.name[0].given" (FHIRPath-style)."""
    path = resource_type
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part == "resource_type":
            path += ".resourceType"
        elif part.startswith("function-"):  # pydantic validator frames, not elements
            continue
        else:
            path += f".{part}"
    return path


def from_validation_error(resource_type: str, exc: ValidationError) -> FhirError:
    issues = []
    for err in exc.errors():
        kind = str(err.get("type", ""))
        msg_en = str(err.get("msg", "invalid")).replace("\n", " ")
        msg_en = " ".join(msg_en.split())
        issues.append(
            Issue(
                "structure",
                _PYDANTIC_ZH.get(kind, "不符合 FHIR R4 结构"),
                msg_en,
                pydantic_location(resource_type, err.get("loc", ())),
                error_code=kind,
            )
        )
    return FhirError(400, issues)
