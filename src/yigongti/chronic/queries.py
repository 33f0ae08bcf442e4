"""Every read of chronic-disease management, scoped to the actor: registers, screening
lists, worklists, completion, indicators (set-based, in SQL) and their drill-down.

Contracts (家庭医生签约) uses `register_resident_ids` and `followups_between`."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import TruncDate
from django.utils import timezone

from yigongti.accounts.rules import Perm
from yigongti.core import audit
from yigongti.core.actor import Actor, ScopeKind
from yigongti.core.errors import Forbidden, NotFound
from yigongti.network.models import Division, MedicalGroup
from yigongti.network.queries import catchment_township_ids, group_of_townships
from yigongti.records.models import Observation, Source, VersionStatus
from yigongti.residents.models import Resident, ResidentStatus
from yigongti.residents.queries import SCOPE_COLUMN, residents_visible_to

from . import rules
from .models import (
    Device,
    Followup,
    QuarantinedReading,
    QuarantineStatus,
    Registration,
    RegistrationStatus,
    RejectedReading,
    Screening,
    ScreeningOutcome,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


# --- for other apps (contracts) -----------------------------------------------------------------


def register_resident_ids(diseases: Iterable[str] | None = None) -> QuerySet[Registration, int]:
    """Ids of residents with an active registration (optionally for these diseases), as a
    `values_list` usable as a subquery (`resident_id__in=register_resident_ids()`)."""
    qs = Registration.objects.filter(status=RegistrationStatus.ACTIVE)
    if diseases is not None:
        qs = qs.filter(disease__in=list(diseases))
    return qs.values_list("resident_id", flat=True)


def followups_between(
    resident_ids: Iterable[int] | QuerySet[Any, Any], start: date, end: date
) -> QuerySet[Followup]:
    """Follow-ups (rows with `resident_id`, `followup_date`, `disease`) dated start..end."""
    ids = resident_ids if isinstance(resident_ids, QuerySet) else list(resident_ids)
    return Followup.objects.filter(resident_id__in=ids, followup_date__range=(start, end))


# --- scope ----------------------------------------------------------------------------------------


def _scope_q(actor: Actor, prefix: str = "resident__") -> Q | None:
    """The actor's division scope as a filter on a resident relation (None: nothing)."""
    if actor.is_system or actor.scope.kind == ScopeKind.ALL:
        return Q()
    column = SCOPE_COLUMN.get(actor.scope.kind)
    if column is None:
        return None
    return Q(**{f"{prefix}{column}__in": actor.scope.division_ids})


def _need(actor: Actor, *perms: str) -> None:
    if not (actor.is_system or any(actor.can(p) for p in perms)):
        raise Forbidden("无权查看慢病管理", "Not allowed")


def registrations_visible_to(
    actor: Actor, *, disease: str | None = None, status: str | None = RegistrationStatus.ACTIVE
) -> QuerySet[Registration]:
    _need(actor, Perm.MANAGE_CHRONIC)
    cond = _scope_q(actor, prefix="")  # the registration's copy of the resident's area
    if cond is None:
        return Registration.objects.none()
    qs = Registration.objects.filter(cond, resident__status=ResidentStatus.ACTIVE)
    if disease:
        qs = qs.filter(disease=disease)
    if status:
        qs = qs.filter(status=status)
    return qs.select_related("resident", "resident__village", "facility")


def get_registration_for(actor: Actor, pk: int) -> Registration:
    reg = (
        Registration.objects.select_related("resident", "resident__village", "facility")
        .filter(pk=pk)
        .first()
    )
    if reg is None or not (actor.is_system or actor.can(Perm.MANAGE_CHRONIC)):
        raise NotFound("慢病登记")
    cond = _scope_q(actor)
    if cond is None or not Registration.objects.filter(cond, pk=pk).exists():
        audit.record(
            actor,
            audit.Action.DENIED,
            "chronic_registration",
            str(pk),
            resident_id=reg.resident_id,
        )
        raise NotFound("慢病登记")
    audit.record(
        actor, audit.Action.READ, "chronic_registration", str(pk), resident_id=reg.resident_id
    )
    return reg


