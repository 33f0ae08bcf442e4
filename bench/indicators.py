"""Benchmark of the monitoring indicators (issue 6) on the 1 M county, PostgreSQL:
the full dashboard for the county for a year < 1 s from the fact layer; a full rebuild of
the fact layer < 5 minutes; an incremental refresh after a day's activity < 10 s.

    python bench/county.py          # once: residents, a year of records, chronic, contracts,
                                    # referrals, consultations, studies
    python bench/indicators.py [--database ygt_bench_records] [--no-write]

A day's activity is written before the incremental refresh: ≈9,000 visits (3.3 a person a
year), ≈4,900 chronic follow-ups (the 1.78 M of the last year / 365) and ≈100 upward
referrals, as copies of existing rows moved to today with their own source ids. Figures go
between the `indicators` markers of docs/benchmarks.md."""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from run import machine, p95, write_section  # noqa: E402

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

DAY_VISITS = 9_000
DAY_FOLLOWUPS = 4_900
DAY_REFERRALS = 100


def day_of_activity() -> dict[str, int]:
    """Today's visits, follow-ups and referrals, as copies of older rows."""
    import uuid
    from datetime import timedelta

    from django.db import transaction
    from django.db.models import Exists, OuterRef
    from django.utils import timezone

    from yigongti.chronic.models import Followup, Registration
    from yigongti.records.bulk import insert_rows, row_of
    from yigongti.records.models import Encounter
    from yigongti.referrals.models import Referral

    now = timezone.now()
    today = timezone.localdate()
    run = uuid.uuid4().hex[:8]

    def copies(rows: list[Any], **changes: Any) -> list[dict[str, Any]]:
        return [
            row_of(obj, **{k: v(i, obj) if callable(v) else v for k, v in changes.items()})
            for i, obj in enumerate(rows)
        ]

    with transaction.atomic():
        visits = list(Encounter.objects.filter(status="current", kind="outpatient")[:DAY_VISITS])
        insert_rows(
            Encounter,
            copies(
                visits,
                started_at=lambda i, _: now - timedelta(minutes=i % 600),
                recorded_at=now,
                replaces_id=None,
                source_system=f"bench-day-{run}",
                source_id=lambda i, _: str(i),
            ),
        )
        regs = list(
            Registration.objects.filter(status="active")
            .exclude(
                Exists(Followup.objects.filter(registration_id=OuterRef("pk"), followup_date=today))
            )
            .order_by("?")
            .values_list("pk", "resident_id", "disease", "facility_id")[:DAY_FOLLOWUPS]
        )
        model_fu = Followup.objects.order_by("pk").first()
        assert model_fu is not None
        fu_rows = []
        for pk, resident_id, disease, facility_id in regs:
            row = row_of(
                model_fu,
                registration_id=pk,
                resident_id=resident_id,
                disease=disease,
                facility_id=facility_id,
                followup_date=today,
                recorded_at=now,
                prev_date=None,
                gap_days=None,
            )
            fu_rows.append(row)
        insert_rows(Followup, fu_rows)
        ups = list(
            Referral.objects.filter(direction="up").exclude(submitted_at=None)[:DAY_REFERRALS]
        )
        fields = {f.attname for f in Referral._meta.concrete_fields}
        changes: dict[str, Any] = {"submitted_at": now, "state": "completed"}  # not "open"
        for name in ("created_at", "updated_at"):
            if name in fields:
                changes[name] = now
        if "client_key" in fields:
            changes["client_key"] = lambda i, _: f"bench-day-{run}-{i}"
        insert_rows(Referral, copies(ups, **changes))
    return {"visits": len(visits), "follow-ups": len(fu_rows), "referrals": len(ups)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--database", default="ygt_bench_records")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--samples", type=int, default=30)
    ap.add_argument("--days", type=int, default=3, help="incremental refreshes to time")
    ap.add_argument(
        "--only",
        choices=("all", "incremental"),
        default="all",
        help="incremental: only the refresh after a day's activity (facts already built)",
    )
    args = ap.parse_args()
    os.environ.setdefault(
        "YGT_DATABASE_URL", f"postgres://postgres:postgres@127.0.0.1:5432/{args.database}"
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yigongti.settings")
    os.environ.setdefault("YGT_VAR_DIR", str(ROOT / "var" / "bench-indicators"))
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from yigongti.accounts.actors import actor_for
    from yigongti.indicators import facts, queries
    from yigongti.indicators.models import Fact
    from yigongti.indicators.rules import Level, parse_period
    from yigongti.network.models import MedicalGroup
    from yigongti.performance.models import SchemeGrain
    from yigongti.records.models import Encounter
    from yigongti.residents.models import Resident

    call_command("migrate", verbosity=0)
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    user = get_user_model().objects.get(username="commission")
    boss = actor_for(user)
    assert boss is not None
    lines = [
        f"Machine: {machine()}. Date: {time.strftime('%Y-%m-%d')}. Database `{args.database}`: "
        f"{Resident.objects.count():,} residents, {Encounter.objects.count():,} encounters.",
        "",
    ]

    if args.only == "all":
        load0 = os.getloadavg()[0]
        t0 = time.perf_counter()
        n_full = facts.rebuild_facts()
        full = time.perf_counter() - t0
        lines.append(
            f"- **Full rebuild** of the fact layer (`facts.rebuild_facts`, every data month, every "
            f"computed indicator): **{full:.0f} s**, {n_full:,} facts written "
            f"({Fact.objects.count():,} in the table); load average {load0:.1f} at the start."
        )

        year = parse_period(str(timezone.localdate().year))
        samples = []
        for i in range(args.samples + 3):
            t = time.perf_counter()
            queries.dashboard(year, Level.COUNTY, None, boss)
            if i >= 3:
                samples.append((time.perf_counter() - t) * 1000)
        groups = list(MedicalGroup.objects.values_list("pk", flat=True))
        gsamples = []
        for i in range(args.samples):
            t = time.perf_counter()
            queries.dashboard(year, Level.GROUP, groups[i % len(groups)], boss)
            gsamples.append((time.perf_counter() - t) * 1000)
        client = Client()
        client.force_login(user)
        psamples = []
        for i in range(args.samples + 3):
            t = time.perf_counter()
            r = client.get("/indicators/", {"period": year.code, "level": "county"})
            assert r.status_code == 200, r.status_code
            if i >= 3:
                psamples.append((time.perf_counter() - t) * 1000)

        def fig(name: str, ms: list[float]) -> str:
            return (
                f"| {name} | {len(ms)} | {statistics.median(ms):.1f} | **{p95(ms):.1f}** | "
                f"{min(ms):.1f}–{max(ms):.1f} |"
            )

        lines += [
            "",
            f"Dashboard for {year.code} (every catalogue entry with numerator, denominator, value "
            "and target), as the commission; ms:",
            "",
            "| what | N | median | p95 | min–max |",
            "|---|---|---|---|---|",
            fig("`queries.dashboard`, county, year", samples),
            fig("`queries.dashboard`, each medical group in turn, year", gsamples),
            fig(
                "page `/indicators/` (test client: auth, dashboard, trend, comparison, HTML)",
                psamples,
            ),
            "",
        ]

    # incremental refresh after a day's activity, --days times (each a new day's rows), with
    # the time of each indicator from the facts module's debug log
    per_code: dict[str, list[float]] = {}

    class Timings(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            code = getattr(record, "indicator", None)
            if code:
                per_code.setdefault(code, []).append(float(getattr(record, "seconds", 0.0)))

    fact_log = logging.getLogger("yigongti.indicators.facts")
    fact_log.setLevel(logging.DEBUG)
    fact_log.addHandler(Timings())
    incs: list[float] = []
    added: dict[str, int] = {}
    months: list[Any] = []
    n_inc = 0
    for _ in range(args.days):
        before = timezone.now()
        t = time.perf_counter()
        added = day_of_activity()
        wrote = time.perf_counter() - t
        t = time.perf_counter()
        n_inc, months = facts.refresh_facts(since=before)
        incs.append(time.perf_counter() - t)
    lines.append(
        f"- **Incremental refresh after a day's activity** ({added['visits']:,} visits, "
        f"{added['follow-ups']:,} follow-ups, {added['referrals']:,} referrals written in "
        f"{wrote:.1f} s, each time a new day's rows): `facts.refresh_facts(since)` recomputed "
        f"{', '.join(m.strftime('%Y-%m') for m in months)} ({n_inc:,} facts); N = {len(incs)}: "
        f"median **{statistics.median(incs):.1f} s**, min–max {min(incs):.1f}–{max(incs):.1f} s."
    )
    slow = sorted(per_code.items(), key=lambda kv: -statistics.median(kv[1]))
    lines += [
        "",
        "Time per indicator in those refreshes (the running month, quarter, half-year and year "
        "of the state-at-period-end indicators; s, median of N):",
        "",
        "| indicator | N | median | min–max |",
        "|---|---|---|---|",
        *(
            f"| `{code}` | {len(v)} | {statistics.median(v):.2f} | {min(v):.2f}–{max(v):.2f} |"
            for code, v in slow
            if statistics.median(v) >= 0.05
        ),
        "",
    ]

    if args.only == "all":
        # the 1000-point scoring of every member facility, and the report files
        from yigongti.indicators import reports
        from yigongti.performance import queries as scoring
        from yigongti.performance.defaults import default_schemes

        half = scoring.last_closed_period(SchemeGrain.HALF)
        schemes = default_schemes()
        ssamples: list[float] = []
        facilities = 0
        for i in range(5 * len(schemes)):
            t = time.perf_counter()
            table = scoring.preview(boss, schemes[i % len(schemes)].pk, half)
            ssamples.append((time.perf_counter() - t) * 1000)
            facilities = max(facilities, len(table["facilities"]))
        rsamples: dict[str, list[float]] = {"xlsx": [], "pdf": []}
        period = parse_period(str(timezone.localdate().year - 1))
        for _ in range(3):
            for fmt in ("xlsx", "pdf"):
                t = time.perf_counter()
                report = reports.build_report(boss, period, Level.COUNTY, None, fmt=fmt)
                (reports.as_xlsx if fmt == "xlsx" else reports.as_pdf)(report)
                rsamples[fmt].append((time.perf_counter() - t) * 1000)
        lines += [
            f"1000-point scoring and reports (ms; the example schemes, {facilities} facilities "
            f"in the largest; the county report for {period.code}):",
            "",
            "| what | N | median | p95 | min–max |",
            "|---|---|---|---|---|",
            fig(f"`performance.queries.preview`, a scheme for {half}", ssamples),
            fig("county report as Excel (figures + workbook with charts)", rsamples["xlsx"]),
            fig("county report as PDF (figures + reportlab)", rsamples["pdf"]),
            "",
        ]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write and args.only == "all":
        write_section(
            ROOT / "docs" / "benchmarks.md",
            "indicators",
            f"### Monitoring indicators: fact layer and dashboard (issue 6)\n\n{text}",
        )


if __name__ == "__main__":
    main()
