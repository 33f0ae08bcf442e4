"""Benchmark of drugs and consumables (issue 7) on PostgreSQL `ygt_bench_pharmacy`:
a year of synthetic movements for the bench-size county (≈500 village clinics, 2,000
catalogue items). Targets: a facility's stock page p95 < 100 ms; the group-wide near-expiry
and low-stock lists < 1 s; dispensing throughput ≥ 300 movements/s with the balance invariant
holding afterwards (`check_stock`).

    python bench/pharmacy.py             # build the database if missing, then measure
    python bench/pharmacy.py --fresh     # rebuild from scratch

Figures go between the `pharmacy` markers of docs/benchmarks.md."""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from run import machine, p95, write_section  # noqa: E402

# keep bench/ off the path: a module there named like an installed package would shadow it
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

PG_ADMIN_URL = os.environ.get(
    "YGT_BENCH_PG_ADMIN", "postgresql://postgres:postgres@127.0.0.1:5432/postgres"
)
DB = "ygt_bench_pharmacy"
DB_URL = f"postgres://postgres:postgres@127.0.0.1:5432/{DB}"
RESIDENTS = 20_000  # residents only matter for prescriptions and shortages here
SAMPLES = 200
WARMUP = 20
DISPENSES = 1800
WORKERS = 4
BATCH = 20  # visits per do_dispense_encounters call


def ensure_database(fresh: bool) -> bool:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB,)).fetchone()
        if exists and not fresh:
            return False
        conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB}")
    return True


def build() -> list[str]:
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from yigongti.synth.load import build_county
    from yigongti.synth.pharmacy import load_pharmacy

    call_command("migrate", verbosity=0)
    t0 = time.perf_counter()
    build_county(size="bench", residents=RESIDENTS, password=settings.DEMO_PASSWORD)
    t1 = time.perf_counter()
    counts = load_pharmacy(seed=20260101, today=timezone.localdate(), catalogue=2000)
    t2 = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    return [
        f"BUILD\t{t1 - t0:.0f}\t{t2 - t1:.0f}\t" + "\t".join(f"{k}={v}" for k, v in counts.items())
    ]


def timed(fn: Callable[[], object], n: int) -> list[float]:
    for _ in range(WARMUP):
        fn()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def fig(label: str, ms: list[float], extra: str = "") -> str:
    return (
        f"TIME\t{label}\t{len(ms)}\t{statistics.median(ms):.1f}\t{p95(ms):.1f}\t"
        f"{min(ms):.1f}\t{max(ms):.1f}\t{extra}"
    )


