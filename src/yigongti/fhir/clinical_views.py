"""FHIR endpoints of the shared health record: Encounter, Condition, Observation,
MedicationRequest, DiagnosticReport (read, search, create), the transaction Bundle,
Patient/$everything and $import (bulk NDJSON).

Every read goes through records.queries / residents.queries (scoped, audited); every write
through records.actions (permission, scope, plausibility, idempotency by identifier)."""

from __future__ import annotations

import dataclasses
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse

from yigongti.accounts.rules import Perm
from yigongti.core import audit
from yigongti.core.actor import Actor
from yigongti.core.errors import DomainError, Forbidden, NotFound
from yigongti.network.models import Facility
from yigongti.records import actions, bulk, queries
from yigongti.records.actions import (
    DiagnosisInput,
    EncounterInput,
    Outcome,
    PrescriptionInput,
    VitalInput,
)
from yigongti.records.models import (
    Diagnosis,
    DiagnosticReport,
    Encounter,
    Observation,
    Prescription,
    VersionStatus,
)
from yigongti.records.rules import VITALS
from yigongti.residents.models import Resident
from yigongti.residents.queries import (
    get_resident_for,
    identity_ids,
    in_scope,
    residents_visible_to,
    survivor_of,
)

from . import clinical, mapping, reads, search, systems, validation
from .clinical import Parsed, Refs
from .mapping import JSON
from .outcome import FhirError, Issue, from_domain_error
from .search import ParamSpec, SearchRequest
from .views import (
    _json_body,
    _strict,
    create_patient_from_body,
    fhir_base,
    fhir_response,
    fhir_view,
)

SHANGHAI = clinical.SHANGHAI
CLINICAL_TYPES = ("Encounter", "Condition", "Observation", "MedicationRequest", "DiagnosticReport")

# --- search parameters -----------------------------------------------------------------

_PATIENT = ParamSpec("patient", "reference", "Patient/<主索引号> or the bare index number")
_SUBJECT = ParamSpec("subject", "reference", "same as patient")
_IDENT = ParamSpec("identifier", "token", "the sending system's identifier: system|value")
_ENC = ParamSpec("encounter", "reference", "Encounter/<id>")
_DATE_DOC = "YYYY, YYYY-MM or YYYY-MM-DD with eq (default), ne, gt, ge, lt, le"


def _include(*targets: str) -> ParamSpec:
    return ParamSpec("_include", "special", "one of: " + ", ".join(targets))


PARAMS: dict[str, tuple[ParamSpec, ...]] = {
    "Encounter": (
        search._ID,
        _PATIENT,
        _SUBJECT,
        _IDENT,
        ParamSpec("date", "date", f"period.start: {_DATE_DOC}"),
        ParamSpec("class", "token", "AMB | EMER | IMP | HH (v3 ActCode)"),
        _include("Encounter:patient"),
    ),
    "Condition": (
        search._ID,
        _PATIENT,
        _SUBJECT,
        ParamSpec("code", "token", "ICD-10 code (…/icd-10-cn or http://hl7.org/fhir/sid/icd-10)"),
        _ENC,
        ParamSpec("recorded-date", "date", f"the encounter's time: {_DATE_DOC}"),
        _include("Condition:patient", "Condition:encounter"),
    ),
    "Observation": (
        search._ID,
        _PATIENT,
        _SUBJECT,
        _IDENT,
        ParamSpec(
            "code", "token", "LOINC (http://loinc.org|85354-9 血压, 14771-0 空腹血糖…) or lab code"
        ),
        ParamSpec("date", "date", f"effectiveDateTime: {_DATE_DOC}"),
        ParamSpec("category", "token", "vital-signs | laboratory"),
        _ENC,
        _include("Observation:patient", "Observation:encounter"),
    ),
    "MedicationRequest": (
        search._ID,
        _PATIENT,
        _SUBJECT,
        ParamSpec("code", "token", "drug catalogue code (…/drug)"),
        ParamSpec("authoredon", "date", f"prescribed at: {_DATE_DOC}"),
        _ENC,
        _include("MedicationRequest:patient", "MedicationRequest:encounter"),
    ),
    "DiagnosticReport": (
        search._ID,
        _PATIENT,
        _SUBJECT,
        _IDENT,
        ParamSpec("code", "token", "report item code"),
        ParamSpec("date", "date", f"issued: {_DATE_DOC}"),
        ParamSpec("category", "token", "LAB | RAD | EC | PAT | OTH (v2-0074)"),
        _ENC,
        _include(
            "DiagnosticReport:patient", "DiagnosticReport:result", "DiagnosticReport:encounter"
        ),
    ),
}

# --- errors: our field names → FHIR paths ----------------------------------------------

ENCOUNTER_EXPR = {
    "started_at": "Encounter.period.start",
    "ended_at": "Encounter.period.end",
    "facility": "Encounter.serviceProvider",
    "kind": "Encounter.class",
    "complaint": "Encounter.reasonCode",
    "status": "Encounter",
    "resident": "Encounter.subject",
}


def _expressions(
    base: dict[str, str], prefixes: dict[str, Callable[[int, str], str]] | None = None
) -> Callable[[str], str]:
    def find(name: str) -> str:
        if name in base:
            return base[name]
        head, _, rest = name.partition(".")
        index, _, tail = rest.partition(".")
        if prefixes and head in prefixes and index.isdigit():
            return prefixes[head](int(index), tail)
        return next(iter(base.values()), "")

    return find


def _domain(exc: DomainError, where: Callable[[str], str]) -> FhirError:
    mapped = {err.field: where(err.field) for err in exc.errors}
    return from_domain_error(exc, mapped)


_RX_TAIL = {
    "drug_code": "medicationCodeableConcept",
    "dose": "dosageInstruction[0].doseAndRate[0].doseQuantity",
    "frequency": "dosageInstruction[0].timing",
    "route": "dosageInstruction[0].route",
    "days": "dispenseRequest.expectedSupplyDuration",
    "quantity": "dispenseRequest.quantity",
}


