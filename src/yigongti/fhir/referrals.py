"""Two-way referrals (双向转诊) as FHIR `ServiceRequest` (the referral note) and `Task` (the
receiving side's work item on it; for a return note 回转单 that work is the 2-week follow-up,
DOMAIN.md §6: "The sending clinic follows the patient up within 2 weeks").

One referral is one ServiceRequest and one Task with the same id. Reads and searches go
through referrals.queries (the sending and receiving facilities, the group administrators,
the commission); out of scope is 404 with a DENIED audit entry, and every read and search is
audited. `POST /fhir/ServiceRequest` creates an upward referral through
`referrals.actions.do_create_referral`, the action the referral form uses.

The /fhir/ServiceRequest endpoint itself (service_requests.py) also serves the diagnosis
centres' studies (`study-<pk>`) and remote consultations (`consult-<pk>`); referrals keep
their bare-number ids."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse

from yigongti.core import audit
from yigongti.core.actor import Actor
from yigongti.core.errors import DomainError, NotFound
from yigongti.network.models import Department
from yigongti.referrals import actions as referral_actions
from yigongti.referrals.models import Direction, Referral, State, Urgency
from yigongti.referrals.queries import get_referral_for, referrals_visible_to
from yigongti.residents.queries import identity_ids, in_scope

from . import search, systems
from .clinical import local_time, patient_ref
from .clinical_views import (
    _date_q,
    _mpi_by_resident,
    facility_id_for,
    organization_q,
    resolve_patient,
)
from .mapping import JSON, facility_resource_id
from .outcome import FhirError, from_domain_error
from .search import ParamSpec, SearchRequest
from .views import _strict, fhir_base, fhir_response, fhir_view

TYPES = ("ServiceRequest", "Task")

SNOMED = "http://snomed.info/sct"
#: SNOMED CT 3457005 |Patient referral| (the category of every referral).
REFERRAL_CATEGORY = ("3457005", "Patient referral")
TASK_CODES = "http://hl7.org/fhir/CodeSystem/task-code"

# --- code systems and extensions (under settings.YGT["IDENTIFIER_BASE"]) ----------------


def direction_system() -> str:
    """转诊方向: up 上转 | down 下转（回转）."""
    return f"{systems.base()}/referral-direction"


def state_system() -> str:
    """Our referral states (Task.businessStatus): draft, submitted, accepted, … ."""
    return f"{systems.base()}/referral-state"


def task_code_system() -> str:
    """return-followup: the follow-up owed after a return note."""
    return f"{systems.base()}/referral-task"


def department_system() -> str:
    """科室: code = the department's row id (performerType)."""
    return f"{systems.base()}/department"


def client_key_system() -> str:
    """The sender's idempotency key of a referral (one per user)."""
    return f"{systems.base()}/referral-key"


def out_of_county_extension() -> str:
    return f"{systems.base()}/ext/out-of-county"


def family_doctor_extension() -> str:
    return f"{systems.base()}/ext/family-doctor-referral"


#: Referral state → ServiceRequest.status (docs/fhir.md has the table).
REQUEST_STATUS: dict[str, str] = {
    State.DRAFT: "draft",
    State.SUBMITTED: "active",
    State.ACCEPTED: "active",
    State.ARRIVED: "active",
    State.COMPLETED: "completed",
    State.DECLINED: "revoked",
    State.EXPIRED: "revoked",
    State.CANCELLED: "revoked",
}

#: Referral state → Task.status (the receiving side's work item).
TASK_STATUS: dict[str, str] = {
    State.DRAFT: "draft",
    State.SUBMITTED: "requested",
    State.ACCEPTED: "accepted",
    State.ARRIVED: "in-progress",
    State.COMPLETED: "completed",
    State.DECLINED: "rejected",
    State.EXPIRED: "failed",
    State.CANCELLED: "cancelled",
}

PRIORITY: dict[str, str] = {Urgency.EMERGENCY: "stat", Urgency.ROUTINE: "routine"}
INTENT: dict[str, str] = {Direction.UP: "order", Direction.DOWN: "plan"}

#: Note prefixes: how the note's parts are told apart, both ways.
NOTE_REASON = "转诊原因："
NOTE_PAST = "既往史："
NOTE_TREATMENT = "已做治疗："
NOTE_DOCTOR = "转诊医生："

