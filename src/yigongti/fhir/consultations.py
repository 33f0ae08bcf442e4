"""Remote consultations (远程会诊, docs/consults.md) as FHIR `ServiceRequest` with category
SNOMED CT 11429006 |Consultation|: the treating facility asks a county department for an
expert opinion. Read-only: requests are made on the consultation pages (written consent is
part of the form).

Ids are `consult-<pk>` (never colliding with referrals, bare digits, or studies,
`study-<pk>`). Reads go through `consults.queries.get_consultation_for` (READ / DENIED audited
there), searches through `consultations_visible_to` (the requesting and the consulted
facility, the group administrator, the commission)."""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import Q, QuerySet

from yigongti.consults.models import Consultation, State, TitleLevel, Urgency
from yigongti.consults.queries import consultations_visible_to, get_consultation_for
from yigongti.core.actor import Actor
from yigongti.core.errors import NotFound

from . import search, systems
from .clinical import local_time, patient_ref
from .clinical_views import _date_q, _mpi_by_resident, organization_q
from .mapping import JSON, facility_resource_id
from .search import SearchRequest

PREFIX = "consult-"
SNOMED = "http://snomed.info/sct"
#: SNOMED CT 11429006 |Consultation (procedure)|: the category of every consultation.
CONSULT_CATEGORY = ("11429006", "Consultation")

#: Consultation state → ServiceRequest.status (docs/fhir.md has the table). The state itself
#: is in the extension …/ext/consult-state.
REQUEST_STATUS: dict[str, str] = {
    State.SUBMITTED: "active",
    State.ACCEPTED: "active",
    State.ANSWERED: "completed",
    State.CLOSED: "completed",
    State.DECLINED: "revoked",
    State.CANCELLED: "revoked",
}

PRIORITY: dict[str, str] = {Urgency.EMERGENCY: "stat", Urgency.ROUTINE: "routine"}

NOTE_PURPOSE = "会诊目的："
NOTE_SUMMARY = "病情摘要："
NOTE_DOCTOR = "申请医生："
NOTE_TITLE = "拟邀职称："
NOTE_EXPERT = "会诊专家："
NOTE_OPINION = "会诊意见："
NOTE_ADVICE = "诊疗建议："
NOTE_DECISION = "经治医生最终处理决定："
NOTE_DECLINE = "拒绝原因："
NOTE_CANCEL = "撤销原因："


def state_system() -> str:
    """Our consultation states: submitted 待受理, accepted, declined, answered, closed,
    cancelled."""
    return f"{systems.base()}/consult-state"


def department_system() -> str:
    """科室: code = the department's row id (as for referrals)."""
    return f"{systems.base()}/department"


def state_extension() -> str:
    return f"{systems.base()}/ext/consult-state"


def resource_id(pk: int) -> str:
    return f"{PREFIX}{pk}"


def pk_of(resource_id: str) -> int | None:
    key = resource_id.removeprefix(PREFIX)
    if key == resource_id or not key.isdigit():
        return None
    return int(key)


# --- mapping ---------------------------------------------------------------------------


def _org_ref(facility: object) -> JSON:
    return {
        "reference": f"Organization/{facility_resource_id(facility)}",  # type: ignore[arg-type]
        "display": getattr(facility, "name", ""),
    }


def _notes(c: Consultation) -> list[JSON]:
    doctor = c.requesting_doctor + (f"（{c.requesting_phone}）" if c.requesting_phone else "")
    parts = [f"{NOTE_PURPOSE}{c.purpose}", f"{NOTE_SUMMARY}{c.case_summary}"]
    parts.append(f"{NOTE_DOCTOR}{doctor}")
    if c.wanted_title != TitleLevel.ANY:
        parts.append(f"{NOTE_TITLE}{TitleLevel(c.wanted_title).label}")
    if c.expert_name:
        title = f"（{c.expert_title}）" if c.expert_title else ""
        parts.append(f"{NOTE_EXPERT}{c.expert_name}{title}")
    for prefix, value in (
        (NOTE_OPINION, c.opinion),
        (NOTE_ADVICE, c.advice),
        (NOTE_DECISION, c.final_decision),
        (NOTE_DECLINE, c.decline_reason),
        (NOTE_CANCEL, c.cancel_reason),
    ):
        if value:
            parts.append(f"{prefix}{value}")
    return [{"text": p} for p in parts]