def _rx_path(root: str) -> Callable[[int, str], str]:
    return lambda i, tail: f"{root}.{_RX_TAIL.get(tail, '')}".rstrip(".")


# --- references ------------------------------------------------------------------------


def resolve_patient(key: str) -> Resident | None:
    """ "Patient/<mpi>", "<mpi>", or "Patient?identifier=system|value" → the survivor."""
    if key.startswith("Patient?identifier="):
        system, _, value = key.split("=", 1)[1].partition("|")
        if not value:
            system, value = "", system
        qs = Resident.objects.all()
        if system == systems.mpi_system():
            found = qs.filter(mpi_id=value).first()
        elif system in ("", systems.ID_CARD_SYSTEM):
            found = qs.filter(doc_number=value.upper()).order_by("merged_into_id").first()
            if found is None and not system:
                found = qs.filter(mpi_id=value).first()
        else:
            found = None
    else:
        mpi = key.rsplit("/", 1)[-1]
        found = Resident.objects.filter(mpi_id=mpi).first()
    return survivor_of(found) if found is not None else None


def _plain_refs(extra: dict[str, tuple[str, str]] | None = None) -> Refs:
    extra = {} if extra is None else extra

    def resolve(ref: str) -> tuple[str, str] | None:
        if ref in extra:
            return extra[ref]
        if ref.startswith("Patient"):
            r = resolve_patient(ref)
            return ("Patient", r.mpi_id) if r else None
        kind, _, key = ref.rpartition("/")
        kind = kind.rsplit("/", 1)[-1]
        if kind == "Encounter" and key.isdigit():
            return ("Encounter", key)
        return None

    return Refs(resolve)


def facility_id_for(key: str) -> int | None:
    f = Facility.objects.filter(code=key).values_list("pk", flat=True).first()
    if f is None and key.startswith("facility-") and key[9:].isdigit():
        f = Facility.objects.filter(pk=int(key[9:])).values_list("pk", flat=True).first()
    return f


def organization_pk(reference: str) -> int | None:
    """The facility of an Organization reference (`Organization/<code>`, `<code>`); None for
    another resource type or an unknown facility."""
    kind, _, key = reference.rpartition("/")
    if kind not in ("", "Organization") and not kind.endswith("/Organization"):
        return None
    return facility_id_for(key)


def organization_q(field_name: str) -> Callable[[str], Q]:
    """A reference search on a facility column (performer, requester, owner)."""

    def make(value: str) -> Q:
        pk = organization_pk(value)
        return Q(**{field_name: pk}) if pk is not None else search.NOTHING

    return make


def _resident(mpi: str, path: str) -> Resident:
    r = Resident.objects.filter(mpi_id=mpi).first()
    if r is None:
        raise FhirError.single(422, "not-found", "找不到居民", "Unknown patient", f"{path}.subject")
    return survivor_of(r)


# --- writing ---------------------------------------------------------------------------


@dataclass
class Written:
    resource_type: str
    pk: int
    outcome: Outcome


def _encounter_input_of(enc: Encounter) -> EncounterInput:
    """The existing visit as an input, for an amendment that adds to it."""
    diagnoses, observations, prescriptions = queries.encounter_parts(enc)
    return EncounterInput(
        kind=enc.kind,
        started_at=enc.started_at,
        ended_at=enc.ended_at,
        department_id=enc.department_id,
        doctor_id=enc.doctor_id,
        complaint=enc.complaint,
        present_illness=enc.present_illness,
        notes=enc.notes,
        diagnoses=[DiagnosisInput(d.code_id, d.is_primary) for d in diagnoses],
        vitals=[
            VitalInput(o.kind, o.value, o.value2, o.effective_at)
            for o in observations
            if o.kind in VITALS
        ],
        prescriptions=[
            PrescriptionInput(
                drug_code=p.drug_id,
                dose=p.dose,
                frequency=p.frequency,
                days=p.days,
                dose_unit=p.dose_unit,
                route=p.route,
                quantity=p.quantity,
            )
            for p in prescriptions
        ],
        facility_id=enc.facility_id,
    )


def _current_encounter(actor: Actor, enc_id: int, path: str) -> Encounter:
    enc = Encounter.objects.select_related("resident").filter(pk=enc_id).first()
    if enc is not None and not in_scope(actor, survivor_of(enc.resident)):
        audit.record(
            actor,
            audit.Action.DENIED,
            "encounter",
            str(enc.pk),
            resident_id=enc.resident_id,
            detail={"purpose": "fhir_write"},
        )
        enc = None
    if enc is None:
        raise FhirError.single(
            422, "not-found", "找不到引用的就诊", f"Unknown encounter {enc_id}", f"{path}.encounter"
        )
    if enc.status != VersionStatus.CURRENT:
        newer = Encounter.objects.filter(replaces_id=enc.pk).first()
        hint = f"（最新版本为 Encounter/{newer.pk}）" if newer else ""
        raise FhirError.single(
            409,
            "conflict",
            f"该就诊记录已被更正或作废{hint}",
            "The encounter is no longer current" + (f"; use Encounter/{newer.pk}" if newer else ""),
            f"{path}.encounter",
        )
    return enc


def _check_same_person(parsed: Parsed, enc: Encounter, path: str) -> None:
    if parsed.patient and survivor_of(enc.resident).mpi_id != parsed.patient:
        raise FhirError.single(
            422,
            "invalid",
            "subject 与所属就诊的居民不一致",
            "subject is not the encounter's patient",
            f"{path}.subject",
        )


