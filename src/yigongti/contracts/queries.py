"""Every read of contracts, scoped to the actor; 履约 (delivery) and priority groups are
computed here at read time from the record, set-based (one query per source per page)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from yigongti.accounts.models import Account
from yigongti.chronic import queries as chronic_queries
from yigongti.core import audit
from yigongti.core.actor import Actor, ScopeKind
from yigongti.core.errors import Forbidden, NotFound
from yigongti.network.models import Division, DivisionLevel
from yigongti.records.models import Diagnosis, Encounter, EncounterKind, HealthExam, HealthProfile
from yigongti.residents.models import Resident
from yigongti.residents.queries import residents_visible_to

from . import rules
from .models import Contract, ContractStatus, ServicePackage, Team, TeamMember

SHANGHAI = ZoneInfo("Asia/Shanghai")
VIEW = "view_residents"
SIGN = "sign_contracts"
SCOPE_COLUMN = {ScopeKind.TOWNSHIPS: "township_id", ScopeKind.VILLAGES: "village_id"}


def expiring_days() -> int:
    """How many days ahead an expiring contract shows (configurable, default 30)."""
    return int(
        getattr(settings, "YGT", {}).get("CONTRACT_EXPIRING_DAYS", rules.DEFAULT_EXPIRING_DAYS)
    )


# --- scope -----------------------------------------------------------------------------------


def staff_id_of(actor: Actor) -> int | None:
    if actor.user_id is None:
        return None
    return Account.objects.filter(user_id=actor.user_id).values_list("staff_id", flat=True).first()


def my_team_ids(actor: Actor) -> list[int]:
    sid = staff_id_of(actor)
    if sid is None:
        return []
    return list(TeamMember.objects.filter(staff_id=sid).values_list("team_id", flat=True))


def _may_read(actor: Actor) -> bool:
    return actor.is_system or actor.can(VIEW) or actor.can(SIGN)


def _resident_scope_q(actor: Actor, prefix: str = "resident__") -> Q | None:
    """The actor's resident scope as a condition on a related resident (None = nothing)."""
    s = actor.scope
    if actor.is_system or s.kind == ScopeKind.ALL:
        return Q()
    column = SCOPE_COLUMN.get(s.kind)
    return None if column is None else Q(**{f"{prefix}{column}__in": s.division_ids})


def contracts_visible_to(actor: Actor) -> QuerySet[Contract]:
    """A village doctor: contracts of their village's residents; a team member: the team's
    contracts; township staff: their township; group admin: the group's catchment and teams;
    commission: all. Not audited by itself (lists audit a SEARCH)."""
    qs = Contract.objects.select_related(
        "resident", "resident__village", "team", "team__facility", "package"
    )
    if not _may_read(actor):
        return qs.none()
    cond = _resident_scope_q(actor)
    if cond is not None and not cond:  # Q() = everything
        return qs
    ors = Q(pk__in=[])
    if cond is not None:
        ors |= cond
    teams = my_team_ids(actor)
    if teams:
        ors |= Q(team_id__in=teams)
    if actor.role == "group_admin" and actor.group_id:
        ors |= Q(team__facility__group_id=actor.group_id)
    return qs.filter(ors)


def villages_visible_to(actor: Actor) -> QuerySet[Division]:
    qs = Division.objects.filter(level=DivisionLevel.VILLAGE)
    s = actor.scope
    if actor.is_system or s.kind == ScopeKind.ALL:
        return qs
    if s.kind == ScopeKind.TOWNSHIPS:
        return qs.filter(parent_id__in=s.division_ids)
    if s.kind == ScopeKind.VILLAGES:
        return qs.filter(pk__in=s.division_ids)
    return qs.none()


def teams_visible_to(actor: Actor) -> QuerySet[Team]:
    """Teams serving a village in the actor's scope, of the actor's facility or group, or that
    the actor belongs to."""
    qs = Team.objects.select_related("facility", "facility__division")
    if not _may_read(actor) and not actor.can("manage_teams"):
        return qs.none()
    if actor.is_system or actor.scope.kind == ScopeKind.ALL:
        return qs
    cond = Q(villages__in=villages_visible_to(actor)) | Q(pk__in=my_team_ids(actor))
    if actor.facility_id:
        cond |= Q(facility_id=actor.facility_id)
    if actor.role == "group_admin" and actor.group_id:
        cond |= Q(facility__group_id=actor.group_id)
    return qs.filter(pk__in=Team.objects.filter(cond).values("pk"))


