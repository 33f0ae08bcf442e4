"""Write a synthetic county (plan.py) into the database.

Small sizes go through the ORM's bulk_create; on PostgreSQL residents and cards are
streamed with COPY, so the 1 M-resident benchmark county loads in minutes, not hours.
The platform's own rules make every derived field (pinyin keys, index numbers, card IDs)
exactly as a registration through the UI would."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from functools import lru_cache

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.utils import timezone

from yigongti.accounts.models import Account
from yigongti.accounts.rules import Role
from yigongti.network.models import Department, Division, Facility, Grouping, MedicalGroup, Staff
from yigongti.records.codes import load_starter
from yigongti.residents import rules
from yigongti.residents.actions import local_card_for, new_mpi_ids
from yigongti.residents.models import CardIssuer, HealthCard, Household, Resident

from .plan import (
    DEFAULT_SEED,
    SIZES,
    CountyPlan,
    ResidentSpec,
    build_plan,
    duplicate_twin,
    iter_residents,
)

Progress = Callable[[int], None]
BATCH = 10_000


def load_network(plan: CountyPlan) -> dict[str, Facility]:
    """Divisions, groups, facilities, departments, staff and groupings. Returns facilities
    by code."""
    by_code: dict[str, Division] = {}
    for level in ([plan.county], plan.townships, plan.villages):
        objs = [
            Division(
                code=d.code,
                name=d.name,
                level=d.level,
                parent=by_code.get(d.parent_code) if d.parent_code else None,
            )
            for d in level
        ]
        Division.objects.bulk_create(objs)
        by_code.update(
            {d.code: d for d in Division.objects.filter(code__in=[o.code for o in objs])}
        )
    county = by_code[plan.county.code]
    groups = {
        g.index: MedicalGroup.objects.create(code=f"G{g.index + 1:02d}", name=g.name, county=county)
        for g in plan.groups
    }
    Facility.objects.bulk_create(
        [
            Facility(
                code=f.code,
                name=f.name,
                kind=f.kind,
                group=groups[f.group_index],
                division=by_code[f.division_code],
                address=f"{plan.county.name}{by_code[f.division_code].name}",
            )
            for f in plan.facilities
        ]
    )
    facilities = {f.code: f for f in Facility.objects.all()}
    sup = [f for f in plan.facilities if f.supervisor_code]
    for spec in sup:
        facilities[spec.code].supervisor = facilities[spec.supervisor_code]  # type: ignore[index]
    Facility.objects.bulk_update([facilities[s.code] for s in sup], ["supervisor"], batch_size=500)
    for g in plan.groups:
        groups[g.index].lead = facilities[g.lead_code]
        groups[g.index].save(update_fields=["lead"])
    depts = sorted({(s.facility_code, s.department) for s in plan.staff if s.department})
    Department.objects.bulk_create([Department(facility=facilities[f], name=d) for f, d in depts])
    dept_ids = {(d.facility.code, d.name): d for d in Department.objects.select_related("facility")}
    Staff.objects.bulk_create(
        [
            Staff(
                name=s.name,
                sex=s.sex,
                facility=facilities[s.facility_code],
                department=dept_ids.get((s.facility_code, s.department)),
                title=s.title,
                specialty=s.specialty,
                licence_no=s.key[:32],
            )
            for s in plan.staff
        ],
        batch_size=2000,
    )
    for gs in plan.groupings:
        grouping = Grouping.objects.create(
            name=gs.name, kind=gs.kind, lead=facilities.get(gs.lead_code)
        )
        grouping.members.set([facilities[c] for c in gs.member_codes if c in facilities])
    return facilities


@lru_cache(maxsize=200_000)
def _keys(name: str) -> tuple[str, str]:
    return rules.name_search_keys(name)


def _chunks(it: Iterator[ResidentSpec], size: int) -> Iterator[list[ResidentSpec]]:
    chunk: list[ResidentSpec] = []
    for item in it:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def load_residents(
    plan: CountyPlan, *, seed: int, n: int, today: date, progress: Progress | None = None
) -> int:
    villages = {d.code: (d.pk, d.parent_id or 0) for d in Division.objects.filter(level="village")}
    clinics = dict(
        Facility.objects.filter(kind="village_clinic").values_list("division__code", "pk")
    )
    centres = dict(Facility.objects.filter(kind="township_centre").values_list("division_id", "pk"))
    postgres = connection.vendor == "postgresql"
    now = timezone.now()
    done = 0
    for originals in _chunks(iter_residents(plan, seed, n, today=today), BATCH):
        # a few people were registered a second time at their township centre
        chunk = originals + [t for s in originals if (t := duplicate_twin(s, seed))]
        mpi_ids = new_mpi_ids(plan.county.code, len(chunk))
        with transaction.atomic():
            hh_keys = {s.household_key: s for s in chunk}
            existing = set(
                Household.objects.filter(key__in=list(hh_keys)).values_list("key", flat=True)
            )
            Household.objects.bulk_create(
                [
                    Household(key=k, village_id=villages[s.village_code][0], address=s.address)
                    for k, s in hh_keys.items()
                    if k not in existing
                ],
                batch_size=5000,
            )
            households = dict(
                Household.objects.filter(key__in=list(hh_keys)).values_list("key", "pk")
            )
            rows = []
            for spec, mpi_id in zip(chunk, mpi_ids, strict=True):
                village_id, township_id = villages[spec.village_code]
                pinyin, initials = _keys(spec.name)
                rows.append(
                    (
                        mpi_id,
                        spec.name,
                        pinyin,
                        initials,
                        spec.sex,
                        spec.birth_date,
                        spec.doc_type,
                        spec.doc_number,
                        spec.doc_number[::-1],
                        spec.phone,
                        spec.phone[::-1],
                        spec.address,
                        village_id,
                        township_id,
                        households[spec.household_key],
                        "active",
                        clinics.get(spec.village_code)
                        if spec.index >= 0
                        else centres.get(township_id),
                        now,
                        now,
                    )
                )
            if postgres:
                _copy_residents(rows)
            else:
                Resident.objects.bulk_create(
                    [
                        Resident(
                            mpi_id=r[0],
                            name=r[1],
                            name_pinyin=r[2],
                            name_initials=r[3],
                            sex=r[4],
                            birth_date=r[5],
                            doc_type=r[6],
                            doc_number=r[7],
                            doc_rev=r[8],
                            phone=r[9],
                            phone_rev=r[10],
                            address=r[11],
                            village_id=r[12],
                            township_id=r[13],
                            household_id=r[14],
                            status=r[15],
                            registered_at_id=r[16],
                        )
                        for r in rows
                    ],
                    batch_size=2000,
                )
            ids = dict(Resident.objects.filter(mpi_id__in=mpi_ids).values_list("mpi_id", "pk"))
            cards = []
            for spec, mpi_id in zip(chunk, mpi_ids, strict=True):
                card_id, kind = local_card_for(spec.doc_type, spec.doc_number, mpi_id)
                cards.append((card_id, ids[mpi_id], kind))
            if postgres:
                _copy_cards(cards, now)
            else:
                HealthCard.objects.bulk_create(
                    [
                        HealthCard(
                            card_id=c,
                            resident_id=r,
                            kind=k,
                            issuer=CardIssuer.LOCAL,
                            issuing_org="平台批量建档",
                        )
                        for c, r, k in cards
                    ],
                    batch_size=2000,
                )
        done += len(originals)
        if progress:
            progress(len(originals))
    return done


def _copy(table: str, columns: list[str], rows: Sequence[tuple[object, ...]]) -> None:
    buf = io.StringIO()
    for row in rows:
        buf.write("\t".join("\\N" if v is None else str(v) for v in row))
        buf.write("\n")
    with connection.cursor() as cur:
        raw = cur.cursor  # the psycopg cursor under Django's wrapper
        with raw.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            copy.write(buf.getvalue())


def _copy_residents(rows: Sequence[tuple[object, ...]]) -> None:
    _copy(
        Resident._meta.db_table,
        [
            "mpi_id",
            "name",
            "name_pinyin",
            "name_initials",
            "sex",
            "birth_date",
            "doc_type",
            "doc_number",
            "doc_rev",
            "phone",
            "phone_rev",
            "address",
            "village_id",
            "township_id",
            "household_id",
            "status",
            "registered_at_id",
            "created_at",
            "updated_at",
        ],
        rows,
    )


def _copy_cards(cards: list[tuple[str, int, str]], now: object) -> None:
    _copy(
        HealthCard._meta.db_table,
        [
            "card_id",
            "resident_id",
            "kind",
            "status",
            "issuer",
            "issuing_org",
            "issued_at",
            "status_reason",
        ],
        [(c, r, k, "1", "local", "平台批量建档", now, "") for c, r, k in cards],
    )


# --- the demo personas (DESIGN.md) ---------------------------------------------------------

PERSONAS = (
    "sysadmin",
    "commission",
    "group_admin",
    "county_doctor",
    "township_doctor",
    "village_doctor",
    "outsider_doctor",
    "pharmacist",
)


def persona_facilities(plan: CountyPlan) -> dict[str, str]:
    """Where each clinical persona works: group 0's lead hospital, its first township centre
    and that township's first village clinic; the outsider in a village of a township of
    another group; the pharmacist at the same township centre."""
    lead = plan.groups[0].lead_code
    centres = [f for f in plan.facilities if f.kind == "township_centre"]
    home = next(f for f in centres if f.group_index == 0)
    away = next((f for f in centres if f.group_index != 0), None) or next(
        f for f in centres if f.code != home.code
    )
    clinics = [f for f in plan.facilities if f.kind == "village_clinic"]
    village = next(f for f in clinics if f.supervisor_code == home.code)
    outsider = next(f for f in clinics if f.supervisor_code == away.code)
    return {
        "county_doctor": lead,
        "township_doctor": home.code,
        "village_doctor": village.code,
        "outsider_doctor": outsider.code,
        "pharmacist": home.code,
    }


PERSONA_STAFF = {
    "county_doctor": ("心内科", "主治医师", "心血管内科"),
    "township_doctor": ("全科", "主治医师", "全科医学"),
    "village_doctor": ("", "乡村医生", "全科"),
    "outsider_doctor": ("", "乡村医生", "全科"),
    "pharmacist": ("药房", "药师", "药学"),
}
PERSONA_NAMES = {
    "county_doctor": "陈建国",
    "township_doctor": "李秀梅",
    "village_doctor": "王德福",
    "outsider_doctor": "赵长林",
    "pharmacist": "孙丽华",
}


def create_personas(plan: CountyPlan, password: str) -> dict[str, object]:
    """The eight demo logins. Clinical personas get a Staff row of their own."""
    user_model = get_user_model()
    hashed = make_password(password)
    county = Division.objects.get(code=plan.county.code)
    group0 = MedicalGroup.objects.order_by("code").first()
    where = persona_facilities(plan)
    users: dict[str, object] = {}
    for username in PERSONAS:
        user, _ = user_model.objects.update_or_create(
            username=username,
            defaults={
                "password": hashed,
                "is_active": True,
                "first_name": PERSONA_NAMES.get(username, ""),
            },
        )
        staff = None
        if username in where:
            facility = Facility.objects.get(code=where[username])
            dept_name, title, specialty = PERSONA_STAFF[username]
            dept = None
            if dept_name:
                dept, _ = Department.objects.get_or_create(facility=facility, name=dept_name)
            staff, _ = Staff.objects.get_or_create(
                licence_no=f"persona-{username}",
                defaults={
                    "name": PERSONA_NAMES[username],
                    "facility": facility,
                    "department": dept,
                    "title": title,
                    "specialty": specialty,
                },
            )
        role = Role.VILLAGE_DOCTOR if username == "outsider_doctor" else Role(username)
        Account.objects.update_or_create(
            user=user,
            defaults={
                "role": role,
                "staff": staff,
                "group": group0 if username == "group_admin" else None,
                "county": county if username in ("sysadmin", "commission") else None,
            },
        )
        users[username] = user
    return users


def build_county(
    *,
    size: str = "demo",
    seed: int = DEFAULT_SEED,
    residents: int | None = None,
    password: str,
    progress: Progress | None = None,
    today: date | None = None,
) -> CountyPlan:
    plan = build_plan(seed, size)
    n = SIZES[size].residents if residents is None else residents
    with transaction.atomic():
        load_network(plan)
        create_personas(plan, password)
        load_starter()
    load_residents(plan, seed=seed, n=n, today=today or timezone.localdate(), progress=progress)
    return plan
