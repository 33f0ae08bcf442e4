"""Benchmarks of the foundation (issue: resident search p95 < 50 ms at 1 M residents,
1 M residents loaded in < 5 min). Figures go to docs/benchmarks.md.

    python bench/run.py            # PostgreSQL, 1 M residents (the issue's scale), + SQLite demo
    python bench/run.py --quick    # PostgreSQL 100 k + SQLite demo: a smoke run for `make bench`

It creates its own databases (PostgreSQL `yigongti_bench`, SQLite var/bench.sqlite3) and
never touches the demo database."""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

PG_ADMIN_URL = os.environ.get(
    "YGT_BENCH_PG_ADMIN", "postgresql://postgres:postgres@127.0.0.1:5432/postgres"
)
PG_BENCH_URL = os.environ.get(
    "YGT_BENCH_PG_URL", "postgres://postgres:postgres@127.0.0.1:5432/yigongti_bench"
)
SAMPLES = 200
WARMUP = 20


@dataclass
class Figure:
    name: str
    n: int
    median_ms: float
    p95_ms: float
    min_ms: float
    max_ms: float

    def row(self) -> str:
        return (
            f"| {self.name} | {self.n} | {self.median_ms:.1f} | {self.p95_ms:.1f} | "
            f"{self.min_ms:.1f}–{self.max_ms:.1f} |"
        )


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, Python {platform.python_version()}"


def fresh_postgres() -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS yigongti_bench WITH (FORCE)")
        conn.execute("CREATE DATABASE yigongti_bench")


def child(db: str, size: str, residents: int) -> None:
    """Runs in a subprocess with YGT_DATABASE_URL set: load, then measure."""
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from yigongti.accounts.actors import actor_for
    from yigongti.residents.queries import residents_visible_to, search_residents
    from yigongti.synth.load import build_county

    call_command("migrate", verbosity=0)
    start = time.perf_counter()
    build_county(size=size, residents=residents, password=settings.DEMO_PASSWORD)
    load_s = time.perf_counter() - start
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    print(f"LOAD\t{db}\t{residents}\t{load_s:.1f}", flush=True)

    from django.contrib.auth import get_user_model

    users = {u.username: u for u in get_user_model().objects.all()}
    rng = random.Random(42)
    for who in ("village_doctor", "county_doctor", "commission"):
        actor = actor_for(users[who])
        assert actor is not None
        pool = list(
            residents_visible_to(actor)
            .order_by("?" if residents < 50_000 else "pk")
            .values_list("doc_number", "name", "name_initials", "phone")[:50_000]
        )
        sample = rng.sample(pool, min(SAMPLES + WARMUP, len(pool)))
        kinds = {
            "ID number": [s[0] for s in sample if s[0]],
            "ID tail (6)": [s[0][-6:] for s in sample if s[0]],
            "name": [s[1] for s in sample],
            "initials": [s[2] for s in sample if len(s[2]) >= 2],
            "phone": [s[3] for s in sample if s[3]],
        }
        for kind, queries in kinds.items():
            times = []
            hits = 0
            for i, q in enumerate(queries[: SAMPLES + WARMUP]):
                t0 = time.perf_counter()
                result = search_residents(actor, q)
                dt = (time.perf_counter() - t0) * 1000
                if i >= WARMUP:
                    times.append(dt)
                    hits += bool(result.residents)
            print(
                f"SEARCH\t{db}\t{who}\t{kind}\t{len(times)}\t{statistics.median(times):.2f}\t"
                f"{p95(times):.2f}\t{min(times):.2f}\t{max(times):.2f}\t{hits}",
                flush=True,
            )


def run_child(db_url: str, label: str, size: str, residents: int) -> list[str]:
    env = dict(
        os.environ,
        YGT_DATABASE_URL=db_url,
        DJANGO_SETTINGS_MODULE="yigongti.settings",
        YGT_LOG_LEVEL="ERROR",
    )
    proc = subprocess.run(
        [sys.executable, __file__, "--child", label, size, str(residents)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"benchmark on {label} failed")
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(("LOAD", "SEARCH"))]
    for ln in lines:
        print(ln)
    return lines


def report(lines: list[str], title: str) -> str:
    out = [f"### {title}", "", f"Machine: {machine()}. Date: {time.strftime('%Y-%m-%d')}.", ""]
    for ln in lines:
        if ln.startswith("LOAD"):
            _, db, n, secs = ln.split("\t")
            out.append(
                f"- Loading {int(n):,} residents (with households and health cards) "
                f"into {db}: **{float(secs):.0f} s** ({int(n) / float(secs):,.0f} rows/s)."
            )
    out += [
        "",
        "Resident search through `search_residents` (scope filter, ranking, and the "
        "audit-log write included), one query at a time, "
        f"{WARMUP} warm-up queries discarded; times in ms:",
        "",
        "| database · persona · query | N | median | p95 | min–max | found |",
        "|---|---|---|---|---|---|",
    ]
    for ln in lines:
        if ln.startswith("SEARCH"):
            _, db, who, kind, n, med, p, lo, hi, hits = ln.split("\t")
            out.append(
                f"| {db} · {who} · {kind} | {n} | {float(med):.1f} | {float(p):.1f} | "
                f"{float(lo):.1f}–{float(hi):.1f} | {hits} |"
            )
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="100 k residents on PostgreSQL")
    ap.add_argument("--child", nargs=3, metavar=("LABEL", "SIZE", "N"))
    ap.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    args = ap.parse_args()
    if args.child:
        label, size, n = args.child
        child(label, size, int(n))
        return
    pg_n = 100_000 if args.quick else 1_000_000
    fresh_postgres()
    lines = run_child(PG_BENCH_URL, "PostgreSQL", "bench", pg_n)
    sqlite_file = ROOT / "var" / "bench.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{sqlite_file}{suffix}").unlink(missing_ok=True)
    lines += run_child(f"sqlite:///{sqlite_file}", "SQLite", "demo", 20_000)
    if not args.no_write:
        kind = "quick" if args.quick else "full"
        section = report(lines, f"Resident search and load ({kind}: {pg_n:,} residents)")
        write_section(ROOT / "docs" / "benchmarks.md", f"search-{kind}", section)


def write_section(path: Path, marker: str, body: str) -> None:
    """Replace the text between <!-- marker:begin --> and <!-- marker:end --> in path."""
    begin, end = f"<!-- {marker}:begin -->", f"<!-- {marker}:end -->"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    block = f"{begin}\n{body}{end}"
    if begin in text and end in text:
        text = text[: text.index(begin)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")
    print(f"\nupdated {path.relative_to(ROOT)} ({marker})")


if __name__ == "__main__":
    main()
