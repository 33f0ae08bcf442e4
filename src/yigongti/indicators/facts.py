"""The materialised fact layer: `rebuild_facts` (all months, or the months given) and
`refresh_facts` (only the months touched by rows changed since a watermark).

Every indicator's numerator and denominator are counted set-based: for each `Source` one
grouped SQL query (`GROUP BY` attribution cell and month for additive indicators; one per
period for state-at-period-end ones). Python only sees the grouped rows (cells × months),
never residents. The rows go to `Fact` in one transaction per indicator (delete the
recomputed periods, insert the new cells)."""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Max, Min
from django.db.models.functions import TruncMonth
from django.utils import timezone

from yigongti.chronic.models import Followup, Registration
from yigongti.consults.models import Consultation, Secondment, Step
from yigongti.contracts.models import Contract
from yigongti.network.models import DivisionLevel, Facility
from yigongti.network.queries import group_of_townships
from yigongti.records.models import Encounter
from yigongti.referrals.models import Referral, Transition
from yigongti.residents.models import Resident

from . import catalogue
from .catalogue import BY_FACILITY, SHANGHAI, IndicatorDef, Source
from .models import Fact, RefreshRun
from .rules import Grain, Period, add_months, month_start, periods_containing

log = logging.getLogger(__name__)

Key = tuple[str, str, date, int, int, int]  # code, grain, period start, facility, township, village


def _conf(name: str, default: Any) -> Any:
    return (getattr(settings, "YGT", {}) or {}).get(name, default)


def history_months() -> int:
    """How many months back a full rebuild goes at most (settings.YGT
    ["INDICATOR_HISTORY_MONTHS"], default 24)."""
    return int(_conf("INDICATOR_HISTORY_MONTHS", 24))


# --- attribution cells --------------------------------------------------------------------------


@dataclass
class Cells:
    """Maps a facility, or a residence, to its (group, township, village) — built once per run
    from the network (a few thousand rows at most)."""

    facility: dict[int, tuple[int, int, int]]
    township_group: dict[int, int]

    @classmethod
    def load(cls) -> Cells:
        fac: dict[int, tuple[int, int, int]] = {}
        for pk, group, div, level, parent in Facility.objects.values_list(
            "pk", "group_id", "division_id", "division__level", "division__parent_id"
        ):
            if level == DivisionLevel.VILLAGE:
                fac[pk] = (group or 0, parent or 0, div)
            elif level == DivisionLevel.TOWNSHIP:
                fac[pk] = (group or 0, div, 0)
            else:
                fac[pk] = (group or 0, 0, 0)
        town = group_of_townships()
        return cls(fac, town)

    def cell(
        self, defn: IndicatorDef, facility: int | None, township: int | None, village: int | None
    ) -> tuple[int, int, int, int]:
        """(facility, group, township, village) of one grouped row."""
        f = facility or 0
        if defn.attribution == BY_FACILITY:
            g, t, v = self.facility.get(f, (0, 0, 0))
            return f, g, t, v
        t, v = township or 0, village or 0
        return f, self.township_group.get(t, 0), t, v


def _dims(src: Source) -> list[str]:
    return [p for p in (src.facility, src.township, src.village) if p]


def _row_dims(src: Source, row: dict[str, Any]) -> tuple[int | None, int | None, int | None]:
    return (
        row.get(src.facility) if src.facility else None,
        row.get(src.township) if src.township else None,
        row.get(src.village) if src.village else None,
    )


def _as_month(value: date | datetime) -> date:
    if isinstance(value, datetime):
        value = (
            timezone.localtime(value, SHANGHAI).date() if timezone.is_aware(value) else value.date()
        )
    return month_start(value)


def _measure(src: Source) -> Any:
    return src.measure() if src.measure is not None else Count("pk")


def as_number(value: Any) -> Decimal:
    """A row's contribution as a Decimal: counts and sums as they are, durations in hours."""
    if value is None:
        return Decimal(0)
    if isinstance(value, timedelta):
        return (Decimal(value.total_seconds()) / Decimal(3600)).quantize(Decimal("0.01"))
    return Decimal(value)


