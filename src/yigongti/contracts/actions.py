"""Every write of contracts: teams, packages, and the contract lifecycle (sign, renew,
change team, terminate). Each action checks permission and scope, collects field errors,
runs in one transaction and writes its audit entry inside it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.utils import timezone

from yigongti.core import audit
from yigongti.core.actor import Actor
from yigongti.core.errors import Conflict, DomainError, FieldError, Forbidden
from yigongti.network.models import Division, DivisionLevel, Facility, FacilityKind, Staff
from yigongti.records.actions import add_entry
from yigongti.residents.models import Resident
from yigongti.residents.queries import in_scope, survivor_of

from . import queries, rules
from .models import (
    ConsentMethod,
    Contract,
    ContractStatus,
    MemberRole,
    PackageKind,
    ServicePackage,
    Team,
    TeamLevel,
    TeamMember,
)

SIGN = "sign_contracts"
MANAGE = "manage_teams"

LEVEL_OF_KIND = {
    FacilityKind.COUNTY_HOSPITAL: TeamLevel.COUNTY,
    FacilityKind.BRANCH: TeamLevel.TOWNSHIP,
    FacilityKind.TOWNSHIP_CENTRE: TeamLevel.TOWNSHIP,
    FacilityKind.VILLAGE_CLINIC: TeamLevel.VILLAGE,
}


def _err(exc: rules.RuleError) -> FieldError:
    return FieldError(exc.field, exc.msg_zh, exc.msg_en, exc.code)


# --- teams -------------------------------------------------------------------------------


@dataclass
class MemberInput:
    staff_id: int
    role: str


@dataclass
class TeamInput:
    name: str = ""
    facility_id: int | None = None
    village_ids: list[int] = field(default_factory=list)
    members: list[MemberInput] = field(default_factory=list)
    active: bool = True


def _check_manage(actor: Actor) -> None:
    if not (actor.is_system or actor.can(MANAGE)):
        raise Forbidden("无权维护家庭医生团队和服务包", "Not allowed to manage teams and packages")


def _facility_allowed(actor: Actor, facility: Facility) -> bool:
    return actor.is_system or (actor.group_id is not None and facility.group_id == actor.group_id)


def _clean_team(
    actor: Actor, data: TeamInput
) -> tuple[Facility | None, list[int], list[FieldError]]:
    errors: list[FieldError] = []
    name = data.name.strip()
    if not name:
        errors.append(FieldError("name", "请填写团队名称", "name is required", "required"))
    elif len(name) > 64:
        errors.append(FieldError("name", "团队名称过长", "name is too long"))
    facility = Facility.objects.filter(pk=data.facility_id).first() if data.facility_id else None
    if facility is None:
        errors.append(FieldError("facility_id", "请选择所属机构", "Unknown facility", "required"))
    elif not _facility_allowed(actor, facility) or facility.kind not in LEVEL_OF_KIND:
        errors.append(
            FieldError(
                "facility_id", "只能在本医共体的医疗机构下建团队", "Facility outside your group"
            )
        )
    villages = list(
        Division.objects.filter(pk__in=data.village_ids, level=DivisionLevel.VILLAGE).values_list(
            "pk", flat=True
        )
    )
    if set(villages) != set(data.village_ids):
        errors.append(FieldError("village_ids", "服务村不存在", "Unknown village"))
    staff_ids = [m.staff_id for m in data.members]
    staff = Staff.objects.in_bulk(staff_ids)
    doctors = 0
    for i, m in enumerate(data.members):
        if m.role not in MemberRole.values:
            errors.append(FieldError(f"members.{i}.role", "未知的团队角色", "Unknown role"))
        if m.staff_id not in staff:
            errors.append(FieldError(f"members.{i}.staff_id", "人员不存在", "Unknown staff"))
        doctors += m.role == MemberRole.DOCTOR
    if len(set(staff_ids)) != len(staff_ids):
        errors.append(FieldError("members", "团队成员重复", "A staff member is listed twice"))
    if doctors != 1:
        errors.append(
            FieldError(
                "members", "团队须有且只有一名家庭医生", "A team has exactly one family doctor"
            )
        )
    if facility is not None and data.members:
        for i, m in enumerate(data.members):
            s = staff.get(m.staff_id)
            if s is None or m.role == MemberRole.SPECIALIST:
                continue
            if s.facility.group_id != facility.group_id:
                errors.append(
                    FieldError(
                        f"members.{i}.staff_id", "成员须属本医共体", "Member outside the group"
                    )
                )
    return facility, villages, errors


def _write_members(team: Team, villages: list[int], data: TeamInput) -> None:
    team.villages.set(villages)
    TeamMember.objects.filter(team=team).delete()
    TeamMember.objects.bulk_create(
        [TeamMember(team=team, staff_id=m.staff_id, role=m.role) for m in data.members]
    )


def do_create_team(actor: Actor, data: TeamInput) -> Team:
    _check_manage(actor)
    facility, villages, errors = _clean_team(actor, data)
    if errors:
        raise DomainError(errors)
    assert facility is not None
    try:
        with transaction.atomic():
            team = Team.objects.create(
                name=data.name.strip(),
                facility=facility,
                level=LEVEL_OF_KIND[facility.kind],  # type: ignore[index]
                active=data.active,
            )
            _write_members(team, villages, data)
            audit.record(
                actor, audit.Action.CREATE, "fd_team", str(team.pk), detail={"name": team.name}
            )
    except IntegrityError as exc:
        raise Conflict.single("name", "本机构已有同名团队", "A team with this name exists") from exc
    return team


def do_update_team(actor: Actor, team: Team, data: TeamInput) -> Team:
    _check_manage(actor)
    if not _facility_allowed(actor, team.facility):
        raise Forbidden("该团队不属于本医共体", "Team outside your group")
    facility, villages, errors = _clean_team(actor, data)
    if errors:
        raise DomainError(errors)
    assert facility is not None
    try:
        with transaction.atomic():
            team.name = data.name.strip()
            team.facility = facility
            team.level = LEVEL_OF_KIND[facility.kind]  # type: ignore[index]
            team.active = data.active
            team.save()
            _write_members(team, villages, data)
            audit.record(actor, audit.Action.UPDATE, "fd_team", str(team.pk))
    except IntegrityError as exc:
        raise Conflict.single("name", "本机构已有同名团队", "A team with this name exists") from exc
    return team


# --- packages ----------------------------------------------------------------------------


@dataclass
class PackageInput:
    code: str = ""
    name: str = ""
    kind: str = PackageKind.BASIC
    services: list[dict[str, object]] = field(default_factory=list)
    fee: Decimal | float | str = 0
    covered_share: Decimal | float | str = 0
    description: str = ""
    active: bool = True


def _decimal(raw: object, name: str, lo: Decimal, hi: Decimal, errors: list[FieldError]) -> Decimal:
    try:
        value = Decimal(str(raw))
    except (InvalidOperation, ValueError):
        errors.append(FieldError(name, "请输入数字", "Not a number"))
        return Decimal(0)
    if not lo <= value <= hi:
        errors.append(FieldError(name, f"应在 {lo} 至 {hi} 之间", f"Must be between {lo} and {hi}"))
    return value


def do_save_package(
    actor: Actor, data: PackageInput, package: ServicePackage | None = None
) -> ServicePackage:
    """Create (package=None) or update a service package of the actor's group."""
    _check_manage(actor)
    if package is not None and not (actor.is_system or package.group_id in (None, actor.group_id)):
        raise Forbidden("该服务包不属于本医共体", "Package outside your group")
    errors: list[FieldError] = []
    code, name = data.code.strip(), data.name.strip()
    if not code:
        errors.append(FieldError("code", "请填写编码", "code is required", "required"))
    if not name:
        errors.append(FieldError("name", "请填写名称", "name is required", "required"))
    if data.kind not in PackageKind.values:
        errors.append(FieldError("kind", "类型应为基础包或个性化包", "Unknown package kind"))
    services: list[dict[str, object]] = []
    try:
        services = rules.parse_services(data.services)
        if not services:
            errors.append(FieldError("services", "请至少列出一项服务", "List at least one service"))
    except rules.RuleError as exc:
        errors.append(_err(exc))
    fee = _decimal(data.fee, "fee", Decimal(0), Decimal(100000), errors)
    share = _decimal(data.covered_share, "covered_share", Decimal(0), Decimal(1), errors)
    if errors:
        raise DomainError(errors)
    try:
        with transaction.atomic():
            p = package or ServicePackage(group_id=None if actor.is_system else actor.group_id)
            p.code, p.name, p.kind, p.services = code, name, data.kind, services
            p.fee, p.covered_share = fee, share
            p.description, p.active = data.description.strip()[:200], data.active
            p.save()
            audit.record(
                actor,
                audit.Action.UPDATE if package else audit.Action.CREATE,
                "fd_package",
                str(p.pk),
                detail={"code": code},
            )
    except IntegrityError as exc:
        raise Conflict.single("code", "编码已存在", "This code exists") from exc
    return p


