"""Synthetic clinical history for the synthetic county: encounters with diagnoses, vital
signs and prescriptions, standalone home-device readings, and the timeline rows for them.

Deterministic from the seed and each resident's id. Rates (per resident per year) follow
rural Chinese primary care roughly: about 2 visits a year for a young adult, 4–5 for people
65+, more for people with hypertension (≈27% of adults, rising with age) or diabetes
(≈11%); about 15% of adults and 30% of people 65+ are admitted once a year; a small share of
hypertensive patients (3%) measure at home with a connected meter every other day, which is
what gives some residents hundreds of entries. Rows are written with COPY on PostgreSQL
(the 1 M-resident benchmark county gets ≈10 M encounters and observations in minutes) and
with executemany on SQLite (the demo)."""

from __future__ import annotations

import io
import math
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Model

from yigongti.network.models import Facility, FacilityKind
from yigongti.records import rules
from yigongti.records.models import (
    Diagnosis,
    Encounter,
    Entry,
    ICD10Code,
    Observation,
    Prescription,
)
from yigongti.residents.models import Resident

SHANGHAI = ZoneInfo("Asia/Shanghai")

ACUTE = [  # (ICD-10, weight) for ordinary outpatient visits
    ("J06.9", 30),
    ("J00", 10),
    ("J20.9", 10),
    ("K29.5", 8),
    ("M54.5", 8),
    ("R51", 5),
    ("A09", 5),
    ("M17.9", 5),
    ("L30.9", 4),
    ("N39.0", 4),
    ("R42", 4),
    ("K59.0", 3),
    ("J02.9", 4),
]
ADMISSIONS = [("J18.9", 25), ("I63.9", 20), ("I50.9", 10), ("K80.2", 10), ("J44.1", 15),
              ("S72.0", 5), ("K35.8", 5), ("I20.9", 10)]  # fmt: skip
ACUTE_DRUGS = {
    "J06.9": ("YP0021", 1, "tid", 3),
    "J00": ("YP0021", 1, "tid", 3),
    "J20.9": ("YP0017", 2, "tid", 5),
    "J02.9": ("YP0017", 2, "tid", 5),
    "K29.5": ("YP0023", 1, "qd", 14),
    "M54.5": ("YP0022", 1, "bid", 5),
    "M17.9": ("YP0022", 1, "bid", 7),
    "A09": ("YP0024", 1, "tid", 3),
    "N39.0": ("YP0019", 2, "bid", 5),
}
HTN_DRUGS = [("YP0002", 1, "qd", 28), ("YP0001", 1, "bid", 28), ("YP0005", 1, "qd", 28)]
DM_DRUGS = [("YP0009", 2, "tid", 28), ("YP0010", 1, "qd", 28)]

ENCOUNTER_KIND_LABEL = {"outpatient": "门诊", "inpatient": "住院", "home_visit": "上门服务"}


@dataclass
class Person:
    pk: int
    birth: date
    sex: str
    village_id: int
    township_id: int


@dataclass
class Batch:
    """Rows of one chunk, per table, in the column order of `COLUMNS`."""

    encounter: list[tuple[object, ...]] = field(default_factory=list)
    diagnosis: list[tuple[object, ...]] = field(default_factory=list)
    observation: list[tuple[object, ...]] = field(default_factory=list)
    prescription: list[tuple[object, ...]] = field(default_factory=list)
    entry: list[tuple[object, ...]] = field(default_factory=list)


BASE = ("resident_id", "facility_id", "status", "amend_reason", "source", "source_system",
        "source_id", "digest", "recorded_at")  # fmt: skip
COLUMNS: dict[str, tuple[type[Model], tuple[str, ...]]] = {
    "encounter": (
        Encounter,
        ("id", *BASE, "kind", "started_at", "ended_at", "complaint", "present_illness", "notes"),
    ),
    "diagnosis": (Diagnosis, ("encounter_id", "resident_id", "code", "name", "is_primary", "rank")),
    "observation": (
        Observation,
        (
            "id",
            *BASE,
            "encounter_id",
            "kind",
            "code",
            "name",
            "value",
            "value2",
            "value_text",
            "unit",
            "flag",
            "effective_at",
            "device_serial",
        ),
    ),
    "prescription": (
        Prescription,
        (
            "id",
            *BASE,
            "encounter_id",
            "drug_id",
            "drug_name",
            "dose",
            "dose_unit",
            "frequency",
            "route",
            "days",
            "quantity",
            "prescribed_at",
        ),
    ),
    "entry": (
        Entry,
        (
            "resident_id",
            "occurred_at",
            "kind",
            "facility_id",
            "object_type",
            "object_id",
            "title",
            "summary",
            "status",
        ),
    ),
}


