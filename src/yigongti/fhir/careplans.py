"""Family-doctor teams as FHIR `CareTeam` and chronic-disease registrations as `CarePlan`:
read and search only (GET), scoped and audited like every other FHIR read.

A team (contracts.Team) is a CareTeam without a subject: its members are network Staff
(Practitioner references), its managingOrganization the team's facility. A registration
(chronic.Registration) is a CarePlan of intent "plan" for one disease: period from the
enrolment date, one activity (the next scheduled follow-up), and the team of the resident's
active contract as careTeam. Reads go through contracts.queries / chronic.queries /
residents.queries; out of scope is 404 with a DENIED audit entry."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time
from typing import Any

from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse

from yigongti.chronic import rules as chronic_rules
from yigongti.chronic.models import ExitReason, Registration, RegistrationStatus
from yigongti.chronic.queries import get_registration_for, registrations_visible_to
from yigongti.contracts.models import Contract, ContractStatus, Team, TeamMember
from yigongti.contracts.queries import (
    check_can_read,
    get_team_for,
    team_members,
    teams_visible_to,
)
from yigongti.core import audit
from yigongti.core.actor import Actor
from yigongti.core.errors import Forbidden, NotFound
from yigongti.residents.queries import identity_ids, survivor_of

from . import search, systems
from .clinical import SHANGHAI, local_time, patient_ref
from .clinical_views import _mpi_by_resident, _patients_in
from .mapping import JSON, facility_resource_id
from .search import ParamSpec, SearchRequest
from .views import _strict, fhir_base, fhir_response, fhir_view

TYPES = ("CareTeam", "CarePlan")

# --- code systems (under settings.YGT["IDENTIFIER_BASE"], listed in docs/fhir.md) -------


def team_level_system() -> str:
    """家庭医生层级: county | township | village."""
    return f"{systems.base()}/fd-team-level"


def team_role_system() -> str:
    """团队角色: doctor | nurse | public_health | assistant | specialist."""
    return f"{systems.base()}/fd-team-role"


def disease_system() -> str:
    """慢病病种: hypertension | diabetes | any configured disease."""
    return f"{systems.base()}/chronic-disease"


def management_level_system() -> str:
    """慢病管理级别: 1 | 2 | 3."""
    return f"{systems.base()}/chronic-management-level"


def management_level_extension() -> str:
    return f"{systems.base()}/ext/management-level"


#: LOINC answer for a care team that coordinates care over time (CareTeam.category).
LONGITUDINAL_TEAM = ("LA27976-2", "Longitudinal care-coordination focused care team")

#: Exit reasons that count as the plan reaching its end; the others end it early.
COMPLETED_REASONS = frozenset({ExitReason.CURED})

PARAMS: dict[str, tuple[ParamSpec, ...]] = {
    "CareTeam": (
        search._ID,
        ParamSpec(
            "patient",
            "reference",
            "Patient/<主索引号> or the bare index number: the team of the resident's "
            "active family-doctor contract",
        ),
        ParamSpec("status", "token", "active | inactive"),
    ),
    "CarePlan": (
        search._ID,
        ParamSpec("patient", "reference", "Patient/<主索引号> or the bare index number"),
        ParamSpec("subject", "reference", "same as patient"),
        ParamSpec("status", "token", "active | completed | revoked"),
        ParamSpec("category", "token", "disease code (…/chronic-disease): hypertension | diabetes"),
    ),
}


# --- mapping ---------------------------------------------------------------------------


def _org_ref(facility: Any) -> JSON:
    return {"reference": f"Organization/{facility_resource_id(facility)}", "display": facility.name}


def care_team(team: Team, members: list[TeamMember]) -> JSON:
    """A family-doctor team; `members` with staff (and staff.facility) loaded."""
    out: JSON = {
        "resourceType": "CareTeam",
        "id": str(team.pk),
        "status": "active" if team.active else "inactive",
        "category": [
            {
                "coding": [
                    {
                        "system": systems.LOINC,
                        "code": LONGITUDINAL_TEAM[0],
                        "display": LONGITUDINAL_TEAM[1],
                    }
                ],
                "text": "家庭医生团队",
            },
            {
                "coding": [
                    {
                        "system": team_level_system(),
                        "code": team.level,
                        "display": team.get_level_display(),
                    }
                ],
                "text": team.get_level_display(),
            },
        ],
        "name": team.name,
        "period": {"start": local_time(team.created_at)},
    }
    participants = []
    for m in members:
        p: JSON = {
            "role": [
                {
                    "coding": [
                        {
                            "system": team_role_system(),
                            "code": m.role,
                            "display": m.get_role_display(),
                        }
                    ],
                    "text": m.get_role_display(),
                }
            ],
            "member": {"reference": f"Practitioner/{m.staff_id}", "display": m.staff.name},
        }
        if m.staff.facility_id is not None:
            p["onBehalfOf"] = _org_ref(m.staff.facility)
        participants.append(p)
    if participants:
        out["participant"] = participants
    out["managingOrganization"] = [_org_ref(team.facility)]
    return out


def plan_status(reg: Registration) -> str:
    """管理中 → active; 结案 because cured → completed; death, moved, refused → revoked."""
    if reg.status == RegistrationStatus.ACTIVE:
        return "active"
    return "completed" if reg.exit_reason in COMPLETED_REASONS else "revoked"


def _disease_name(code: str) -> str:
    d = chronic_rules.DISEASES.get(code)
    return d.name if d is not None else code


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, SHANGHAI)


def care_plan(reg: Registration, mpi_id: str, team_id: int | None) -> JSON:
    """A registration (facility loaded) of the resident `mpi_id`; `team_id` is the team of
    the resident's active contract, if any."""
    name = _disease_name(reg.disease)
    status = plan_status(reg)
    out: JSON = {
        "resourceType": "CarePlan",
        "id": str(reg.pk),
        "extension": [
            {
                "url": management_level_extension(),
                "valueCodeableConcept": {
                    "coding": [
                        {
                            "system": management_level_system(),
                            "code": reg.level,
                            "display": reg.get_level_display(),
                        }
                    ],
                    "text": reg.get_level_display(),
                },
            }
        ],
        "status": status,
        "intent": "plan",
        "category": [
            {
                "coding": [{"system": disease_system(), "code": reg.disease, "display": name}],
                "text": name,
            }
        ],
        "title": f"{name}慢病管理",
        "description": f"{name}，{reg.get_level_display()}，{reg.enrolled_on.isoformat()}纳入管理",
        "subject": patient_ref(mpi_id),
    }
    period: JSON = {"start": reg.enrolled_on.isoformat()}
    if reg.exited_on is not None:
        period["end"] = reg.exited_on.isoformat()
    out["period"] = period
    out["created"] = local_time(reg.created_at)
    if reg.facility_id is not None:
        out["author"] = _org_ref(reg.facility)
    if team_id is not None:
        out["careTeam"] = [{"reference": f"CareTeam/{team_id}"}]
    if status == "active":
        due = reg.next_due.isoformat()
        out["activity"] = [
            {
                "detail": {
                    "kind": "Task",
                    "code": {"text": f"{name}随访"},
                    "status": "scheduled",
                    "scheduledPeriod": {"start": due},
                    "description": f"下次随访 {due}",
                    **({"performer": [_org_ref(reg.facility)]} if reg.facility_id else {}),
                }
            }
        ]
    if reg.exit_reason:
        note = f"结案：{reg.get_exit_reason_display()}"
        if reg.exit_note:
            note += f"（{reg.exit_note}）"
        out["note"] = [{"text": note}]
    return out