#: supportingInfo resource types ↔ the referral's attachment kinds.
ATTACHMENT_TYPES = {
    "encounter": "Encounter",
    "observation": "Observation",
    "report": "DiagnosticReport",
}

_DATE_DOC = "YYYY, YYYY-MM or YYYY-MM-DD with eq (default), ne, gt, ge, lt, le"
_PATIENT = ParamSpec("patient", "reference", "Patient/<主索引号> or the bare index number")
_SUBJECT = ParamSpec("subject", "reference", "same as patient")

PARAMS: dict[str, tuple[ParamSpec, ...]] = {
    "ServiceRequest": (
        search._ID,
        _PATIENT,
        _SUBJECT,
        ParamSpec("status", "token", "draft | active | completed | revoked"),
        ParamSpec("intent", "token", "order (上转) | plan (回转)"),
        ParamSpec("priority", "token", "routine (普通) | stat (急诊)"),
        ParamSpec(
            "category",
            "token",
            "up | down (…/referral-direction); SNOMED 3457005 = every referral",
        ),
        ParamSpec("authored", "date", f"submitted (else written) on: {_DATE_DOC}"),
        ParamSpec(
            "performer",
            "reference",
            "the receiving Organization/<facility code> or Practitioner/<staff id>",
        ),
        ParamSpec("requester", "reference", "the sending Organization/<facility code>"),
    ),
    "Task": (
        search._ID,
        _PATIENT,
        _SUBJECT,
        ParamSpec(
            "status",
            "token",
            "draft | requested | accepted | rejected | in-progress | completed | cancelled "
            "| failed",
        ),
        ParamSpec("owner", "reference", "the receiving Organization/<facility code>"),
        ParamSpec("requester", "reference", "the sending Organization/<facility code>"),
        ParamSpec("focus", "reference", "ServiceRequest/<id>"),
        ParamSpec("code", "token", "fulfill (上转待接诊) | return-followup (回转随访)"),
    ),
}


# --- mapping ---------------------------------------------------------------------------


def _org_ref(facility: Any) -> JSON:
    return {"reference": f"Organization/{facility_resource_id(facility)}", "display": facility.name}


def authored(r: Referral) -> datetime:
    """The note's date: when it was submitted, else when it was written (a draft)."""
    return r.submitted_at or r.created_at


def _concept(system: str, code: str, display: str) -> JSON:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def _direction(r: Referral) -> JSON:
    return _concept(direction_system(), r.direction, Direction(r.direction).label)


def _receiver(r: Referral) -> JSON:
    if r.out_of_county or r.to_facility is None:
        return {"display": f"{r.destination_name}（县外）"}
    return _org_ref(r.to_facility)


def _notes(r: Referral) -> list[JSON]:
    parts = [f"{NOTE_REASON}{r.reason}"]
    if r.past_history:
        parts.append(f"{NOTE_PAST}{r.past_history}")
    if r.treatment_so_far:
        parts.append(f"{NOTE_TREATMENT}{r.treatment_so_far}")
    doctor = r.referring_doctor + (f"（{r.referring_phone}）" if r.referring_phone else "")
    parts.append(f"{NOTE_DOCTOR}{doctor}")
    if r.direction == Direction.DOWN:
        for label, value in (
            ("出院/门诊诊断", r.return_diagnosis),
            ("住院号", r.inpatient_no),
            ("主要检查结果", r.findings),
            ("诊疗经过", r.treatment),
            ("下一步治疗方案", r.next_steps),
        ):
            if value:
                parts.append(f"{label}：{value}")
    if r.decline_reason:
        parts.append(f"拒绝原因：{r.decline_reason}")
    if r.cancel_reason:
        parts.append(f"撤销原因：{r.cancel_reason}")
    return [{"text": p} for p in parts]