def registrations_of(resident: Resident) -> QuerySet[Registration]:
    return Registration.objects.filter(resident=resident).order_by("-status", "disease")


def followups_of(registration: Registration) -> QuerySet[Followup]:
    return Followup.objects.filter(registration=registration).order_by("-followup_date")


def screenings_of(resident: Resident) -> QuerySet[Screening]:
    return Screening.objects.filter(resident=resident).order_by("-screened_on")


# --- screening lists ------------------------------------------------------------------------------


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=SHANGHAI)


def _bp_obs() -> QuerySet[Observation]:
    return Observation.objects.filter(kind="bp", status=VersionStatus.CURRENT)


def _raised() -> Q:
    return Q(value__gte=rules.BP_SBP_TARGET) | Q(value2__gte=rules.BP_DBP_TARGET)


def _registered(disease: str) -> Exists:
    return Exists(
        Registration.objects.filter(
            resident_id=OuterRef("pk"), disease=disease, status=RegistrationStatus.ACTIVE
        )
    )


def screening_due(actor: Actor, *, today: date | None = None) -> QuerySet[Resident]:
    """Residents 35+ without a blood-pressure measurement this calendar year, not already
    managed for hypertension (DOMAIN.md §5: one measurement a year)."""
    _need(actor, Perm.MANAGE_CHRONIC)
    today = today or timezone.localdate()
    cutoff = _birthday_cutoff(today, rules.SCREENING_AGE)
    year_start = _day_start(date(today.year, 1, 1))
    measured = Exists(_bp_obs().filter(resident_id=OuterRef("pk"), effective_at__gte=year_start))
    return (
        residents_visible_to(actor)
        .filter(birth_date__lte=cutoff)
        .exclude(measured)
        .exclude(_registered(rules.HYPERTENSION))
        .select_related("village")
        .order_by("village_id", "birth_date", "pk")
    )


def _birthday_cutoff(today: date, years: int) -> date:
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


def pending_confirmation(actor: Actor, *, today: date | None = None) -> QuerySet[Resident]:
    """The three-days rule: residents (not managed for hypertension) with raised readings
    (SBP ≥140 and/or DBP ≥90) in the past year, annotated with `raised_days` = the number of
    different days. <3 days: measure again; ≥3 days: confirm the diagnosis and enrol."""
    _need(actor, Perm.MANAGE_CHRONIC)
    today = today or timezone.localdate()
    since = _day_start(today - timedelta(days=365))
    days = (
        _bp_obs()
        .filter(_raised(), resident_id=OuterRef("pk"), effective_at__gte=since)
        .annotate(day=TruncDate("effective_at", tzinfo=SHANGHAI))
        .values("resident_id")
        .annotate(n=Count("day", distinct=True))
        .values("n")
    )
    return (
        residents_visible_to(actor)
        .exclude(_registered(rules.HYPERTENSION))
        .annotate(raised_days=Subquery(days, output_field=IntegerField()))
        .filter(raised_days__gte=1)
        .select_related("village")
        .order_by("-raised_days", "village_id", "pk")
    )


