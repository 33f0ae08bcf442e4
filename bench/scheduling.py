"""Benchmark of referrals and scheduling (issue 5) on PostgreSQL `ygt_bench_scheduling`.

Volume: a 1 M county sends ≈25,000 upward referrals a year (25 / 1000 residents, the synth
rate). To keep the load short on the shared machine the bench-size network gets 100,000
residents and the synth rate is raised ×10, giving the same year of referral volume
(≈25,000 up + return notes) on the same four lead hospitals.
Targets: the receiving department's referral inbox p95 < 100 ms; booking throughput
≥ 200 bookings/s with no overbooking.

    python bench/scheduling.py            # build the database if missing, then measure
    python bench/scheduling.py --fresh    # rebuild
    python bench/scheduling.py --database ygt_bench_records   # the 1 M county (bench/county.py)

Figures go between the `scheduling` markers of docs/benchmarks.md."""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from run import machine, p95, write_section  # noqa: E402

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

PG_ADMIN_URL = os.environ.get(
    "YGT_BENCH_PG_ADMIN", "postgresql://postgres:postgres@127.0.0.1:5432/postgres"
)
DB = "ygt_bench_scheduling"
RESIDENTS = 100_000
PER_1000 = 250
SAMPLES = 200
WARMUP = 20
BOOKINGS = 2000
WORKERS = 4