def add_to_encounter(actor: Actor, parsed: Parsed, path: str) -> Written:
    """Condition / MedicationRequest create: the encounter is re-recorded as an amendment
    with the added item. Sending the same item again changes nothing."""
    assert parsed.encounter_id is not None
    enc = _current_encounter(actor, parsed.encounter_id, path)
    _check_same_person(parsed, enc, path)
    data = _encounter_input_of(enc)
    if parsed.resource_type == "Condition":
        item: DiagnosisInput = parsed.data
        existing = enc.diagnoses.filter(code_id=item.code).first()
        if existing is not None:
            return Written("Condition", existing.pk, Outcome.UNCHANGED)
        if item.is_primary:
            for d in data.diagnoses:
                d.is_primary = False
        data.diagnoses.append(item)
        reason = f"FHIR 增加诊断 {item.code}"
        where = _expressions(
            {**ENCOUNTER_EXPR, "resident": f"{path}.subject"},
            {"diagnoses": lambda i, tail: f"{path}.code"},
        )
    else:
        rx: PrescriptionInput = parsed.data
        for p in enc.prescriptions.all():
            if (p.drug_id, p.frequency, p.days, p.dose) == (
                rx.drug_code,
                rx.frequency.lower(),
                rx.days,
                rx.dose,
            ):
                return Written("MedicationRequest", p.pk, Outcome.UNCHANGED)
        data.prescriptions.append(rx)
        reason = f"FHIR 增加处方 {rx.drug_code}"
        where = _expressions(
            {**ENCOUNTER_EXPR, "resident": f"{path}.subject"}, {"prescriptions": _rx_path(path)}
        )
    try:
        new = actions.do_amend_encounter(actor, enc, data, reason)
    except DomainError as exc:
        raise _domain(exc, where) from None
    if parsed.resource_type == "Condition":
        pk = Diagnosis.objects.filter(encounter=new, code_id=parsed.data.code).values_list(
            "pk", flat=True
        )[0]
    else:
        pk = (
            Prescription.objects.filter(encounter=new)
            .order_by("-pk")
            .values_list("pk", flat=True)[0]
        )
    return Written(parsed.resource_type, pk, Outcome.CREATED)


def write_encounter(
    actor: Actor,
    parsed: Parsed,
    path: str,
    extra_dx: list[tuple[str, DiagnosisInput]] = (),  # type: ignore[assignment]
    extra_rx: list[tuple[str, PrescriptionInput]] = (),  # type: ignore[assignment]
) -> tuple[Written, Encounter]:
    data: EncounterInput = parsed.data
    data.diagnoses = [d for _, d in extra_dx]
    data.prescriptions = [p for _, p in extra_rx]
    dx_paths = [p for p, _ in extra_dx]
    rx_paths = [p for p, _ in extra_rx]
    resident = _resident(parsed.patient, path)
    where = _expressions(
        {k: v.replace("Encounter", path, 1) for k, v in ENCOUNTER_EXPR.items()},
        {
            "diagnoses": lambda i, tail: f"{dx_paths[i]}.code" if i < len(dx_paths) else path,
            "prescriptions": lambda i, tail: (
                _rx_path(rx_paths[i])(i, tail) if i < len(rx_paths) else path
            ),
        },
    )
    try:
        enc, outcome = actions.upsert_encounter(actor, resident, data)
    except DomainError as exc:
        raise _domain(exc, where) from None
    return Written("Encounter", enc.pk, outcome), enc


def write_observation(actor: Actor, body: JSON, refs: Refs, path: str) -> Written:
    parsed, where = clinical.observation_in(body, refs)
    resident = _resident(parsed.patient, path)
    if parsed.encounter_id is not None:
        enc = _current_encounter(actor, parsed.encounter_id, path)
        _check_same_person(parsed, enc, path)
    fix = {k: v.replace("Observation", path, 1) for k, v in where.items()}
    try:
        obs, outcome = actions.upsert_observation(actor, resident, parsed.data)
    except DomainError as exc:
        raise _domain(exc, _expressions(fix)) from None
    return Written("Observation", obs.pk, outcome)


def write_report(
    actor: Actor,
    body: JSON,
    refs: Refs,
    path: str,
    results: list[tuple[int, JSON]],
    result_path: Callable[[int], str],
) -> Written:
    parsed, where = clinical.report_in(body, refs, results, result_path)
    resident = _resident(parsed.patient, path)
    if parsed.encounter_id is not None:
        _check_same_person(parsed, _current_encounter(actor, parsed.encounter_id, path), path)
    fix = {k: v.replace("DiagnosticReport", path, 1) for k, v in where.items()}
    try:
        report, outcome = actions.upsert_report(actor, resident, parsed.data)
    except DomainError as exc:
        raise _domain(exc, _expressions(fix)) from None
    return Written("DiagnosticReport", report.pk, outcome)


def _contained_results(body: JSON) -> list[tuple[int, JSON]]:
    contained = {f"#{c.get('id')}": (i, c) for i, c in enumerate(body.get("contained") or [])}
    out = []
    for ref in body.get("result") or []:
        key = str(ref.get("reference") or "")
        if key in contained and contained[key][1].get("resourceType") == "Observation":
            out.append(contained[key])
        else:
            raise FhirError.single(
                422,
                "not-supported",
                "检验结果须以 contained 的 Observation 随报告一起提交"
                "（或放在同一个 transaction Bundle 中）",
                "Results must come with the report: contained Observations, or entries of "
                "the same transaction Bundle",
                "DiagnosticReport.result",
            )
    return out


def create_one(actor: Actor, resource_type: str, body: JSON, refs: Refs | None = None) -> Written:
    refs = refs or _plain_refs()
    if resource_type == "Encounter":
        parsed = clinical.encounter_in(body, refs, facility_id_for)
        return write_encounter(actor, parsed, "Encounter")[0]
    if resource_type == "Condition":
        return add_to_encounter(actor, clinical.condition_in(body, refs), "Condition")
    if resource_type == "MedicationRequest":
        return add_to_encounter(
            actor, clinical.medication_request_in(body, refs), "MedicationRequest"
        )
    if resource_type == "Observation":
        return write_observation(actor, body, refs, "Observation")
    results = _contained_results(body)
    return write_report(
        actor, body, refs, "DiagnosticReport", results, lambda i: f"DiagnosticReport.contained[{i}]"
    )


# --- reading ---------------------------------------------------------------------------