def high_risk_due(actor: Actor, *, today: date | None = None) -> QuerySet[Resident]:
    """High-risk residents (a high-risk screening, or BP 130–139/85–89 in the past year) not
    managed for hypertension whose last BP is older than 6 months (DOMAIN.md §5)."""
    _need(actor, Perm.MANAGE_CHRONIC)
    today = today or timezone.localdate()
    year = _day_start(today - timedelta(days=365))
    half = _day_start(today - rules.HIGH_RISK_INTERVAL)
    screened = Exists(
        Screening.objects.filter(
            resident_id=OuterRef("pk"),
            disease=rules.HYPERTENSION,
            outcome=ScreeningOutcome.HIGH_RISK,
        )
    )
    high_normal = Exists(
        _bp_obs()
        .filter(resident_id=OuterRef("pk"), effective_at__gte=year)
        .exclude(_raised())
        .filter(Q(value__gte=rules.BP_SBP_HIGH_NORMAL) | Q(value2__gte=rules.BP_DBP_HIGH_NORMAL))
    )
    recent = Exists(_bp_obs().filter(resident_id=OuterRef("pk"), effective_at__gte=half))
    last_bp = Subquery(
        _bp_obs()
        .filter(resident_id=OuterRef("pk"))
        .order_by("-effective_at")
        .values("effective_at")[:1]
    )
    return (
        residents_visible_to(actor)
        .filter(screened | high_normal)
        .exclude(recent)
        .exclude(_registered(rules.HYPERTENSION))
        .annotate(last_bp_at=last_bp)
        .select_related("village")
        .order_by(F("last_bp_at").asc(nulls_first=True), "pk")
    )


def recent_uncontrolled_home_readings(resident_id: int, kind: str, since: date) -> int:
    """Device readings off target since a day (repeated ones bring a follow-up forward)."""
    qs = Observation.objects.filter(
        resident_id=resident_id,
        kind=kind,
        source=Source.DEVICE,
        status=VersionStatus.CURRENT,
        effective_at__gte=_day_start(since),
    )
    qs = qs.filter(_raised()) if kind == "bp" else qs.filter(value__gte=rules.GLUCOSE_TARGET)
    return qs.count()


# --- worklists ------------------------------------------------------------------------------------


def worklist(
    actor: Actor, *, disease: str | None = None, today: date | None = None
) -> QuerySet[Registration]:
    """The doctor's overdue and due-this-week follow-ups (village doctor: their village;
    township: their township), riskiest first, then the longest overdue."""
    today = today or timezone.localdate()
    qs = registrations_visible_to(actor, disease=disease).filter(
        Q(next_due__lte=today + rules.DUE_SOON) | ~Q(alert="")
    )
    # riskiest first, then the longest overdue: within a risk level "overdue first, then by
    # due date" is the due-date order itself, which the area's worklist index holds
    return qs.annotate(
        overdue=Case(When(next_due__lt=today, then=Value(1)), default=Value(0))
    ).order_by("-risk", "next_due", "pk")


def home_alerts_visible_to(actor: Actor) -> QuerySet[Registration]:
    """Registrations carrying a home-monitoring alert (an abnormal device reading, or repeated
    uncontrolled ones that brought the follow-up forward), newest first. The alert stays
    until the next follow-up is recorded."""
    return registrations_visible_to(actor).exclude(alert="").order_by("-alert_at", "pk")


def _unit_column(by: str) -> str:
    return {"village": "resident__village_id", "township": "resident__township_id"}[by]


def completion(
    actor: Actor,
    *,
    by: str = "village",
    disease: str | None = None,
    start: date | None = None,
    end: date | None = None,
) -> list[dict[str, Any]]:
    """Per village (or township): registrations under management, how many were followed up
    in the period (default: this quarter) and how many are overdue today."""
    today = timezone.localdate()
    start = start or date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    end = end or today
    column = _unit_column(by)
    done = Exists(
        Followup.objects.filter(registration_id=OuterRef("pk"), followup_date__range=(start, end))
    )
    rows = (
        registrations_visible_to(actor, disease=disease)
        .annotate(done=done)
        .values(column)
        .annotate(
            total=Count("pk"),
            followed=Count("pk", filter=Q(done=True)),
            overdue=Count("pk", filter=Q(next_due__lt=today)),
        )
        .order_by(column)
    )
    names = _division_names([r[column] for r in rows])
    return [
        {
            "unit_id": r[column],
            "unit": names.get(r[column], ""),
            "total": r["total"],
            "followed": r["followed"],
            "overdue": r["overdue"],
            "rate": rules.rate(r["followed"], r["total"]),
        }
        for r in rows
    ]


def _division_names(ids: list[int]) -> dict[int, str]:
    return dict(Division.objects.filter(pk__in=ids).values_list("pk", "name"))