class Ids:
    def __init__(self) -> None:
        self.next = {
            name: (model._default_manager.order_by("-pk").values_list("pk", flat=True).first() or 0)
            + 1
            for name, (model, _) in COLUMNS.items()
            if name in ("encounter", "observation", "prescription")
        }

    def take(self, name: str) -> int:
        n = self.next[name]
        self.next[name] = n + 1
        return n


@dataclass
class Sites:
    clinic_of_village: dict[int, int]
    centre_of_township: dict[int, int]
    lead_of_township: dict[int, int]
    names: dict[int, str]

    @classmethod
    def load(cls) -> Sites:
        fac = list(Facility.objects.values("pk", "kind", "division_id", "group_id", "name"))
        leads = {f["group_id"]: f["pk"] for f in fac if f["kind"] == FacilityKind.COUNTY_HOSPITAL}
        any_lead = next(iter(leads.values()), None)
        centres = {f["division_id"]: f for f in fac if f["kind"] == FacilityKind.TOWNSHIP_CENTRE}
        return cls(
            clinic_of_village={
                f["division_id"]: f["pk"] for f in fac if f["kind"] == FacilityKind.VILLAGE_CLINIC
            },
            centre_of_township={t: f["pk"] for t, f in centres.items()},
            lead_of_township={
                t: leads.get(f["group_id"], any_lead) or f["pk"] for t, f in centres.items()
            },
            names={f["pk"]: f["name"] for f in fac},
        )


def _weighted(rng: random.Random, table: Sequence[tuple[str, int]]) -> str:
    return rng.choices([c for c, _ in table], weights=[w for _, w in table])[0]


def _poisson(rng: random.Random, lam: float) -> int:
    # Knuth; λ stays small here.
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def conditions(rng: random.Random, age: int) -> tuple[bool, bool]:
    """(hypertension, diabetes) at survey prevalence rising with age (adults only)."""
    if age < 18:
        return False, False
    htn_p = 0.06 if age < 35 else 0.18 if age < 50 else 0.38 if age < 65 else 0.55
    dm_p = 0.02 if age < 35 else 0.08 if age < 50 else 0.15 if age < 65 else 0.20
    return rng.random() < htn_p, rng.random() < dm_p


