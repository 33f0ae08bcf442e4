"""Benchmark of the FHIR facade's clinical record (issue 3): bulk NDJSON import ≥ 5,000
resources/s, and `Patient/$everything` for a resident with 500 entries < 500 ms, on
PostgreSQL.

    python bench/fhir_exchange.py               # ygt_bench_fhir: demo county (20 k residents)
    python bench/fhir_exchange.py --observations 50000 --no-write

The database `ygt_bench_fhir` is rebuilt on every run (≈1–2 min for the county). The
figures go between the `fhir` markers at the end of docs/benchmarks.md."""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from run import machine, p95, write_section  # noqa: E402

PG_ADMIN_URL = os.environ.get(
    "YGT_BENCH_PG_ADMIN", "postgresql://postgres:postgres@127.0.0.1:5432/postgres"
)
DB = "ygt_bench_fhir"
DB_URL = f"postgres://postgres:postgres@127.0.0.1:5432/{DB}"
FILES = 5  # the observations are imported as this many files, one timing each
EVERYTHING_SAMPLES = 30
EVERYTHING_WARMUP = 5


def fresh_database() -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB}")


# Identifiers differ per run, so a reused database (--database) gets new resources each time.
RUN = os.environ.get("YGT_BENCH_RUN", time.strftime("%Y%m%d%H%M%S"))


def observation(rng: random.Random, mpi: str, n: int, when: str) -> dict[str, object]:
    kind = rng.random()
    base: dict[str, object] = {
        "resourceType": "Observation",
        "identifier": [{"system": "urn:his:bench", "value": f"obs-{RUN}-{n}"}],
        "status": "final",
        "subject": {"reference": f"Patient/{mpi}"},
        "effectiveDateTime": when,
    }
    if kind < 0.5:
        sbp = rng.randint(100, 180)
        base["code"] = {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]}
        base["component"] = [
            {
                "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                "valueQuantity": {"value": sbp, "unit": "mmHg", "code": "mm[Hg]"},
            },
            {
                "code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
                "valueQuantity": {"value": sbp - rng.randint(30, 60), "unit": "mmHg"},
            },
        ]
    elif kind < 0.8:
        base["code"] = {"coding": [{"system": "http://loinc.org", "code": "14771-0"}]}
        base["valueQuantity"] = {"value": round(rng.uniform(4, 12), 1), "unit": "mmol/L"}
    else:
        base["code"] = {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]}
        base["valueQuantity"] = {"value": rng.randint(55, 110), "unit": "/min"}
    return base


def child(observations: int) -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from yigongti.accounts.actors import actor_for
    from yigongti.core.actor import Actor
    from yigongti.fhir.clinical_views import everything
    from yigongti.records import actions, bulk
    from yigongti.records.actions import (
        DiagnosisInput,
        EncounterInput,
        PrescriptionInput,
        Provenance,
        VitalInput,
    )
    from yigongti.records.models import Source
    from yigongti.residents.models import Resident
    from yigongti.residents.queries import residents_visible_to
    from yigongti.synth.load import build_county

    call_command("migrate", verbosity=0)
    t0 = time.perf_counter()
    from yigongti.network.models import Division

    if not Division.objects.exists():  # --database reuses a county that is already there
        build_county(size="demo", password=settings.DEMO_PASSWORD)
    print(f"LOAD\t{time.perf_counter() - t0:.1f}", flush=True)
    with connection.cursor() as cur:
        cur.execute(
            "SELECT (SELECT count(*) FROM residents_resident), "
            "(SELECT count(*) FROM records_encounter) + (SELECT count(*) FROM records_observation)"
        )
        people, clinical = cur.fetchone()
    print(f"SCALE\t{people}\t{clinical}", flush=True)
    print(f"LOADAVG\t{os.getloadavg()[0]:.1f}", flush=True)

    rng = random.Random(7)
    adults = list(
        Resident.objects.filter(birth_date__lte=timezone.localdate() - timedelta(days=365 * 20))
        .order_by("pk")
        .values_list("mpi_id", flat=True)
    )
    now = timezone.now()
    lines = []
    for n in range(observations):
        when = (now - timedelta(minutes=rng.randint(60, 60 * 24 * 700))).isoformat(
            timespec="seconds"
        )
        lines.append(json.dumps(observation(rng, rng.choice(adults), n, when)).encode())
    system = Actor.system("bench")
    per_file = observations // FILES
    rates = []
    for f in range(FILES):
        raw = b"\n".join(lines[f * per_file : (f + 1) * per_file])
        t0 = time.perf_counter()
        job = bulk.import_ndjson(system, raw, name=f"bench-{f}")
        dt = time.perf_counter() - t0
        assert job.created == per_file and job.failed == 0, (job.created, job.errors[:3])
        rates.append(per_file / dt)
        print(f"IMPORT\t{f}\t{per_file}\t{dt:.2f}\t{per_file / dt:.0f}", flush=True)
    raw = b"\n".join(lines[:per_file])
    t0 = time.perf_counter()
    job = bulk.import_ndjson(system, raw, name="bench-again")
    dt = time.perf_counter() - t0
    assert job.unchanged == per_file
    print(f"REIMPORT\t{per_file}\t{dt:.2f}\t{per_file / dt:.0f}", flush=True)
    print(
        f"IMPORTSUM\t{observations}\t{statistics.median(rates):.0f}\t{min(rates):.0f}\t"
        f"{max(rates):.0f}",
        flush=True,
    )

    # A resident with 500 timeline entries: 100 visits (diagnosis, BP, pulse, prescription)
    # and 400 measurements.
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username="village_doctor")
    doctor = actor_for(user)
    assert doctor is not None
    person = (
        residents_visible_to(doctor)
        .filter(birth_date__lte=timezone.localdate() - timedelta(days=365 * 50))
        .order_by("pk")
        .first()
    )
    assert person is not None
    facility_id = doctor.facility_id
    for i in range(100):
        actions.upsert_encounter(
            system,
            person,
            EncounterInput(
                started_at=now - timedelta(days=3 * i + 1),
                complaint="复诊",
                diagnoses=[DiagnosisInput("I10")],
                vitals=[VitalInput("bp", 140, 90), VitalInput("pulse", 76)],
                prescriptions=[PrescriptionInput("YP0002", 1, "qd", 28)],
                facility_id=facility_id,
                provenance=Provenance(Source.FHIR, "urn:his:bench", f"enc-{i}"),
            ),
        )
    extra = [
        json.dumps(
            observation(
                rng,
                person.mpi_id,
                10_000_000 + n,
                (now - timedelta(hours=5 * n + 1)).isoformat(timespec="seconds"),
            )
        ).encode()
        for n in range(400)
    ]
    bulk.import_ndjson(system, b"\n".join(extra), name="bench-person")
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    times = []
    size = 0
    for i in range(EVERYTHING_SAMPLES + EVERYTHING_WARMUP):
        t0 = time.perf_counter()
        bundle = everything(doctor, person.mpi_id, "http://bench/fhir")
        body = json.dumps(bundle, ensure_ascii=False, separators=(",", ":"))
        dt = (time.perf_counter() - t0) * 1000
        if i >= EVERYTHING_WARMUP:
            times.append(dt)
        size = len(bundle["entry"])
    print(
        f"EVERYTHING\t{len(times)}\t{size}\t{len(body) // 1024}\t{statistics.median(times):.1f}\t"
        f"{p95(times):.1f}\t{min(times):.1f}\t{max(times):.1f}",
        flush=True,
    )