def _pk(resource_id: str) -> int:
    if not resource_id.isdigit():
        raise NotFound("资源")
    return int(resource_id)


def read_one(actor: Actor, resource_type: str, resource_id: str) -> JSON:
    pk = _pk(resource_id)
    if resource_type == "Encounter":
        enc = queries.get_encounter_for(actor, pk)
        dx = list(enc.diagnoses.all())
        return clinical.encounter(enc, survivor_of(enc.resident).mpi_id, dx)
    if resource_type == "Condition":
        d = reads.get_diagnosis_for(actor, pk)
        return clinical.condition(d, d.encounter, survivor_of(d.resident).mpi_id)
    if resource_type == "Observation":
        obs = queries.get_observation_for(actor, pk)
        return clinical.observation(obs, survivor_of(obs.resident).mpi_id)
    if resource_type == "MedicationRequest":
        rx = queries.get_prescription_for(actor, pk)
        rx.drug  # noqa: B018  (load the catalogue item for the unit)
        return clinical.medication_request(rx, survivor_of(rx.resident).mpi_id)
    report = queries.get_report_for(actor, pk)
    result_ids = list(
        Observation.objects.filter(report=report).order_by("pk").values_list("pk", flat=True)
    )
    return clinical.diagnostic_report(report, survivor_of(report.resident).mpi_id, result_ids)


def _mpi_by_resident(resident_ids: Iterable[int]) -> dict[int, str]:
    """resident id → the index number of its survivor (merged records point at it)."""
    ids = set(resident_ids)
    rows = Resident.objects.filter(pk__in=ids).only("pk", "mpi_id", "merged_into_id")
    out = {}
    for r in rows:
        out[r.pk] = survivor_of(r).mpi_id if r.merged_into_id else r.mpi_id
    return out


def emit(resource_type: str, rows: list[Any], mpi: dict[int, str]) -> list[JSON]:
    """Rows of one type (resident and facility loaded) → resources, with bulk side queries."""
    if resource_type == "Encounter":
        dx: dict[int, list[Diagnosis]] = defaultdict(list)
        for d in Diagnosis.objects.filter(encounter_id__in=[e.pk for e in rows]).order_by(
            "encounter_id", "rank"
        ):
            dx[d.encounter_id].append(d)
        return [clinical.encounter(e, mpi[e.resident_id], dx[e.pk]) for e in rows]
    if resource_type == "Condition":
        return [clinical.condition(d, d.encounter, mpi[d.resident_id]) for d in rows]
    if resource_type == "Observation":
        return [clinical.observation(o, mpi[o.resident_id]) for o in rows]
    if resource_type == "MedicationRequest":
        return [clinical.medication_request(p, mpi[p.resident_id]) for p in rows]
    results: dict[int, list[int]] = defaultdict(list)
    for pk, rid in (
        Observation.objects.filter(report_id__in=[r.pk for r in rows])
        .order_by("pk")
        .values_list("pk", "report_id")
    ):
        results[rid].append(pk)
    return [clinical.diagnostic_report(r, mpi[r.resident_id], results[r.pk]) for r in rows]


# --- searching -------------------------------------------------------------------------

_DATE_FIELD = {
    "Encounter": ("date", "started_at"),
    "Condition": ("recorded-date", "encounter__started_at"),
    "Observation": ("date", "effective_at"),
    "MedicationRequest": ("authoredon", "prescribed_at"),
    "DiagnosticReport": ("date", "issued_at"),
}


def base_queryset(resource_type: str) -> QuerySet[Any]:
    current = VersionStatus.CURRENT
    if resource_type == "Encounter":
        return Encounter.objects.filter(status=current).select_related("facility")
    if resource_type == "Condition":
        return Diagnosis.objects.filter(encounter__status=current).select_related(
            "encounter__facility"
        )
    if resource_type == "Observation":
        return Observation.objects.filter(status=current).select_related("facility")
    if resource_type == "MedicationRequest":
        return Prescription.objects.filter(status=current).select_related("facility", "drug")
    return DiagnosticReport.objects.filter(status=current).select_related("facility")


def _date_q(field_name: str, param: str, value: str) -> Q:
    prefix, text = "eq", value
    if value[:2] in ("eq", "ne", "gt", "ge", "lt", "le"):
        prefix, text = value[:2], value[2:]
    try:
        start_day, end_day = search.date_range(text)
    except ValueError:
        raise search._bad(param, f"日期“{text}”格式不正确", f"'{text}' is not a date") from None
    start = datetime.combine(start_day, time.min, SHANGHAI)
    end = datetime.combine(end_day + timedelta(days=1), time.min, SHANGHAI)
    within = Q(**{f"{field_name}__gte": start, f"{field_name}__lt": end})
    return {
        "eq": within,
        "ne": ~within,
        "gt": Q(**{f"{field_name}__gte": end}),
        "ge": Q(**{f"{field_name}__gte": start}),
        "lt": Q(**{f"{field_name}__lt": start}),
        "le": Q(**{f"{field_name}__lt": end}),
    }[prefix]


def _code_q(resource_type: str, value: str) -> Q:
    _, code = search._token(value)
    if resource_type == "Condition":
        return Q(code_id=code.upper())
    if resource_type == "MedicationRequest":
        return Q(drug_id=code)
    return Q(code=code)


def _category_q(resource_type: str, value: str) -> Q:
    _, code = search._token(value)
    if resource_type == "DiagnosticReport":
        return Q(category=clinical.V2_TO_CATEGORY.get(code, code))
    labs = ("lab", "glucose_fasting", "glucose_random", "hba1c")
    if code == "laboratory":
        return Q(kind__in=labs)
    if code == "vital-signs":
        return ~Q(kind__in=labs)
    return search.NOTHING


def _class_q(value: str) -> Q:
    _, code = search._token(value)
    kinds = [k for k, (c, _) in clinical.KIND_TO_CLASS.items() if c == code]
    return Q(kind__in=kinds) if kinds else search.NOTHING


def _identifier_q(value: str) -> Q:
    system, code = search._token(value)
    q = Q(source_id=code)
    return q & Q(source_system=system) if system is not None else q