class Generator:
    def __init__(self, *, seed: int, today: date, years: float, names: dict[str, str]):
        self.seed = seed
        self.today = today
        self.years = years
        self.icd = names
        self.sites = Sites.load()
        self.ids = Ids()
        self.drug_names = {}
        from yigongti.records.models import Drug

        for d in Drug.objects.all():
            self.drug_names[d.code] = (f"{d.generic_name} {d.strength}".strip(), d.unit)
        self.window_days = max(1, int(365 * years))
        self.end = datetime.combine(today, datetime.min.time(), tzinfo=SHANGHAI)  # before today

    def person(self, p: Person, out: Batch) -> None:
        rng = random.Random(self.seed * 1_000_003 + p.pk)
        age = (self.today - p.birth).days // 365
        htn, dm = conditions(rng, age)
        lam = 1.2 + (1.2 if age >= 50 else 0) + (2.0 if age >= 65 else 0) + (0.6 if age < 6 else 0)
        lam += 3.0 if htn else 0
        lam += 3.0 if dm else 0
        visits = _poisson(rng, lam * self.years)
        born = datetime.combine(p.birth, datetime.min.time(), tzinfo=SHANGHAI) + timedelta(days=1)
        for _ in range(visits):
            when = self._when(rng, born)
            if when is None:
                continue
            chronic_visit = (htn or dm) and rng.random() < 0.6
            self._encounter(rng, p, age, when, out, htn=htn, dm=dm, chronic=chronic_visit)
        admit_p = (0.3 if age >= 65 else 0.15 if age >= 18 else 0.08) * self.years
        if rng.random() < admit_p:
            when = self._when(rng, born)
            if when is not None:
                self._encounter(rng, p, age, when, out, htn=htn, dm=dm, inpatient=True)
        if htn and rng.random() < 0.03:
            self._device_readings(rng, p, born, out)

    def _when(self, rng: random.Random, born: datetime) -> datetime | None:
        day = self.end - timedelta(days=rng.randrange(1, self.window_days + 1))
        when = day + timedelta(hours=rng.choice((8, 9, 9, 10, 10, 11, 14, 15, 16)),
                               minutes=rng.randrange(60))  # fmt: skip
        return when if when > born else None

    def _base(self, p: Person, facility: int) -> tuple[object, ...]:
        return (p.pk, facility, "current", "", "synth", "", "", "", self.end.astimezone(UTC))

    def _facility(self, rng: random.Random, p: Person, inpatient: bool) -> int:
        if inpatient:
            roll = rng.random()
            if roll < 0.7:
                return self.sites.lead_of_township[p.township_id]
            return self.sites.centre_of_township[p.township_id]
        roll = rng.random()
        clinic = self.sites.clinic_of_village.get(p.village_id)
        if clinic is not None and roll < 0.6:
            return clinic
        if roll < 0.9:
            return self.sites.centre_of_township[p.township_id]
        return self.sites.lead_of_township[p.township_id]

    def _encounter(
        self,
        rng: random.Random,
        p: Person,
        age: int,
        when: datetime,
        out: Batch,
        *,
        htn: bool,
        dm: bool,
        chronic: bool = False,
        inpatient: bool = False,
    ) -> None:
        facility = self._facility(rng, p, inpatient)
        kind = (
            "inpatient"
            if inpatient
            else ("home_visit" if age >= 75 and rng.random() < 0.1 else "outpatient")
        )
        codes: list[str] = []
        if inpatient:
            codes.append(_weighted(rng, ADMISSIONS))
        elif chronic:
            codes.extend(c for c, has in (("I10", htn), ("E11.9", dm)) if has)
        else:
            codes.append(_weighted(rng, ACUTE))
        if inpatient and htn:
            codes.append("I10")
        enc_id = self.ids.take("encounter")
        ended = when + timedelta(days=rng.randint(3, 12)) if inpatient else None
        if ended is not None and ended >= self.end:
            ended = None
        complaint = {"I10": "复诊取药", "E11.9": "复诊取药"}.get(codes[0], "")
        out.encounter.append(
            (enc_id, *self._base(p, facility), kind, when, ended, complaint, "", "")
        )
        for rank, code in enumerate(codes, start=1):
            out.diagnosis.append((enc_id, p.pk, code, self.icd[code], rank == 1, rank))
        summary: list[str] = []
        if age >= 18 and (htn or rng.random() < 0.6):
            sbp = round(rng.gauss(148 if htn else 122, 15 if htn else 11))
            sbp = min(max(sbp, 90), 220)
            dbp = min(max(round(sbp * 0.62 + rng.gauss(0, 6)), 50), sbp - 20)
            self._obs(p, facility, enc_id, "bp", sbp, dbp, when, out)
            self._obs(p, facility, enc_id, "pulse", round(rng.gauss(76, 9)), None, when, out)
            summary.append(f"血压 {sbp}/{dbp} mmHg")
        if dm or (age >= 35 and rng.random() < 0.1):
            glucose = round(max(3.0, rng.gauss(7.8 if dm else 5.3, 1.8 if dm else 0.5)), 1)
            self._obs(p, facility, enc_id, "glucose_fasting", glucose, None, when, out)
            summary.append(f"空腹血糖 {glucose} mmol/L")
        drugs: list[tuple[str, int, str, int]] = []
        if chronic and htn:
            drugs.append(rng.choice(HTN_DRUGS))
        if chronic and dm:
            drugs.append(rng.choice(DM_DRUGS))
        if not chronic and not inpatient and codes[0] in ACUTE_DRUGS and rng.random() < 0.8:
            drugs.append(ACUTE_DRUGS[codes[0]])
        for code, dose, freq, days in drugs:
            name, unit = self.drug_names[code]
            per_day = rules.FREQUENCIES[freq][1] or 1
            out.prescription.append(
                (self.ids.take("prescription"), *self._base(p, facility), enc_id, code, name,
                 dose, unit, freq, "po", days, math.ceil(dose * per_day * days), when)
            )  # fmt: skip
        if drugs:
            summary.append(
                "处方：" + "、".join(self.drug_names[c][0].split(" ")[0] for c, *_ in drugs)
            )
        title = f"{ENCOUNTER_KIND_LABEL[kind]} · {self.sites.names[facility]} · " + "、".join(
            self.icd[c] for c in codes
        )
        if complaint:
            summary.insert(0, f"主诉：{complaint}")
        text = "；".join(summary)[:500]
        out.entry.append(
            (p.pk, when, "encounter", facility, "encounter", enc_id, title[:200], text, "current")
        )

    def _obs(
        self,
        p: Person,
        facility: int | None,
        enc_id: int | None,
        kind: str,
        value: float,
        value2: float | None,
        when: datetime,
        out: Batch,
        serial: str = "",
    ) -> int:
        spec = rules.VITALS[kind]
        obs_id = self.ids.take("observation")
        base = self._base(p, facility) if facility else (p.pk, None, *self._base(p, 0)[2:])
        out.observation.append(
            (obs_id, *base, enc_id, kind, spec.code, spec.name, value, value2, "", spec.unit_label,
             "", when, serial)
        )  # fmt: skip
        return obs_id

    def _device_readings(self, rng: random.Random, p: Person, born: datetime, out: Batch) -> None:
        serial = f"BP{p.pk:09d}"
        for day in range(1, self.window_days + 1, 2):
            when = self.end - timedelta(days=day) + timedelta(hours=7, minutes=rng.randrange(90))
            if when <= born:
                break
            sbp = min(max(round(rng.gauss(142, 12)), 90), 220)
            dbp = min(max(round(sbp * 0.62 + rng.gauss(0, 5)), 50), sbp - 20)
            obs_id = self._obs(p, None, None, "bp", sbp, dbp, when, out, serial)
            out.entry.append(
                (p.pk, when, "observation", None, "observation", obs_id, f"血压 {sbp}/{dbp} mmHg",
                 "家用设备上传", "current")
            )  # fmt: skip