def service_request(r: Referral, mpi_id: str) -> JSON:
    """A referral (resident's facilities, department, doctor and diagnosis loaded) of the
    resident `mpi_id` (the survivor's index number)."""
    out: JSON = {"resourceType": "ServiceRequest", "id": str(r.pk)}
    ext: list[JSON] = []
    if r.out_of_county:
        ext.append({"url": out_of_county_extension(), "valueBoolean": True})
    if r.family_doctor:
        ext.append({"url": family_doctor_extension(), "valueBoolean": True})
    if ext:
        out["extension"] = ext
    if r.client_key:
        out["identifier"] = [{"system": client_key_system(), "value": r.client_key}]
    if r.parent_id is not None:
        out["basedOn"] = [{"reference": f"ServiceRequest/{r.parent_id}"}]
    out["status"] = REQUEST_STATUS[r.state]
    out["intent"] = INTENT[r.direction]
    out["category"] = [
        _concept(SNOMED, REFERRAL_CATEGORY[0], REFERRAL_CATEGORY[1]) | {"text": "转诊"},
        _direction(r),
    ]
    out["priority"] = PRIORITY[r.urgency]
    out["code"] = {"text": f"{Direction(r.direction).label}至{r.destination}"}
    out["subject"] = patient_ref(mpi_id, r.resident.name)
    out["authoredOn"] = local_time(authored(r))
    out["requester"] = _org_ref(r.from_facility)
    if r.to_department_id is not None and r.to_department is not None:
        d = r.to_department
        out["performerType"] = _concept(department_system(), str(d.pk), d.name)
    performers = [_receiver(r)]
    if r.to_doctor_id is not None and r.to_doctor is not None:
        performers.append(
            {"reference": f"Practitioner/{r.to_doctor_id}", "display": r.to_doctor.name}
        )
    out["performer"] = performers
    reason: JSON = {}
    if r.diagnosis_id:
        name = r.diagnosis.name if r.diagnosis else ""
        reason["coding"] = [{"system": systems.icd10_system(), "code": r.diagnosis_id}]
        if name:
            reason["coding"][0]["display"] = name
    text = r.initial_impression or (r.return_diagnosis if r.direction == Direction.DOWN else "")
    if text or reason:
        reason["text"] = text or (r.diagnosis.name if r.diagnosis else r.diagnosis_id or "")
        out["reasonCode"] = [reason]
    infos = [
        {"reference": f"{ATTACHMENT_TYPES[a['type']]}/{a['id']}"}
        for a in r.attachments or []
        if a.get("type") in ATTACHMENT_TYPES
    ]
    if infos:
        out["supportingInfo"] = infos
    out["note"] = _notes(r)
    if r.rehab_advice:
        out["patientInstruction"] = r.rehab_advice
    return out


def _last_modified(r: Referral) -> datetime:
    times = [
        t
        for t in (
            r.created_at,
            r.submitted_at,
            r.responded_at,
            r.arrived_at,
            r.completed_at,
            r.followup_done_at,
        )
        if t is not None
    ]
    return max(times)


def task(r: Referral, mpi_id: str) -> JSON:
    """The receiving side's work on a referral: answer an upward referral (then receive and
    treat the patient), or receive a return note and follow the patient up within the due
    date."""
    status = TASK_STATUS[r.state]
    label = State(r.state).label
    out: JSON = {
        "resourceType": "Task",
        "id": str(r.pk),
        "basedOn": [{"reference": f"ServiceRequest/{r.pk}"}],
        "status": status,
    }
    reason = (
        r.decline_reason or r.cancel_reason or ("超时未响应" if r.state == State.EXPIRED else "")
    )
    if reason:
        out["statusReason"] = {"text": reason}
    out["businessStatus"] = _concept(state_system(), r.state, label)
    out["intent"] = "order"
    out["priority"] = PRIORITY[r.urgency]
    if r.direction == Direction.DOWN:
        out["code"] = _concept(task_code_system(), "return-followup", "回转随访")
        out["description"] = "接收回转患者并在随访截止日期前完成随访"
    else:
        out["code"] = {
            "coding": [
                {"system": TASK_CODES, "code": "fulfill", "display": "Fulfill the focal request"}
            ],
            "text": "接诊上转患者",
        }
        out["description"] = f"接诊转诊患者：{r.destination}"
    out["focus"] = {"reference": f"ServiceRequest/{r.pk}"}
    out["for"] = patient_ref(mpi_id, r.resident.name)
    out["authoredOn"] = local_time(r.created_at)
    out["lastModified"] = local_time(_last_modified(r))
    out["requester"] = _org_ref(r.from_facility)
    out["owner"] = _receiver(r)
    started = r.responded_at or r.arrived_at
    if started is not None:
        period: JSON = {"start": local_time(started)}
        done = r.followup_done_at or r.completed_at
        if done is not None:
            period["end"] = local_time(done)
        out["executionPeriod"] = period
    if r.direction == Direction.DOWN and r.followup_due is not None:
        out["restriction"] = {"period": {"end": r.followup_due.isoformat()}}
    elif r.respond_by is not None and r.state in (State.DRAFT, State.SUBMITTED):
        out["restriction"] = {"period": {"end": local_time(r.respond_by)}}
    outputs: list[JSON] = []
    if r.booking_id is not None:
        outputs.append(
            {
                "type": {"text": "预约"},
                "valueReference": {"reference": f"Appointment/{r.booking_id}"},
            }
        )
    if r.followup_note:
        outputs.append({"type": {"text": "随访记录"}, "valueString": r.followup_note})
    if outputs:
        out["output"] = outputs
    return out