# --- reads -----------------------------------------------------------------------------


def _pk(resource_id: str) -> int:
    if not resource_id.isdigit():
        raise NotFound("资源")
    return int(resource_id)


def _active_teams(resident_ids: Iterable[int]) -> dict[int, int]:
    """resident id → team id of its active contract."""
    rows = Contract.objects.filter(
        resident_id__in=list(resident_ids), status=ContractStatus.ACTIVE
    ).values_list("resident_id", "team_id")
    return dict(rows)


def read_care_team(actor: Actor, resource_id: str) -> JSON:
    team = get_team_for(actor, _pk(resource_id))  # audits the DENIED, raises NotFound
    audit.record(actor, audit.Action.READ, "fd_team", str(team.pk), detail={"via": "fhir"})
    return care_team(team, team_members([team.pk])[team.pk])


def read_care_plan(actor: Actor, resource_id: str) -> JSON:
    reg = get_registration_for(actor, _pk(resource_id))  # audits READ / DENIED
    person = survivor_of(reg.resident)
    teams = _active_teams(identity_ids(person))
    team_id = next(iter(teams.values()), None)
    return care_plan(reg, person.mpi_id, team_id)


# --- searches --------------------------------------------------------------------------


def _token_codes(values: list[str]) -> list[str]:
    return [search._token(v)[1] for v in values]


