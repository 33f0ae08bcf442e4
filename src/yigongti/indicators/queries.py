"""Reads of the indicators: values, the dashboard, trends and comparisons read the fact table
only (sums of numerators and denominators over the unit's cells and the period's months);
the drill-down reads the source rows live, through the same `Source` functions the facts
were counted with, scoped to the viewer, paged, audited, ID numbers masked.

Who sees what: the health commission (county scope) and the group administrators. Aggregated
figures are not personal data, so a group administrator sees the county and every group (the
comparison between groups needs them); the drill-down to people is limited to the residents
of the administrator's catchment. Other roles are refused (the chronic and contracts apps
show clinicians their own villages' rates)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from yigongti.accounts.rules import Perm, Role
from yigongti.core import audit
from yigongti.core.actor import Actor, ScopeKind
from yigongti.core.errors import DomainError, FieldError, Forbidden, NotFound
from yigongti.network.models import Division, Facility, MedicalGroup
from yigongti.network.queries import catchment_township_ids
from yigongti.residents.queries import SCOPE_COLUMN
from yigongti.residents.rules import mask_id_number

from . import catalogue
from .catalogue import BY_FACILITY, IndicatorDef, Source
from .models import Fact, IndicatorTarget, RefreshRun
from .rules import (
    LEVEL_LABELS,
    UNIT_LABELS,
    Grain,
    Level,
    Period,
    Unit,
    add_months,
    compute_value,
    period_of,
    target_met,
)

PAGE_SIZE = 50
_NONE2: tuple[Decimal | None, Decimal | None] = (None, None)

LEVEL_COLUMN = {
    Level.GROUP: "group_id",
    Level.FACILITY: "facility_id",
    Level.TOWNSHIP: "township_id",
    Level.VILLAGE: "village_id",
}


# --- access -------------------------------------------------------------------------------------


def may_view(actor: Actor) -> bool:
    if actor.is_system:
        return True
    if not actor.can(Perm.VIEW_INDICATORS):
        return False
    return actor.scope.kind == ScopeKind.ALL or actor.role == Role.GROUP_ADMIN


def check_can_view(actor: Actor, what: str = "indicators") -> None:
    if not may_view(actor):
        audit.record(actor, audit.Action.DENIED, "indicator", what)
        raise Forbidden("无权查看监测指标", "Not allowed to view the monitoring indicators")


def may_manage(actor: Actor) -> bool:
    return actor.is_system or (may_view(actor) and actor.can(Perm.MANAGE_INDICATORS))


def get_def(code: str) -> IndicatorDef:
    d = catalogue.get(code)
    if d is None:
        raise NotFound("指标")
    return d


# --- units --------------------------------------------------------------------------------------


def unit_name(level: Level, unit_id: int | None) -> str:
    if level == Level.COUNTY or unit_id is None:
        return (
            Division.objects.filter(level="county").values_list("name", flat=True).first() or "全县"
        )
    if level == Level.GROUP:
        return MedicalGroup.objects.filter(pk=unit_id).values_list("name", flat=True).first() or ""
    if level == Level.FACILITY:
        return Facility.objects.filter(pk=unit_id).values_list("name", flat=True).first() or ""
    return Division.objects.filter(pk=unit_id).values_list("name", flat=True).first() or ""


def check_unit(level: Level, unit_id: int | None) -> None:
    """A level below the county needs an existing unit of that level."""
    if level == Level.COUNTY:
        return
    ok = unit_id is not None and (
        MedicalGroup.objects.filter(pk=unit_id).exists()
        if level == Level.GROUP
        else Facility.objects.filter(pk=unit_id).exists()
        if level == Level.FACILITY
        else Division.objects.filter(pk=unit_id, level=level.value).exists()
    )
    if not ok:
        raise DomainError(
            [FieldError("unit", f"请选择有效的{LEVEL_LABELS[level]}", f"unknown {level} unit")]
        )


def units_of(level: Level) -> list[tuple[int, str]]:
    """The units a level can be read for (pickers and comparisons)."""
    if level == Level.GROUP:
        return list(MedicalGroup.objects.order_by("code").values_list("pk", "name"))
    if level == Level.FACILITY:
        return list(Facility.objects.order_by("code").values_list("pk", "name"))
    if level in (Level.TOWNSHIP, Level.VILLAGE):
        return list(
            Division.objects.filter(level=level.value).order_by("code").values_list("pk", "name")
        )
    return []


# --- values -------------------------------------------------------------------------------------


def _fact_filter(defn: IndicatorDef, period: Period) -> Q:
    if defn.additive:
        return Q(code=defn.code, grain=Grain.MONTH.value, period_start__in=period.months())
    return Q(code=defn.code, grain=period.grain.value, period_start=period.start)


def _facts_q(defs: list[IndicatorDef], period: Period) -> Q:
    """The fact rows of the collected indicators for a period (none for the others)."""
    cond = Q(pk__in=[])
    for d in defs:
        if d.collected:
            cond |= _fact_filter(d, period)
    return cond


def _unit_q(level: Level, unit_id: int | None) -> Q:
    if level == Level.COUNTY:
        return Q()
    return Q(**{LEVEL_COLUMN[level]: unit_id})


def has_facility_dimension(defn: IndicatorDef) -> bool:
    return defn.attribution == BY_FACILITY or all(
        s.facility for s in defn.numerator + defn.denominator
    )


def targets() -> dict[tuple[str, str], Decimal]:
    return {(t.code, t.level): t.target for t in IndicatorTarget.objects.all()}


def target_of(
    defn: IndicatorDef, level: Level, local: dict[tuple[str, str], Decimal] | None = None
) -> Decimal | None:
    local = targets() if local is None else local
    for key in ((defn.code, level.value), (defn.code, "")):
        if key in local:
            return local[key]
    return defn.target


@dataclass
class Value:
    defn: IndicatorDef
    period: Period
    level: Level
    unit_id: int | None
    numerator: Decimal | None
    denominator: Decimal | None
    value: Decimal | None
    target: Decimal | None
    met: bool | None
    status: str  # ok / no_data / not_collected / not_applicable
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        d = self.defn
        return {
            "code": d.code,
            "name": d.name,
            "aspect": d.aspect,
            "aspect_label": d.aspect_label,
            "definition": d.definition,
            "numerator_text": d.numerator_text,
            "denominator_text": d.denominator_text,
            "source": d.source_text,
            "unit": d.unit.value,
            "unit_label": UNIT_LABELS[d.unit],
            "direction": d.direction.value,
            "period": self.period.code,
            "period_label": self.period.label,
            "level": self.level.value,
            "unit_id": self.unit_id,
            "numerator": _num(self.numerator),
            "denominator": _num(self.denominator) if d.unit != Unit.COUNT else None,
            "value": _num(self.value),
            "target": _num(self.target),
            "met": self.met,
            "status": self.status,
            "reason": self.reason,
            "drillable": self.status in ("ok", "no_data") and d.collected,
        }


def _num(v: Decimal | None) -> float | int | None:
    if v is None:
        return None
    return int(v) if v == v.to_integral_value() else float(v)


def _make_value(
    defn: IndicatorDef,
    period: Period,
    level: Level,
    unit_id: int | None,
    sums: tuple[Decimal | None, Decimal | None],
    target: Decimal | None,
) -> Value:
    num, den = sums
    if not defn.collected:
        return Value(defn, period, level, unit_id, None, None, None, target, None,
                     "not_collected", defn.missing_reason)  # fmt: skip
    if level == Level.FACILITY and not has_facility_dimension(defn):
        return Value(defn, period, level, unit_id, None, None, None, target, None,
                     "not_applicable", "该指标按居住地统计，无机构维度")  # fmt: skip
    if period.start > timezone.localdate():  # nothing happened yet: not a count of 0
        return Value(defn, period, level, unit_id, None, None, None, target, None,
                     "no_data", "统计期尚未开始")  # fmt: skip
    num = num or Decimal(0)
    den = den or Decimal(0)
    value = compute_value(defn.unit, num, den)
    if value is None:
        return Value(defn, period, level, unit_id, num, den, None, target, None,
                     "no_data", "分母为 0：期内无可统计的数据")  # fmt: skip
    return Value(
        defn, period, level, unit_id, num, den, value, target,
        target_met(value, target, defn.direction), "ok",
    )  # fmt: skip


def _sums(
    defs: list[IndicatorDef], period: Period, level: Level, unit_id: int | None
) -> dict[str, tuple[Decimal, Decimal]]:
    """Sum of numerator and denominator per indicator: one grouped query over the facts."""
    rows = (
        Fact.objects.filter(_facts_q(defs, period))
        .filter(_unit_q(level, unit_id))
        .values("code")
        .annotate(n=Sum("numerator"), d=Sum("denominator"))
        .order_by()
    )
    return {r["code"]: (r["n"] or Decimal(0), r["d"] or Decimal(0)) for r in rows}


def value_of(code: str, period: Period, level: Level, unit_id: int | None, actor: Actor) -> Value:
    check_can_view(actor, code)
    defn = get_def(code)
    check_unit(level, unit_id)
    num, den = _sums([defn], period, level, unit_id).get(code, (None, None))
    audit.record(
        actor, audit.Action.READ, "indicator", code,
        detail={"period": period.code, "level": level.value, "unit": unit_id},
    )  # fmt: skip
    return _make_value(defn, period, level, unit_id, (num, den), target_of(defn, level))


def dashboard(period: Period, level: Level, unit_id: int | None, actor: Actor) -> dict[str, Any]:
    """Every catalogue entry for one period and unit, grouped by aspect."""
    check_can_view(actor, "dashboard")
    check_unit(level, unit_id)
    defs = catalogue.all_defs()
    sums = _sums(defs, period, level, unit_id)
    local = targets()
    values = [
        _make_value(d, period, level, unit_id, sums.get(d.code, _NONE2), target_of(d, level, local))
        for d in defs
    ]
    judged = _judgements(period, level, unit_id)
    aspects: list[dict[str, Any]] = []
    for key, label in catalogue.ASPECTS.items():
        rows = [v.as_dict() for v in values if v.defn.aspect == key]
        for r in rows:
            if r["code"] in judged:
                r["status"] = "qualitative"
                r["judgement"], r["reason"] = judged[r["code"]]
        if rows:
            aspects.append({"aspect": key, "label": label, "indicators": rows})
    audit.record(
        actor, audit.Action.READ, "indicator_dashboard", period.code,
        detail={"level": level.value, "unit": unit_id},
    )  # fmt: skip
    last = RefreshRun.objects.filter(ok=True).order_by("-started_at").first()
    return {
        "period": period.code,
        "period_label": period.label,
        "level": level.value,
        "unit_id": unit_id,
        "unit_name": unit_name(level, unit_id),
        "refreshed_at": last.finished_at if last else None,
        "aspects": aspects,
    }


def _judgements(period: Period, level: Level, unit_id: int | None) -> dict[str, tuple[str, str]]:
    """The qualitative indicators (紧密型) as the reviews of their evidence (佐证材料) say:
    code → (judgement, detail). A group's judgement for a year or half-year; for the county,
    how many groups got each; other levels and periods are not reviewed."""
    from .evidence import evidence_status, qualitative_defs  # evidence reads this module

    codes = [d.code for d in qualitative_defs()]
    if level not in (Level.COUNTY, Level.GROUP) or period.grain not in (Grain.YEAR, Grain.HALF):
        where = "医共体或全县" if level not in (Level.COUNTY, Level.GROUP) else "年度、半年"
        return dict.fromkeys(codes, ("—", f"定性指标：按{where}评审佐证材料"))
    rows = evidence_status(period, unit_id if level == Level.GROUP else None)
    out: dict[str, tuple[str, str]] = {}
    for code in codes:
        mine = [r for r in rows if r["code"] == code]
        if level == Level.GROUP and mine:
            r = mine[0]
            detail = f"佐证材料 {r['items']} 份"
            if r["reviewer"]:
                when = r["reviewed_at"].strftime("%Y-%m-%d") if r["reviewed_at"] else ""
                detail += f"，评审：{r['reviewer']} {when}".rstrip()
            out[code] = (r["status_label"], detail)
        else:
            counts: dict[str, int] = {}
            for r in mine:
                counts[r["status_label"]] = counts.get(r["status_label"], 0) + 1
            summary = "，".join(f"{k} {n}" for k, n in counts.items())
            out[code] = (summary or "—", f"共 {len(mine)} 个医共体（佐证材料评审）")
    return out


def trend(
    code: str, period: Period, level: Level, unit_id: int | None, actor: Actor
) -> list[dict[str, Any]]:
    """The monthly series inside the period (a month: the 12 months ending with it), from the
    monthly facts (state-at-period-end indicators are stored per month too)."""
    check_can_view(actor, code)
    defn = get_def(code)
    check_unit(level, unit_id)
    months = (
        [add_months(period.start, -i) for i in range(11, -1, -1)]
        if period.grain == Grain.MONTH
        else period.months()
    )
    sums: dict[Any, tuple[Decimal | None, Decimal | None]] = {}
    if defn.collected:
        rows = (
            Fact.objects.filter(code=code, grain=Grain.MONTH.value, period_start__in=months)
            .filter(_unit_q(level, unit_id))
            .values("period_start")
            .annotate(n=Sum("numerator"), d=Sum("denominator"))
            .order_by()
        )
        sums = {r["period_start"]: (r["n"], r["d"]) for r in rows}
    audit.record(
        actor, audit.Action.READ, "indicator_trend", code,
        detail={"period": period.code, "level": level.value, "unit": unit_id},
    )  # fmt: skip
    local = targets()
    out = []
    for m in months:
        v = _make_value(defn, period_of(Grain.MONTH, m), level, unit_id,
                        sums.get(m, _NONE2), target_of(defn, level, local))  # fmt: skip
        out.append(v.as_dict())
    return out


def values_by_unit(codes: list[str], period: Period, by: Level) -> dict[tuple[str, int], Value]:
    """Every listed indicator for every unit of a level, in one grouped query over the facts:
    `(code, unit_id) → Value` for each unit of `units_of(by)` (units without facts get their
    "无数据"/"未采集"/"不适用" value, never a missing key). Not audited and not access-checked:
    for callers above the indicators app (the 1000-point scoring) that check the actor and
    write one audit entry for the whole read themselves. Aggregated figures only."""
    if by == Level.COUNTY:
        raise ValueError("values_by_unit needs a level with units")
    defs = [get_def(c) for c in codes]
    column = LEVEL_COLUMN[by]
    rows = (
        Fact.objects.filter(_facts_q(defs, period))
        .exclude(**{f"{column}__isnull": True})
        .values("code", column)
        .annotate(n=Sum("numerator"), d=Sum("denominator"))
        .order_by()
    )
    sums = {(r["code"], r[column]): (r["n"], r["d"]) for r in rows}
    local = targets()
    out: dict[tuple[str, int], Value] = {}
    for uid, _name in units_of(by):
        for d in defs:
            out[(d.code, uid)] = _make_value(
                d, period, by, uid, sums.get((d.code, uid), _NONE2), target_of(d, by, local)
            )
    return out


def comparison(code: str, period: Period, by: Level, actor: Actor) -> list[dict[str, Any]]:
    """The indicator for every unit of a level (default: every medical group), one grouped
    query."""
    check_can_view(actor, code)
    defn = get_def(code)
    if by == Level.COUNTY:
        by = Level.GROUP
    column = LEVEL_COLUMN[by]
    sums: dict[int, tuple[Decimal | None, Decimal | None]] = {}
    if defn.collected:
        rows = (
            Fact.objects.filter(_fact_filter(defn, period))
            .values(column)
            .annotate(n=Sum("numerator"), d=Sum("denominator"))
            .order_by()
        )
        sums = {r[column]: (r["n"], r["d"]) for r in rows}
    audit.record(
        actor, audit.Action.READ, "indicator_comparison", code,
        detail={"period": period.code, "by": by.value},
    )  # fmt: skip
    local = targets()
    out = []
    for uid, name in units_of(by):
        v = _make_value(defn, period, by, uid, sums.get(uid, _NONE2), target_of(defn, by, local))
        out.append({"unit_name": name, **v.as_dict()})
    return out


# --- drill-down ---------------------------------------------------------------------------------


def _relation(path: str) -> str:
    return path[:-3] if path.endswith("_id") else path


def _source_unit_q(defn: IndicatorDef, src: Source, level: Level, unit_id: int | None) -> Q | None:
    """The rows of one unit, with the same attribution the facts used (None: no such rows)."""
    if level == Level.COUNTY:
        return Q()
    if defn.attribution == BY_FACILITY:
        assert src.facility
        rel = _relation(src.facility)
        if level == Level.GROUP:
            return Q(**{f"{rel}__group_id": unit_id})
        if level == Level.FACILITY:
            return Q(**{src.facility: unit_id})
        if level == Level.TOWNSHIP:
            return Q(**{f"{rel}__division_id": unit_id, f"{rel}__division__level": "township"}) | Q(
                **{f"{rel}__division__parent_id": unit_id, f"{rel}__division__level": "village"}
            )
        return Q(**{f"{rel}__division_id": unit_id, f"{rel}__division__level": "village"})
    if level == Level.FACILITY:
        return Q(**{src.facility: unit_id}) if src.facility else None
    if level == Level.GROUP:
        assert src.township and unit_id is not None
        return Q(**{f"{src.township}__in": list(catchment_township_ids(unit_id))})
    path = src.township if level == Level.TOWNSHIP else src.village
    return Q(**{path: unit_id}) if path else None


def _scope_q(actor: Actor, src: Source) -> Q | None:
    if actor.is_system or actor.scope.kind == ScopeKind.ALL or src.person == "staff":
        return Q()
    column = SCOPE_COLUMN.get(actor.scope.kind)
    if column is None:
        return None
    prefix = f"{src.resident}__" if src.resident else ""
    return Q(**{f"{prefix}{column}__in": actor.scope.division_ids})


def drilldown_rows(
    actor: Actor,
    code: str,
    period: Period,
    level: Level,
    unit_id: int | None,
    *,
    part: str = "numerator",
    source: int = 0,
) -> tuple[Source, QuerySet[Any]]:
    """The rows counted in one part of one cell (scoped; not yet audited or paged)."""
    check_can_view(actor, f"{code}:drilldown")
    defn = get_def(code)
    if not defn.collected:
        raise NotFound("指标数据（未采集）")
    if part not in ("numerator", "denominator"):
        raise DomainError([FieldError("part", "应为 numerator 或 denominator", "bad part")])
    check_unit(level, unit_id)
    sources = defn.sources(part)
    if not 0 <= source < len(sources):
        raise NotFound("指标数据来源")
    src = sources[source]
    unit_q = _source_unit_q(defn, src, level, unit_id)
    scope_q = _scope_q(actor, src)
    qs = src.query(period.start, period.end)
    if unit_q is None or scope_q is None:
        return src, qs.none()
    return src, qs.filter(unit_q).filter(scope_q)


def drilldown(
    actor: Actor,
    code: str,
    period: Period,
    level: Level,
    unit_id: int | None,
    *,
    part: str = "numerator",
    source: int = 0,
    page: int = 1,
) -> dict[str, Any]:
    """One page of the rows counted, with the person (ID number masked) and the source's
    columns; audited."""
    src, qs = drilldown_rows(actor, code, period, level, unit_id, part=part, source=source)
    defn = get_def(code)
    total = qs.order_by().aggregate(n=Count("pk"))["n"] or 0
    page = max(1, page)
    prefix = f"{src.resident}__" if src.resident else ""
    staff = src.person == "staff"  # a roster of doctors: name only, no resident identifiers
    person = ["pk", "name"] if staff else ["pk", "name", "doc_number", "mpi_id"]
    fields = ["pk", *(f"{prefix}{f}" for f in person), *(path for _, path in src.columns)]
    rows = list(qs.order_by("pk").values(*fields)[(page - 1) * PAGE_SIZE : page * PAGE_SIZE])
    audit.record(
        actor, audit.Action.READ, "indicator_drilldown", f"{code}:{part}:{source}",
        detail={"period": period.code, "level": level.value, "unit": unit_id, "page": page,
                "rows": len(rows)},
    )  # fmt: skip
    out_rows = [
        {
            "id": r["pk"],
            "resident_id": None if staff else r[f"{prefix}pk"],
            "name": r[f"{prefix}name"],
            "id_number": "" if staff else mask_id_number(r[f"{prefix}doc_number"] or ""),
            "mpi_id": "" if staff else r[f"{prefix}mpi_id"],
            "cells": [_fmt(r[path]) for _, path in src.columns],
        }
        for r in rows
    ]
    return {
        "code": code,
        "name": defn.name,
        "part": part,
        "part_label": "分子" if part == "numerator" else "分母",
        "part_text": defn.numerator_text if part == "numerator" else defn.denominator_text,
        "source": source,
        "source_label": src.label,
        "sources": [s.label for s in defn.sources(part)],
        "period": period.code,
        "period_label": period.label,
        "level": level.value,
        "unit_id": unit_id,
        "unit_name": unit_name(level, unit_id),
        "person": src.person,
        "columns": [label for label, _ in src.columns],
        "total": total,
        "page": page,
        "pages": max(1, -(-total // PAGE_SIZE)),
        "rows": out_rows,
    }


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, datetime):
        return timezone.localtime(v).strftime("%Y-%m-%d %H:%M")
    return str(v)