# --- indicators -----------------------------------------------------------------------------------


def norm_settings() -> tuple[int, int]:
    """(follow-ups a year, largest gap in days) for 规范管理 — configurable in
    settings.YGT["CHRONIC_NORM_FOLLOWUPS"] / ["CHRONIC_NORM_MAX_GAP_DAYS"]."""
    conf = getattr(settings, "YGT", {}) or {}
    return (
        int(conf.get("CHRONIC_NORM_FOLLOWUPS", rules.NORM_FOLLOWUPS_PER_YEAR)),
        int(conf.get("CHRONIC_NORM_MAX_GAP_DAYS", rules.NORM_MAX_GAP_DAYS)),
    )


def required_followups(start: date, end: date) -> int:
    """The yearly count pro rata for a shorter period (a quarter needs 1), at least 1."""
    per_year, _ = norm_settings()
    days = (end - start).days + 1
    return max(1, min(per_year, math.ceil(per_year * days / 365 - 1e-9)))


@dataclass
class Indicator:
    key: str  # "norm" / "control"
    name: str
    definition: str
    numerator: int
    denominator: int

    @property
    def rate(self) -> float | None:
        return rules.rate(self.numerator, self.denominator)


def definitions(disease: str, start: date, end: date) -> dict[str, tuple[str, str]]:
    d = rules.DISEASES[disease]
    per_year, gap = norm_settings()
    need = required_followups(start, end)
    target = "收缩压<140且舒张压<90 mmHg" if d.control_measure == "bp" else "空腹血糖<7.0 mmol/L"
    return {
        "norm": (
            f"{d.name}规范管理率",
            f"期内按规范管理的{d.name}患者数 ÷ 期末管理中的{d.name}患者数。按规范管理："
            f"期内面对面随访≥{need}次（全年{per_year}次按期长折算），且相邻两次随访间隔不超过"
            f"{gap}天。",
        ),
        "control": (
            d.control_label,
            f"期内最近一次随访{target}的患者数 ÷ 期末管理中的{d.name}患者数"
            "（期内未随访者计入分母，不计入分子）。",
        ),
    }


def _managed(disease: str, start: date, end: date) -> QuerySet[Registration]:
    """Registrations under management at the period's end, annotated per registration with
    the period's follow-up count, largest gap and latest control result (subqueries)."""
    end_fu = Followup.objects.filter(
        registration_id=OuterRef("pk"), followup_date__range=(start, end)
    )
    n = end_fu.values("registration_id").annotate(c=Count("pk")).values("c")
    gap = (
        end_fu.filter(prev_date__gte=start)
        .values("registration_id")
        .annotate(g=Max("gap_days"))
        .values("g")
    )
    last = end_fu.order_by("-followup_date", "-pk").values("controlled")[:1]
    return (
        Registration.objects.filter(disease=disease, enrolled_on__lte=end)
        .filter(Q(status=RegistrationStatus.ACTIVE) | Q(exited_on__gt=end))
        .filter(resident__status=ResidentStatus.ACTIVE)
        .annotate(
            n_fu=Subquery(n, output_field=IntegerField()),
            max_gap=Subquery(gap, output_field=IntegerField()),
            last_ok=Subquery(last),
        )
    )


def _norm_q(start: date, end: date) -> Q:
    _, gap = norm_settings()
    return Q(n_fu__gte=required_followups(start, end)) & (
        Q(max_gap__lte=gap) | Q(max_gap__isnull=True)
    )


def _rate_sql(
    disease: str, start: date, end: date, groups: list[str], scope_sql: str, scope_params: list[Any]
) -> list[tuple[Any, ...]]:
    """Rows of (*groups, den, norm, ctl) for one period (`_rate_sql_many` with one span)."""
    return _rate_sql_many(disease, [(start, end)], groups, scope_sql, scope_params)


