"""The 1 M-resident benchmark county, in layers, in PostgreSQL `ygt_bench_records`.

    python bench/county.py                       # every layer that is missing, then counts
    python bench/county.py --layers chronic,referrals
    python bench/county.py --counts              # only print what the database holds

Layers (each loaded once, skipped when its rows are there, timings printed):
- residents + one year of clinical history: built by `bench/records.py` (≈13 min on 2 cores)
- chronic: registers and `--chronic-years` (3) of follow-ups (`synth.chronic`, COPY)
- contracts: teams, packages and contracts (`synth.contracts`)
- referrals: expert sessions, wards, and a year of two-way referrals (`synth.referrals`)
- consults, diagnostics: a year of remote consultations / expert dispatch and of shared
  diagnosis centre studies (when those synth loaders exist)
- history: earlier years of visits and stays up to `--encounters` (10 M) in all, the year's
  encounter rows copied 1, 2, … years back (header rows only)

Later benchmarks measure on it with `--database ygt_bench_records` (bench/chronic.py,
bench/scheduling.py, bench/diagnostics.py, bench/indicators.py). The database is a
benchmark artefact: never the demo one, never committed."""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

DB = "ygt_bench_records"
os.environ.setdefault("YGT_DATABASE_URL", f"postgres://postgres:postgres@127.0.0.1:5432/{DB}")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yigongti.settings")
os.environ.setdefault("YGT_VAR_DIR", str(ROOT / "var" / "bench-county"))
SEED = 20260101
ORDER = ("chronic", "contracts", "referrals", "consults", "diagnostics", "history")


def _exists() -> bool:
    import psycopg

    admin = "postgresql://postgres:postgres@127.0.0.1:5432/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        return bool(conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB,)).fetchone())


def _loader(module: str, name: str) -> Callable[..., object] | None:
    try:
        fn: Callable[..., object] = getattr(importlib.import_module(module), name)
        return fn
    except (ImportError, AttributeError):
        return None


def layers(
    chronic_years: float, encounters: int = 10_000_000
) -> dict[str, tuple[Callable[[], bool], Callable[[], object]]]:
    """name → (already loaded?, load)."""
    from django.apps import apps
    from django.utils import timezone

    today = timezone.localdate()

    def has(label: str) -> Callable[[], bool]:
        def check() -> bool:
            try:
                return bool(apps.get_model(label).objects.exists())
            except LookupError:
                return True  # the app does not exist: nothing to load

        return check

    def call(module: str, name: str, **kw: object) -> Callable[[], object]:
        def run() -> object:
            fn = _loader(module, name)
            if fn is None:
                return "no loader yet"
            return fn(seed=SEED, today=today, **kw)

        return run

    return {
        "chronic": (
            has("chronic.Registration"),
            call("yigongti.synth.chronic", "load_chronic", years=chronic_years, chunk=20_000),
        ),
        "contracts": (
            has("contracts.Contract"),
            call("yigongti.synth.contracts", "load_contracts"),
        ),
        "referrals": (
            has("referrals.Referral"),
            call("yigongti.synth.referrals", "load_referrals"),
        ),
        "consults": (
            has("consults.Consultation"),
            call("yigongti.synth.consults", "load_consults"),
        ),
        "diagnostics": (
            has("diagnostics.Study"),
            call("yigongti.synth.diagnostics", "load_diagnostics"),
        ),
        "history": (_history_loaded(encounters), _load_history(encounters)),
    }


def _history_loaded(target: int) -> Callable[[], bool]:
    def check() -> bool:
        from yigongti.records.models import Encounter

        return Encounter.objects.count() >= target

    return check


def _load_history(target: int) -> Callable[[], object]:
    """Earlier years of visits and stays, up to `target` encounters in all (the issue's 10 M):
    the year's encounter rows copied 1, 2, … years back (header rows only: diagnoses and
    observations stay with the original year), each with its own source id. Set-based."""

    def run() -> dict[str, int]:
        from django.db import connection, transaction

        from yigongti.records.models import Encounter

        table = Encounter._meta.db_table
        shifted = {
            "started_at": "started_at - make_interval(days => 365 * %(k)s)",
            "ended_at": "ended_at - make_interval(days => 365 * %(k)s)",
            "recorded_at": "recorded_at - make_interval(days => 365 * %(k)s)",
            "source_system": "'bench-history-' || %(k)s",
            "source_id": "id::text",
            "replaces_id": "NULL",
        }
        cols = [f.column for f in Encounter._meta.concrete_fields if f.column != "id"]
        exprs = ", ".join(shifted.get(c, c) for c in cols)
        added: dict[str, int] = {}
        k = 1
        while (have := Encounter.objects.count()) < target:
            sql = (
                f"INSERT INTO {table} ({', '.join(cols)}) SELECT {exprs} FROM {table} "  # noqa: S608
                "WHERE source_system NOT LIKE 'bench-%%' ORDER BY id LIMIT %(n)s"
            )
            with transaction.atomic(), connection.cursor() as cur:
                cur.execute(sql, {"k": k, "n": target - have})
                added[f"{k} year(s) back"] = cur.rowcount
            k += 1
        with connection.cursor() as cur:
            cur.execute(f"ANALYZE {table}")
        return added

    return run


def counts() -> list[str]:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "SELECT relname, n_live_tup FROM pg_stat_user_tables WHERE n_live_tup > 0 "
            "ORDER BY n_live_tup DESC"
        )
        return [f"{name}\t{n}" for name, n in cur.fetchall()]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", default=",".join(ORDER))
    ap.add_argument("--chronic-years", type=float, default=3.0)
    ap.add_argument(
        "--encounters", type=int, default=10_000_000, help="history layer: encounters in all"
    )
    ap.add_argument("--counts", action="store_true")
    args = ap.parse_args()
    if not _exists():
        print("building residents + a year of records (bench/records.py) …", flush=True)
        subprocess.run(
            [sys.executable, str(ROOT / "bench" / "records.py"), "--no-write"], check=True
        )
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    if not args.counts:
        todo = layers(args.chronic_years, args.encounters)
        for name in args.layers.split(","):
            loaded, load = todo[name]
            if loaded():
                print(f"{name}: already loaded", flush=True)
                continue
            t0 = time.perf_counter()
            result = load()
            print(f"{name}: {time.perf_counter() - t0:.0f} s {result}", flush=True)
            with connection.cursor() as cur:
                cur.execute("ANALYZE")
    print("\n".join(counts()))


if __name__ == "__main__":
    main()
