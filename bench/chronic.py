"""Benchmarks of chronic-disease management (issue 4): a township's overdue worklist, the
county's management and control rates for all villages, and device-reading ingestion
(direct and end-to-end through Mosquitto), into PostgreSQL.

    .venv/bin/python bench/chronic.py --residents 200000 --years 3
    .venv/bin/python bench/chronic.py --database ygt_bench_records   # the 1 M county

By default it creates its own database (ygt_bench_chronic), never the demo one. With
`--database` it uses an existing benchmark county (e.g. the 1 M residents of
bench/records.py) and adds the chronic registers and `--years` of follow-ups to it once.
Prints the table rows for docs/benchmarks.md (between the chronic markers)."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from run import p95  # noqa: E402

PG_ADMIN = "postgresql://postgres:postgres@127.0.0.1:5432/postgres"
DB = "ygt_bench_chronic"


def row(name: str, samples: list[float]) -> str:
    return (
        f"| {name} | {len(samples)} | {statistics.median(samples):.1f} | {p95(samples):.1f} | "
        f"{min(samples):.1f}–{max(samples):.1f} |"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--residents", type=int, default=200_000)
    ap.add_argument("--years", type=float, default=3.0)
    ap.add_argument("--readings", type=int, default=10_000)
    ap.add_argument("--single", type=int, default=300, help="readings filed one by one")
    ap.add_argument("--batch", type=int, default=500, help="readings per ingest_batch call")
    ap.add_argument("--ahead", type=int, default=500, help="publisher's lead over the subscriber")
    ap.add_argument(
        "--only-ingest", action="store_true", help="skip the worklist and indicator figures"
    )
    ap.add_argument("--reuse", action="store_true", help="keep an already loaded database")
    ap.add_argument(
        "--database",
        default=DB,
        help="an existing benchmark county to add the chronic data to (never dropped)",
    )
    args = ap.parse_args()
    own = args.database == DB
    os.environ.setdefault(
        "YGT_DATABASE_URL", f"postgres://postgres:postgres@127.0.0.1:5432/{args.database}"
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yigongti.settings")
    os.environ.setdefault("YGT_VAR_DIR", str(ROOT / "var" / "bench-chronic"))

    import psycopg

    if own and not args.reuse:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {DB}")

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.utils import timezone

    from yigongti.accounts.rules import Perm
    from yigongti.chronic import queries
    from yigongti.chronic.actions import DeviceInput, do_bind_device, do_register_device
    from yigongti.chronic.ingest import ingest_batch, ingest_reading
    from yigongti.chronic.models import Followup, Registration
    from yigongti.chronic.mqtt import Subscriber, topic_for
    from yigongti.core.actor import Actor, Scope, ScopeKind
    from yigongti.network.models import Division
    from yigongti.records.models import Observation
    from yigongti.residents.models import Resident
    from yigongti.synth.chronic import load_chronic
    from yigongti.synth.load import build_county

    lines: list[str] = []

    def emit(line: str) -> None:
        lines.append(line)
        print(line, flush=True)

    if not own:
        call_command("migrate", verbosity=0)
        if not Registration.objects.exists():
            t1 = time.perf_counter()
            counts = load_chronic(seed=20260101, years=args.years, chunk=20_000)
            print(f"chronic {time.perf_counter() - t1:.0f} s {counts}", flush=True)
            call_command("dbshell", "--", "-c", "VACUUM ANALYZE")
    elif not args.reuse:
        call_command("migrate", verbosity=0)
        t0 = time.perf_counter()
        build_county(size="bench", residents=args.residents, password=settings.DEMO_PASSWORD)
        t1 = time.perf_counter()
        counts = load_chronic(seed=20260101, years=args.years, chunk=20_000)
        t2 = time.perf_counter()
        print(f"county {t1 - t0:.0f} s; chronic {t2 - t1:.0f} s {counts}", flush=True)
        call_command("dbshell", "--", "-c", "VACUUM ANALYZE")
    n_reg = Registration.objects.count()
    n_fu = Followup.objects.count()
    n_res = Resident.objects.count()
    print(f"residents {n_res}, registrations {n_reg}, follow-ups {n_fu}", flush=True)

    perms = frozenset({Perm.MANAGE_CHRONIC, Perm.VIEW_INDICATORS, Perm.VIEW_RESIDENTS})
    townships = list(Division.objects.filter(level="township").values_list("pk", flat=True))
    today = timezone.localdate()

    # 1. a township's overdue worklist (first page of 50 rows, riskiest first)
    samples = []
    for i in range(0 if args.only_ingest else 120):
        tid = townships[i % len(townships)]
        actor = Actor(
            1,
            "bench",
            "township_doctor",
            scope=Scope(ScopeKind.TOWNSHIPS, frozenset({tid})),
            permissions=perms,
        )
        t = time.perf_counter()
        rows = list(queries.worklist(actor, today=today)[:50])
        samples.append((time.perf_counter() - t) * 1000)
        assert rows is not None
    if samples:
        emit(row("township overdue worklist (50 rows)", samples[20:]))

    # 2. the county's rates for all villages, one year
    county = Actor(1, "bench", "commission", scope=Scope(ScopeKind.ALL), permissions=perms)
    for disease in () if args.only_ingest else ("hypertension", "diabetes"):
        samples = []
        for _ in range(6):
            t = time.perf_counter()
            res = queries.indicators(
                county, disease=disease, start=today - timedelta(days=365), end=today, by="village"
            )
            samples.append((time.perf_counter() - t) * 1000)
        emit(
            row(
                f"county {disease} norm + control rates, all {len(res['rows'])} villages",
                samples[1:],
            )
        )

    # 3. ingestion: bound devices, then readings directly and through Mosquitto
    system = Actor.system("bench")
    # home BP meters go to registered hypertension patients: abnormal readings reach the
    # alert / follow-up-forward path
    residents = list(
        Registration.objects.filter(disease="hypertension", status="active")
        .order_by("?")  # other patients in each run
        .values_list("resident_id", flat=True)[:200]
    )
    facility = Registration.objects.values_list("facility_id", flat=True).first()
    run = uuid.uuid4().hex[:6]
    serials = []
    for i, pk in enumerate(residents):
        serial = f"BENCH{run}{i:04d}"
        dev, _ = do_register_device(system, DeviceInput(serial, "bp_meter", facility_id=facility))
        do_bind_device(system, dev, Resident.objects.get(pk=pk))
        serials.append(serial)
    base = timezone.now() - timedelta(days=2)

    def payload(i: int, serial: str) -> dict[str, object]:
        return {
            "serial": serial,
            "type": "bp_meter",
            "measured_at": (base + timedelta(seconds=i)).isoformat(),
            "systolic": 120 + i % 40,
            "diastolic": 75 + i % 20,
            "pulse": 70,
        }

    def message(i: int) -> tuple[str, dict[str, object]]:
        """Reading i of the stream: mostly bound BP meters; every 100th from an unknown
        device (quarantined), every 100th + 50 out of range (rejected), every 100th + 25
        the previous reading sent again (duplicate)."""
        if i % 100 == 25 and i > 0:
            i -= 1
        serial = serials[i % len(serials)]
        if i % 100 == 0:
            serial = f"UNKNOWN{run}{i % 7}"
        p = payload(i, serial)
        if i % 100 == 50:
            p["systolic"] = 400
        return serial, p

    def accounting(c: dict[str, int], n_in: int) -> str:
        total = c["stored"] + c["duplicate"] + c["quarantined"] + c["rejected"]
        lost = f" + NOT FILED {n_in - total}" if total != n_in else ""
        return (
            f"in {n_in} = stored {c['stored']} + duplicate {c['duplicate']} + "
            f"quarantined {c['quarantined']} + rejected {c['rejected']}{lost}"
        )

    def stored_in_db() -> int:
        return Observation.objects.filter(
            kind="bp", source="device", source_system__startswith=f"device:BENCH{run}"
        ).count()

    from collections import Counter

    # 3a. one by one (the HTTP path: a batch of one), for comparison
    n1 = min(args.single, args.readings)
    t = time.perf_counter()
    for i in range(n1):
        ingest_reading(payload(i, serials[i % len(serials)]))
    single = n1 / (time.perf_counter() - t)
    emit(f"| ingest_reading one by one (batch of one) | {n1} | {single:.0f} readings/s | | |")

    # 3b. batches straight into the database (what one subscriber transaction does)
    n = args.readings
    base = base + timedelta(seconds=n1 + 10)
    outcomes: Counter[str] = Counter()
    batch_ms: list[float] = []
    before = stored_in_db()
    t = time.perf_counter()
    for start in range(0, n, args.batch):
        batch = [message(i)[1] for i in range(start, min(n, start + args.batch))]
        tb = time.perf_counter()
        for r in ingest_batch(batch):
            outcomes[str(r.status)] += 1
        batch_ms.append((time.perf_counter() - tb) * 1000)
    direct = n / (time.perf_counter() - t)
    assert stored_in_db() - before == outcomes["stored"]
    emit(
        f"| ingest_batch direct, batches of {args.batch} | {n} | {direct:.0f} readings/s "
        f"(batch median {statistics.median(batch_ms):.0f} ms, p95 {p95(batch_ms):.0f} ms) | "
        f"{accounting(outcomes, n)} | |"
    )

    # 3c. end to end through Mosquitto
    base = base + timedelta(seconds=n + 10)
    prefix = f"ygt-bench-{run}/devices"
    sub = Subscriber(client_id=f"ygt-bench-{run}", prefix=prefix)
    stop = threading.Event()
    th = threading.Thread(target=sub.run, kwargs={"stop": stop}, daemon=True)
    th.start()
    sub.subscribed.wait(10)
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{run}")
    pub.max_inflight_messages_set(100)
    pub.connect("127.0.0.1", 1883)
    pub.loop_start()
    before = stored_in_db()
    t = time.perf_counter()
    for i in range(n):
        # stay under Mosquitto's default per-client queue (max_queued_messages 1000): the
        # broker drops QoS 1 messages beyond it, before the subscriber could see them
        waited = time.perf_counter()
        while i - sum(sub.counts.values()) > args.ahead:
            if time.perf_counter() - waited > 30:  # the broker dropped some: stop, report
                break
            time.sleep(0.002)
        serial, p = message(i)
        pub.publish(topic_for(serial, prefix), json.dumps(p), qos=1)
    last, quiet = -1, time.perf_counter()
    while sum(sub.counts.values()) < n and time.perf_counter() - quiet < 30:
        if sum(sub.counts.values()) != last:
            last, quiet = sum(sub.counts.values()), time.perf_counter()
        time.sleep(0.01)
    mq = n / (time.perf_counter() - t)
    stop.set()
    th.join(20)
    pub.disconnect()
    pub.loop_stop()
    gone = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"ygt-bench-{run}", clean_session=True
    )
    gone.connect("127.0.0.1", 1883)  # drop the bench's persistent session on the broker
    gone.disconnect()
    c = sub.counts
    assert stored_in_db() - before == c["stored"], (stored_in_db() - before, dict(c))
    emit(
        f"| MQTT end to end (QoS 1, one subscriber, publisher ≤{args.ahead} ahead) | {n} | "
        f"{mq:.0f} readings/s (mean batch {n / max(1, sub.batches):.0f} messages) | "
        f"{accounting(c, n)}; errors {c['error']} | |"
    )
    print(
        f"\nN: {n_res} residents, {n_reg} registrations, {n_fu} follow-ups ({args.years:g} years)"
    )
    print("| measure | N | median ms | p95 ms | spread ms |\n|---|---|---|---|---|")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
