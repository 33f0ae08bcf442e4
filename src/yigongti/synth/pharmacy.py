"""A synthetic year of stock for the synthetic county (药品库存): extra catalogue items up to
`catalogue` (the issue's benchmark: 2,000), suppliers per group, and for every facility an
assortment of items with 1–3 batches each, whose ledger is a receipt (the lead hospital) or a
distribution-in (members), then dispensings through the year, an occasional loss and a
stock-take adjustment. Balances are the sums of their movements, so `manage.py check_stock`
holds. Minimums are set for part of the assortment so that the low-stock list has rows;
expiries spread from a month past to two years ahead so the near-expiry list does too.

Deterministic from the seed. Rows go in with COPY on PostgreSQL and executemany on SQLite.

    from yigongti.synth.pharmacy import load_pharmacy
    load_pharmacy(seed=7, today=date.today())           # after build_county(...)"""

from __future__ import annotations

import io
import random
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection, transaction

from yigongti.network.models import Facility, FacilityKind, MedicalGroup
from yigongti.pharmacy.models import Batch, StockBalance, StockMinimum, StockMovement, Supplier
from yigongti.records.models import Drug, ItemKind

SHANGHAI = ZoneInfo("Asia/Shanghai")

# How many catalogue items each kind of facility stocks.
ASSORTMENT = {
    FacilityKind.COUNTY_HOSPITAL: 1400,
    FacilityKind.BRANCH: 600,
    FacilityKind.TOWNSHIP_CENTRE: 300,
    FacilityKind.VILLAGE_CLINIC: 60,
}
FORMS = [
    ("片剂", "片", "0.25g"),
    ("胶囊", "粒", "0.5g"),
    ("注射液", "支", "2ml:10mg"),
    ("颗粒剂", "袋", "10g"),
    ("滴眼剂", "支", "5ml"),
    ("软膏", "支", "10g"),
]
STEMS = [
    "阿莫",
    "头孢",
    "左氧",
    "布洛",
    "对乙",
    "氯雷",
    "奥美",
    "二甲",
    "硝苯",
    "厄贝",
    "阿托",
    "复方",
    "维生",
    "甘草",
    "板蓝",
    "银黄",
    "双黄",
    "藿香",
    "丹参",
    "黄芪",
]
ENDS = ["西林", "沙星", "芬", "氨酚", "他定", "拉唑", "双胍", "地平", "沙坦", "伐他汀"]
CONSUMABLES = ["一次性注射器", "医用棉签", "输液器", "医用口罩", "纱布块", "采血针"]


def extra_catalogue(n_total: int, rng: random.Random) -> list[Drug]:
    """Catalogue items beyond the starter list, codes YS00001…"""
    have = Drug.objects.count()
    out = []
    for i in range(max(0, n_total - have)):
        code = f"YS{i + 1:05d}"
        if rng.random() < 0.15:
            name = f"{rng.choice(CONSUMABLES)}{i + 1}号"
            out.append(Drug(code=code, kind=ItemKind.CONSUMABLE, generic_name=name, unit="个",
                            dose_unit="个", pack="100个/箱", storage="常温"))  # fmt: skip
            continue
        form, unit, strength = rng.choice(FORMS)
        name = f"{rng.choice(STEMS)}{rng.choice(ENDS)}{form}{i + 1}"
        out.append(Drug(code=code, kind=ItemKind.DRUG, generic_name=name, dosage_form=form,
                        strength=strength, unit=unit, dose_unit=unit, pack=f"24{unit}/盒",
                        essential=rng.random() < 0.4, storage="密封"))  # fmt: skip
    Drug.objects.bulk_create(out, batch_size=2000, ignore_conflicts=True)
    return out


def _text(v: object) -> str:
    if v is None:
        return "\\N"
    if isinstance(v, datetime):
        return v.isoformat()
    return str(v)


def _copy(model: Any, cols: list[str], rows: list[tuple[Any, ...]]) -> None:
    if not rows:
        return
    table = model._meta.db_table
    if connection.vendor == "postgresql":
        buf = io.StringIO()
        for row in rows:
            buf.write("\t".join(_text(v) for v in row))
            buf.write("\n")
        with (
            connection.cursor() as cur,
            cur.cursor.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as cp,
        ):
            cp.write(buf.getvalue())
        return
    plain = [
        tuple(v.astimezone(UTC).replace(tzinfo=None).isoformat(" ")
              if isinstance(v, datetime) else (str(v) if isinstance(v, Decimal) else v)
              for v in row)
        for row in rows
    ]  # fmt: skip
    marks = ", ".join(["%s"] * len(cols))
    with connection.cursor() as cur:
        cur.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})", plain)  # noqa: S608