@dataclass
class Scoped:
    resident_ids: list[int] | None  # None: everyone the actor sees
    denied: list[str] = field(default_factory=list)


def _patients_in(actor: Actor, req: SearchRequest) -> Scoped:
    """The patient/subject criteria: each value's identities, or nothing when out of scope."""
    crits = req.values("patient") + req.values("subject")
    if not crits:
        return Scoped(None)
    allowed: set[int] | None = None
    denied = []
    for c in crits:
        ids: set[int] = set()
        for v in c.values:
            r = resolve_patient(v if "/" in v or "?" in v else f"Patient/{v}")
            if r is None:
                continue
            if not in_scope(actor, r):
                denied.append(r.mpi_id)
                audit.record(
                    actor,
                    audit.Action.DENIED,
                    "resident",
                    r.mpi_id,
                    resident_id=r.pk,
                    detail={"purpose": "fhir_search"},
                )
                continue
            ids.update(identity_ids(r))
        allowed = ids if allowed is None else allowed & ids
    return Scoped(sorted(allowed or set()), denied)


def clinical_queryset(
    actor: Actor, resource_type: str, req: SearchRequest, scoped: Scoped
) -> QuerySet[Any]:
    qs = base_queryset(resource_type)
    if scoped.resident_ids is None:
        qs = qs.filter(
            resident_id__in=residents_visible_to(actor, include_merged=True).values("pk")
        )
    else:
        qs = qs.filter(resident_id__in=scoped.resident_ids)
    date_param, date_field = _DATE_FIELD[resource_type]
    for c in req.criteria:
        if c.name == "_id":
            qs = qs.filter(pk__in=[int(v) for v in c.values if v.isdigit()])
        elif c.name == "identifier":
            qs = qs.filter(search._any_of(c.values, _identifier_q))
        elif c.name == date_param:
            qs = qs.filter(search._any_of(c.values, partial(_date_q, date_field, date_param)))
        elif c.name == "code":
            qs = qs.filter(search._any_of(c.values, lambda v: _code_q(resource_type, v)))
        elif c.name == "category":
            qs = qs.filter(search._any_of(c.values, lambda v: _category_q(resource_type, v)))
        elif c.name == "class":
            qs = qs.filter(search._any_of(c.values, _class_q))
        elif c.name == "encounter":
            ids = [int(v.rsplit("/", 1)[-1]) for v in c.values if v.rsplit("/", 1)[-1].isdigit()]
            qs = qs.filter(encounter_id__in=ids)
    return qs.order_by(f"-{date_field}", "-pk")


def _includes(resource_type: str, req: SearchRequest) -> set[str]:
    wanted: set[str] = set()
    allowed = next((s.documentation for s in PARAMS[resource_type] if s.name == "_include"), "")
    for c in req.values("_include"):
        for v in c.values:
            if v not in allowed.split("one of: ")[-1].split(", "):
                raise FhirError.single(
                    400,
                    "not-supported",
                    f"不支持的 _include：{v}",
                    f"Unsupported _include {v} ({allowed})",
                )
            wanted.add(v.split(":", 1)[1])
    return wanted


def included(actor: Actor, rows: list[Any], wanted: set[str], mpi: dict[int, str]) -> list[JSON]:
    out: list[JSON] = []
    if "patient" in wanted:
        mpis = sorted(set(mpi.values()))
        residents = list(
            residents_visible_to(actor)
            .select_related("village", "township__parent", "registered_at")
            .filter(mpi_id__in=mpis)
        )
        extras = reads.patient_extras(residents, with_cards=False)
        out += [mapping.patient(r, extras[r.pk], subsetted=True) for r in residents]
    if "encounter" in wanted:
        enc_ids = {getattr(r, "encounter_id", None) for r in rows} - {None}
        encs = list(Encounter.objects.filter(pk__in=enc_ids).select_related("facility"))
        emap = _mpi_by_resident(e.resident_id for e in encs)
        out += emit("Encounter", encs, emap)
    if "result" in wanted:
        obs = list(
            Observation.objects.filter(report_id__in=[r.pk for r in rows])
            .select_related("facility")
            .order_by("pk")
        )
        out += emit("Observation", obs, mpi)
    return out


def search_clinical(request: HttpRequest, actor: Actor, resource_type: str) -> HttpResponse:
    req = search.parse(request.GET, PARAMS[resource_type], strict=_strict(request))
    wanted = _includes(resource_type, req)
    scoped = _patients_in(actor, req)
    qs = clinical_queryset(actor, resource_type, req, scoped)
    total = qs.count()
    rows = list(qs[req.offset : req.offset + req.count]) if req.count else []
    mpi = _mpi_by_resident(r.resident_id for r in rows)
    resources = emit(resource_type, rows, mpi)
    extra = included(actor, rows, wanted, mpi) if rows else []
    audit.record(
        actor,
        audit.Action.SEARCH,
        resource_type.lower(),
        "",
        detail={
            "via": "fhir",
            "query": {c.key: c.values for c in req.criteria},
            "total": total,
            "returned": [r.pk for r in rows],
        },
    )
    base = fhir_base(request)
    bundle = search.searchset(base, resource_type, resources, total, req)
    if extra:
        bundle.setdefault("entry", []).extend(
            {
                "fullUrl": f"{base}/{r['resourceType']}/{r['id']}",
                "resource": r,
                "search": {"mode": "include"},
            }
            for r in extra
        )
    return fhir_response(bundle)


# --- the views -------------------------------------------------------------------------


def _location(request: HttpRequest, w: Written) -> str:
    return f"{fhir_base(request)}/{w.resource_type}/{w.pk}"


def _created_response(request: HttpRequest, actor: Actor, w: Written) -> HttpResponse:
    body = read_after_write(w)
    status = 201 if w.outcome == Outcome.CREATED else 200
    return fhir_response(body, status, {"Location": _location(request, w)})