# --- computing one indicator ----------------------------------------------------------------------


Memo = dict[tuple[Any, ...], list[dict[str, Any]]]


def compute(
    defn: IndicatorDef, months: list[date], cells: Cells, memo: Memo | None = None
) -> dict[Key, list[Any]]:
    """Numerator and denominator per cell for the months given (additive indicators) or for
    every period containing them (state-at-period-end indicators). `memo` keeps the grouped
    rows of a source for the run: indicators sharing a source (visits, referrals, the
    chronic register) count it once."""
    out: dict[Key, list[Any]] = defaultdict(lambda: [Decimal(0), Decimal(0), 0])
    if not months:
        return out
    memo = {} if memo is None else memo
    if not defn.additive:
        spans = [(p.start, p.end) for p in _periods(months)]
        for src in (*defn.numerator, *defn.denominator):
            if src.prefetch is not None:
                src.prefetch(spans, memo)
    if defn.numerator_q is not None and not defn.additive:
        for src in defn.denominator:
            _count_periods_both(defn, src, _periods(months), cells, out, memo)
        return out
    for i, part in enumerate(("numerator", "denominator")):
        for src in defn.sources(part):
            if defn.additive:
                _count_monthly(defn, src, months, cells, out, i, memo)
            else:
                for p in _periods(months):
                    _count_period(defn, src, p, cells, out, i, memo)
    return out


def _periods(months: Iterable[date]) -> list[Period]:
    seen: dict[tuple[Grain, date], Period] = {}
    for m in months:
        for p in periods_containing(m):
            seen[(p.grain, p.start)] = p
    return sorted(seen.values(), key=lambda p: (p.start, p.grain))


def _count_monthly(
    defn: IndicatorDef,
    src: Source,
    months: list[date],
    cells: Cells,
    out: dict[Key, list[Any]],
    i: int,
    memo: Memo,
) -> None:
    assert src.month, f"{defn.code}: an additive source needs a month field"
    wanted = set(months)
    lo, hi = min(months), add_months(max(months), 1) - timedelta(days=1)
    key = (id(src), Grain.MONTH, lo, hi)
    if key not in memo:
        memo[key] = list(
            src.query(lo, hi)
            .order_by()
            .annotate(_m=TruncMonth(src.month, tzinfo=SHANGHAI))
            .values("_m", *_dims(src))
            .annotate(_n=_measure(src))
        )
    for row in memo[key]:
        m = _as_month(row["_m"])
        if m not in wanted:
            continue
        f, g, t, v = cells.cell(defn, *_row_dims(src, row))
        acc = out[(defn.code, Grain.MONTH.value, m, f, t, v)]
        acc[i] += as_number(row["_n"])
        acc[2] = g


def _period_key(src: Source, p: Period) -> tuple[Any, ...]:
    """What a state-at-period-end source's rows depend on (see `Source.depends_on`)."""
    if src.depends_on == "as_of":
        return ("as_of", catalogue.as_of(p.end))
    if src.depends_on == "end":
        return ("end", p.end)
    if src.depends_on == "none":
        return ("none",)
    return ("period", p.start, p.end)


def _count_period(
    defn: IndicatorDef,
    src: Source,
    p: Period,
    cells: Cells,
    out: dict[Key, list[Any]],
    i: int,
    memo: Memo,
) -> None:
    key = (id(src), *_period_key(src, p))
    if key not in memo:
        memo[key] = (
            src.grouped(p.start, p.end, memo)
            if src.grouped is not None
            else list(
                src.query(p.start, p.end).order_by().values(*_dims(src)).annotate(_n=_measure(src))
            )
        )
    for row in memo[key]:
        f, g, t, v = cells.cell(defn, *_row_dims(src, row))
        acc = out[(defn.code, p.grain.value, p.start, f, t, v)]
        acc[i] += as_number(row["_n"])
        acc[2] = g