def _rate_sql_many(
    disease: str,
    spans: list[tuple[date, date]],
    groups: list[str],
    scope_sql: str,
    scope_params: list[Any],
) -> list[tuple[Any, ...]]:
    """Rows of (*groups, den₁, norm₁, ctl₁, den₂, …), one triple per span: registrations under
    management at the span's end (den), those managed to the norm in the span (norm) and those
    whose last follow-up in the span was on target (ctl), grouped by `groups` (columns of `r`
    registration / `p` resident).

    One pass over the follow-ups of all the spans together, grouped by registration with one
    conditional aggregate per span, then one join to the registrations: set-based, no
    per-registration subqueries, and the running month, quarter, half-year and year of an
    incremental refresh read the year's follow-ups once instead of four times. Same
    definitions as `_managed` and `_norm_q`, which the drill-down uses (a test holds them
    equal)."""
    if connection.vendor == "postgresql":
        day = "(f.followup_date - DATE '2000-01-01')::bigint"
    else:
        day = "CAST(julianday(f.followup_date) - julianday('2000-01-01') AS INTEGER)"
    # the latest follow-up's `controlled` rides in the lowest bit of MAX(day, id, controlled)
    key = f"{day} * 8589934592 + f.id * 2 + CASE WHEN f.controlled THEN 1 ELSE 0 END"
    _, gap = norm_settings()
    fu_cols: list[str] = []
    fu_params: list[Any] = []
    out_cols: list[str] = []
    out_params: list[Any] = []
    for k, (start, end) in enumerate(spans):
        inside = "f.followup_date >= %s AND f.followup_date <= %s"
        fu_cols += [
            f"SUM(CASE WHEN {inside} THEN 1 ELSE 0 END) AS n{k}",
            f"MAX(CASE WHEN {inside} AND f.prev_date >= %s THEN f.gap_days END) AS g{k}",
            f"MAX(CASE WHEN {inside} THEN {key} END) %% 2 AS l{k}",
        ]
        fu_params += [start, end, start, end, start, start, end]
        managed = "(r.enrolled_on <= %s AND (r.status = %s OR r.exited_on > %s))"
        out_cols += [
            f"SUM(CASE WHEN {managed} THEN 1 ELSE 0 END)",
            f"SUM(CASE WHEN {managed} AND fu.n{k} >= %s"
            f" AND (fu.g{k} IS NULL OR fu.g{k} <= %s) THEN 1 ELSE 0 END)",
            f"SUM(CASE WHEN {managed} AND fu.l{k} = 1 THEN 1 ELSE 0 END)",
        ]
        m = [end, RegistrationStatus.ACTIVE, end]
        out_params += [*m, *m, required_followups(start, end), gap, *m]
    lo = min(s for s, _ in spans)
    hi = max(e for _, e in spans)
    first_end = min(e for _, e in spans)
    cols = ", ".join(groups)
    sql = f"""
        WITH fu AS {"MATERIALIZED" if connection.vendor == "postgresql" else ""} (
            SELECT f.registration_id AS rid, {", ".join(fu_cols)}
            FROM {Followup._meta.db_table} f
            WHERE f.disease = %s AND f.followup_date >= %s AND f.followup_date <= %s
            GROUP BY f.registration_id
        )
        SELECT {cols}, {", ".join(out_cols)}
        FROM {Registration._meta.db_table} r
        JOIN {Resident._meta.db_table} p ON p.id = r.resident_id
        LEFT JOIN fu ON fu.rid = r.id
        WHERE r.disease = %s AND r.enrolled_on <= %s
          AND (r.status = %s OR r.exited_on > %s) AND p.status = %s{scope_sql}
        GROUP BY {cols} ORDER BY {cols}
    """  # noqa: S608 (table and column names from code, values as parameters)
    params: list[Any] = [*fu_params, disease, lo, hi, *out_params, disease, hi]
    params += [RegistrationStatus.ACTIVE, first_end, ResidentStatus.ACTIVE, *scope_params]
    with transaction.atomic(), connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("SET LOCAL jit = off")  # compiling costs more than the query runs
        cur.execute(sql, params)
        return [tuple(row) for row in cur.fetchall()]