def read_after_write(w: Written) -> JSON:
    """The stored resource, without a second audit entry (the write has one)."""
    qs = base_queryset(w.resource_type).model._default_manager.filter(pk=w.pk)
    related = {
        "Encounter": ("facility",),
        "Condition": ("encounter__facility",),
        "Observation": ("facility",),
        "MedicationRequest": ("facility", "drug"),
        "DiagnosticReport": ("facility",),
    }[w.resource_type]
    rows = list(qs.select_related(*related))
    return emit(w.resource_type, rows, _mpi_by_resident(r.resident_id for r in rows))[0]


def make_type_view(resource_type: str) -> Callable[..., HttpResponse]:
    @fhir_view("GET", "POST")
    def type_view(request: HttpRequest, actor: Actor) -> HttpResponse:
        if request.method == "POST":
            body = _json_body(request)
            validation.validate_resource(body, resource_type)
            w = create_one(actor, resource_type, body)
            return _created_response(request, actor, w)
        return search_clinical(request, actor, resource_type)

    type_view.__name__ = f"{resource_type.lower()}_type"
    return type_view


def make_instance_view(resource_type: str) -> Callable[..., HttpResponse]:
    @fhir_view("GET")
    def instance_view(request: HttpRequest, actor: Actor, resource_id: str) -> HttpResponse:
        return fhir_response(read_one(actor, resource_type, resource_id))

    instance_view.__name__ = f"{resource_type.lower()}_instance"
    return instance_view


TYPE_VIEWS = {t: make_type_view(t) for t in CLINICAL_TYPES}
INSTANCE_VIEWS = {t: make_instance_view(t) for t in CLINICAL_TYPES}


# --- Patient/$everything ---------------------------------------------------------------


def everything(actor: Actor, mpi_id: str, base: str) -> JSON:
    """The Patient and every current item of its record, across facilities and merged
    identities: one audit entry, one query per resource type."""
    resident = get_resident_for(actor, mpi_id, purpose="fhir_everything")
    ids = identity_ids(resident)
    row = (
        residents_visible_to(actor)
        .select_related("village", "township__parent", "registered_at")
        .get(pk=resident.pk)
    )
    extras = reads.patient_extras([row], with_cards=True)[row.pk]
    resources: list[JSON] = [mapping.patient(row, extras)]
    mpi: defaultdict[int, str] = defaultdict(lambda: resident.mpi_id)
    for resource_type in CLINICAL_TYPES:
        qs = base_queryset(resource_type).filter(resident_id__in=ids)
        date_field = _DATE_FIELD[resource_type][1]
        resources += emit(resource_type, list(qs.order_by(date_field, "pk")), mpi)
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "link": [{"relation": "self", "url": f"{base}/Patient/{resident.mpi_id}/$everything"}],
        "entry": [
            {
                "fullUrl": f"{base}/{r['resourceType']}/{r['id']}",
                "resource": r,
                "search": {"mode": "match"},
            }
            for r in resources
        ],
    }


@fhir_view("GET")
def patient_everything(request: HttpRequest, actor: Actor, resource_id: str) -> HttpResponse:
    return fhir_response(everything(actor, resource_id, fhir_base(request)))


# --- transaction Bundle ----------------------------------------------------------------


def _entry_error(index: int, exc: FhirError) -> FhirError:
    """Name the failing entry in every issue of an error raised while processing it."""
    prefix = f"Bundle.entry[{index}].resource"
    issues = []
    for i in exc.issues:
        expr = i.expression
        if expr and not expr.startswith("Bundle."):
            _, _, rest = expr.partition(".")
            expr = f"{prefix}.{rest}" if rest else prefix
        issues.append(
            Issue(
                i.code,
                f"第 {index} 条（entry[{index}]）：{i.msg_zh}",
                f"entry {index}: {i.msg_en}",
                expr or prefix,
                i.error_code,
            )
        )
    return FhirError(exc.status if exc.status != 201 else 400, issues)


def _pointing(url: str, refs: Refs) -> Refs:
    """References of a part to its Encounter entry (not written yet: it is written with
    its parts) resolve to a placeholder."""

    def resolve(ref: str) -> tuple[str, str] | None:
        return ("Encounter", "0") if ref == url else refs.resolve(ref)

    return Refs(resolve)


def _entry_path(k: int) -> str:
    return f"Bundle.entry[{k}].resource"


def _contained_path(k: int) -> str:
    return f"DiagnosticReport.contained[{k}]"


ORDER = {"Patient": 0, "Encounter": 1, "Observation": 2, "DiagnosticReport": 3}