def _count_periods_both(
    defn: IndicatorDef,
    src: Source,
    periods: list[Period],
    cells: Cells,
    out: dict[Key, list[Any]],
    memo: Memo,
) -> None:
    """Numerator and denominator in one grouped query (numerator = rows meeting
    `defn.numerator_q`). Periods whose denominators are the same rows (what the source
    depends on is the same: the quarter, half-year and year ending on 31 December) share one
    query with one filtered count per period: the denominator's rows are read once."""
    assert defn.numerator_q is not None
    numerator_q = defn.numerator_q
    batches: dict[tuple[Any, ...], list[Period]] = defaultdict(list)
    for p in periods:
        batches[_period_key(src, p)].append(p)
    for shared, batch in batches.items():
        if not defn.numerator_q_uses_start:
            batch = batch[:1]  # the numerator too depends only on what the source does
        key = (id(src), defn.code, *shared, tuple(p.start for p in batch))
        if key not in memo:
            first = batch[0]
            counts = {
                f"_n{k}": Count("pk", filter=numerator_q(p.start, p.end))
                for k, p in enumerate(batch)
            }
            memo[key] = list(
                src.query(first.start, first.end)
                .order_by()
                .values(*_dims(src))
                .annotate(_d=Count("pk"), **counts)
            )
        targets = batch if defn.numerator_q_uses_start else batches[shared]
        for row in memo[key]:
            f, g, t, v = cells.cell(defn, *_row_dims(src, row))
            for k, p in enumerate(targets):
                acc = out[(defn.code, p.grain.value, p.start, f, t, v)]
                acc[0] += row[f"_n{k if defn.numerator_q_uses_start else 0}"]
                acc[1] += row["_d"]
                acc[2] = g


def _write(defn: IndicatorDef, months: list[date], values: dict[Key, list[Any]]) -> int:
    now = timezone.now()
    if defn.additive:
        stale = Fact.objects.filter(code=defn.code, grain=Grain.MONTH, period_start__in=months)
    else:
        for p in _periods(months):
            Fact.objects.filter(code=defn.code, grain=p.grain.value, period_start=p.start).delete()
        stale = Fact.objects.none()
    stale.delete()
    rows = [
        Fact(
            code=code,
            grain=grain,
            period_start=start,
            facility_id=f,
            township_id=t,
            village_id=v,
            group_id=acc[2],
            numerator=acc[0],
            denominator=acc[1],
            refreshed_at=now,
        )
        for (code, grain, start, f, t, v), acc in values.items()
    ]
    Fact.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


#: key of the PostgreSQL advisory lock that serialises fact writes ("IND" in ASCII)
_LOCK_KEY = 0x494E44


def _lock() -> None:
    """Two refreshes at once (the scheduler and a manager's click) write one after the other:
    the second deletes what the first inserted instead of colliding with it. SQLite already
    serialises writers."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])


def _no_jit() -> None:
    """Session settings for the counting transaction (PostgreSQL). JIT off: the chronic app's
    correlated subqueries inflate the cost estimate and compiling then takes longer than the
    query. A larger work_mem: the priority-group condition is an OR of `id IN (subquery)`
    over ≈1 M diagnoses, which PostgreSQL only runs as hashed subplans when the hash fits in
    work_mem; with the default 4 MB it rescans the subquery per resident (minutes per period
    at 1 M residents instead of ≈6 s). settings.YGT["INDICATOR_WORK_MEM"], default 256MB."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SET LOCAL jit = off")
            cur.execute(
                "SELECT set_config('work_mem', %s, true)", [_conf("INDICATOR_WORK_MEM", "256MB")]
            )


def workers() -> int:
    """Indicators counted at once (settings.YGT["INDICATOR_WORKERS"], default 2: the county
    server's cores). Only on PostgreSQL and outside a transaction: each worker reads on its own
    connection, which would not see a caller's uncommitted rows; SQLite counts one by one."""
    return max(1, int(_conf("INDICATOR_WORKERS", 2)))