# --- reads -----------------------------------------------------------------------------


def _pk(resource_id: str) -> int:
    if not resource_id.isdigit():
        raise NotFound("转诊单")
    return int(resource_id)


def read(actor: Actor, resource_type: str, resource_id: str) -> JSON:
    r = get_referral_for(actor, _pk(resource_id), purpose="fhir_read")  # READ / DENIED
    mpi = _mpi_by_resident([r.resident_id])[r.resident_id]
    return service_request(r, mpi) if resource_type == "ServiceRequest" else task(r, mpi)


# --- searches --------------------------------------------------------------------------


def _performer_q(value: str) -> Q:
    kind, _, key = value.rpartition("/")
    if kind.endswith("Practitioner"):
        return Q(to_doctor_id=int(key)) if key.isdigit() else search.NOTHING
    return organization_q("to_facility_id")(value)


def _category_q(value: str) -> Q:
    system, code = search._token(value)
    if system == SNOMED or (system is None and code == REFERRAL_CATEGORY[0]):
        return Q() if code == REFERRAL_CATEGORY[0] else search.NOTHING
    if system in (None, direction_system()) and code in Direction.values:
        return Q(direction=code)
    return search.NOTHING


def _task_code_q(value: str) -> Q:
    code = search._token(value)[1]
    if code == "fulfill":
        return Q(direction=Direction.UP)
    if code == "return-followup":
        return Q(direction=Direction.DOWN)
    return search.NOTHING


def _ref_id_q(value: str) -> Q:
    key = value.rsplit("/", 1)[-1]
    return Q(pk=int(key)) if key.isdigit() else search.NOTHING


def _patients(actor: Actor, req: SearchRequest) -> list[int] | None:
    """The patient/subject criteria as resident ids (merged records included), or None when
    there are none. A resident outside the user's area who has no referral the user may see
    gets a DENIED audit entry (and so matches nothing)."""
    crits = req.values("patient") + req.values("subject")
    if not crits:
        return None
    allowed: set[int] | None = None
    visible = referrals_visible_to(actor)
    for c in crits:
        ids: set[int] = set()
        for v in c.values:
            person = resolve_patient(v if "/" in v or "?" in v else f"Patient/{v}")
            if person is None:
                continue
            theirs = identity_ids(person)
            if not in_scope(actor, person) and not visible.filter(resident_id__in=theirs).exists():
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


def referral_queryset(actor: Actor, resource_type: str, req: SearchRequest) -> QuerySet[Referral]:
    qs = referrals_visible_to(actor).annotate(authored_at=Coalesce("submitted_at", "created_at"))
    resident_ids = _patients(actor, req)
    if resident_ids is not None:
        qs = qs.filter(resident_id__in=resident_ids)
    statuses = REQUEST_STATUS if resource_type == "ServiceRequest" else TASK_STATUS
    makers: dict[str, Callable[[str], Q]] = {
        "_id": lambda v: Q(pk=int(v)) if v.isdigit() else search.NOTHING,
        "status": search.mapped_q("state", statuses),
        "intent": search.mapped_q("direction", INTENT),
        "priority": search.mapped_q("urgency", PRIORITY),
        "category": _category_q,
        "authored": lambda v: _date_q("authored_at", "authored", v),
        "performer": _performer_q,
        "owner": organization_q("to_facility_id"),
        "requester": organization_q("from_facility_id"),
        "focus": _ref_id_q,
        "code": _task_code_q,
    }
    for c in req.criteria:
        if c.name in makers:
            qs = qs.filter(search._any_of(c.values, makers[c.name]))
    return qs.order_by("-authored_at", "-pk")