def transaction_bundle(actor: Actor, body: JSON, base: str) -> JSON:
    """All entries or none. Patient entries are created first, then Encounters with the
    Conditions and MedicationRequests that reference them (in the same Bundle) folded in,
    then Observations and DiagnosticReports (results referenced from a report in the Bundle
    are stored with it)."""
    entries = body.get("entry") or []
    full: dict[str, tuple[int, JSON]] = {}
    for i, e in enumerate(entries):
        res = e.get("resource")
        req = e.get("request") or {}
        if not isinstance(res, dict) or req.get("method") not in ("POST", "PUT"):
            raise FhirError.single(
                400,
                "not-supported",
                f"第 {i} 条：事务中只支持 POST 新建资源",
                f"entry {i}: only POST (create) entries are supported",
                f"Bundle.entry[{i}].request.method",
            )
        rtype = res.get("resourceType")
        if rtype not in (*CLINICAL_TYPES, "Patient"):
            raise FhirError.single(
                400,
                "not-supported",
                f"第 {i} 条：不支持的资源类型 {rtype}",
                f"entry {i}: unsupported resource type {rtype}",
                f"Bundle.entry[{i}].resource.resourceType",
            )
        try:
            validation.validate_resource(res, rtype)
        except FhirError as exc:
            raise _entry_error(i, exc) from None
        if e.get("fullUrl"):
            full[str(e["fullUrl"])] = (i, res)

    known: dict[str, tuple[str, str]] = {}
    refs = _plain_refs(known)

    def ref_of(res: JSON, key: str) -> str:
        return str((res.get(key) or {}).get("reference") or "")

    folded: set[int] = set()
    dx_for: dict[int, list[tuple[str, DiagnosisInput]]] = defaultdict(list)
    rx_for: dict[int, list[tuple[str, PrescriptionInput]]] = defaultdict(list)
    results_for: dict[int, list[tuple[int, JSON]]] = defaultdict(list)
    for i, e in enumerate(entries):
        res = e["resource"]
        rtype = res["resourceType"]
        if rtype == "DiagnosticReport":
            for r in res.get("result") or []:
                target = full.get(str(r.get("reference") or ""))
                if target is not None and target[1].get("resourceType") == "Observation":
                    results_for[i].append(target)
                    folded.add(target[0])
    written: list[tuple[int, Written | None]] = []
    with transaction.atomic():
        order = sorted(
            range(len(entries)), key=lambda k: ORDER.get(entries[k]["resource"]["resourceType"], 2)
        )
        for i in order:
            e = entries[i]
            res = e["resource"]
            rtype = res["resourceType"]
            try:
                if rtype == "Patient":
                    resident, created = create_patient_from_body(
                        actor, res, str((e.get("request") or {}).get("ifNoneExist") or "")
                    )
                    if e.get("fullUrl"):
                        known[str(e["fullUrl"])] = ("Patient", resident.mpi_id)
                    written.append(
                        (
                            i,
                            Written(
                                "Patient", 0, Outcome.CREATED if created else Outcome.UNCHANGED
                            ),
                        )
                    )
                    known[f"__patient_{i}"] = ("Patient", resident.mpi_id)
                elif rtype == "Encounter":
                    # Conditions / MedicationRequests of this encounter in the Bundle.
                    url = str(e.get("fullUrl") or "")
                    for j, other in enumerate(entries):
                        o = other["resource"]
                        if (
                            url
                            and ref_of(o, "encounter") == url
                            and o["resourceType"] in ("Condition", "MedicationRequest")
                        ):
                            opath = f"Bundle.entry[{j}].resource"
                            try:
                                own = _pointing(url, refs)
                                if o["resourceType"] == "Condition":
                                    dx_for[i].append((opath, clinical.condition_in(o, own).data))
                                else:
                                    rx_for[i].append(
                                        (opath, clinical.medication_request_in(o, own).data)
                                    )
                            except FhirError as exc:
                                raise _entry_error(j, exc) from None
                            folded.add(j)
                    parsed = clinical.encounter_in(res, refs, facility_id_for)
                    w, enc = write_encounter(actor, parsed, "Encounter", dx_for[i], rx_for[i])
                    if url:
                        known[url] = ("Encounter", str(enc.pk))
                    written.append((i, w))
                elif i in folded:
                    written.append((i, None))
                elif rtype in ("Condition", "MedicationRequest"):
                    parser = (
                        clinical.condition_in
                        if rtype == "Condition"
                        else clinical.medication_request_in
                    )
                    written.append((i, add_to_encounter(actor, parser(res, refs), rtype)))
                elif rtype == "Observation":
                    written.append((i, write_observation(actor, res, refs, "Observation")))
                else:
                    results = [(k, r) for k, r in results_for[i]]
                    rp = _entry_path
                    if not results and res.get("contained"):
                        results = _contained_results(res)
                        rp = _contained_path
                    written.append(
                        (i, write_report(actor, res, refs, "DiagnosticReport", results, rp))
                    )
            except FhirError as exc:
                raise _entry_error(i, exc) from None
            except DomainError as exc:
                raise _entry_error(i, from_domain_error(exc, {})) from None
            except Forbidden as exc:
                refused = FhirError.single(403, "forbidden", exc.msg_zh, exc.msg_en)
                raise _entry_error(i, refused) from None
    responses: dict[int, JSON] = {}
    for i, done in written:
        if done is None:
            responses[i] = {
                "status": "200 OK",
                "outcome": _info(
                    "随所属资源一并保存", "stored with the resource that references it"
                ),
            }
            continue
        w = done
        if w.resource_type == "Patient":
            mpi = known[f"__patient_{i}"][1]
            responses[i] = {
                "status": "201 Created" if w.outcome == Outcome.CREATED else "200 OK",
                "location": f"Patient/{mpi}",
            }
        else:
            responses[i] = {
                "status": "201 Created" if w.outcome == Outcome.CREATED else "200 OK",
                "location": f"{w.resource_type}/{w.pk}",
                "etag": 'W/"1"',
            }
            if w.outcome != Outcome.CREATED:
                responses[i]["outcome"] = _info(
                    "内容未变" if w.outcome == Outcome.UNCHANGED else "已更正",
                    "unchanged" if w.outcome == Outcome.UNCHANGED else "amended",
                )
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": "transaction-response",
        "entry": [{"response": responses[i]} for i in range(len(entries))],
    }


def _info(zh: str, en: str) -> JSON:
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {"severity": "information", "code": "informational", "diagnostics": f"{zh} / {en}"}
        ],
    }


@fhir_view("POST")
def root(request: HttpRequest, actor: Actor) -> HttpResponse:
    body = _json_body(request)
    validation.validate_resource(body, "Bundle")
    if body.get("type") == "batch":
        return fhir_response(batch_bundle(actor, body))
    if body.get("type") != "transaction":
        raise FhirError.single(
            400,
            "not-supported",
            "仅支持 type 为 transaction 或 batch 的 Bundle",
            "Only transaction and batch Bundles are supported",
            "Bundle.type",
        )
    return fhir_response(transaction_bundle(actor, body, fhir_base(request)))


_REASONS = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 409: "Conflict"}
_REASONS[422] = "Unprocessable Entity"