def families(defs: list[IndicatorDef]) -> list[list[IndicatorDef]]:
    """The indicators in groups that share a source (visits, referrals, a chronic register):
    a group is counted by one worker with one memo, so a shared source is still read once.
    Groups of state-at-period-end indicators (the heavier ones) first."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for i, d in enumerate(defs):
        for src in (*d.numerator, *d.denominator):
            parent[find(-1 - i)] = find(id(src))
    groups: dict[int, list[IndicatorDef]] = {}
    for i, d in enumerate(defs):
        groups.setdefault(find(-1 - i), []).append(d)
    return sorted(groups.values(), key=lambda g: all(d.additive for d in g))


def _count_and_write(defn: IndicatorDef, ms: list[date], cells: Cells, memo: Memo) -> int:
    started = time.perf_counter()
    with transaction.atomic():  # read: no write lock held while counting
        _no_jit()
        values = compute(defn, ms, cells, memo)
    with transaction.atomic():  # write: short, one refresh at a time
        _lock()
        written = _write(defn, ms, values)
    seconds = time.perf_counter() - started
    log.debug("indicator %s: %.2f s", defn.code, seconds,
              extra={"indicator": defn.code, "seconds": seconds})  # fmt: skip
    return written


def _count_family(family: list[IndicatorDef], ms: list[date], cells: Cells) -> int:
    """One worker thread: its own database connection, closed when done. The workers already
    use the cores, so each query runs without PostgreSQL's own parallel workers."""
    try:
        with connection.cursor() as cur:
            cur.execute("SET max_parallel_workers_per_gather = 0")
        memo: Memo = {}
        return sum(_count_and_write(d, ms, cells, memo) for d in family)
    finally:
        connection.close()


def recompute(months: Iterable[date], codes: Iterable[str] | None = None) -> int:
    """Recompute the given months (and, for state-at-period-end indicators, the quarters,
    half-years and years containing them) of the given indicators (default: all collected).
    On PostgreSQL, `workers()` groups of indicators are counted at once, each on its own
    connection (`families`); the writes still take the advisory lock one at a time."""
    ms = sorted({month_start(m) for m in months})
    cells = Cells.load()
    defs = catalogue.collected_defs(codes)
    n = workers()
    if n > 1 and connection.vendor == "postgresql" and not connection.in_atomic_block:
        with ThreadPoolExecutor(max_workers=n, thread_name_prefix="indicators") as pool:
            done = [pool.submit(_count_family, fam, ms, cells) for fam in families(defs)]
            return sum(f.result() for f in done)
    memo: Memo = {}
    return sum(_count_and_write(d, ms, cells, memo) for d in defs)


# --- full rebuild and incremental refresh --------------------------------------------------------


def data_months(today: date | None = None) -> list[date]:
    """Every month from the earliest dated activity (encounters, referrals, follow-ups) to the
    current month, at most `history_months()` back."""
    today = today or timezone.localdate()
    this = month_start(today)
    floor = add_months(this, -(history_months() - 1))
    e = Encounter.objects.aggregate(m=Min("started_at"))["m"]
    r = Referral.objects.aggregate(m=Min("submitted_at"))["m"]
    f = Followup.objects.aggregate(m=Min("followup_date"))["m"]
    firsts = [_as_month(v) for v in (e, r, f) if v is not None]
    first = max(floor, min(firsts)) if firsts else this
    first = min(first, this)
    out, m = [], first
    while m <= this:
        out.append(m)
        m = add_months(m, 1)
    return out


def rebuild_facts(months: Iterable[date] | None = None, codes: Iterable[str] | None = None) -> int:
    """Full rebuild (all data months, or those given). Returns the number of facts written."""
    started = timezone.now()
    ms = sorted({month_start(m) for m in months}) if months is not None else data_months()
    run = RefreshRun.objects.create(started_at=started, full=months is None)
    if months is None and codes is None:
        Fact.objects.filter(period_start__lt=ms[0] if ms else date.max).delete()
    n = recompute(ms, codes)
    run.finished_at = timezone.now()
    run.months = [m.isoformat() for m in ms]
    run.facts_written = n
    run.ok = True
    run.save()
    return n