def _people(chunk: int) -> Iterator[list[Person]]:
    last = 0
    while True:
        rows = list(
            Resident.objects.filter(pk__gt=last, status="active")
            .order_by("pk")
            .values_list("pk", "birth_date", "sex", "village_id", "township_id")[:chunk]
        )
        if not rows:
            return
        last = rows[-1][0]
        yield [Person(*r) for r in rows]


def _text(v: object) -> str:
    if v is None:
        return "\\N"
    if isinstance(v, bool):
        return "t" if v else "f"
    if isinstance(v, datetime):
        return v.isoformat()
    return str(v).replace("\\", "\\\\").replace("\t", " ").replace("\n", " ")


def _write(name: str, rows: list[tuple[object, ...]]) -> None:
    if not rows:
        return
    model, cols = COLUMNS[name]
    table = model._meta.db_table
    if connection.vendor == "postgresql":
        buf = io.StringIO()
        for row in rows:
            buf.write("\t".join(_text(v) for v in row))
            buf.write("\n")
        sql = f"COPY {table} ({', '.join(cols)}) FROM STDIN"
        with connection.cursor() as cur, cur.cursor.copy(sql) as copy:
            copy.write(buf.getvalue())
        return
    marks = ", ".join(["%s"] * len(cols))
    plain: list[Any] = [tuple(_sqlite_value(v) for v in row) for row in rows]
    with connection.cursor() as cur:
        cur.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})", plain)  # noqa: S608


def _sqlite_value(v: object) -> object:
    """Django keeps SQLite datetimes as naive UTC text."""
    if isinstance(v, datetime):
        return v.astimezone(UTC).replace(tzinfo=None).isoformat(" ")
    return v


def _reset_sequences() -> None:
    """Move the id sequences past the rows written with explicit ids, and refresh the
    planner's statistics (after a bulk load they describe empty tables)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cur:
        for model, _ in COLUMNS.values():
            table = model._meta.db_table
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                f"COALESCE((SELECT MAX(id) FROM {table}), 1))"
            )
            cur.execute(f"ANALYZE {table}")


def load_records(
    *,
    seed: int,
    today: date,
    years: float = 1.0,
    chunk: int = 5_000,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Give every active resident a synthetic clinical history of `years` before `today`.
    Returns the row count per table."""
    names = dict(ICD10Code.objects.values_list("code", "name"))
    gen = Generator(seed=seed, today=today, years=years, names=names)
    counts = dict.fromkeys(COLUMNS, 0)
    from django.db import transaction

    for people in _people(chunk):
        batch = Batch()
        for p in people:
            gen.person(p, batch)
        with transaction.atomic():
            for name in COLUMNS:
                rows = getattr(batch, name)
                _write(name, rows)
                counts[name] += len(rows)
        if progress is not None:
            progress(len(people))
    _reset_sequences()
    return counts