def rate_cells(disease: str, start: date, end: date) -> list[dict[str, Any]]:
    """For the indicator fact layer (system use, unscoped, not audited: it stores counts, no
    person): 规范管理率/控制率 counts per (managing facility, resident's township, village)."""
    return rate_cells_many(disease, [(start, end)])[(start, end)]


def rate_cells_many(
    disease: str, spans: list[tuple[date, date]]
) -> dict[tuple[date, date], list[dict[str, Any]]]:
    """`rate_cells` for several periods in one pass (`_rate_sql_many`): span → cells. Rows of
    a cell with nothing under management at a span's end are left out of that span."""
    spans = list(dict.fromkeys(spans))
    rows = _rate_sql_many(
        disease, spans, ["r.facility_id", "p.township_id", "p.village_id"], "", []
    )
    out: dict[tuple[date, date], list[dict[str, Any]]] = {span: [] for span in spans}
    for row in rows:
        f, t, v = row[:3]
        for k, span in enumerate(spans):
            d, n, c = row[3 + 3 * k : 6 + 3 * k]
            if d:
                out[span].append(
                    {
                        "facility_id": f,
                        "township_id": t,
                        "village_id": v,
                        "den": int(d),
                        "norm": int(n or 0),
                        "ctl": int(c or 0),
                    }
                )
    return out


def _rate_rows(actor: Actor, disease: str, start: date, end: date, by: str) -> list[dict[str, Any]]:
    """Per village or township (or group, folded from townships) in the actor's area: den,
    norm and ctl (`_rate_sql`)."""
    if actor.is_system or actor.scope.kind == ScopeKind.ALL:
        scope_sql, scope_params = "", []
    else:
        column = SCOPE_COLUMN.get(actor.scope.kind)
        ids = sorted(actor.scope.division_ids)
        if column is None or not ids:
            return []
        scope_sql = f" AND p.{column} IN ({', '.join(['%s'] * len(ids))})"
        scope_params = list(ids)
    unit = "p.township_id" if by in ("township", "group") else "p.village_id"
    raw = [
        {"unit": u, "den": int(d), "norm": int(n or 0), "ctl": int(c or 0)}
        for u, d, n, c in _rate_sql(disease, start, end, [unit], scope_sql, scope_params)
    ]
    if by != "group":
        return raw
    group_of = group_of_townships()
    folded: dict[int, dict[str, Any]] = {}
    for r in raw:
        g = group_of.get(r["unit"], 0)
        acc = folded.setdefault(g, {"unit": g, "den": 0, "norm": 0, "ctl": 0})
        for k in ("den", "norm", "ctl"):
            acc[k] += r[k]
    return [folded[k] for k in sorted(folded)]


def indicators(
    actor: Actor, *, disease: str, start: date, end: date, by: str = "village"
) -> dict[str, Any]:
    """规范管理率 and 控制率 by village / township / group over a period, each with numerator,
    denominator and definition; one SQL aggregate (no loop over residents)."""
    _need(actor, Perm.VIEW_INDICATORS)
    if disease not in rules.DISEASES or by not in ("village", "township", "group"):
        raise NotFound("指标")
    rows = _rate_rows(actor, disease, start, end, by)
    if by == "group":
        names = dict(MedicalGroup.objects.values_list("pk", "name"))
        names[0] = "未归属医共体"
    else:
        names = _division_names([r["unit"] for r in rows])
    defs = definitions(disease, start, end)
    out_rows = []
    tot_den = tot_norm = tot_ctl = 0
    for r in rows:
        tot_den += r["den"]
        tot_norm += r["norm"]
        tot_ctl += r["ctl"]
        out_rows.append(
            {
                "unit_id": r["unit"],
                "unit": names.get(r["unit"], str(r["unit"])),
                "norm": Indicator("norm", defs["norm"][0], defs["norm"][1], r["norm"], r["den"]),
                "control": Indicator(
                    "control", defs["control"][0], defs["control"][1], r["ctl"], r["den"]
                ),
            }
        )
    return {
        "disease": disease,
        "start": start,
        "end": end,
        "by": by,
        "definitions": defs,
        "rows": out_rows,
        "total": {
            "norm": Indicator("norm", defs["norm"][0], defs["norm"][1], tot_norm, tot_den),
            "control": Indicator(
                "control", defs["control"][0], defs["control"][1], tot_ctl, tot_den
            ),
        },
    }