def ensure_database(fresh: bool) -> bool:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB,)).fetchone()
        if exists and not fresh:
            return False
        conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB}")
    return True


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fresh", action="store_true")
    ap.add_argument(
        "--database",
        default=DB,
        help="measure on an existing county instead (e.g. ygt_bench_records after "
        "`bench/county.py --layers referrals`: 1 M residents, a year of referrals at the synth "
        "rate); never rebuilt",
    )
    args = ap.parse_args()
    os.environ.setdefault(
        "YGT_DATABASE_URL", f"postgres://postgres:postgres@127.0.0.1:5432/{args.database}"
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yigongti.settings")
    build = ensure_database(args.fresh) if args.database == DB else False

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from yigongti.accounts.actors import actor_for
    from yigongti.core.actor import Actor
    from yigongti.core.errors import Conflict
    from yigongti.referrals import queries
    from yigongti.referrals.models import Referral
    from yigongti.residents.models import Resident
    from yigongti.scheduling import actions
    from yigongti.scheduling.models import Booking, Slot
    from yigongti.synth.load import build_county
    from yigongti.synth.referrals import load_referrals

    lines = [f"Machine: {machine()}", ""]
    if build:
        call_command("migrate", verbosity=0)
        t0 = time.perf_counter()
        build_county(size="bench", residents=RESIDENTS, password=settings.DEMO_PASSWORD)
        counts = load_referrals(seed=1, today=timezone.localdate(), per_1000=PER_1000)
        with connection.cursor() as cur:
            cur.execute("ANALYZE")
        print(f"loaded in {time.perf_counter() - t0:.0f} s: {counts}", flush=True)

    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username="county_doctor")
    doctor = actor_for(user)
    assert doctor is not None
    n_ref = Referral.objects.count()
    n_inbox = Referral.objects.filter(to_facility_id=doctor.facility_id).count()
    lines.append(
        f"Data ({args.database}): {Resident.objects.count():,} residents, "
        f"{n_ref} referrals in total (a year of a 1 M county's volume), "
        f"{n_inbox} received by the lead hospital measured."
    )
    lines += ["", "| measurement | N | median ms | p95 ms | spread ms |", "|---|---|---|---|---|"]

    def measure(name: str, fn: Callable[[], object]) -> float:
        times = []
        for i in range(SAMPLES + WARMUP):
            t0 = time.perf_counter()
            fn()
            dt = (time.perf_counter() - t0) * 1000
            if i >= WARMUP:
                times.append(dt)
        lines.append(
            f"| {name} | {SAMPLES} | {statistics.median(times):.1f} | {p95(times):.1f} | "
            f"{min(times):.1f}–{max(times):.1f} |"
        )
        return p95(times)

    measure(
        "referral inbox (open referrals received, first 50, family-doctor first)",
        lambda: [(r.resident.name, r.destination) for r in queries.received(doctor)[:50]],
    )
    measure(
        "waiting + overdue counts",
        lambda: (queries.waiting(doctor).count(), queries.overdue_responses(doctor).count()),
    )
    today = timezone.localdate()
    measure(
        "out-of-county summary (one year, commission)",
        lambda: queries.out_of_county_summary(
            Actor.system("bench"), today.replace(year=today.year - 1), today
        ),
    )

    # booking throughput: WORKERS threads book BOOKINGS distinct residents into future slots
    system = Actor.system("bench")
    slots = list(
        Slot.objects.filter(starts_at__gt=timezone.now()).values_list("pk", flat=True)[:400]
    )
    Slot.objects.filter(pk__in=slots).update(booked_public=0, booked_reserved=0)
    Booking.objects.filter(slot_id__in=slots).delete()
    people = list(Resident.objects.order_by("pk").values_list("pk", flat=True)[: BOOKINGS * 2])
    residents = Resident.objects.in_bulk(people)
    rng = random.Random(5)
    jobs = [(rng.choice(slots), residents[people[i]]) for i in range(BOOKINGS)]
    ctx = multiprocessing.get_context("fork")

    def book_part(part: list[Any], out: Any) -> None:
        """One worker process (its own connection, its own interpreter: no shared GIL)."""
        counts = {"ok": 0, "full": 0, "other": 0}
        for slot_id, r, family in part:
            try:
                actions.book_for_referral(system, slot_id, r, family_doctor=family)
                counts["ok"] += 1
            except Conflict:
                counts["full"] += 1
            except Exception:
                counts["other"] += 1
        connection.close()
        out.put(counts)

    def in_processes(target: Callable[..., None], parts: list[Any]) -> tuple[float, list[Any]]:
        connection.close()  # children must not share the parent's socket
        out = ctx.Queue()
        procs = [ctx.Process(target=target, args=(part, out)) for part in parts]
        t0 = time.perf_counter()
        for pr in procs:
            pr.start()
        got = [out.get() for _ in procs]
        for pr in procs:
            pr.join()
        return time.perf_counter() - t0, got

    jobs3 = [(slot_id, r, rng.random() < 0.4) for slot_id, r in jobs]
    secs, got = in_processes(book_part, [jobs3[i::WORKERS] for i in range(WORKERS)])
    results = {k: sum(g[k] for g in got) for k in ("ok", "full", "other")}
    over = (
        Slot.objects.filter(pk__in=slots)
        .extra(where=["booked_public > capacity - reserved OR booked_reserved > reserved"])
        .count()
    )
    mismatch = sum(
        1
        for s in Slot.objects.filter(pk__in=slots)
        if Booking.objects.filter(slot=s, status="booked").count()
        != s.booked_public + s.booked_reserved
    )
    lines += [
        "",
        f"Booking throughput: {BOOKINGS} requests from {WORKERS} processes over "
        f"{len(slots)} slots in "
        f"{secs:.1f} s = **{BOOKINGS / secs:.0f} requests/s** ({results['ok']} booked, "
        f"{results['full']} refused as full, {results['other']} errors); overbooked slots: {over}; "
        f"slots whose counters differ from their bookings: {mismatch}.",
    ]
    # what any audited write costs alone (one transaction with its entry, then its seal)
    from django.db import transaction

    from yigongti.core import audit

    def audit_only(k: int, out: Any) -> None:
        for i in range(k):
            with transaction.atomic():
                audit.record(system, audit.Action.READ, "bench", str(i))
        connection.close()
        out.put(k)

    secs, _ = in_processes(audit_only, [BOOKINGS // WORKERS] * WORKERS)
    ceiling = BOOKINGS / secs
    load = os.getloadavg()[0]
    lines.append(
        f"Same processes doing nothing but one audited write each ({BOOKINGS}): "
        f"{ceiling:.0f} writes/s (1-min load average {load:.1f} on 2 cores)."
    )
    text = "\n".join(lines)
    print(text)
    write_section(
        ROOT / "docs" / "benchmarks.md",
        "scheduling",
        f"### Referrals and scheduling (bench/scheduling.py, PostgreSQL)\n\n{text}\n",
    )


if __name__ == "__main__":
    main()
