"""Benchmark of the shared diagnosis centres (issue 5): a centre's reading queue p95 < 100 ms
with a year of a 1 M county's studies, on PostgreSQL.

    python bench/county.py --layers diagnostics      # once: a year of studies on the 1 M county
    python bench/diagnostics.py [--database ygt_bench_records]

Measures, for every centre the county doctor reads for: `reading_queue` (first page and pages
deep in the backlog by keyset cursor) and the REST endpoint through Django's test client
(auth, scope, JSON). Figures go between the `diagnostics` markers of docs/benchmarks.md."""

from __future__ import annotations

import argparse
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

SAMPLES = 200
WARMUP = 20


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--database", default="ygt_bench_records")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument(
        "--backlog",
        type=int,
        default=20_000,
        help="open studies added to the first centre for the run (rolled back afterwards): a "
        "centre weeks behind, well beyond the synthetic year's handful of open studies",
    )
    args = ap.parse_args()
    os.environ.setdefault(
        "YGT_DATABASE_URL", f"postgres://postgres:postgres@127.0.0.1:5432/{args.database}"
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yigongti.settings")
    os.environ.setdefault("YGT_VAR_DIR", str(ROOT / "var" / "bench-diagnostics"))
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.test import Client

    from yigongti.accounts.actors import actor_for
    from yigongti.diagnostics import queries
    from yigongti.diagnostics.models import Study
    from yigongti.residents.models import Resident

    with transaction.atomic():
        run(args, get_user_model(), Client, actor_for, queries, Study, Resident)
        transaction.set_rollback(True)  # the added backlog goes; nothing else was written


def run(
    args: argparse.Namespace,
    user_model: Any,
    client_class: Any,
    actor_for: Any,
    queries: Any,
    Study: Any,
    Resident: Any,
) -> None:
    """The measurements, inside main's transaction."""
    from datetime import timedelta

    from django.utils import timezone

    user = user_model.objects.get(username="county_doctor")
    reader = actor_for(user)
    assert reader is not None
    centres = list(queries.reader_centres(reader).order_by("pk"))
    assert centres, "the county doctor reads for no centre: load the diagnostics layer"
    open_states = list(queries.OPEN_STATES)
    if args.backlog:
        model = Study.objects.filter(centre=centres[0]).order_by("pk").first()
        assert model is not None, "no study at the first centre"
        people = list(Resident.objects.order_by("pk").values_list("pk", flat=True)[: args.backlog])
        now = timezone.now()
        rnd = random.Random(11)
        fresh = []
        for i in range(args.backlog):
            s = Study(**{f.attname: getattr(model, f.attname) for f in Study._meta.concrete_fields})
            s.pk = None
            s.resident_id = people[i % len(people)]
            s.state = "requested"
            s.urgency = rnd.choice((0, 1, 1, 1))
            s.requested_at = now - timedelta(minutes=rnd.randint(1, 60 * 24 * 30))
            s.claimed_by_id = s.claimed_at = s.reported_at = s.reviewed_at = None
            s.client_key = ""
            fresh.append(s)
        Study.objects.bulk_create(fresh, batch_size=2_000)
        from django.db import connection

        with (
            connection.cursor() as cur
        ):  # statistics that know of the backlog (as autovacuum would)
            cur.execute(f"ANALYZE {Study._meta.db_table}")
    n_studies = Study.objects.count()
    backlog = {c.pk: Study.objects.filter(centre=c, state__in=open_states).count() for c in centres}
    lines = [
        f"Machine: {machine()}. Date: {time.strftime('%Y-%m-%d')}. Database `{args.database}`: "
        f"{Resident.objects.count():,} residents, {n_studies:,} studies in all centres; "
        f"the county doctor reads for {len(centres)} centres with "
        + ", ".join(f"{c.name} {backlog[c.pk]:,} open" for c in centres)
        + f". {WARMUP} warm-ups discarded; ms:",
        "",
        "| measurement | N | median | p95 | min–max |",
        "|---|---|---|---|---|",
    ]

    def measure(name: str, fn: Callable[[int], object]) -> None:
        times = []
        for i in range(SAMPLES + WARMUP):
            t0 = time.perf_counter()
            fn(i)
            dt = (time.perf_counter() - t0) * 1000
            if i >= WARMUP:
                times.append(dt)
        lines.append(
            f"| {name} | {SAMPLES} | {statistics.median(times):.1f} | **{p95(times):.1f}** | "
            f"{min(times):.1f}–{max(times):.1f} |"
        )

    # cursors deep in each backlog: every 50th open row's keyset position
    rng = random.Random(7)
    deep: list[tuple[int, queries.Cursor]] = []
    for c in centres:
        rows = list(
            Study.objects.filter(centre=c, state__in=open_states)
            .order_by("urgency", "requested_at", "id")
            .values_list("urgency", "requested_at", "id")[::50]
        )
        deep += [(c.pk, queries.Cursor(u, at, pk)) for u, at, pk in rows]
    rng.shuffle(deep)

    measure(
        "reading queue, first page (50), centres in turn",
        lambda i: queries.reading_queue(reader, centres[i % len(centres)].pk),
    )
    if deep:
        measure(
            "reading queue, a page deep in the backlog (keyset cursor)",
            lambda i: queries.reading_queue(
                reader, deep[i % len(deep)][0], after=deep[i % len(deep)][1]
            ),
        )
    client = client_class()
    client.force_login(user)

    def api(i: int) -> None:
        r = client.get(f"/api/v1/diagnostics/centres/{centres[i % len(centres)].pk}/queue")
        assert r.status_code == 200, r.status_code

    measure("REST `GET /api/v1/diagnostics/centres/{id}/queue` (test client)", api)

    def page(i: int) -> None:
        r = client.get("/diagnostics/queue/", {"centre": centres[i % len(centres)].pk})
        assert r.status_code == 200, r.status_code

    measure("page `/diagnostics/queue/` (test client, HTML)", page)
    if args.backlog:
        lines.append(
            f"\n{args.backlog:,} open studies were added to the first centre for the run "
            "(`--backlog`, rolled back afterwards): a centre a month behind."
        )
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section(
            ROOT / "docs" / "benchmarks.md",
            "diagnostics",
            f"### Shared diagnosis centres: the reading queue (issue 5)\n\n{text}\n",
        )


if __name__ == "__main__":
    main()