def _search(request: HttpRequest, actor: Actor, resource_type: str) -> HttpResponse:
    req = search.parse(request.GET, PARAMS[resource_type], strict=_strict(request))
    qs = referral_queryset(actor, resource_type, req)
    total = qs.count()
    rows = list(qs[req.offset : req.offset + req.count]) if req.count else []
    mpi = _mpi_by_resident(r.resident_id for r in rows)
    build = service_request if resource_type == "ServiceRequest" else task
    resources = [build(r, mpi[r.resident_id]) for r in rows]
    audit.record(
        actor,
        audit.Action.SEARCH,
        "referral",
        "",
        detail={
            "via": "fhir",
            "type": resource_type,
            "query": {c.key: c.values for c in req.criteria},
            "total": total,
            "returned": [r.pk for r in rows],
        },
    )
    return fhir_response(search.searchset(fhir_base(request), resource_type, resources, total, req))


# --- create: POST /fhir/ServiceRequest -------------------------------------------------

#: ReferralInput fields → the ServiceRequest element they come from.
EXPRESSIONS: dict[str, str] = {
    "urgency": "ServiceRequest.priority",
    "reason": "ServiceRequest.note",
    "referring_doctor": "ServiceRequest.note",
    "to_facility_id": "ServiceRequest.performer",
    "to_doctor_id": "ServiceRequest.performer",
    "destination_name": "ServiceRequest.performer",
    "to_department_id": "ServiceRequest.performerType",
    "diagnosis_code": "ServiceRequest.reasonCode",
    "resident": "ServiceRequest.subject",
    "state": "ServiceRequest.status",
}


def _expression(field: str) -> str:
    head, _, index = field.partition(".")
    if head == "attachments" and index.isdigit():
        return f"ServiceRequest.supportingInfo[{index}]"
    return EXPRESSIONS.get(field, "ServiceRequest")


def _unprocessable(code: str, zh: str, en: str, where: str) -> FhirError:
    return FhirError.single(422, code, zh, en, where)


def _flag(body: JSON, url: str) -> bool:
    return any(e.get("url") == url and e.get("valueBoolean") for e in body.get("extension") or [])


def _text_of(concept: JSON | None) -> str:
    if not concept:
        return ""
    text = str(concept.get("text") or "")
    if not text:
        text = next(
            (str(c["display"]) for c in concept.get("coding") or [] if c.get("display")), ""
        )
    return text