def get_team_for(actor: Actor, team_id: int) -> Team:
    team = teams_visible_to(actor).filter(pk=team_id).first()
    if team is None:
        audit.record(actor, audit.Action.DENIED, "fd_team", str(team_id))
        raise NotFound("家庭医生团队")
    return team


def team_members(team_ids: Sequence[int]) -> dict[int, list[TeamMember]]:
    out: dict[int, list[TeamMember]] = defaultdict(list)
    for m in TeamMember.objects.filter(team_id__in=team_ids).select_related("staff__facility"):
        out[m.team_id].append(m)
    return out


def packages_visible_to(actor: Actor) -> QuerySet[ServicePackage]:
    qs = ServicePackage.objects.all()
    if actor.is_system or actor.scope.kind == ScopeKind.ALL or actor.group_id is None:
        return qs
    return qs.filter(Q(group__isnull=True) | Q(group_id=actor.group_id))


def get_contract_for(actor: Actor, pk: int) -> Contract:
    """One contract, audited; out of scope looks absent (and the attempt is audited)."""
    return audit.read_one(actor, contracts_visible_to(actor), pk, "contract", "签约协议")


def active_contract_of(resident: Resident) -> Contract | None:
    return (
        Contract.objects.select_related("team", "package")
        .filter(resident=resident, status=ContractStatus.ACTIVE)
        .first()
    )


def contracts_of_resident(resident: Resident) -> QuerySet[Contract]:
    return (
        Contract.objects.filter(resident=resident)
        .select_related("team", "package")
        .order_by("-start_date", "-id")
    )


def audit_list(actor: Actor, what: str, detail: dict[str, Any]) -> None:
    audit.record(actor, audit.Action.SEARCH, what, "", detail=detail)


# --- lists -----------------------------------------------------------------------------------


def team_contracts(actor: Actor, team: Team, status: str = "active") -> QuerySet[Contract]:
    qs = contracts_visible_to(actor).filter(team=team)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("end_date", "id")


def expiring_contracts(
    actor: Actor, team: Team | None = None, today: date | None = None, days: int | None = None
) -> QuerySet[Contract]:
    """Active contracts ending within the next `days` (default: configurable 30), or
    already past their end date and not yet renewed."""
    today = today or timezone.localdate()
    horizon = today + timedelta(days=expiring_days() if days is None else days)
    qs = contracts_visible_to(actor).filter(status=ContractStatus.ACTIVE, end_date__lte=horizon)
    if team is not None:
        qs = qs.filter(team=team)
    return qs.order_by("end_date", "id")


# --- 履约: delivery computed from the record ---------------------------------------------------


@dataclass
class ServiceLine:
    service: str
    label: str
    promised: int
    delivered: int
    due: int
    overdue: int


@dataclass
class Delivery:
    contract_id: int
    year: rules.ContractYear
    lines: list[ServiceLine] = field(default_factory=list)

    @property
    def total_promised(self) -> int:
        return sum(x.promised for x in self.lines)

    @property
    def total_delivered(self) -> int:
        return sum(min(x.delivered, x.promised) for x in self.lines)

    @property
    def total_overdue(self) -> int:
        return sum(x.overdue for x in self.lines)

    @property
    def overdue_lines(self) -> list[ServiceLine]:
        return [x for x in self.lines if x.overdue]


def _identity_map(resident_ids: Iterable[int]) -> dict[int, int]:
    """Every record id whose history belongs to one of these residents → that resident
    (records merged into them count; residents.queries.identity_ids, set-based)."""
    out = {r: r for r in resident_ids}
    frontier = list(out)
    while frontier:
        rows = list(
            Resident.objects.filter(merged_into_id__in=frontier).values_list("pk", "merged_into_id")
        )
        frontier = []
        for pk, into in rows:
            if pk not in out:
                out[pk] = out[into]
                frontier.append(pk)
    return out


def _local_date(at: datetime) -> date:
    return timezone.localtime(at, SHANGHAI).date()