# --- contracts ---------------------------------------------------------------------------


@dataclass
class ConsentInput:
    method: str = ConsentMethod.PAPER
    signer_name: str = ""
    signer_relation: str = "本人"
    consent_at: datetime | None = None  # default: now


@dataclass
class SignInput:
    team_id: int | None = None
    package_id: int | None = None
    start_date: date | None = None  # default: today
    end_date: date | None = None  # default: one year
    consent: ConsentInput = field(default_factory=ConsentInput)


def _check_sign(actor: Actor, resident: Resident) -> None:
    if not (actor.is_system or actor.can(SIGN)):
        raise Forbidden("无权办理签约", "Not allowed to sign contracts")
    if not in_scope(actor, resident):
        audit.record(
            actor,
            audit.Action.DENIED,
            "resident",
            resident.mpi_id,
            resident_id=resident.pk,
            detail={"purpose": "contract"},
        )
        raise Forbidden("该居民不在您的服务范围内", "Resident is outside your area")


def _clean_consent(c: ConsentInput, resident: Resident, errors: list[FieldError]) -> datetime:
    now = timezone.now()
    if c.method not in rules.CONSENT_METHODS:
        errors.append(
            FieldError("consent.method", "签约方式应为纸质或线上", "Unknown consent method")
        )
    if not c.signer_name.strip():
        errors.append(
            FieldError(
                "consent.signer_name",
                "请填写签字人（本人或代理人）",
                "signer is required",
                "required",
            )
        )
    if not c.signer_relation.strip():
        errors.append(
            FieldError(
                "consent.signer_relation", "请填写与居民关系", "relation is required", "required"
            )
        )
    at = c.consent_at or now
    if timezone.is_naive(at):
        at = timezone.make_aware(at)
    if at > now + timedelta(minutes=5):
        errors.append(
            FieldError(
                "consent.consent_at", "同意时间不能晚于当前时间", "consent time in the future"
            )
        )
    return at


