"""/fhir/ServiceRequest: one endpoint for three kinds of request, told apart by id and
category (docs/fhir.md "ServiceRequest"):

- two-way referral 双向转诊: id `<pk>` (a bare number, unchanged), category SNOMED 3457005
  and …/referral-direction (referrals.py);
- diagnosis-centre study 诊断申请: id `study-<pk>`, category v2-0074 RAD/EC/LAB/PAT, SNOMED
  and …/diagnosis-centre-kind (studies.py);
- remote consultation 远程会诊: id `consult-<pk>`, category SNOMED 11429006
  (consultations.py).

A search runs over the kinds whose filters understand every parameter given (`code` is a
study's exam code only, so it leaves out referrals and consultations; a category picks its
kind), each scoped by its own app's queries; the patient/subject criteria are resolved once
(a resident the user can reach by none of them gets one DENIED audit entry). Results come
kind by kind (referrals, then studies, then consultations), newest first within a kind; the
paging window runs over that concatenation, and `total` is the sum. Each kind searched gets
its own SEARCH audit entry (object type referral / study / consultation).

POST creates a study when the category names a centre kind, else a referral; consultations
are read-only here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from yigongti.consults.queries import consultations_visible_to
from yigongti.core import audit
from yigongti.core.actor import Actor
from yigongti.core.errors import NotFound
from yigongti.diagnostics.queries import studies_visible_to
from yigongti.referrals.queries import referrals_visible_to
from yigongti.residents.queries import identity_ids, in_scope

from . import consultations, referrals, search, studies, validation
from .clinical_views import _mpi_by_resident, resolve_patient
from .mapping import JSON
from .outcome import FhirError
from .search import ParamSpec, SearchRequest
from .views import _json_body, _strict, fhir_base, fhir_response, fhir_view

_DATE_DOC = "YYYY, YYYY-MM or YYYY-MM-DD with eq (default), ne, gt, ge, lt, le"

PARAMS: tuple[ParamSpec, ...] = (
    ParamSpec("_id", "token", "<number> (referral), study-<n>, consult-<n>"),
    ParamSpec("patient", "reference", "Patient/<主索引号> or the bare index number"),
    ParamSpec("subject", "reference", "same as patient"),
    ParamSpec("status", "token", "draft | active | completed | revoked"),
    ParamSpec(
        "intent",
        "token",
        "order (上转, studies, consultations) | plan (回转)",
    ),
    ParamSpec("priority", "token", "routine (普通) | urgent (加急, studies) | stat (急诊/急会诊)"),
    ParamSpec(
        "category",
        "token",
        "SNOMED 3457005 = every referral, up | down (…/referral-direction); studies: "
        "v2-0074 RAD | EC | LAB | PAT, SNOMED 363679005 | 29303009 | 108252007 | 108257001 or "
        "…/diagnosis-centre-kind imaging | ecg | lab | pathology; SNOMED 11429006 = "
        "remote consultations",
    ),
    ParamSpec(
        "authored",
        "date",
        f"referral submitted (else written), study requested, consultation submitted on: "
        f"{_DATE_DOC}",
    ),
    ParamSpec(
        "performer",
        "reference",
        "the receiving Organization/<facility code> (a study: the centre's host) or "
        "Practitioner/<staff id> (referral doctor, consultation expert)",
    ),
    ParamSpec("requester", "reference", "the sending Organization/<facility code>"),
    ParamSpec(
        "code",
        "token",
        "a study's exam code (…/report-code|<code> or the bare code); only studies match",
    ),
)

_PATIENT_PARAMS = ("patient", "subject")


@dataclass(frozen=True)
class Kind:
    name: str  # the audit object type
    supported: frozenset[str]
    queryset: Callable[[Actor, SearchRequest, list[int] | None], QuerySet[Any]]
    build: Callable[[list[Any]], list[JSON]]


def _referral_queryset(
    actor: Actor, req: SearchRequest, resident_ids: list[int] | None
) -> QuerySet[Any]:
    qs = referrals.referral_queryset(actor, "ServiceRequest", req)
    return qs if resident_ids is None else qs.filter(resident_id__in=resident_ids)


def _referral_build(rows: list[Any]) -> list[JSON]:
    mpi = _mpi_by_resident(r.resident_id for r in rows)
    return [referrals.service_request(r, mpi[r.resident_id]) for r in rows]


KINDS: tuple[Kind, ...] = (
    Kind(
        "referral",
        frozenset(p.name for p in referrals.PARAMS["ServiceRequest"]) - set(_PATIENT_PARAMS),
        _referral_queryset,
        _referral_build,
    ),
    Kind("study", frozenset(studies.MAKERS), studies.queryset, studies.build),
    Kind(
        "consultation", frozenset(consultations.MAKERS), consultations.queryset, consultations.build
    ),
)


# --- read ------------------------------------------------------------------------------


def read(actor: Actor, resource_id: str) -> JSON:
    if resource_id.isdigit():
        return referrals.read(actor, "ServiceRequest", resource_id)
    if resource_id.startswith(studies.PREFIX):
        return studies.read(actor, resource_id)
    if resource_id.startswith(consultations.PREFIX):
        return consultations.read(actor, resource_id)
    raise NotFound("服务申请")


# --- search ----------------------------------------------------------------------------


def _patients(actor: Actor, req: SearchRequest) -> list[int] | None:
    """The patient/subject criteria as resident ids (merged records included), or None when
    there are none. A resident outside the user's area whom the user reaches through no
    referral, study or consultation gets a DENIED audit entry (and so matches nothing)."""
    crits = [c for c in req.criteria if c.name in _PATIENT_PARAMS]
    if not crits:
        return None
    visible = (referrals_visible_to, studies_visible_to, consultations_visible_to)
    allowed: set[int] | None = None
    for c in crits:
        ids: set[int] = set()
        for v in c.values:
            person = resolve_patient(v if "/" in v or "?" in v else f"Patient/{v}")
            if person is None:
                continue
            theirs = identity_ids(person)
            if not in_scope(actor, person) and not any(
                f(actor).filter(resident_id__in=theirs).exists() for f in visible
            ):
                audit.record(
                    actor,
                    audit.Action.DENIED,
                    "resident",
                    person.mpi_id,
                    resident_id=person.pk,
                    detail={"purpose": "fhir_search"},
                )
                continue
            ids.update(theirs)
        allowed = ids if allowed is None else allowed & ids
    return sorted(allowed or set())


def run_search(actor: Actor, req: SearchRequest) -> tuple[list[JSON], int]:
    """(the page of resources, the total over every kind searched)."""
    resident_ids = _patients(actor, req)
    rest = SearchRequest(
        criteria=[c for c in req.criteria if c.name not in _PATIENT_PARAMS],
        count=req.count,
        offset=req.offset,
    )
    parts = []
    for kind in KINDS:
        if any(c.name not in kind.supported for c in rest.criteria):
            continue
        qs = kind.queryset(actor, rest, resident_ids)
        parts.append((kind, qs, qs.count()))
    total = sum(n for _, _, n in parts)
    start, need = req.offset, req.count
    resources: list[JSON] = []
    query = {c.key: c.values for c in req.criteria}
    for kind, qs, n in parts:
        rows: list[Any] = []
        if need > 0 and start < n:
            rows = list(qs[start : start + need])
            need -= len(rows)
            resources.extend(kind.build(rows))
        start = max(0, start - n)
        audit.record(
            actor,
            audit.Action.SEARCH,
            kind.name,
            "",
            detail={
                "via": "fhir",
                "type": "ServiceRequest",
                "query": query,
                "total": n,
                "returned": [r.pk for r in rows],
            },
        )
    return resources, total


# --- create ----------------------------------------------------------------------------


def _is_consultation(body: JSON) -> bool:
    return any(
        consultations.is_consult_category(
            f"{c.get('system')}|{c.get('code')}" if c.get("system") else str(c.get("code") or "")
        )
        for concept in body.get("category") or []
        for c in concept.get("coding") or []
    )


def create(request: HttpRequest, actor: Actor) -> HttpResponse:
    body = _json_body(request)
    validation.validate_resource(body, "ServiceRequest")
    base = fhir_base(request)
    if studies.is_study_category(body):
        s, created = studies.create(actor, body)
        location = f"{base}/ServiceRequest/{studies.resource_id(s.pk)}"
        return fhir_response(studies.reload(s), 201 if created else 200, {"Location": location})
    if _is_consultation(body):
        raise FhirError.single(
            422,
            "not-supported",
            "远程会诊申请请在会诊页面填写（需书面知情同意），此接口只读",
            "Consultations are requested in the UI (written consent); read-only here",
            "ServiceRequest.category",
        )
    r, created = referrals.create(actor, body)
    location = f"{base}/ServiceRequest/{r.pk}"
    return fhir_response(referrals.reload(r), 201 if created else 200, {"Location": location})


# --- views -----------------------------------------------------------------------------


@fhir_view("GET", "POST")
def service_request_type(request: HttpRequest, actor: Actor) -> HttpResponse:
    if request.method == "POST":
        return create(request, actor)
    req = search.parse(request.GET, PARAMS, strict=_strict(request))
    resources, total = run_search(actor, req)
    return fhir_response(
        search.searchset(fhir_base(request), "ServiceRequest", resources, total, req)
    )


@fhir_view("GET")
def service_request_instance(request: HttpRequest, actor: Actor, resource_id: str) -> HttpResponse:
    return fhir_response(read(actor, resource_id))
