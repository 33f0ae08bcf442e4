"""REST endpoints of contracts (家庭医生签约): teams, packages, the contract lifecycle, 履约,
the team's worklists and priority-group coverage. Lists mask personal data and are paged."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Router, Schema, Status

from yigongti.core import audit
from yigongti.core.api import ErrorOut, actor_of
from yigongti.core.dates import age_on
from yigongti.core.errors import NotFound
from yigongti.residents.queries import get_resident_for
from yigongti.residents.rules import mask_id_number

from . import actions, queries, rules
from .models import Contract, ServicePackage, Team

router = Router(tags=["家庭医生签约"])
ERRORS: dict[int, type[Schema]] = {403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
MAX_LIMIT = 200


def _page(limit: int, offset: int) -> tuple[int, int]:
    return max(1, min(limit, MAX_LIMIT)), max(0, offset)


# --- schemas -------------------------------------------------------------------------------


class MemberIO(Schema):
    staff_id: int = Field(..., description="人员ID")
    role: str = Field(
        ..., description="团队角色: doctor, nurse, public_health, assistant, specialist"
    )
    name: str = Field("", description="姓名（只读）")


class TeamIn(Schema):
    name: str = Field(..., description="团队名称")
    facility_id: int = Field(..., description="所属机构ID")
    village_ids: list[int] = Field(default_factory=list, description="服务村（区划ID）")
    members: list[MemberIO] = Field(default_factory=list, description="成员（一名家庭医生）")
    active: bool = True


class TeamOut(Schema):
    id: int
    name: str
    facility_id: int
    facility: str
    level: str
    active: bool
    village_ids: list[int]
    members: list[MemberIO]


class ServiceIO(Schema):
    service: str = Field(..., description="服务项目: " + ", ".join(rules.SERVICE_TYPES))
    count: int = Field(..., description="每签约年次数")


class PackageIn(Schema):
    code: str = Field(..., description="编码")
    name: str = Field(..., description="名称")
    kind: str = Field("basic", description="basic 基础包 / personalised 个性化包")
    services: list[ServiceIO] = Field(..., description="承诺的年度服务")
    fee: Decimal = Field(Decimal(0), description="年费用（元）")
    covered_share: Decimal = Field(Decimal(0), description="医保/公卫支付比例 0–1")
    description: str = ""
    active: bool = True


class PackageOut(Schema):
    id: int
    code: str
    name: str
    kind: str
    services: list[ServiceIO]
    fee: Decimal
    covered_share: Decimal
    resident_pays: Decimal
    active: bool


class ConsentIn(Schema):
    method: str = Field("paper", description="签约方式: paper 纸质 / online 线上")
    signer_name: str = Field(..., description="签字人（本人或代理人）")
    signer_relation: str = Field("本人", description="与居民关系")
    consent_at: datetime | None = Field(None, description="同意时间（默认现在）")


class SignIn(Schema):
    mpi_id: str = Field(..., description="居民主索引号")
    team_id: int = Field(..., description="团队ID")
    package_id: int = Field(..., description="服务包ID")
    start_date: date | None = Field(None, description="生效日期（默认今天）")
    end_date: date | None = Field(None, description="到期日期（默认一年，不少于一年）")
    consent: ConsentIn


class RenewIn(Schema):
    years: int = Field(1, description="续约年限")
    package_id: int | None = None
    consent: ConsentIn


class ChangeTeamIn(Schema):
    team_id: int = Field(..., description="新团队ID")
    reason: str = Field(..., description="改签原因")
    package_id: int | None = None
    consent: ConsentIn


class TerminateIn(Schema):
    reason: str = Field(..., description="解约原因")


class LineOut(Schema):
    service: str
    label: str
    promised: int
    delivered: int
    due: int
    overdue: int


class DeliveryOut(Schema):
    year_start: date
    year_end: date
    total_promised: int
    total_delivered: int
    total_overdue: int
    lines: list[LineOut]


class ContractRow(Schema):
    """A list row: the ID number masked."""

    id: int
    mpi_id: str
    name: str
    age: int
    doc_number_masked: str
    village: str
    team_id: int
    team: str
    package: str
    status: str
    start_date: date
    end_date: date
    total_overdue: int | None = None


class ContractOut(ContractRow):
    consent_method: str
    consent_at: datetime
    signer_name: str
    signer_relation: str
    previous_id: int | None
    end_reason: str
    delivery: DeliveryOut


class ContractPage(Schema):
    count: int
    results: list[ContractRow]


class PriorityRow(Schema):
    mpi_id: str
    name: str
    age: int
    sex: str
    doc_number_masked: str
    village: str
    groups: list[str]


class PriorityPage(Schema):
    count: int
    not_collected: list[str] = Field(..., description="未采集的重点人群（不计入）")
    results: list[PriorityRow]


class CoverageRowOut(Schema):
    id: int
    name: str
    numerator: int
    denominator: int
    rate: float | None


class CoverageOut(Schema):
    by: str
    definition: str
    not_collected: list[str]
    rows: list[CoverageRowOut]


# --- converters ----------------------------------------------------------------------------


def team_out(t: Team, members: list[Any], villages: list[int]) -> TeamOut:
    return TeamOut(
        id=t.pk,
        name=t.name,
        facility_id=t.facility_id,
        facility=t.facility.name,
        level=t.level,
        active=t.active,
        village_ids=villages,
        members=[MemberIO(staff_id=m.staff_id, role=m.role, name=m.staff.name) for m in members],
    )


def package_out(p: ServicePackage) -> PackageOut:
    return PackageOut(
        id=p.pk,
        code=p.code,
        name=p.name,
        kind=p.kind,
        services=[ServiceIO(**s) for s in p.services],
        fee=p.fee,
        covered_share=p.covered_share,
        resident_pays=(p.fee * (1 - p.covered_share)).quantize(Decimal("0.01")),
        active=p.active,
    )


def delivery_out(d: queries.Delivery) -> DeliveryOut:
    return DeliveryOut(
        year_start=d.year.start,
        year_end=d.year.end,
        total_promised=d.total_promised,
        total_delivered=d.total_delivered,
        total_overdue=d.total_overdue,
        lines=[LineOut(**vars(x)) for x in d.lines],
    )


def contract_row(c: Contract, today: date, overdue: int | None = None) -> ContractRow:
    r = c.resident
    return ContractRow(
        id=c.pk,
        mpi_id=r.mpi_id,
        name=r.name,
        age=age_on(r.birth_date, today),
        doc_number_masked=mask_id_number(r.doc_number),
        village=r.village.name,
        team_id=c.team_id,
        team=c.team.name,
        package=c.package.name,
        status=c.status,
        start_date=c.start_date,
        end_date=c.end_date,
        total_overdue=overdue,
    )


def contract_out(c: Contract) -> ContractOut:
    today = timezone.localdate()
    d = queries.delivery_of([c], today)[c.pk]
    return ContractOut(
        **contract_row(c, today, d.total_overdue).dict(),
        consent_method=c.consent_method,
        consent_at=c.consent_at,
        signer_name=c.signer_name,
        signer_relation=c.signer_relation,
        previous_id=c.previous_id,
        end_reason=c.end_reason,
        delivery=delivery_out(d),
    )


def _consent(c: ConsentIn) -> actions.ConsentInput:
    return actions.ConsentInput(
        method=c.method,
        signer_name=c.signer_name,
        signer_relation=c.signer_relation,
        consent_at=c.consent_at,
    )


def _contracts_page(actor: Any, qs: Any, limit: int, offset: int, what: str) -> ContractPage:
    limit, offset = _page(limit, offset)
    today = timezone.localdate()
    items = list(qs[offset : offset + limit])
    d = queries.delivery_of(items, today)
    queries.audit_list(actor, "contract", {"list": what, "offset": offset, "n": len(items)})
    return ContractPage(
        count=qs.count(),
        results=[contract_row(c, today, d[c.pk].total_overdue) for c in items],
    )


# --- teams and packages --------------------------------------------------------------------


def _team_with_parts(t: Team) -> TeamOut:
    members = queries.team_members([t.pk])[t.pk]
    return team_out(t, members, list(t.villages.values_list("pk", flat=True)))


@router.get("/contracts/teams", response={200: list[TeamOut], **ERRORS}, summary="家庭医生团队列表")
def list_teams(request: HttpRequest, limit: int = 50, offset: int = 0) -> list[TeamOut]:
    actor = actor_of(request)
    queries.check_can_read(actor)
    limit, offset = _page(limit, offset)
    teams = list(
        queries.teams_visible_to(actor).order_by("facility__code", "name")[offset : offset + limit]
    )
    members = queries.team_members([t.pk for t in teams])
    villages: dict[int, list[int]] = {t.pk: [] for t in teams}
    for tid, vid in Team.villages.through.objects.filter(team_id__in=villages).values_list(
        "team_id", "division_id"
    ):
        villages[tid].append(vid)
    return [team_out(t, members.get(t.pk, []), villages[t.pk]) for t in teams]


def _team_input(p: TeamIn) -> actions.TeamInput:
    return actions.TeamInput(
        name=p.name,
        facility_id=p.facility_id,
        village_ids=p.village_ids,
        members=[actions.MemberInput(m.staff_id, m.role) for m in p.members],
        active=p.active,
    )


@router.post("/contracts/teams", response={201: TeamOut, **ERRORS}, summary="新建团队")
def create_team(request: HttpRequest, payload: TeamIn) -> Status[TeamOut]:
    team = actions.do_create_team(actor_of(request), _team_input(payload))
    return Status(201, _team_with_parts(team))


@router.put("/contracts/teams/{int:team_id}", response={200: TeamOut, **ERRORS}, summary="修改团队")
def update_team(request: HttpRequest, team_id: int, payload: TeamIn) -> TeamOut:
    actor = actor_of(request)
    team = queries.get_team_for(actor, team_id)
    return _team_with_parts(actions.do_update_team(actor, team, _team_input(payload)))


@router.get("/contracts/packages", response={200: list[PackageOut], **ERRORS}, summary="服务包列表")
def list_packages(request: HttpRequest) -> list[PackageOut]:
    actor = actor_of(request)
    queries.check_can_read(actor)
    return [package_out(p) for p in queries.packages_visible_to(actor)]


def _package_input(p: PackageIn) -> actions.PackageInput:
    return actions.PackageInput(
        code=p.code,
        name=p.name,
        kind=p.kind,
        services=[s.dict() for s in p.services],
        fee=p.fee,
        covered_share=p.covered_share,
        description=p.description,
        active=p.active,
    )


@router.post("/contracts/packages", response={201: PackageOut, **ERRORS}, summary="新建服务包")
def create_package(request: HttpRequest, payload: PackageIn) -> Status[PackageOut]:
    return Status(
        201, package_out(actions.do_save_package(actor_of(request), _package_input(payload)))
    )


@router.put(
    "/contracts/packages/{int:package_id}",
    response={200: PackageOut, **ERRORS},
    summary="修改服务包",
)
def update_package(request: HttpRequest, package_id: int, payload: PackageIn) -> PackageOut:
    actor = actor_of(request)
    p = queries.packages_visible_to(actor).filter(pk=package_id).first()
    if p is None:
        raise NotFound("服务包")
    return package_out(actions.do_save_package(actor, _package_input(payload), p))


# --- contracts -----------------------------------------------------------------------------


@router.get("/contracts", response={200: ContractPage, **ERRORS}, summary="签约列表（脱敏、分页）")
def list_contracts(
    request: HttpRequest,
    team_id: int | None = None,
    status: str = "active",
    village_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> ContractPage:
    actor = actor_of(request)
    queries.check_can_read(actor)
    qs = queries.contracts_visible_to(actor)
    if team_id is not None:
        qs = qs.filter(team_id=team_id)
    if village_id is not None:
        qs = qs.filter(resident__village_id=village_id)
    if status:
        qs = qs.filter(status=status)
    return _contracts_page(actor, qs.order_by("-id"), limit, offset, "contracts")


@router.post("/contracts", response={201: ContractOut, **ERRORS}, summary="签约")
def sign(request: HttpRequest, payload: SignIn) -> Status[ContractOut]:
    actor = actor_of(request)
    resident = get_resident_for(actor, payload.mpi_id, purpose="contract")
    c = actions.do_sign_contract(
        actor,
        resident,
        actions.SignInput(
            team_id=payload.team_id,
            package_id=payload.package_id,
            start_date=payload.start_date,
            end_date=payload.end_date,
            consent=_consent(payload.consent),
        ),
    )
    return Status(201, contract_out(queries.get_contract_for(actor, c.pk)))


@router.get(
    "/contracts/{int:contract_id}", response={200: ContractOut, **ERRORS}, summary="签约详情与履约"
)
def read_contract(request: HttpRequest, contract_id: int) -> ContractOut:
    return contract_out(queries.get_contract_for(actor_of(request), contract_id))


@router.post(
    "/contracts/{int:contract_id}/renew", response={201: ContractOut, **ERRORS}, summary="续约"
)
def renew(request: HttpRequest, contract_id: int, payload: RenewIn) -> Status[ContractOut]:
    actor = actor_of(request)
    c = queries.get_contract_for(actor, contract_id)
    new = actions.do_renew_contract(
        actor,
        c,
        actions.RenewInput(
            package_id=payload.package_id, years=payload.years, consent=_consent(payload.consent)
        ),
    )
    return Status(201, contract_out(queries.get_contract_for(actor, new.pk)))


@router.post(
    "/contracts/{int:contract_id}/change-team",
    response={201: ContractOut, **ERRORS},
    summary="改签团队",
)
def change_team(
    request: HttpRequest, contract_id: int, payload: ChangeTeamIn
) -> Status[ContractOut]:
    actor = actor_of(request)
    c = queries.get_contract_for(actor, contract_id)
    new = actions.do_change_team(
        actor,
        c,
        actions.ChangeTeamInput(
            team_id=payload.team_id,
            reason=payload.reason,
            package_id=payload.package_id,
            consent=_consent(payload.consent),
        ),
    )
    return Status(201, contract_out(queries.get_contract_for(actor, new.pk)))


@router.post(
    "/contracts/{int:contract_id}/terminate", response={200: ContractOut, **ERRORS}, summary="解约"
)
def terminate(request: HttpRequest, contract_id: int, payload: TerminateIn) -> ContractOut:
    actor = actor_of(request)
    c = queries.get_contract_for(actor, contract_id)
    actions.do_terminate_contract(actor, c, payload.reason)
    return contract_out(queries.get_contract_for(actor, contract_id))


# --- the team's worklists ------------------------------------------------------------------


@router.get(
    "/contracts/teams/{int:team_id}/expiring",
    response={200: ContractPage, **ERRORS},
    summary="即将到期",
)
def expiring(request: HttpRequest, team_id: int, limit: int = 50, offset: int = 0) -> ContractPage:
    actor = actor_of(request)
    team = queries.get_team_for(actor, team_id)
    return _contracts_page(
        actor, queries.expiring_contracts(actor, team), limit, offset, "expiring"
    )


@router.get(
    "/contracts/teams/{int:team_id}/overdue",
    response={200: ContractPage, **ERRORS},
    summary="履约逾期",
)
def overdue(request: HttpRequest, team_id: int, limit: int = 50, offset: int = 0) -> ContractPage:
    actor = actor_of(request)
    team = queries.get_team_for(actor, team_id)
    limit, offset = _page(limit, offset)
    today = timezone.localdate()
    rows = queries.overdue_contracts(actor, team, today)
    queries.audit_list(actor, "contract", {"list": "overdue", "team": team.pk, "offset": offset})
    return ContractPage(
        count=len(rows),
        results=[contract_row(c, today, d.total_overdue) for c, d in rows[offset : offset + limit]],
    )


def _not_collected() -> list[str]:
    return [label for label, source in rules.PRIORITY_GROUPS.values() if source is None]


@router.get(
    "/contracts/teams/{int:team_id}/unsigned-priority",
    response={200: PriorityPage, **ERRORS},
    summary="未签约重点人群（服务村）",
)
def unsigned_priority(
    request: HttpRequest, team_id: int, group: str = "", limit: int = 50, offset: int = 0
) -> PriorityPage:
    actor = actor_of(request)
    team = queries.get_team_for(actor, team_id)
    if group and group not in rules.PRIORITY_GROUPS:
        from yigongti.core.errors import DomainError

        raise DomainError.single("group", "未知的重点人群", "Unknown priority group")
    limit, offset = _page(limit, offset)
    today = timezone.localdate()
    qs = queries.unsigned_priority_residents(actor, team, today, group)
    items = list(qs[offset : offset + limit])
    flags = queries.priority_flags([r.pk for r in items], today)
    audit.record(
        actor,
        audit.Action.SEARCH,
        "resident",
        "",
        detail={"list": "unsigned_priority", "team": team.pk},
    )
    return PriorityPage(
        count=qs.count(),
        not_collected=_not_collected(),
        results=[
            PriorityRow(
                mpi_id=r.mpi_id,
                name=r.name,
                age=age_on(r.birth_date, today),
                sex=r.sex,
                doc_number_masked=mask_id_number(r.doc_number),
                village=r.village.name,
                groups=flags[r.pk],
            )
            for r in items
        ],
    )


@router.get(
    "/contracts/coverage", response={200: CoverageOut, **ERRORS}, summary="重点人群签约覆盖率"
)
def coverage(request: HttpRequest, by: str = "township") -> CoverageOut:
    actor = actor_of(request)
    queries.check_can_read(actor)
    if by == "team":
        rows = queries.coverage_by_team(actor, list(queries.teams_visible_to(actor)[:500]))
    elif by == "township":
        rows = queries.coverage_by_township(actor)
    else:
        from yigongti.core.errors import DomainError

        raise DomainError.single("by", "by 应为 township 或 team", "by must be township or team")
    return CoverageOut(
        by=by,
        definition=queries.COVERAGE_DEFINITION,
        not_collected=_not_collected(),
        rows=[
            CoverageRowOut(
                id=r.key,
                name=r.label,
                numerator=r.numerator,
                denominator=r.denominator,
                rate=r.rate,
            )
            for r in rows
        ],
    )