def _followup_rows(ids: list[int], lo: date, hi: date) -> list[tuple[int, date, str]]:
    """(resident_id, date, disease) of the chronic app's follow-ups in lo..hi."""
    rows = chronic_queries.followups_between(ids, lo, hi)
    return [
        (int(r), d, str(dis))
        for r, d, dis in rows.values_list("resident_id", "followup_date", "disease")
    ]


def delivery_of(contracts: Sequence[Contract], today: date | None = None) -> dict[int, Delivery]:
    """Promised vs delivered per service type in each contract's current contract year.
    One query per source for the whole batch (no N+1):
    - annual_check: current HealthExam rows (exam_date in the year);
    - home_visit: current Encounters of kind home_visit;
    - consultation: other current Encounters (not inpatient) at the team's facility or a
      member's facility;
    - bp_followup / glucose_followup: the chronic app's follow-ups for hypertension /
      diabetes (`chronic.queries.followups_between`)."""
    today = today or timezone.localdate()
    if not contracts:
        return {}
    years = {c.pk: rules.contract_year(c.start_date, c.end_date, today) for c in contracts}
    lo = min(y.start for y in years.values())
    hi = max(y.end for y in years.values())
    ident = _identity_map({c.resident_id for c in contracts})
    ids = list(ident)
    # events[(resident_id, service)] = [dates]; consultations keep their facility
    events: dict[tuple[int, str], list[date]] = defaultdict(list)
    consults: dict[int, list[tuple[date, int | None]]] = defaultdict(list)
    for rid, day in HealthExam.objects.filter(
        resident_id__in=ids, status="current", exam_date__range=(lo, hi)
    ).values_list("resident_id", "exam_date"):
        events[(ident[rid], "annual_check")].append(day)
    t0 = datetime.combine(lo, time.min, tzinfo=SHANGHAI)
    t1 = datetime.combine(hi + timedelta(days=1), time.min, tzinfo=SHANGHAI)
    for rid, kind, fac, at in Encounter.objects.filter(
        resident_id__in=ids, status="current", started_at__gte=t0, started_at__lt=t1
    ).values_list("resident_id", "kind", "facility_id", "started_at"):
        day = _local_date(at)
        if kind == EncounterKind.HOME_VISIT:
            events[(ident[rid], "home_visit")].append(day)
        elif kind != EncounterKind.INPATIENT:
            consults[ident[rid]].append((day, fac))
    for rid, day, disease in _followup_rows(ids, lo, hi):
        service = rules.FOLLOWUP_SERVICE.get(disease)
        if service and rid in ident:
            events[(ident[rid], service)].append(day)
    team_facilities: dict[int, set[int]] = defaultdict(set)
    team_ids = {c.team_id for c in contracts}
    for tid, fac in TeamMember.objects.filter(team_id__in=team_ids).values_list(
        "team_id", "staff__facility_id"
    ):
        team_facilities[tid].add(fac)
    for c in contracts:
        team_facilities[c.team_id].add(c.team.facility_id)
    out: dict[int, Delivery] = {}
    for c in contracts:
        y = years[c.pk]
        d = Delivery(c.pk, y)
        for item in c.package.services or []:
            service, promised = str(item["service"]), int(item["count"])
            if service == "consultation":
                n = sum(
                    1
                    for day, fac in consults.get(c.resident_id, [])
                    if y.start <= day <= y.end and fac in team_facilities[c.team_id]
                )
            else:
                n = sum(
                    1 for day in events.get((c.resident_id, service), []) if y.start <= day <= y.end
                )
            d.lines.append(
                ServiceLine(
                    service,
                    rules.SERVICE_TYPES.get(service, service),
                    promised,
                    n,
                    rules.due_so_far(promised, y, today),
                    rules.overdue(promised, n, y, today),
                )
            )
        out[c.pk] = d
    return out


def overdue_contracts(
    actor: Actor, team: Team, today: date | None = None, chunk: int = 1000
) -> list[tuple[Contract, Delivery]]:
    """The team's active contracts with at least one overdue service, most overdue first.
    Computed in chunks of `chunk` contracts (a few queries each)."""
    today = today or timezone.localdate()
    qs = team_contracts(actor, team).filter(start_date__lte=today)
    out: list[tuple[Contract, Delivery]] = []
    batch: list[Contract] = []
    for c in qs.iterator(chunk_size=chunk):
        batch.append(c)
        if len(batch) >= chunk:
            out.extend(_with_overdue(batch, today))
            batch = []
    out.extend(_with_overdue(batch, today))
    out.sort(key=lambda p: (-p[1].total_overdue, p[0].end_date, p[0].pk))
    return out