def _clean_sign(
    actor: Actor, resident: Resident, data: SignInput, errors: list[FieldError]
) -> tuple[Team | None, ServicePackage | None, date, date, datetime]:
    today = timezone.localdate()
    team = None
    if data.team_id is None:
        errors.append(FieldError("team_id", "请选择家庭医生团队", "team is required", "required"))
    else:
        team = queries.teams_visible_to(actor).filter(pk=data.team_id, active=True).first()
        if team is None:
            errors.append(FieldError("team_id", "团队不存在或不可选", "Unknown team"))
        elif not team.villages.filter(pk=resident.village_id).exists():
            errors.append(
                FieldError(
                    "team_id", "该团队不服务居民所在村", "The team does not serve this village"
                )
            )
    package = None
    if data.package_id is None:
        errors.append(FieldError("package_id", "请选择服务包", "package is required", "required"))
    else:
        package = queries.packages_visible_to(actor).filter(pk=data.package_id, active=True).first()
        if package is None:
            errors.append(FieldError("package_id", "服务包不存在或已停用", "Unknown package"))
    start = data.start_date or today
    if start < today - timedelta(days=30):
        errors.append(
            FieldError("start_date", "生效日期不能早于30天前", "start date too far in the past")
        )
    end = data.end_date or rules.term_end(start, rules.DEFAULT_TERM_YEARS)
    try:
        rules.check_term(start, end)
    except rules.RuleError as exc:
        errors.append(_err(exc))
    if end > rules.add_years(start, 5):
        errors.append(FieldError("end_date", "签约期限不得超过5年", "term longer than 5 years"))
    consent_at = _clean_consent(data.consent, resident, errors)
    return team, package, start, end, consent_at


