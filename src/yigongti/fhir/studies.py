"""Shared diagnosis centre studies (共享诊断中心的诊断申请, docs/diagnostics.md) as FHIR
`ServiceRequest`: the order a member facility sends to a county centre for an imaging, ECG,
laboratory or pathology reading.

Ids are `study-<pk>` so they never collide with the referral ServiceRequests (bare digits)
served at the same endpoint; the same text is the provenance id the centre's DiagnosticReport
carries, and that report's `basedOn` points here. Reads go through
`diagnostics.queries.get_study_for` (READ / DENIED audited there); searches through
`studies_visible_to` (the requesting facility, the centre's readers, the group administrator,
the commission). `POST /fhir/ServiceRequest` with a study category creates a study through
`diagnostics.actions.do_request_study`, the action the request form uses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import Q, QuerySet

from yigongti.core.actor import Actor
from yigongti.core.errors import DomainError, NotFound
from yigongti.diagnostics import actions as diagnostics_actions
from yigongti.diagnostics.models import CentreKind, Study, StudyState, Urgency
from yigongti.diagnostics.queries import get_study_for, requester_centres, studies_visible_to

from . import search, systems
from .clinical import CATEGORY_TO_V2, V2_TO_CATEGORY, local_time, patient_ref
from .clinical_views import (
    _date_q,
    _mpi_by_resident,
    facility_id_for,
    organization_q,
    resolve_patient,
)
from .mapping import JSON, facility_resource_id
from .outcome import FhirError, Issue, from_domain_error
from .search import SearchRequest

PREFIX = "study-"
SNOMED = "http://snomed.info/sct"

#: Centre kind → SNOMED CT procedure (the second coding of ServiceRequest.category; the first
#: is HL7 v2 table 0074, the code DiagnosticReport.category already carries).
SNOMED_CATEGORY: dict[str, tuple[str, str]] = {
    CentreKind.IMAGING: ("363679005", "Imaging"),
    CentreKind.ECG: ("29303009", "Electrocardiographic procedure"),
    CentreKind.LAB: ("108252007", "Laboratory procedure"),
    CentreKind.PATHOLOGY: ("108257001", "Anatomic pathology procedure"),
}
SNOMED_TO_KIND = {code: kind for kind, (code, _) in SNOMED_CATEGORY.items()}

#: Study state → ServiceRequest.status (docs/fhir.md has the table). The state itself is in
#: the extension …/ext/study-state.
REQUEST_STATUS: dict[str, str] = {
    StudyState.REQUESTED: "active",
    StudyState.CLAIMED: "active",
    StudyState.REPORTED: "completed",
    StudyState.REVIEWED: "completed",
    StudyState.CANCELLED: "revoked",
}

PRIORITY: dict[int, str] = {
    Urgency.STAT: "stat",
    Urgency.URGENT: "urgent",
    Urgency.ROUTINE: "routine",
}

NOTE_DOCTOR = "申请医生："
NOTE_STILL_NEEDED = "仍需检查的理由："
NOTE_CANCEL = "撤销原因："


def state_system() -> str:
    """Our study states: requested 待阅, claimed 阅片/审核中, reported, reviewed, cancelled."""
    return f"{systems.base()}/study-state"


def kind_system() -> str:
    """Our centre kinds: imaging | ecg | lab | pathology."""
    return f"{systems.base()}/diagnosis-centre-kind"


def client_key_system() -> str:
    """The requester's idempotency key of a study (one per user)."""
    return f"{systems.base()}/study-key"


def state_extension() -> str:
    return f"{systems.base()}/ext/study-state"


def resource_id(pk: int) -> str:
    return f"{PREFIX}{pk}"


def pk_of(resource_id: str) -> int | None:
    """`study-<pk>` → pk, anything else None."""
    key = resource_id.removeprefix(PREFIX)
    if key == resource_id or not key.isdigit():
        return None
    return int(key)


# --- mapping ---------------------------------------------------------------------------


def _org_ref(facility: Any, display: str = "") -> JSON:
    return {
        "reference": f"Organization/{facility_resource_id(facility)}",
        "display": display or facility.name,
    }