def indicator_residents(
    actor: Actor,
    *,
    disease: str,
    start: date,
    end: date,
    by: str,
    unit_id: int | None,
    measure: str,
    part: str = "numerator",
) -> QuerySet[Registration]:
    """Drill-down: the registrations counted in one cell (numerator or denominator), scoped
    and audited (the page masks ID numbers)."""
    _need(actor, Perm.VIEW_INDICATORS)
    if disease not in rules.DISEASES or measure not in ("norm", "control"):
        raise NotFound("指标")
    cond = _scope_q(actor)
    if cond is None:
        return Registration.objects.none()
    qs = _managed(disease, start, end).filter(cond)
    if unit_id is not None:
        if by == "group":
            qs = qs.filter(resident__township_id__in=list(catchment_township_ids(unit_id)))
        else:
            qs = qs.filter(**{_unit_column(by): unit_id})
    if part == "numerator":
        qs = qs.filter(_norm_q(start, end) if measure == "norm" else Q(last_ok=True))
    audit.record(
        actor,
        audit.Action.READ,
        "chronic_indicator",
        f"{disease}:{measure}:{part}",
        detail={"by": by, "unit": unit_id, "start": start.isoformat(), "end": end.isoformat()},
    )
    return qs.select_related("resident", "resident__village").order_by("resident__village_id", "pk")


# --- devices --------------------------------------------------------------------------------------


def devices_visible_to(actor: Actor) -> QuerySet[Device]:
    """Devices bound to residents in scope, plus unbound ones registered by the actor's
    facility (or all unbound ones for county-wide actors)."""
    _need(actor, Perm.MANAGE_DEVICES)
    cond = _scope_q(actor)
    if cond is None:
        return Device.objects.none()
    if actor.is_system or actor.scope.kind == ScopeKind.ALL:
        return Device.objects.select_related("resident").order_by("serial")
    return (
        Device.objects.filter(
            (Q(resident__isnull=False) & cond)
            | Q(resident__isnull=True, facility_id=actor.facility_id)
        )
        .select_related("resident")
        .order_by("serial")
    )


def get_device_for(actor: Actor, serial: str) -> Device:
    dev = devices_visible_to(actor).filter(serial=serial).first()
    if dev is None:
        audit.record(actor, audit.Action.DENIED, "device", serial[:64])
        raise NotFound("设备")
    audit.record(actor, audit.Action.READ, "device", dev.serial, resident_id=dev.resident_id)
    return dev


def quarantine_visible_to(
    actor: Actor, *, status: str = QuarantineStatus.PENDING
) -> QuerySet[QuarantinedReading]:
    """Quarantined readings: from devices of the actor's facility or unknown serials. Unknown
    serials carry no resident, so doctors with the device permission may see and assign them."""
    _need(actor, Perm.MANAGE_DEVICES)
    qs = QuarantinedReading.objects.filter(status=status).select_related("device")
    if not (actor.is_system or actor.scope.kind == ScopeKind.ALL):
        qs = qs.filter(Q(device__isnull=True) | Q(device__facility_id=actor.facility_id))
    return qs.order_by("-received_at", "-pk")


def get_quarantined_for(actor: Actor, pk: int) -> QuarantinedReading:
    q = quarantine_visible_to(actor).filter(pk=pk).first()
    if q is None:
        raise NotFound("待认领读数")
    return q


def rejected_visible_to(actor: Actor) -> QuerySet[RejectedReading]:
    _need(actor, Perm.MANAGE_DEVICES)
    return RejectedReading.objects.order_by("-received_at", "-pk")