def _lock_active(resident: Resident, today: date) -> Contract | None:
    """The resident's active contract, locked. One past its end date is closed as expired
    here (expiry is otherwise a read-time state)."""
    Resident.objects.select_for_update().filter(pk=resident.pk).first()
    current = (
        Contract.objects.select_for_update()
        .filter(resident=resident, status=ContractStatus.ACTIVE)
        .first()
    )
    if current is not None and current.end_date < today:
        current.status = ContractStatus.EXPIRED
        current.ended_at = timezone.now()
        current.end_reason = "到期未续约"
        current.save(update_fields=["status", "ended_at", "end_reason"])
        return None
    return current


def _already(current: Contract) -> Conflict:
    return Conflict(
        FieldError(
            "resident",
            f"该居民已有有效签约（{current.team.name}，至{current.end_date}），请续约或改签",
            "The resident already has an active contract",
            "already_signed",
        ),
        extra={"existing": {"id": current.pk, "team": current.team.name}},
    )


def _create(
    actor: Actor,
    resident: Resident,
    team: Team,
    package: ServicePackage,
    start: date,
    end: date,
    consent: ConsentInput,
    consent_at: datetime,
    previous: Contract | None,
    verb: str,
) -> Contract:
    c = Contract.objects.create(
        resident=resident,
        team=team,
        package=package,
        start_date=start,
        end_date=end,
        consent_method=consent.method,
        consent_at=consent_at,
        signer_name=consent.signer_name.strip()[:30],
        signer_relation=consent.signer_relation.strip()[:16],
        previous=previous,
        signed_by_id=actor.user_id,
    )
    add_entry(
        resident,
        kind="contract",
        occurred_at=consent_at,
        object_type="contract",
        object_id=c.pk,
        title=f"家庭医生{verb}：{team.name}",
        summary=f"{package.name}，{start}至{end}，{ConsentMethod(consent.method).label}",
        facility_id=team.facility_id,
    )
    audit.record(
        actor,
        audit.Action.CREATE,
        "contract",
        str(c.pk),
        resident_id=resident.pk,
        detail={
            "verb": verb,
            "team": team.pk,
            "package": package.pk,
            "previous": previous and previous.pk,
        },
    )
    return c


def do_sign_contract(actor: Actor, resident: Resident, data: SignInput) -> Contract:
    """Sign a contract (DOMAIN.md §4: one team at a time, term ≥ 1 year). A second signing
    while one is active is refused with 409 — also when two arrive at once (the partial
    unique index decides)."""
    resident = survivor_of(resident)
    _check_sign(actor, resident)
    errors: list[FieldError] = []
    team, package, start, end, consent_at = _clean_sign(actor, resident, data, errors)
    if errors:
        raise DomainError(errors)
    assert team is not None and package is not None
    try:
        with transaction.atomic():
            current = _lock_active(resident, timezone.localdate())
            if current is not None:
                raise _already(current)
            return _create(
                actor, resident, team, package, start, end, data.consent, consent_at, None, "签约"
            )
    except IntegrityError as exc:
        current = Contract.objects.filter(resident=resident, status=ContractStatus.ACTIVE).first()
        if current is None:
            raise
        raise _already(current) from exc


def _check_contract(actor: Actor, contract: Contract) -> Resident:
    resident = contract.resident
    _check_sign(actor, resident)
    if contract.status != ContractStatus.ACTIVE:
        raise DomainError.single(
            "status", "该签约已不在有效状态", "The contract is not active", "not_active"
        )
    return resident


def _lock_contract(contract: Contract) -> Contract:
    locked = (
        Contract.objects.select_for_update().select_related("team", "package").get(pk=contract.pk)
    )
    if locked.status != ContractStatus.ACTIVE:
        raise Conflict.single(
            "status", "该签约已被他人处理", "The contract changed meanwhile", "stale"
        )
    return locked