def _with_overdue(batch: list[Contract], today: date) -> list[tuple[Contract, Delivery]]:
    d = delivery_of(batch, today)
    return [(c, d[c.pk]) for c in batch if d[c.pk].total_overdue]


# --- priority groups -------------------------------------------------------------------------


def _register_ids(disease: str) -> Any:
    """Resident ids on the chronic register of a disease, as a subquery."""
    return chronic_queries.register_resident_ids([disease])


def _diagnosis_q(prefixes: tuple[str, ...]) -> Q:
    q = Q(pk__in=[])
    for p in prefixes:
        q |= Q(code__code__startswith=p)
    return q


def _latest_profiles() -> QuerySet[HealthProfile]:
    newer = HealthProfile.objects.filter(resident_id=OuterRef("resident_id"), pk__gt=OuterRef("pk"))
    return HealthProfile.objects.filter(~Exists(newer))


def group_condition(group: str, today: date) -> Q | None:
    """A condition on Resident that selects one priority group, or None when the platform
    does not collect the data ("未采集")."""
    if group == "elderly":
        return Q(birth_date__lte=rules.elderly_born_on_or_before(today))
    if group == "child":
        return Q(birth_date__gt=rules.child_born_after(today))
    if group in ("hypertension", "diabetes", "mental", "tuberculosis"):
        dx = Diagnosis.objects.filter(
            _diagnosis_q(rules.DIAGNOSIS_PREFIXES[group]), encounter__status="current"
        ).values("resident_id")
        q = Q(pk__in=dx)
        if group in ("hypertension", "diabetes"):
            q |= Q(pk__in=_register_ids(group))
        return q
    if group == "pregnant":
        since = datetime.combine(
            today - timedelta(days=rules.PREGNANCY_WINDOW_DAYS), time.min, tzinfo=SHANGHAI
        )
        dx = Diagnosis.objects.filter(
            _diagnosis_q(rules.DIAGNOSIS_PREFIXES["pregnant"]),
            encounter__status="current",
            encounter__started_at__gte=since,
        ).values("resident_id")
        return Q(pk__in=dx, sex="2")
    if group == "disabled":
        return Q(pk__in=_latest_profiles().exclude(disabilities=[]).values("resident_id"))
    return None


_DIAGNOSED = ("hypertension", "diabetes", "mental", "tuberculosis")
_REGISTERED = ("hypertension", "diabetes")


def priority_condition(today: date, groups: Iterable[str] | None = None) -> Q:
    """A resident in any of the groups (default: every priority group): the union of
    `group_condition`s, with the diagnosis-based groups asked as one subquery over the
    diagnoses (and one over the registers) instead of one each: on the 1 M county each costs
    a pass over the encounters."""
    wanted = list(groups or rules.PRIORITY_GROUPS)
    q = Q(pk__in=[])
    for g in wanted:
        if g in _DIAGNOSED:
            continue
        cond = group_condition(g, today)
        if cond is not None:
            q |= cond
    diagnosed = [g for g in wanted if g in _DIAGNOSED]
    if diagnosed:
        prefixes = tuple(p for g in diagnosed for p in rules.DIAGNOSIS_PREFIXES[g])
        dx = Diagnosis.objects.filter(_diagnosis_q(prefixes), encounter__status="current")
        q |= Q(pk__in=dx.values("resident_id"))
    registered = [g for g in wanted if g in _REGISTERED]
    if registered:
        q |= Q(pk__in=chronic_queries.register_resident_ids(registered))
    return q


def priority_flags(resident_ids: Sequence[int], today: date | None = None) -> dict[int, list[str]]:
    """The priority groups of each resident of a page (one query per group)."""
    today = today or timezone.localdate()
    out: dict[int, list[str]] = {r: [] for r in resident_ids}
    for g in rules.PRIORITY_GROUPS:
        cond = group_condition(g, today)
        if cond is None:
            continue
        for rid in Resident.objects.filter(cond, pk__in=resident_ids).values_list("pk", flat=True):
            out[rid].append(g)
    return out