def batch_bundle(actor: Actor, body: JSON) -> JSON:
    """Independent entries: each is created (or refused) on its own, with its own outcome."""
    out: list[JSON] = []
    for i, e in enumerate(body.get("entry") or []):
        res = e.get("resource")
        try:
            if not isinstance(res, dict) or (e.get("request") or {}).get("method") != "POST":
                raise FhirError.single(
                    400,
                    "not-supported",
                    "批处理中只支持 POST 新建资源",
                    "only POST (create) entries are supported",
                    f"Bundle.entry[{i}].request.method",
                )
            rtype = str(res.get("resourceType"))
            if rtype not in CLINICAL_TYPES:
                raise FhirError.single(
                    400,
                    "not-supported",
                    f"批处理中不支持的资源类型 {rtype}",
                    f"unsupported resource type {rtype} in a batch",
                    f"Bundle.entry[{i}].resource.resourceType",
                )
            validation.validate_resource(res, rtype)
            try:
                w = create_one(actor, rtype, res)
            except DomainError as exc:
                raise from_domain_error(exc, {}) from None
            except Forbidden as exc:
                raise FhirError.single(403, "forbidden", exc.msg_zh, exc.msg_en) from None
            response: JSON = {
                "status": "201 Created" if w.outcome == Outcome.CREATED else "200 OK",
                "location": f"{w.resource_type}/{w.pk}",
            }
        except FhirError as exc:
            failed = _entry_error(i, exc)
            response = {
                "status": f"{failed.status} {_REASONS.get(failed.status, 'Error')}",
                "outcome": {
                    "resourceType": "OperationOutcome",
                    "issue": [issue.as_fhir() for issue in failed.issues],
                },
            }
        out.append({"response": response})
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": "batch-response",
        "entry": out,
    }


# --- $import (bulk NDJSON) -------------------------------------------------------------


@fhir_view("POST")
def bulk_import(request: HttpRequest, actor: Actor) -> HttpResponse:
    if not (actor.is_system or actor.can(Perm.IMPORT_RECORDS)):
        raise FhirError.single(403, "forbidden", "无权导入数据", "Not allowed to import records")
    content_type = request.content_type or ""
    if content_type not in (
        "application/fhir+ndjson",
        "application/x-ndjson",
        "application/ndjson",
    ):
        raise FhirError.single(
            415,
            "not-supported",
            "请求体类型应为 application/fhir+ndjson",
            "The body must be application/fhir+ndjson",
        )
    # request.read(), not request.body: an NDJSON file is far larger than Django's
    # DATA_UPLOAD_MAX_MEMORY_SIZE, which guards form bodies.
    raw = request.body if hasattr(request, "_body") else request.read()
    job = bulk.import_ndjson(
        actor,
        raw,
        other=_bulk_handler(actor),
        name=request.GET.get("name", "fhir-$import")[:200],
        source_system=request.GET.get("source_system", "")[:64],
    )
    issues = [
        Issue(
            "information" if False else "processing",
            f"第 {e['line']} 行：{e['msg_zh']}",
            f"line {e['line']}: {e['msg_en']}",
            e.get("path", ""),
            e.get("code", ""),
            severity="error",
        )
        for e in job.errors[:200]
    ]
    summary = Issue(
        "informational",
        f"导入完成：新增 {job.created}，更正 {job.updated}，"
        f"未变 {job.unchanged}，失败 {job.failed}",
        f"done: created {job.created}, updated {job.updated}, unchanged {job.unchanged}, "
        f"failed {job.failed} (job {job.pk})",
        severity="information",
    )
    out = {
        "resourceType": "OperationOutcome",
        "id": f"import-{job.pk}",
        "issue": [i.as_fhir() for i in (summary, *issues)],
    }
    return fhir_response(out, 200)


def _bulk_handler(actor: Actor) -> bulk.OtherHandler:
    """Non-Observation lines of an NDJSON file, one by one through the single-create path.
    A Condition / MedicationRequest may reference an Encounter of the same file by its
    `id` in the file ("Encounter/<id>")."""
    in_file: dict[str, tuple[str, str]] = {}
    refs = _plain_refs(in_file)

    def handle(line: int, res: JSON) -> Outcome:
        rtype = str(res.get("resourceType"))
        try:
            validation.validate_resource(res, rtype)
            w = create_one(_at_provider(actor, res, refs), rtype, res, refs)
        except FhirError as exc:
            first = exc.issues[0]
            raise bulk.LineError(
                first.expression, first.error_code or first.code, first.msg_zh, first.msg_en
            ) from None
        except DomainError as exc:
            err = exc.errors[0]
            raise bulk.LineError(err.field, err.code, err.msg_zh, err.msg_en) from None
        except Forbidden as exc:
            raise bulk.LineError(f"{rtype}.subject", "forbidden", exc.msg_zh, exc.msg_en) from None
        except NotFound:
            raise bulk.LineError(
                f"{rtype}.subject", "not_found", "引用的资源不存在", "Referenced resource not found"
            ) from None
        if rtype == "Encounter" and res.get("id"):
            in_file[f"Encounter/{res['id']}"] = ("Encounter", str(w.pk))
        return w.outcome

    return handle


def _at_provider(actor: Actor, res: JSON, refs: Refs) -> Actor:
    """An importer without a facility of their own (a group administrator) records at the
    facility of the record: an Encounter's serviceProvider, the facility of the encounter a
    Condition / MedicationRequest belongs to; only a facility of the importer's group."""
    if actor.facility_id is not None or actor.is_system:
        return actor
    pk: int | None = None
    if res.get("resourceType") == "Encounter":
        ref = str((res.get("serviceProvider") or {}).get("reference") or "")
        pk = facility_id_for(ref.rsplit("/", 1)[-1]) if ref else None
    else:
        found = refs.resolve(str((res.get("encounter") or {}).get("reference") or ""))
        if found is not None and found[0] == "Encounter":
            pk = (
                Encounter.objects.filter(pk=int(found[1]))
                .values_list("facility_id", flat=True)
                .first()
            )
    if pk is None:
        return actor
    group = Facility.objects.filter(pk=pk).values_list("group_id", flat=True).first()
    if actor.group_id is not None and group != actor.group_id:
        return actor
    return dataclasses.replace(actor, facility_id=pk)