def _at(day: date, rng: random.Random) -> datetime:
    return datetime.combine(day, time(8 + rng.randrange(10), rng.randrange(60)), SHANGHAI)


MOVE_COLS = ["facility_id", "drug_id", "batch_id", "kind", "quantity", "balance_after", "at",
             "reason", "ref_type"]  # fmt: skip
BAL_COLS = ["facility_id", "drug_id", "batch_id", "expiry", "quantity"]


def load_pharmacy(
    *,
    seed: int,
    today: date,
    catalogue: int = 2000,
    facilities: list[int] | None = None,
    progress: Any = None,
) -> dict[str, int]:
    """Load the stock. Returns row counts. Facilities default to every facility in a group."""
    rng = random.Random(seed * 7919 + 8)
    extra_catalogue(catalogue, rng)
    codes = list(Drug.objects.filter(active=True).order_by("code").values_list("code", flat=True))
    for g in MedicalGroup.objects.order_by("pk"):
        for k in range(3):
            Supplier.objects.get_or_create(
                group=g, name=f"{g.name[:6]}供应商{k + 1}",
                defaults={"licence_no": f"YP-{g.pk:02d}-{k:03d}",
                          "licence_expiry": today + timedelta(days=200 + 300 * k)},
            )  # fmt: skip
    supplier_ids = list(Supplier.objects.values_list("pk", flat=True))
    facs = list(
        Facility.objects.filter(group__isnull=False)
        .order_by("pk")
        .values_list("pk", "kind", "group__lead_id")
    )
    if facilities is not None:
        facs = [f for f in facs if f[0] in set(facilities)]
    start = today - timedelta(days=365)
    counts = {"facilities": len(facs), "catalogue": len(codes), "batches": 0,
              "balances": 0, "movements": 0, "minimums": 0}  # fmt: skip
    for n_fac, (fid, kind, lead_id) in enumerate(facs):
        frng = random.Random(seed * 1_000_003 + fid)
        n_items = min(len(codes), ASSORTMENT.get(FacilityKind(kind), 60))
        items = frng.sample(codes, n_items)
        batches: list[Batch] = []
        for code in items:
            for j in range(frng.choice((1, 1, 2, 2, 3))):
                batches.append(  # noqa: PERF401 - one random draw per batch, in order
                    Batch(
                        drug_id=code,
                        batch_no=f"S{fid}-{code}-{j}",
                        expiry=today + timedelta(days=frng.randrange(-30, 720)),
                        supplier_id=frng.choice(supplier_ids) if supplier_ids else None,
                        unit_price=Decimal(frng.randrange(10, 5000)) / 100,
                    )
                )
        with transaction.atomic():
            Batch.objects.bulk_create(batches, batch_size=5000)
            moves: list[tuple[Any, ...]] = []
            bals: list[tuple[Any, ...]] = []
            mins: list[tuple[Any, ...]] = []
            receipt = "receipt" if fid == lead_id else "distribution_in"
            for b in batches:
                got = frng.randrange(20, 600)
                day = start + timedelta(days=frng.randrange(0, 120))
                bal = got
                moves.append((fid, b.drug_id, b.pk, receipt, got, bal, _at(day, frng), "", ""))
                while True:
                    day += timedelta(days=frng.randrange(3, 40))
                    if day >= today:
                        break
                    r = frng.random()
                    if r < 0.03 and bal > 0:
                        q = -min(bal, frng.randrange(1, 5))
                        kind_m, why = "loss", "破损"
                    elif r < 0.06:
                        q = frng.randrange(-2, 3)
                        kind_m, why = "adjustment", "盘点差异"
                        if q == 0 or bal + q < 0:
                            continue
                    else:
                        q = -min(bal, frng.randrange(1, 30))
                        kind_m, why = "dispense", ""
                        if q == 0:
                            break
                    bal += q
                    moves.append((fid, b.drug_id, b.pk, kind_m, q, bal, _at(day, frng), why, ""))
                bals.append((fid, b.drug_id, b.pk, b.expiry, bal))
            mins.extend(
                (fid, code, frng.randrange(10, 200)) for code in items if frng.random() < 0.3
            )
            _copy(StockMovement, MOVE_COLS, moves)
            _copy(StockBalance, BAL_COLS, bals)
            _copy(StockMinimum, ["facility_id", "drug_id", "minimum"], mins)
        counts["batches"] += len(batches)
        counts["balances"] += len(bals)
        counts["movements"] += len(moves)
        counts["minimums"] += len(mins)
        if progress and n_fac % 50 == 0:
            progress(f"pharmacy {n_fac}/{len(facs)} facilities, {counts['movements']} movements")
    return counts