def _require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise DomainError.single("reason", "请填写原因", "A reason is required", "required")
    if len(reason) > 200:
        raise DomainError.single("reason", "原因不超过200字", "reason is too long")
    return reason


@dataclass
class RenewInput:
    package_id: int | None = None  # default: the same package
    years: int = rules.DEFAULT_TERM_YEARS
    consent: ConsentInput = field(default_factory=ConsentInput)


def do_renew_contract(actor: Actor, contract: Contract, data: RenewInput) -> Contract:
    """Renew with the same team: the new contract starts the day after the old one ends (or
    today, when it has already ended); the old one becomes 已续约. Allowed from the
    expiring window (configurable, 30 days) on."""
    resident = _check_contract(actor, contract)
    today = timezone.localdate()
    errors: list[FieldError] = []
    if contract.end_date > today + timedelta(days=queries.expiring_days()):
        errors.append(
            FieldError(
                "end_date",
                f"到期前{queries.expiring_days()}天内方可续约",
                "Too early to renew",
                "too_early",
            )
        )
    if not 1 <= data.years <= 5:
        errors.append(FieldError("years", "续约年限应为1至5年", "years must be 1–5"))
    package = contract.package
    if data.package_id is not None:
        found = queries.packages_visible_to(actor).filter(pk=data.package_id, active=True).first()
        if found is None:
            errors.append(FieldError("package_id", "服务包不存在或已停用", "Unknown package"))
        else:
            package = found
    consent_at = _clean_consent(data.consent, resident, errors)
    if errors:
        raise DomainError(errors)
    start = max(contract.end_date + timedelta(days=1), today)
    end = rules.term_end(start, max(1, data.years))
    with transaction.atomic():
        old = _lock_contract(contract)
        old.status = ContractStatus.RENEWED
        old.ended_at = timezone.now()
        old.end_reason = "续约"
        old.save(update_fields=["status", "ended_at", "end_reason"])
        return _create(
            actor, resident, old.team, package, start, end, data.consent, consent_at, old, "续约"
        )


@dataclass
class ChangeTeamInput:
    team_id: int | None = None
    reason: str = ""
    package_id: int | None = None  # default: the same package
    consent: ConsentInput = field(default_factory=ConsentInput)


def do_change_team(actor: Actor, contract: Contract, data: ChangeTeamInput) -> Contract:
    """Change team (改签): the old contract ends today with the reason; a new one-year
    contract with the new team starts today."""
    resident = _check_contract(actor, contract)
    reason = _require_reason(data.reason)
    today = timezone.localdate()
    sign = SignInput(
        team_id=data.team_id,
        package_id=data.package_id or contract.package_id,
        start_date=today,
        consent=data.consent,
    )
    errors: list[FieldError] = []
    team, package, start, end, consent_at = _clean_sign(actor, resident, sign, errors)
    if team is not None and team.pk == contract.team_id:
        errors.append(FieldError("team_id", "新团队与原团队相同", "Same team as now"))
    if errors:
        raise DomainError(errors)
    assert team is not None and package is not None
    with transaction.atomic():
        old = _lock_contract(contract)
        old.status = ContractStatus.CHANGED
        old.ended_at = timezone.now()
        old.end_reason = reason
        old.save(update_fields=["status", "ended_at", "end_reason"])
        return _create(
            actor, resident, team, package, start, end, data.consent, consent_at, old, "改签"
        )


def do_terminate_contract(actor: Actor, contract: Contract, reason: str) -> Contract:
    """Terminate (解约) with a reason (death, moved away, the resident's request...)."""
    _check_contract(actor, contract)
    reason = _require_reason(reason)
    with transaction.atomic():
        c = _lock_contract(contract)
        c.status = ContractStatus.TERMINATED
        c.ended_at = timezone.now()
        c.end_reason = reason
        c.save(update_fields=["status", "ended_at", "end_reason"])
        audit.record(
            actor,
            audit.Action.UPDATE,
            "contract",
            str(c.pk),
            resident_id=c.resident_id,
            detail={"terminated": reason},
        )
        return c
