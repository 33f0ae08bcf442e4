"""Benchmark of the shared health record (issue 3): a resident's timeline, first page, p95 <
100 ms on PostgreSQL with the 1 M-resident synthetic county and ≈10 M encounters and
observations.

    python bench/records.py                 # build ygt_bench_records (1 M) if needed, measure
    python bench/records.py --residents 100000 --fresh   # smaller, rebuilt from scratch

The database is built once (≈15 min on 2 cores) and reused by later runs unless --fresh.
Figures go between the `records` markers of docs/benchmarks.md."""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from run import machine, p95, write_section  # noqa: E402

PG_ADMIN_URL = os.environ.get(
    "YGT_BENCH_PG_ADMIN", "postgresql://postgres:postgres@127.0.0.1:5432/postgres"
)
DB = "ygt_bench_records"
DB_URL = f"postgres://postgres:postgres@127.0.0.1:5432/{DB}"
SAMPLES = 300
WARMUP = 30


def ensure_database(fresh: bool) -> bool:
    """True when the database must be (re)built."""
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB,)).fetchone()
        if exists and not fresh:
            return False
        conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB}")
    return True


def build(residents: int) -> list[str]:
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from yigongti.synth.load import build_county
    from yigongti.synth.records import load_records

    call_command("migrate", verbosity=0)
    t0 = time.perf_counter()
    build_county(size="bench", residents=residents, password=settings.DEMO_PASSWORD)
    t1 = time.perf_counter()
    counts = load_records(seed=20260101, today=timezone.localdate(), years=1.0)
    t2 = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    rows = sum(counts.values())
    return [
        f"BUILD\t{residents}\t{t1 - t0:.0f}\t{t2 - t1:.0f}\t{rows}\t"
        + "\t".join(f"{k}={v}" for k, v in counts.items())
    ]


def measure() -> list[str]:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from yigongti.accounts.actors import actor_for
    from yigongti.accounts.tokens import issue_token
    from yigongti.records import queries
    from yigongti.records.models import Entry
    from yigongti.residents.models import Resident
    from yigongti.residents.queries import get_resident_for

    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM records_entry")
        entries = cur.fetchone()[0]
        cur.execute(
            "SELECT (SELECT count(*) FROM records_encounter) + (SELECT count(*) FROM "
            "records_observation)"
        )
        clinical = cur.fetchone()[0]
        # residents with the most entries (home-device users): hundreds each
        cur.execute(
            "SELECT resident_id FROM records_entry GROUP BY resident_id "
            "HAVING count(*) >= 150 LIMIT 2000"
        )
        heavy = [r[0] for r in cur.fetchall()]
        cur.execute("SELECT max(id) FROM residents_resident")
        top = cur.fetchone()[0]
    user = get_user_model().objects.get(username="commission")
    actor = actor_for(user)
    assert actor is not None
    rng = random.Random(7)
    out: list[str] = [f"SIZE\t{entries}\t{clinical}\t{len(heavy)}"]

    def sample(ids: list[int]) -> list[Resident]:
        return list(Resident.objects.filter(pk__in=ids).only("pk", "mpi_id"))

    anyone = sample([rng.randint(1, top) for _ in range(SAMPLES + WARMUP)])
    many = sample(rng.sample(heavy, min(len(heavy), SAMPLES + WARMUP))) if heavy else []
    token, _ = issue_token(user)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")

    def run(label: str, people: list[Resident], fn: Callable[[Resident], int]) -> None:
        times: list[float] = []
        sizes: list[int] = []
        for i, r in enumerate(people):
            t0 = time.perf_counter()
            n = fn(r)
            dt = (time.perf_counter() - t0) * 1000
            if i >= WARMUP:
                times.append(dt)
                sizes.append(n)
        if times:
            out.append(
                f"TIMELINE\t{label}\t{len(times)}\t{statistics.median(times):.2f}\t"
                f"{p95(times):.2f}\t{min(times):.2f}\t{max(times):.2f}\t"
                f"{statistics.mean(sizes):.0f}"
            )

    def by_query(r: Resident) -> int:
        person = get_resident_for(actor, r.mpi_id, purpose="timeline")
        return len(queries.timeline(person).entries)

    def by_api(r: Resident) -> int:
        res = client.get(f"/api/v1/residents/{r.mpi_id}/timeline")
        assert res.status_code == 200, res.content
        return len(res.json()["entries"])

    for label, people in (("any resident", anyone), ("residents with 150+ entries", many)):
        run(f"query · {label}", people, by_query)
        run(f"REST API · {label}", people, by_api)
    total = Entry.objects.filter(resident_id__in=[r.pk for r in many[:5]]).count()
    out.append(f"HEAVY\t{total / max(1, min(5, len(many))):.0f}")
    return out


def child(mode: str, residents: int) -> None:
    lines = build(residents) if mode == "build" else measure()
    for ln in lines:
        print(ln, flush=True)


def run_child(mode: str, residents: int) -> list[str]:
    env = dict(os.environ, YGT_DATABASE_URL=DB_URL, DJANGO_SETTINGS_MODULE="yigongti.settings")
    proc = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(residents)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"records benchmark ({mode}) failed")
    lines = [ln for ln in proc.stdout.splitlines() if "\t" in ln]
    for ln in lines:
        print(ln, flush=True)
    return lines


def report(lines: list[str]) -> str:
    out = ["### Health record timeline (issue 3)", "", f"Machine: {machine()}. "
           f"Date: {time.strftime('%Y-%m-%d')}.", ""]  # fmt: skip
    for ln in lines:
        parts = ln.split("\t")
        if parts[0] == "BUILD":
            out.append(
                f"- Built: {int(parts[1]):,} residents in {parts[2]} s, then one year of "
                f"clinical history ({int(parts[4]):,} rows: {', '.join(parts[5:])}) in "
                f"{parts[3]} s with COPY."
            )
        if parts[0] == "SIZE":
            out.append(
                f"- Measured on {int(parts[2]):,} encounters + observations and "
                f"{int(parts[1]):,} timeline rows; {parts[3]} residents have 150+ entries."
            )
    out += [
        "",
        "First page of a resident's timeline (30 rows, newest first), as the commission "
        "persona: `get_resident_for` (scope check + audit write) + `records.queries.timeline`, "
        "and the REST endpoint `GET /api/v1/residents/{mpi}/timeline` through Django's test "
        f"client (auth, audit, JSON). {WARMUP} warm-ups discarded; ms:",
        "",
        "| path · residents | N | median | p95 | min–max | rows/page |",
        "|---|---|---|---|---|---|",
    ]
    for ln in lines:
        parts = ln.split("\t")
        if parts[0] == "TIMELINE":
            _, label, n, med, p, lo, hi, size = parts
            out.append(
                f"| {label} | {n} | {float(med):.1f} | **{float(p):.1f}** | "
                f"{float(lo):.1f}–{float(hi):.1f} | {size} |"
            )
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--residents", type=int, default=1_000_000)
    ap.add_argument("--fresh", action="store_true", help="rebuild the database")
    ap.add_argument("--child", nargs=2, metavar=("MODE", "N"))
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return
    lines: list[str] = []
    if ensure_database(args.fresh):
        lines += run_child("build", args.residents)
    lines += run_child("measure", args.residents)
    if not args.no_write:
        write_section(ROOT / "docs" / "benchmarks.md", "records", report(lines))


if __name__ == "__main__":
    main()