def category(kind: str) -> JSON:
    v2 = CATEGORY_TO_V2.get(kind, "OTH")
    code, display = SNOMED_CATEGORY[kind]
    label = CentreKind(kind).label
    return {
        "coding": [
            {"system": systems.V2_0074, "code": v2, "display": label},
            {"system": SNOMED, "code": code, "display": display},
            {"system": kind_system(), "code": kind, "display": label},
        ],
        "text": f"{label}诊断",
    }


def _notes(s: Study) -> list[JSON]:
    parts = [f"{NOTE_DOCTOR}{s.requesting_doctor}"]
    if s.still_needed_reason:
        parts.append(f"{NOTE_STILL_NEEDED}{s.still_needed_reason}")
    if s.cancel_reason:
        parts.append(f"{NOTE_CANCEL}{s.cancel_reason}")
    return [{"text": p} for p in parts]


def service_request(s: Study, mpi_id: str) -> JSON:
    """A study (resident, centre and its facility, requesting facility loaded) of the
    resident `mpi_id` (the survivor's index number)."""
    out: JSON = {
        "resourceType": "ServiceRequest",
        "id": resource_id(s.pk),
        "extension": [
            {
                "url": state_extension(),
                "valueCoding": {
                    "system": state_system(),
                    "code": s.state,
                    "display": StudyState(s.state).label,
                },
            }
        ],
    }
    if s.client_key:
        out["identifier"] = [{"system": client_key_system(), "value": s.client_key}]
    out["status"] = REQUEST_STATUS[s.state]
    out["intent"] = "order"
    out["category"] = [category(s.kind)]
    out["priority"] = PRIORITY[s.urgency]
    out["code"] = {
        "coding": [
            {"system": systems.report_code_system(), "code": s.exam_code, "display": s.exam_name}
        ],
        "text": s.exam_name,
    }
    out["subject"] = patient_ref(mpi_id, s.resident.name)
    out["authoredOn"] = local_time(s.requested_at)
    out["requester"] = _org_ref(s.requesting_facility)
    centre = s.centre
    out["performer"] = [_org_ref(centre.facility, f"{centre.facility.name}（{centre.name}）")]
    if s.clinical_info:
        out["reasonCode"] = [{"text": s.clinical_info}]
    if s.prior_study_id is not None:
        out["supportingInfo"] = [
            {
                "reference": f"ServiceRequest/{resource_id(s.prior_study_id)}",
                "display": "可互认的既往检查（结果互认）",
            }
        ]
    if s.body_part:
        out["bodySite"] = [{"text": s.body_part}]
    out["note"] = _notes(s)
    return out


# --- reads and search filters ----------------------------------------------------------


def read(actor: Actor, resource_id: str) -> JSON:
    pk = pk_of(resource_id)
    if pk is None:
        raise NotFound("诊断申请")
    s = get_study_for(actor, pk, purpose="fhir_read")  # READ / DENIED
    return service_request(s, _mpi_by_resident([s.resident_id])[s.resident_id])


def build(rows: list[Study]) -> list[JSON]:
    mpi = _mpi_by_resident(s.resident_id for s in rows)
    return [service_request(s, mpi[s.resident_id]) for s in rows]


def _kind_of_token(value: str) -> str | None:
    system, code = search._token(value)
    if system in (None, systems.V2_0074) and code in V2_TO_CATEGORY:
        kind = V2_TO_CATEGORY[code]
        return kind if kind in CentreKind.values else None
    if system in (None, SNOMED) and code in SNOMED_TO_KIND:
        return SNOMED_TO_KIND[code]
    if system in (None, kind_system()) and code in CentreKind.values:
        return code
    return None


def _category_q(value: str) -> Q:
    kind = _kind_of_token(value)
    return Q(kind=kind) if kind else search.NOTHING


def is_study_category(body: JSON) -> bool:
    """Does a ServiceRequest body's category name a centre kind?"""
    return _kind_from_body(body) is not None


def _kind_from_body(body: JSON) -> str | None:
    for concept in body.get("category") or []:
        for c in concept.get("coding") or []:
            system, code = c.get("system"), c.get("code")
            kind = _kind_of_token(f"{system}|{code}" if system else str(code or ""))
            if kind:
                return kind
    return None