def measure() -> list[str]:
    import django

    django.setup()
    from decimal import Decimal

    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from yigongti.accounts.actors import actor_for
    from yigongti.core.actor import Actor
    from yigongti.network.models import Facility, FacilityKind
    from yigongti.pharmacy import actions, queries
    from yigongti.pharmacy.models import StockBalance, StockMovement
    from yigongti.records.actions import EncounterInput, PrescriptionInput, do_record_encounter
    from yigongti.records.models import Drug
    from yigongti.residents.models import Resident

    rng = random.Random(7)
    lines: list[str] = []
    admin_user = get_user_model().objects.get(username="group_admin")
    admin = actor_for(admin_user)
    assert admin is not None
    n_clinics = Facility.objects.filter(kind=FacilityKind.VILLAGE_CLINIC).count()
    lines.append(
        f"SIZE\t{n_clinics}\t{Drug.objects.count()}\t{StockMovement.objects.count()}\t"
        f"{StockBalance.objects.count()}\t{Facility.objects.filter(group__isnull=False).count()}"
    )
    group_fids = list(Facility.objects.filter(group_id=admin.group_id).values_list("pk", "kind"))
    client = Client()
    client.force_login(admin_user)

    # 1. a facility's stock page (group admin viewing members; all kinds, lead included)
    def stock_query() -> None:
        fid = rng.choice(group_fids)[0]
        queries.facility_stock(admin, fid)

    def stock_page() -> None:
        fid = rng.choice(group_fids)[0]
        r = client.get(f"/pharmacy/?facility={fid}")
        assert r.status_code == 200

    lead = next(f for f, k in group_fids if k == FacilityKind.COUNTY_HOSPITAL)

    def lead_page() -> None:
        assert client.get(f"/pharmacy/?facility={lead}").status_code == 200

    lines.append(fig("stock query · random member", timed(stock_query, SAMPLES)))
    lines.append(fig("stock page · random member", timed(stock_page, SAMPLES)))
    lines.append(fig("stock page · lead hospital (largest)", timed(lead_page, 100)))

    # 2. group-wide lists
    sizes = (len(queries.near_expiry(admin)), len(queries.low_stock(admin)))
    lines.append(
        fig(
            "near-expiry list · group", timed(lambda: queries.near_expiry(admin), 50), str(sizes[0])
        )
    )
    lines.append(
        fig("low-stock list · group", timed(lambda: queries.low_stock(admin), 50), str(sizes[1]))
    )
    lines.append(
        fig(
            "transfer suggestions · group",
            timed(lambda: queries.transfer_suggestions(admin), 20),
        )
    )
    lines.append(
        fig(
            "alerts page (all three)",
            timed(lambda: client.get("/pharmacy/alerts/"), 30),
        )
    )

    # 3. dispensing throughput: visits with prescriptions written at township centres
    # (through records' action), then dispensed end to end by WORKERS processes at once.
    system = Actor.system("bench")
    today = timezone.localdate()
    centres = list(
        Facility.objects.filter(kind=FacilityKind.TOWNSHIP_CENTRE).values_list("pk", "division_id")[
            :8
        ]
    )

    def write_visits(n: int, items: int) -> list[int]:
        out: list[int] = []
        for fid, township in centres:
            stocked = list(
                StockBalance.objects.filter(facility_id=fid, expiry__gt=today, quantity__gt=300)
                .values_list("drug_id", flat=True)
                .distinct()[:60]
            )
            people = Resident.objects.filter(township_id=township).order_by("?")
            for p in people[: n // len(centres)]:
                enc = do_record_encounter(
                    system,
                    p,
                    EncounterInput(
                        facility_id=fid,
                        prescriptions=[
                            PrescriptionInput(
                                drug_code=code,
                                dose="1",
                                frequency="qd",
                                days=3,
                                quantity=Decimal(rng.randrange(1, 4)),
                            )
                            for code in rng.sample(stocked, items)
                        ],
                    ),
                )
                out.append(enc.pk)
        return out

    t0 = time.perf_counter()
    singles = write_visits(DISPENSES // 3, 1)
    visits = write_visits(DISPENSES // 3, 3)
    queue = write_visits(DISPENSES // 3, 3)
    batches = [queue[i : i + BATCH] for i in range(0, len(queue), BATCH)]
    setup_s = time.perf_counter() - t0
    from yigongti.records.models import Prescription

    single_rx = list(
        Prescription.objects.filter(encounter_id__in=singles).values_list("pk", flat=True)
    )
    for label, ids, fn in (
        ("prescription", single_rx, actions.do_dispense_prescription),
        ("visit (3 items)", visits, actions.do_dispense_encounter),
        (f"queue of {BATCH} visits", batches, actions.do_dispense_encounters),
    ):
        before = StockMovement.objects.count()
        connection.close()
        ctx = multiprocessing.get_context("fork")
        procs = [
            ctx.Process(target=_dispense_all, args=(fn, ids[i::WORKERS])) for i in range(WORKERS)
        ]
        t0 = time.perf_counter()
        for pr in procs:
            pr.start()
        for pr in procs:
            pr.join()
        wall = time.perf_counter() - t0
        if any(pr.exitcode != 0 for pr in procs):
            raise SystemExit(f"a dispensing worker failed ({label})")
        moved = StockMovement.objects.count() - before
        lines.append(
            f"DISPENSE\t{label}\t{len(ids)}\t{moved}\t{wall:.2f}\t{moved / wall:.0f}\t"
            f"{len(ids) / wall:.0f}\t{WORKERS}\t{setup_s:.0f}"
        )
    t0 = time.perf_counter()
    n_bal, bad = queries.check_stock()
    check_s = time.perf_counter() - t0
    lines.append(f"CHECK\t{n_bal}\t{len(bad)}\t{check_s:.1f}")
    return lines


def _dispense_all(fn: Callable[..., object], ids: list[Any]) -> None:
    from django.db import connection

    from yigongti.core.actor import Actor

    system = Actor.system("bench")
    try:
        for pk in ids:
            fn(system, pk)
    finally:
        connection.close()


def child(mode: str) -> None:
    for ln in build() if mode == "build" else measure():
        print(ln, flush=True)


def run_child(mode: str) -> list[str]:
    env = dict(os.environ, YGT_DATABASE_URL=DB_URL, DJANGO_SETTINGS_MODULE="yigongti.settings")
    proc = subprocess.run(
        [sys.executable, __file__, "--child", mode],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"pharmacy benchmark ({mode}) failed")
    lines = [ln for ln in proc.stdout.splitlines() if "\t" in ln]
    for ln in lines:
        print(ln, flush=True)
    return lines


def report(lines: list[str]) -> str:
    out = [
        "### Drugs and consumables (issue 7)",
        "",
        f"Machine: {machine()}. Date: {time.strftime('%Y-%m-%d')}. PostgreSQL `{DB}`.",
        "",
    ]
    for ln in lines:
        p = ln.split("\t")
        if p[0] == "BUILD":
            out.append(
                f"- Built: bench-size county network with {RESIDENTS:,} residents in {p[1]} s; "
                f"a year of stock ({', '.join(p[3:])}) in {p[2]} s with COPY."
            )
        elif p[0] == "SIZE":
            out.append(
                f"- Measured on {int(p[1]):,} village clinics ({p[5]} facilities in groups), "
                f"{int(p[2]):,} catalogue items, {int(p[3]):,} movements, "
                f"{int(p[4]):,} (facility, batch) balances."
            )
    out += [
        "",
        "As the group administrator (sees all of group 0). Stock page: `GET /pharmacy/"
        "?facility=…` through Django's test client (auth, scope, template; first 50 items "
        f"with their FEFO batches). {WARMUP} warm-ups discarded; ms:",
        "",
        "| what | N | median | p95 | min–max | rows |",
        "|---|---|---|---|---|---|",
    ]
    for ln in lines:
        p = ln.split("\t")
        if p[0] == "TIME":
            _, label, n, med, pp, lo, hi, extra = p
            out.append(f"| {label} | {n} | {med} | **{pp}** | {lo}–{hi} | {extra or '—'} |")
    out.append("")
    for ln in lines:
        p = ln.split("\t")
        if p[0] == "DISPENSE":
            out.append(
                f"- Dispensing by {p[1]}, end to end (lock, FEFO batch choice, guarded balance "
                f"update, ledger rows, timeline entry, audit entry; one transaction each) by "
                f"{p[7]} processes at once: {p[2]} calls, {p[3]} movements in {p[4]} s = "
                f"**{p[5]} movements/s** ({p[6]} calls/s)."
            )
        if p[0] == "CHECK":
            out.append(
                f"- Afterwards `check_stock`: {int(p[1]):,} balances checked against the "
                f"ledger in {p[3]} s, **{p[2]} mismatches**."
            )
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fresh", action="store_true", help="rebuild the database")
    ap.add_argument("--child", nargs=1, metavar="MODE")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    if args.child:
        child(args.child[0])
        return
    lines: list[str] = []
    if ensure_database(args.fresh):
        lines += run_child("build")
    lines += run_child("measure")
    text = report(lines)
    print(text)
    if not args.no_write:
        write_section(ROOT / "docs" / "benchmarks.md", "pharmacy", text)


if __name__ == "__main__":
    main()