def referral_input(body: JSON) -> tuple[str, referral_actions.ReferralInput]:
    """A validated ServiceRequest body → (the subject reference, the form's input). Raises
    FhirError(422) naming the element for what the body cannot mean."""
    status, intent = body.get("status"), body.get("intent")
    if status not in ("active", "draft"):
        raise _unprocessable(
            "not-supported",
            "新建转诊单的 status 应为 active（提交）或 draft（草稿）",
            "A new referral has status active (submit) or draft",
            "ServiceRequest.status",
        )
    if intent != "order":
        raise _unprocessable(
            "not-supported",
            "上转单的 intent 应为 order（回转单请在转诊页面填写）",
            "An upward referral has intent order (return notes are written in the UI)",
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
    d = referral_actions.ReferralInput(submit=status == "active")
    priority = body.get("priority") or "routine"
    urgency = {p: u for u, p in PRIORITY.items()}.get(priority)
    if urgency is None:
        raise _unprocessable(
            "code-invalid",
            "priority 应为 routine（普通）或 stat（急诊）",
            "priority must be routine or stat",
            "ServiceRequest.priority",
        )
    d.urgency = urgency
    d.out_of_county = _flag(body, out_of_county_extension())
    d.family_doctor = _flag(body, family_doctor_extension())
    for i, p in enumerate(body.get("performer") or []):
        ref = str(p.get("reference") or "")
        kind, _, key = ref.rpartition("/")
        if d.out_of_county and not ref:
            d.destination_name = str(p.get("display") or "").removesuffix("（县外）")
        elif kind.endswith("Organization"):
            fac = facility_id_for(key)
            if fac is None:
                raise _unprocessable(
                    "not-found",
                    "找不到接收机构",
                    "Unknown receiving organization",
                    f"ServiceRequest.performer[{i}]",
                )
            d.to_facility_id = fac
        elif kind.endswith("Practitioner") and key.isdigit():
            d.to_doctor_id = int(key)
        else:
            raise _unprocessable(
                "not-supported",
                "performer 应为 Organization/<机构编码> 或 Practitioner/<人员id>",
                "performer must be an Organization or a Practitioner",
                f"ServiceRequest.performer[{i}]",
            )
    for c in (body.get("performerType") or {}).get("coding") or []:
        if c.get("system") == department_system() and str(c.get("code", "")).isdigit():
            d.to_department_id = int(c["code"])
    dept_name = _text_of(body.get("performerType"))
    if d.to_department_id is None and dept_name and d.to_facility_id:
        d.to_department_id = (
            Department.objects.filter(facility_id=d.to_facility_id, name=dept_name)
            .values_list("pk", flat=True)
            .first()
        )
        if d.to_department_id is None:
            raise _unprocessable(
                "not-found",
                f"接收机构没有科室“{dept_name}”",
                f"No department '{dept_name}' at the receiving organization",
                "ServiceRequest.performerType",
            )
    for concept in body.get("reasonCode") or []:
        for c in concept.get("coding") or []:
            system = str(c.get("system") or "")
            if c.get("code") and (
                system in (systems.icd10_system(), systems.ICD10_WHO) or "icd-10" in system
            ):
                d.diagnosis_code = str(c["code"])
        d.initial_impression = str(concept.get("text") or "")[:200]
    reasons = []
    for n in body.get("note") or []:
        text = str(n.get("text") or "").strip()
        if text.startswith(NOTE_PAST):
            d.past_history = text.removeprefix(NOTE_PAST).strip()
        elif text.startswith(NOTE_TREATMENT):
            d.treatment_so_far = text.removeprefix(NOTE_TREATMENT).strip()
        elif text.startswith(NOTE_DOCTOR):
            doctor = text.removeprefix(NOTE_DOCTOR).strip()
            name, _, phone = doctor.partition("（")
            d.referring_doctor, d.referring_phone = name.strip(), phone.rstrip("）").strip()
        elif text:
            reasons.append(text.removeprefix(NOTE_REASON).strip())
    d.reason = "\n".join(reasons)
    kinds = {v: k for k, v in ATTACHMENT_TYPES.items()}
    for info in body.get("supportingInfo") or []:
        kind, _, key = str(info.get("reference") or "").rpartition("/")
        d.attachments.append(f"{kinds.get(kind.rsplit('/', 1)[-1], kind)}:{key}")
    keys = [str(i.get("value") or "") for i in body.get("identifier") or [] if i.get("value")]
    d.client_key = keys[0][:64] if keys else ""
    return subject, d


def create(actor: Actor, body: JSON) -> tuple[Referral, bool]:
    """(the referral, True if new). The same identifier again from the same user returns the
    first referral (the action's client_key)."""
    subject, d = referral_input(body)
    person = resolve_patient(subject)
    if person is None:
        raise _unprocessable("not-found", "找不到居民", "Unknown patient", "ServiceRequest.subject")
    prior = (
        Referral.objects.filter(created_by_id=actor.user_id, client_key=d.client_key).exists()
        if d.client_key
        else False
    )
    try:
        r = referral_actions.do_create_referral(actor, person, d)
    except DomainError as exc:
        raise from_domain_error(exc, {e.field: _expression(e.field) for e in exc.errors}) from exc
    return r, not prior


# --- views -----------------------------------------------------------------------------


def reload(r: Referral) -> JSON:
    """The stored referral as a ServiceRequest, without a second audit entry."""
    row = Referral.objects.select_related(
        "resident", "from_facility", "to_facility", "to_department", "to_doctor", "diagnosis"
    ).get(pk=r.pk)
    return service_request(row, _mpi_by_resident([row.resident_id])[row.resident_id])


@fhir_view("GET")
def task_type(request: HttpRequest, actor: Actor) -> HttpResponse:
    return _search(request, actor, "Task")


@fhir_view("GET")
def task_instance(request: HttpRequest, actor: Actor, resource_id: str) -> HttpResponse:
    return fhir_response(read(actor, "Task", resource_id))
