"""Synthetic family-doctor contracts for the synthetic county (DOMAIN.md §4).

Deterministic from the seed and each resident's id:
- teams: one village-level team per village clinic (its first staff member as family doctor,
  a public-health physician and a nurse from the supervising township centre) serving its
  village, and one township-level team per township centre serving all the township's
  villages (with a lead-hospital specialist attached);
- packages: a basic package, an elderly (65+) package and two personalised chronic packages;
- contracts: about 70% of people 65+, about 55% of residents with hypertension or diabetes on
  the record, about 30% of the others (≈40% overall in a rural age pyramid); terms started
  during the past year (so ≈8% fall in the 30-day expiring window); 70% signed on paper.
Rows are bulk-inserted in chunks, each with its timeline entry (records.Entry kind
"contract")."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import connection, transaction

from yigongti.contracts.models import (
    Contract,
    MemberRole,
    PackageKind,
    ServicePackage,
    Team,
    TeamLevel,
    TeamMember,
)
from yigongti.contracts.rules import add_years, term_end
from yigongti.network.models import Division, Facility, FacilityKind, Staff
from yigongti.records.models import Diagnosis, Entry
from yigongti.residents.models import Resident, ResidentStatus

SHANGHAI = ZoneInfo("Asia/Shanghai")

PACKAGES = [
    ("BASIC", "基础签约服务包", PackageKind.BASIC, "0", "1",
     [{"service": "annual_check", "count": 1}, {"service": "consultation", "count": 2}]),
    ("ELDERLY", "老年人健康管理包", PackageKind.BASIC, "0", "1",
     [{"service": "annual_check", "count": 1}, {"service": "home_visit", "count": 2},
      {"service": "consultation", "count": 4}]),
    ("HTN", "高血压个性化服务包", PackageKind.PERSONALISED, "120", "0.75",
     [{"service": "bp_followup", "count": 4}, {"service": "annual_check", "count": 1},
      {"service": "home_visit", "count": 2}]),
    ("DM", "糖尿病个性化服务包", PackageKind.PERSONALISED, "150", "0.75",
     [{"service": "glucose_followup", "count": 4}, {"service": "annual_check", "count": 1},
      {"service": "home_visit", "count": 2}]),
]  # fmt: skip

RATE_ELDERLY = 0.70
RATE_CHRONIC = 0.55
RATE_OTHER = 0.30
PAPER_SHARE = 0.70


def load_teams() -> dict[int, int]:
    """Create the teams (idempotent: skipped when teams exist). Returns village id → the id of
    the team that signs its residents (the village team, else the township team)."""
    if not Team.objects.exists():
        _create_teams()
    by_village: dict[int, int] = {}
    rows = Team.villages.through.objects.filter(team__active=True).values_list(
        "division_id", "team_id", "team__level"
    )
    for village_id, team_id, _level in sorted(
        rows, key=lambda r: (r[2] != TeamLevel.VILLAGE, r[1])
    ):
        by_village.setdefault(village_id, team_id)
    return by_village


def _create_teams() -> None:
    staff_by_facility: dict[int, list[int]] = {}
    for sid, fid in Staff.objects.order_by("pk").values_list("pk", "facility_id"):
        staff_by_facility.setdefault(fid, []).append(sid)
    facilities = list(Facility.objects.select_related("group").order_by("code"))
    leads = {f.group_id: f.pk for f in facilities if f.kind == FacilityKind.COUNTY_HOSPITAL}
    villages_of: dict[int, list[int]] = {}
    for vid, parent in Division.objects.filter(level="village").values_list("pk", "parent_id"):
        villages_of.setdefault(parent, []).append(vid)
    members: list[TeamMember] = []
    links: list[tuple[Team, list[int]]] = []
    for f in facilities:
        own = staff_by_facility.get(f.pk, [])
        if f.kind == FacilityKind.VILLAGE_CLINIC and own:
            sup = staff_by_facility.get(f.supervisor_id or 0, [])
            team = Team(name=f"{f.name}家庭医生团队", facility=f, level=TeamLevel.VILLAGE)
            roles = [(own[0], MemberRole.DOCTOR)]
            roles += [
                (s, r)
                for s, r in zip(sup[:2], (MemberRole.PUBLIC_HEALTH, MemberRole.NURSE), strict=False)
            ]
            links.append((team, [f.division_id]))
        elif f.kind == FacilityKind.TOWNSHIP_CENTRE and own:
            team = Team(name=f"{f.name}家庭医生团队", facility=f, level=TeamLevel.TOWNSHIP)
            roles = [(own[0], MemberRole.DOCTOR)]
            roles += [(s, MemberRole.NURSE) for s in own[1:2]]
            roles += [(s, MemberRole.PUBLIC_HEALTH) for s in own[2:3]]
            lead_staff = staff_by_facility.get(leads.get(f.group_id, 0), [])
            roles += [(s, MemberRole.SPECIALIST) for s in lead_staff[:1]]
            links.append((team, villages_of.get(f.division_id, [])))
        else:
            continue
        team._roles = roles  # type: ignore[attr-defined]
    Team.objects.bulk_create([t for t, _ in links], batch_size=1000)
    saved = {(t.facility_id, t.name): t.pk for t in Team.objects.all()}
    through = Team.villages.through
    rows = []
    for team, villages in links:
        tid = saved[(team.facility_id, team.name)]
        rows += [through(team_id=tid, division_id=v) for v in villages]
        seen: set[int] = set()
        for sid, role in team._roles:  # type: ignore[attr-defined]
            if sid not in seen:
                seen.add(sid)
                members.append(TeamMember(team_id=tid, staff_id=sid, role=role))
    through.objects.bulk_create(rows, batch_size=5000)
    TeamMember.objects.bulk_create(members, batch_size=5000)


def load_packages() -> dict[str, int]:
    for code, name, kind, fee, share, services in PACKAGES:
        ServicePackage.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "kind": kind,
                "fee": fee,
                "covered_share": share,
                "services": services,
            },
        )
    return dict(ServicePackage.objects.values_list("code", "pk"))


def load_contracts(
    *,
    seed: int,
    today: date,
    chunk: int = 5_000,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Teams, packages and contracts for every active resident (call after residents and,
    if wanted, records are loaded: chronic diagnoses then pick the personalised packages).
    Returns the number of contracts written."""
    team_of_village = load_teams()
    packages = load_packages()
    team_facility = dict(Team.objects.values_list("pk", "facility_id"))
    elderly_cut = add_years(today, -65)
    written = 0
    last = 0
    while True:
        people = list(
            Resident.objects.filter(status=ResidentStatus.ACTIVE, pk__gt=last)
            .order_by("pk")
            .values_list("pk", "birth_date", "village_id", "name")[:chunk]
        )
        if not people:
            break
        last = people[-1][0]
        ids = [p[0] for p in people]
        dx: dict[int, set[str]] = {}
        for rid, code in (
            Diagnosis.objects.filter(resident_id__in=ids)
            .filter(
                code_id__in=["I10", "I11.9", "I12.9", "E11.9", "E11.2", "E11.3", "E11.4", "E11.5"]
            )
            .values_list("resident_id", "code_id")
            .distinct()
        ):
            dx.setdefault(rid, set()).add("DM" if code.startswith("E") else "HTN")
        contracts: list[Contract] = []
        for pk, birth, village_id, name in people:
            team_id = team_of_village.get(village_id)
            if team_id is None:
                continue
            rng = random.Random(f"{seed}:contract:{pk}")
            chronic = dx.get(pk, set())
            elderly = birth <= elderly_cut
            rate = RATE_ELDERLY if elderly else RATE_CHRONIC if chronic else RATE_OTHER
            if rng.random() >= rate:
                continue
            code = (
                "DM" if "DM" in chronic else "HTN" if chronic else "ELDERLY" if elderly else "BASIC"
            )
            start = today - timedelta(days=rng.randrange(0, 365))
            start = max(start, birth)
            consent_at = datetime.combine(start, time(9 + rng.randrange(8)), tzinfo=SHANGHAI)
            paper = rng.random() < PAPER_SHARE
            contracts.append(
                Contract(
                    resident_id=pk,
                    team_id=team_id,
                    package_id=packages[code],
                    start_date=start,
                    end_date=term_end(start, 1),
                    consent_method="paper" if paper else "online",
                    consent_at=consent_at,
                    signer_name=name,
                    signer_relation="本人",
                )
            )
        with transaction.atomic():
            made = Contract.objects.bulk_create(contracts, batch_size=2000)
            Entry.objects.bulk_create(
                [
                    Entry(
                        resident_id=c.resident_id,
                        occurred_at=c.consent_at,
                        kind="contract",
                        object_type="contract",
                        object_id=c.pk,
                        title="家庭医生签约",
                        summary=f"{c.start_date}至{c.end_date}",
                        facility_id=team_facility.get(c.team_id),
                    )
                    for c in made
                    if c.pk is not None
                ],
                batch_size=2000,
            )
        written += len(made)
        if progress is not None:
            progress(len(people))
    if connection.vendor == "postgresql":  # fresh statistics for the planner after a bulk load
        with connection.cursor() as cur:
            for model in (Team, TeamMember, Contract, Entry):
                cur.execute(f"ANALYZE {model._meta.db_table}")
    return written