def _code_q(value: str) -> Q:
    system, code = search._token(value)
    if system not in (None, systems.report_code_system()) or not code:
        return search.NOTHING
    return Q(exam_code=code.upper())


def _id_q(value: str) -> Q:
    pk = pk_of(value)
    return Q(pk=pk) if pk is not None else search.NOTHING


MAKERS: dict[str, Callable[[str], Q]] = {
    "_id": _id_q,
    "status": search.mapped_q("state", REQUEST_STATUS),
    "intent": lambda v: Q() if search._token(v)[1] == "order" else search.NOTHING,
    "priority": search.mapped_q("urgency", PRIORITY),
    "category": _category_q,
    "authored": lambda v: _date_q("requested_at", "authored", v),
    "performer": organization_q("centre__facility_id"),
    "requester": organization_q("requesting_facility_id"),
    "code": _code_q,
}


def queryset(actor: Actor, req: SearchRequest, resident_ids: list[int] | None) -> QuerySet[Study]:
    """Visible studies matching the criteria (patients already resolved to resident ids);
    newest request first."""
    qs = studies_visible_to(actor)
    if resident_ids is not None:
        qs = qs.filter(resident_id__in=resident_ids)
    for c in req.criteria:
        if c.name in MAKERS:
            qs = qs.filter(search._any_of(c.values, MAKERS[c.name]))
    return qs.order_by("-requested_at", "-pk")


# --- create ----------------------------------------------------------------------------

#: StudyInput fields → the ServiceRequest element they come from.
EXPRESSIONS: dict[str, str] = {
    "centre_id": "ServiceRequest.performer",
    "exam_code": "ServiceRequest.code",
    "exam_name": "ServiceRequest.code",
    "body_part": "ServiceRequest.bodySite",
    "urgency": "ServiceRequest.priority",
    "clinical_info": "ServiceRequest.reasonCode",
    "still_needed_reason": "ServiceRequest.note",
    "client_key": "ServiceRequest.identifier",
}


def _unprocessable(code: str, zh: str, en: str, where: str) -> FhirError:
    return FhirError.single(422, code, zh, en, where)


class RecognisedResult(FhirError):
    """The same exam of the person was reported within the centre's mutual-recognition window
    (结果互认): no study was made. 409 with one *warning* issue naming the earlier study; the
    client sends again with a note `仍需检查的理由：…` to proceed."""

    def __init__(self, warning: diagnostics_actions.RecognitionWarning):
        prior = warning.prior
        when = local_time(prior.reported_at) if prior.reported_at else ""
        super().__init__(
            409,
            Issue(
                "business-rule",
                f"{warning.message}（ServiceRequest/{resource_id(prior.pk)}）；"
                f"如仍需检查，请在 note 中写“{NOTE_STILL_NEEDED}…”后重新提交",
                f"Exam reported for this patient on {when} (ServiceRequest/"
                f"{resource_id(prior.pk)}), within the {warning.days}-day mutual-recognition "
                f"window; resend with a note '{NOTE_STILL_NEEDED}<reason>' to request it anyway",
                "ServiceRequest.code",
                error_code="recognised_result",
                severity="warning",
            ),
        )