def last_watermark() -> datetime | None:
    return RefreshRun.objects.filter(ok=True).aggregate(m=Max("started_at"))["m"]


def touched_months(since: datetime, today: date | None = None) -> set[date]:
    """Months whose facts may change because of rows written or changed since `since`:
    encounters recorded (and the ones they amend), referrals created or moved, follow-ups,
    registrations enrolled or exited, contracts signed or ended and secondments entered or
    ended early (from their start on),
    residents registered or edited (the current month: residence and priority status have no
    history). A handful of grouped queries over indexed timestamps."""
    today = today or timezone.localdate()
    this = month_start(today)
    floor = add_months(this, -(history_months() - 1))
    out: set[date] = set()

    def months_of(values: Iterable[Any]) -> None:
        for v in values:
            if v is not None:
                out.add(_as_month(v))

    def from_on(values: Iterable[Any]) -> None:
        starts = [_as_month(v) for v in values if v is not None]
        if starts:
            m = max(floor, min(starts))
            while m <= this:
                out.add(m)
                m = add_months(m, 1)

    # one scan of the encounters written since: their month and the amended version's month
    for m, old in (
        Encounter.objects.filter(recorded_at__gte=since)
        .annotate(
            _m=TruncMonth("started_at", tzinfo=SHANGHAI),
            _old=TruncMonth("replaces__started_at", tzinfo=SHANGHAI),
        )
        .values_list("_m", "_old")
        .distinct()
    ):
        months_of((m, old))
    moved = Transition.objects.filter(at__gte=since).values("referral_id")
    months_of(
        Referral.objects.filter(pk__in=moved).values_list("submitted_at", flat=True).distinct()
    )
    months_of(
        Referral.objects.filter(created_at__gte=since)
        .values_list("submitted_at", flat=True)
        .distinct()
    )
    stepped = Step.objects.filter(at__gte=since).values("consultation_id")
    months_of(
        Consultation.objects.filter(pk__in=stepped).values_list("answered_at", flat=True).distinct()
    )
    months_of(
        Followup.objects.filter(recorded_at__gte=since)
        .values_list("followup_date", flat=True)
        .distinct()
    )
    from_on(
        [Registration.objects.filter(created_at__gte=since).aggregate(m=Min("enrolled_on"))["m"]]
    )
    from_on(
        [
            Registration.objects.filter(exited_on__gte=since.astimezone(SHANGHAI).date()).aggregate(
                m=Min("exited_on")
            )["m"]
        ]
    )
    from_on([Secondment.objects.filter(updated_at__gte=since).aggregate(m=Min("starts_on"))["m"]])
    from_on([Contract.objects.filter(signed_at__gte=since).aggregate(m=Min("start_date"))["m"]])
    from_on([Contract.objects.filter(ended_at__gte=since).aggregate(m=Min("ended_at"))["m"]])
    if Resident.objects.filter(updated_at__gte=since).exists():
        out.add(this)
    return {m for m in out if floor <= m <= this}


def refresh_facts(since: datetime | None = None) -> tuple[int, list[date]]:
    """Incremental refresh: recompute only the months touched since `since` (default: the
    last successful run's start, less a safety overlap for transactions still open then,
    settings.YGT["INDICATOR_REFRESH_OVERLAP_MINUTES"], default 10). With no earlier run,
    a full rebuild."""
    if since is None:
        mark = last_watermark()
        if mark is None:
            n = rebuild_facts()
            return n, []
        since = mark - timedelta(minutes=int(_conf("INDICATOR_REFRESH_OVERLAP_MINUTES", 10)))
    started = timezone.now()
    months = sorted(touched_months(since))
    run = RefreshRun.objects.create(started_at=started, since=since)
    n = recompute(months) if months else 0
    run.finished_at = timezone.now()
    run.months = [m.isoformat() for m in months]
    run.facts_written = n
    run.ok = True
    run.save()
    return n, months