def _signed_exists(team_ref: Any = None) -> Exists:
    qs = Contract.objects.filter(resident_id=OuterRef("pk"), status=ContractStatus.ACTIVE)
    if team_ref is not None:
        qs = qs.filter(team_id=team_ref)
    return Exists(qs)


def unsigned_priority_residents(
    actor: Actor, team: Team, today: date | None = None, group: str = ""
) -> QuerySet[Resident]:
    """Priority residents living in the team's villages (and in the actor's scope) with no
    active contract with any team: the targeting list."""
    today = today or timezone.localdate()
    cond = priority_condition(today, [group] if group else None)
    return (
        residents_visible_to(actor)
        .filter(village__in=team.villages.all())
        .filter(cond)
        .filter(~_signed_exists())
        .select_related("village")
        .order_by("village__code", "birth_date", "pk")
    )


@dataclass
class CoverageRow:
    key: int
    label: str
    numerator: int
    denominator: int

    @property
    def rate(self) -> float | None:
        return None if not self.denominator else self.numerator / self.denominator


COVERAGE_DEFINITION = (
    "重点人群签约覆盖率 = 有有效签约的重点人群居民数 ÷ 重点人群居民数。重点人群见 DOMAIN.md §4；"
    "建档立卡贫困人口未采集，不计入分母（报告为缺失）。按团队统计时，分母为团队服务村的重点人群，"
    "分子为其中与本团队签约者。"
)


def coverage_by_township(actor: Actor, today: date | None = None) -> list[CoverageRow]:
    today = today or timezone.localdate()
    rows = (
        residents_visible_to(actor)
        .filter(priority_condition(today))
        .annotate(signed=_signed_exists())
        .values("township_id", "township__name")
        .annotate(den=Count("pk"), num=Count("pk", filter=Q(signed=True)))
        .order_by("township__name")
    )
    return [CoverageRow(r["township_id"], r["township__name"], r["num"], r["den"]) for r in rows]


def coverage_by_team(
    actor: Actor, teams: Sequence[Team], today: date | None = None
) -> list[CoverageRow]:
    """One grouped query for all the teams given (a resident counts for each team serving
    their village)."""
    today = today or timezone.localdate()
    ids = [t.pk for t in teams]
    rows = (
        residents_visible_to(actor)
        .filter(priority_condition(today), village__fd_teams__in=ids)
        .annotate(tid=F("village__fd_teams"))
        .annotate(signed=_signed_exists(OuterRef("tid")))
        .values("tid")
        .annotate(den=Count("pk"), num=Count("pk", filter=Q(signed=True)))
    )
    by_team = {r["tid"]: (r["num"], r["den"]) for r in rows}
    return [CoverageRow(t.pk, t.name, *by_team.get(t.pk, (0, 0))) for t in teams]


def team_home_alerts(actor: Actor, team: Team) -> QuerySet[Any]:
    """The contracted doctor's alert list (issue 4): home-monitoring alerts of the residents
    holding an active contract with the team, within the actor's area, newest first."""
    signed = Contract.objects.filter(
        team=team, status=ContractStatus.ACTIVE, resident_id=OuterRef("resident_id")
    )
    return chronic_queries.home_alerts_visible_to(actor).filter(Exists(signed))


def home_alert_counts(actor: Actor, team_ids: Sequence[int]) -> dict[int, int]:
    """team id → how many of its contracted residents carry a home-monitoring alert."""
    if not team_ids or not actor.can("manage_chronic"):
        return {}
    team_of = Subquery(
        Contract.objects.filter(
            status=ContractStatus.ACTIVE,
            team_id__in=list(team_ids),
            resident_id=OuterRef("resident_id"),
        ).values("team_id")[:1]
    )
    rows = (
        chronic_queries.home_alerts_visible_to(actor)
        .annotate(team_id=team_of)
        .filter(team_id__isnull=False)
        .values("team_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {r["team_id"]: r["n"] for r in rows}


def check_can_read(actor: Actor) -> None:
    if not _may_read(actor):
        raise Forbidden("无权查看签约", "Not allowed to view contracts")