def study_input(actor: Actor, body: JSON) -> tuple[str, diagnostics_actions.StudyInput]:
    """A validated ServiceRequest body with a study category → (the subject reference, the
    request form's input). Raises FhirError(422) naming the element it cannot read."""
    if body.get("status") != "active":
        raise _unprocessable(
            "not-supported",
            "新建诊断申请的 status 应为 active",
            "A new study request has status active",
            "ServiceRequest.status",
        )
    if body.get("intent") != "order":
        raise _unprocessable(
            "not-supported",
            "诊断申请的 intent 应为 order",
            "A study request has intent order",
            "ServiceRequest.intent",
        )
    subject = str((body.get("subject") or {}).get("reference") or "")
    if not subject.startswith("Patient"):
        raise _unprocessable(
            "required",
            "subject 应为 Patient/<主索引号>",
            "subject must be Patient/<index number>",
            "ServiceRequest.subject",
        )
    kind = _kind_from_body(body)
    assert kind is not None  # the caller dispatched on it
    d = diagnostics_actions.StudyInput()
    urgency = {p: u for u, p in PRIORITY.items()}.get(body.get("priority") or "routine")
    if urgency is None:
        raise _unprocessable(
            "code-invalid",
            "priority 应为 stat（急诊）、urgent（加急）或 routine（普通）",
            "priority must be stat, urgent or routine",
            "ServiceRequest.priority",
        )
    d.urgency = urgency
    performers = body.get("performer") or []
    if len(performers) != 1:
        raise _unprocessable(
            "required",
            "performer 应为一个承办诊断中心的机构 Organization/<机构编码>",
            "performer must be one Organization hosting the centre",
            "ServiceRequest.performer",
        )
    kind_ref, _, key = str(performers[0].get("reference") or "").rpartition("/")
    host = facility_id_for(key) if kind_ref.endswith("Organization") else None
    centre = requester_centres(actor).filter(facility_id=host, kind=kind).first() if host else None
    if centre is None:
        raise _unprocessable(
            "not-found",
            f"该机构没有为本机构服务的{CentreKind(kind).label}诊断中心",
            "No centre of this kind at that organization serves you",
            "ServiceRequest.performer[0]",
        )
    d.centre_id = centre.pk
    requester = str((body.get("requester") or {}).get("reference") or "")
    if requester:
        rk, _, rkey = requester.rpartition("/")
        if not rk.endswith("Organization") or facility_id_for(rkey) != actor.facility_id:
            raise _unprocessable(
                "business-rule",
                "requester 应为本人所在机构",
                "requester must be your own organization",
                "ServiceRequest.requester",
            )
    code = body.get("code") or {}
    for c in code.get("coding") or []:
        if c.get("code"):
            d.exam_code = str(c["code"])
            d.exam_name = str(c.get("display") or "")
            break
    d.exam_name = str(code.get("text") or d.exam_name)
    d.body_part = " ".join(str(b.get("text") or "") for b in body.get("bodySite") or []).strip()
    d.clinical_info = "\n".join(
        str(r.get("text") or "") for r in body.get("reasonCode") or [] if r.get("text")
    )
    for n in body.get("note") or []:
        text = str(n.get("text") or "").strip()
        if text.startswith(NOTE_STILL_NEEDED):
            d.still_needed_reason = text.removeprefix(NOTE_STILL_NEEDED).strip()
        elif text.startswith(NOTE_DOCTOR):
            d.requesting_doctor = text.removeprefix(NOTE_DOCTOR).strip()
        elif text:
            d.clinical_info = f"{d.clinical_info}\n{text}".strip()
    keys = [str(i.get("value") or "") for i in body.get("identifier") or [] if i.get("value")]
    d.client_key = keys[0][:64] if keys else ""
    return subject, d


def create(actor: Actor, body: JSON) -> tuple[Study, bool]:
    """(the study, True if new). The same identifier again from the same user returns the
    first study. A recognised earlier result raises RecognisedResult (409, nothing written)."""
    subject, d = study_input(actor, body)
    person = resolve_patient(subject)
    if person is None:
        raise _unprocessable("not-found", "找不到居民", "Unknown patient", "ServiceRequest.subject")
    prior = (
        Study.objects.filter(requested_by_id=actor.user_id, client_key=d.client_key).exists()
        if d.client_key
        else False
    )
    try:
        result = diagnostics_actions.do_request_study(actor, person, d)
    except DomainError as exc:
        raise from_domain_error(
            exc, {e.field: EXPRESSIONS.get(e.field, "ServiceRequest") for e in exc.errors}
        ) from exc
    if result.warning is not None:
        raise RecognisedResult(result.warning)
    assert result.study is not None
    return result.study, not prior


def reload(s: Study) -> JSON:
    """The stored study as a ServiceRequest, without a second audit entry."""
    row = Study.objects.select_related(
        "resident", "centre", "centre__facility", "requesting_facility"
    ).get(pk=s.pk)
    return service_request(row, _mpi_by_resident([row.resident_id])[row.resident_id])