def report(lines: list[str]) -> str:
    out = [
        "### FHIR: bulk NDJSON import and Patient/$everything (issue 3)",
        "",
        f"Machine: {machine()}. Date: {time.strftime('%Y-%m-%d')}. "
        "`python bench/fhir_exchange.py [--database ygt_bench_records]`.",
        "",
    ]
    for ln in lines:
        parts = ln.split("\t")
        if parts[0] == "SCALE":
            out.append(
                f"- PostgreSQL county of {int(parts[1]):,} residents with {int(parts[2]):,} "
                "encounters and observations before the import."
            )
        elif parts[0] == "LOADAVG":
            out.append(
                f"- Load average when measuring started: {parts[1]} (2 cores; other jobs on "
                "the machine slow it down: at load ≈8 the import ran at ≈3,200/s)."
            )
        elif parts[0] == "IMPORTSUM":
            n, med, lo, hi = parts[1:]
            out.append(
                f"- Bulk NDJSON import (`records.bulk.import_ndjson`, system actor): {int(n):,} "
                f"generated Observations (BP panels, fasting glucose, pulse) as {FILES} files "
                f"of {int(n) // FILES:,} lines, all checked and written with timeline entries: "
                f"**median {int(med):,} resources/s** (min {int(lo):,}, max {int(hi):,}); "
                "target ≥ 5,000/s."
            )
        elif parts[0] == "REIMPORT":
            n, secs, rate = parts[1:]
            out.append(
                f"- Re-importing one file of {int(n):,} unchanged lines (idempotent, nothing "
                f"written): {float(secs):.1f} s ({int(rate):,} resources/s)."
            )
        elif parts[0] == "EVERYTHING":
            n, entries, kib, med, p, lo, hi = parts[1:]
            out.append(
                "- `Patient/$everything` for a resident with 500 timeline entries (100 visits "
                f"with diagnosis, vitals and prescription + 400 measurements) = {entries} "
                f"resources, {kib} KiB of JSON; N = {n} after {EVERYTHING_WARMUP} warm-up: "
                f"**median {float(med):.0f} ms, p95 {float(p):.0f} ms** (min–max "
                f"{float(lo):.0f}–{float(hi):.0f}); target < 500 ms."
            )
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--observations", type=int, default=50_000)
    ap.add_argument("--child", action="store_true")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument(
        "--database",
        help="measure in this existing PostgreSQL database (e.g. ygt_bench_records, the 1 M "
        "county of bench/records.py) instead of a fresh demo county",
    )
    args = ap.parse_args()
    if args.child:
        child(args.observations)
        return
    url = DB_URL
    if args.database:
        url = f"postgres://postgres:postgres@127.0.0.1:5432/{args.database}"
    else:
        fresh_database()
    env = dict(
        os.environ,
        YGT_DATABASE_URL=url,
        DJANGO_SETTINGS_MODULE="yigongti.settings",
        YGT_LOG_LEVEL="ERROR",
        YGT_VAR_DIR=os.environ.get("YGT_VAR_DIR", str(ROOT / "var" / "bench-fhir")),
    )
    proc = subprocess.run(
        [sys.executable, __file__, "--child", "--observations", str(args.observations)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit("benchmark failed")
    lines = [ln for ln in proc.stdout.splitlines() if "\t" in ln]
    for ln in lines:
        print(ln)
    section = report(lines)
    print(section)
    if not args.no_write:
        write_section(ROOT / "docs" / "benchmarks.md", "fhir", section)


if __name__ == "__main__":
    main()