def service_request(c: Consultation, mpi_id: str) -> JSON:
    """A consultation (resident, facilities, department and expert loaded) of the resident
    `mpi_id` (the survivor's index number)."""
    out: JSON = {
        "resourceType": "ServiceRequest",
        "id": resource_id(c.pk),
        "extension": [
            {
                "url": state_extension(),
                "valueCoding": {
                    "system": state_system(),
                    "code": c.state,
                    "display": State(c.state).label,
                },
            }
        ],
        "status": REQUEST_STATUS[c.state],
        "intent": "order",
        "category": [
            {
                "coding": [
                    {"system": SNOMED, "code": CONSULT_CATEGORY[0], "display": CONSULT_CATEGORY[1]}
                ],
                "text": "远程会诊",
            }
        ],
        "priority": PRIORITY[c.urgency],
    }
    wanted = c.wanted_specialty or (c.to_department.name if c.to_department else "")
    out["code"] = {
        "coding": [{"system": SNOMED, "code": CONSULT_CATEGORY[0], "display": "Consultation"}],
        "text": f"{Urgency(c.urgency).label}：{wanted}" if wanted else Urgency(c.urgency).label,
    }
    out["subject"] = patient_ref(mpi_id, c.resident.name)
    when = c.scheduled_at or c.proposed_at
    if when is not None:
        out["occurrenceDateTime"] = local_time(when)
    out["authoredOn"] = local_time(c.submitted_at)
    out["requester"] = _org_ref(c.from_facility)
    performer_type: JSON = {}
    if c.to_department_id is not None and c.to_department is not None:
        d = c.to_department
        performer_type["coding"] = [
            {"system": department_system(), "code": str(d.pk), "display": d.name}
        ]
    if wanted:
        performer_type["text"] = wanted
    if performer_type:
        out["performerType"] = performer_type
    performers = [_org_ref(c.to_facility)]
    if c.expert_id is not None:
        performers.append(
            {"reference": f"Practitioner/{c.expert_id}", "display": c.expert_name or ""}
        )
    out["performer"] = performers
    out["reasonCode"] = [{"text": c.reason}]
    out["note"] = _notes(c)
    return out


# --- reads and search filters ----------------------------------------------------------


def read(actor: Actor, resource_id: str) -> JSON:
    pk = pk_of(resource_id)
    if pk is None:
        raise NotFound("会诊申请")
    c = get_consultation_for(actor, pk, purpose="fhir_read")  # READ / DENIED
    return service_request(c, _mpi_by_resident([c.resident_id])[c.resident_id])


def build(rows: list[Consultation]) -> list[JSON]:
    mpi = _mpi_by_resident(c.resident_id for c in rows)
    return [service_request(c, mpi[c.resident_id]) for c in rows]


def is_consult_category(value: str) -> bool:
    system, code = search._token(value)
    return system in (None, SNOMED) and code == CONSULT_CATEGORY[0]


def _performer_q(value: str) -> Q:
    kind, _, key = value.rpartition("/")
    if kind.endswith("Practitioner"):
        return Q(expert_id=int(key)) if key.isdigit() else search.NOTHING
    return organization_q("to_facility_id")(value)


def _id_q(value: str) -> Q:
    pk = pk_of(value)
    return Q(pk=pk) if pk is not None else search.NOTHING


MAKERS: dict[str, Callable[[str], Q]] = {
    "_id": _id_q,
    "status": search.mapped_q("state", REQUEST_STATUS),
    "intent": lambda v: Q() if search._token(v)[1] == "order" else search.NOTHING,
    "priority": search.mapped_q("urgency", PRIORITY),
    "category": lambda v: Q() if is_consult_category(v) else search.NOTHING,
    "authored": lambda v: _date_q("submitted_at", "authored", v),
    "performer": _performer_q,
    "requester": organization_q("from_facility_id"),
}


def queryset(
    actor: Actor, req: SearchRequest, resident_ids: list[int] | None
) -> QuerySet[Consultation]:
    qs = consultations_visible_to(actor)
    if resident_ids is not None:
        qs = qs.filter(resident_id__in=resident_ids)
    for c in req.criteria:
        if c.name in MAKERS:
            qs = qs.filter(search._any_of(c.values, MAKERS[c.name]))
    return qs.order_by("-submitted_at", "-pk")