def care_team_queryset(actor: Actor, req: SearchRequest) -> QuerySet[Team]:
    qs = teams_visible_to(actor)
    if req.values("patient"):
        try:
            check_can_read(actor)  # view_residents or sign_contracts
        except Forbidden:
            return Team.objects.none()
        scoped = _patients_in(actor, req)
        teams = Contract.objects.filter(
            resident_id__in=scoped.resident_ids or [], status=ContractStatus.ACTIVE
        ).values("team_id")
        # the resident is in scope: their team shows even if it is not one the actor serves
        qs = Team.objects.select_related("facility").filter(pk__in=teams)
    for c in req.criteria:
        if c.name == "_id":
            qs = qs.filter(pk__in=[int(v) for v in c.values if v.isdigit()])
        elif c.name == "status":
            wanted = {"active": True, "inactive": False}
            flags = [wanted[code] for code in _token_codes(c.values) if code in wanted]
            qs = qs.filter(active__in=flags)
    return qs.order_by("pk")


def _status_q(value: str) -> Q:
    code = search._token(value)[1]
    if code == "active":
        return Q(status=RegistrationStatus.ACTIVE)
    exited = Q(status=RegistrationStatus.EXITED)
    if code == "completed":
        return exited & Q(exit_reason__in=list(COMPLETED_REASONS))
    if code == "revoked":
        return exited & ~Q(exit_reason__in=list(COMPLETED_REASONS))
    return search.NOTHING


def care_plan_queryset(actor: Actor, req: SearchRequest) -> QuerySet[Registration]:
    try:
        qs = registrations_visible_to(actor, status=None)
    except Forbidden:  # no manage_chronic: nothing to see, as in the app's lists
        return Registration.objects.none()
    if req.values("patient") or req.values("subject"):
        scoped = _patients_in(actor, req)
        qs = Registration.objects.select_related("resident", "facility").filter(
            resident_id__in=scoped.resident_ids or []
        )
    for c in req.criteria:
        if c.name == "_id":
            qs = qs.filter(pk__in=[int(v) for v in c.values if v.isdigit()])
        elif c.name == "status":
            qs = qs.filter(search._any_of(c.values, _status_q))
        elif c.name == "category":
            qs = qs.filter(disease__in=_token_codes(c.values))
    return qs.order_by("-enrolled_on", "-pk")


def _search(request: HttpRequest, actor: Actor, resource_type: str) -> HttpResponse:
    req = search.parse(request.GET, PARAMS[resource_type], strict=_strict(request))
    resources: list[JSON]
    if resource_type == "CareTeam":
        tqs = care_team_queryset(actor, req)
        total = tqs.count()
        teams = list(tqs[req.offset : req.offset + req.count]) if req.count else []
        members = team_members([t.pk for t in teams])
        resources = [care_team(t, members[t.pk]) for t in teams]
        returned = [t.pk for t in teams]
    else:
        pqs = care_plan_queryset(actor, req)
        total = pqs.count()
        regs = list(pqs[req.offset : req.offset + req.count]) if req.count else []
        mpi = _mpi_by_resident(r.resident_id for r in regs)
        survivors = _survivor_ids(regs)
        teams_by = _active_teams(set(survivors.values()) | {r.resident_id for r in regs})
        resources = [
            care_plan(
                r,
                mpi[r.resident_id],
                teams_by.get(survivors[r.resident_id], teams_by.get(r.resident_id)),
            )
            for r in regs
        ]
        returned = [r.pk for r in regs]
    audit.record(
        actor,
        audit.Action.SEARCH,
        resource_type.lower(),
        "",
        detail={
            "via": "fhir",
            "query": {c.key: c.values for c in req.criteria},
            "total": total,
            "returned": returned,
        },
    )
    return fhir_response(search.searchset(fhir_base(request), resource_type, resources, total, req))


def _survivor_ids(regs: list[Registration]) -> dict[int, int]:
    """registration resident id → the id of the record it is merged into (or itself)."""
    out: dict[int, int] = {}
    for r in regs:
        out[r.resident_id] = (
            survivor_of(r.resident).pk if r.resident.merged_into_id else r.resident_id
        )
    return out


# --- views -----------------------------------------------------------------------------


@fhir_view("GET")
def care_team_type(request: HttpRequest, actor: Actor) -> HttpResponse:
    return _search(request, actor, "CareTeam")


@fhir_view("GET")
def care_team_instance(request: HttpRequest, actor: Actor, resource_id: str) -> HttpResponse:
    return fhir_response(read_care_team(actor, resource_id))


@fhir_view("GET")
def care_plan_type(request: HttpRequest, actor: Actor) -> HttpResponse:
    return _search(request, actor, "CarePlan")


@fhir_view("GET")
def care_plan_instance(request: HttpRequest, actor: Actor, resource_id: str) -> HttpResponse:
    return fhir_response(read_care_plan(actor, resource_id))
