"""Reads of the 1000-point scoring: schemes, the live preview (computed from the current
indicator facts) and the published snapshots (read from the frozen snapshot tables only).

Who sees what, as in the indicators app (indicators/queries.py): the health commission and
the group administrators. Scores are aggregated figures about facilities, not personal data,
so a group administrator sees every scheme and every facility's score and rank in the county
(the ranking is county-wide); clinicians and the outsider are refused (403 with a `denied`
audit entry). Writing a scheme and publishing need MANAGE_INDICATORS: the commission for
every scheme, a group administrator for the schemes of their own group only.

Scoring is set-based: for one scheme and period, one `indicators.queries.values_by_unit`
call per level (the facilities' own cells, and the areas they serve), one query for the
facilities; never a query per facility. Each preview, snapshot read or export writes one
audit entry."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from yigongti.core import audit
from yigongti.core.actor import Actor, ScopeKind
from yigongti.core.errors import DomainError, FieldError, Forbidden, NotFound
from yigongti.indicators import catalogue, evidence
from yigongti.indicators import queries as indicator_queries
from yigongti.indicators.models import RefreshRun
from yigongti.indicators.rules import UNIT_LABELS, Direction, Level, Period, parse_period
from yigongti.network.models import Facility, FacilityKind, MedicalGroup

from .models import (
    FacilityScore,
    SchemeGrain,
    ScoreRow,
    ScoreSnapshot,
    ScoringItem,
    ScoringScheme,
    SnapshotStatus,
)
from .rules import (
    BASIS_LABELS,
    RULE_LABELS,
    STATUS_LABELS,
    Basis,
    ItemStatus,
    RuleKind,
    ranks,
    score_item,
    total_of,
)

#: the cell of "the area a facility serves" (Basis.AREA) per facility kind: a township centre
#: or branch → its township; a village clinic → its village; a county hospital → its group
AREA_LEVEL: dict[str, Level] = {
    FacilityKind.TOWNSHIP_CENTRE: Level.TOWNSHIP,
    FacilityKind.BRANCH: Level.TOWNSHIP,
    FacilityKind.VILLAGE_CLINIC: Level.VILLAGE,
    FacilityKind.COUNTY_HOSPITAL: Level.GROUP,
}
AREA_LABELS: dict[Level, str] = {
    Level.TOWNSHIP: "所在乡镇",
    Level.VILLAGE: "所在村",
    Level.GROUP: "所属医共体",
}
KIND_LABELS = dict(FacilityKind.choices)
GRAIN_LABELS = dict(SchemeGrain.choices)


# --- access -------------------------------------------------------------------------------------


def may_view(actor: Actor) -> bool:
    return indicator_queries.may_view(actor)


def check_can_view(actor: Actor, what: str = "scores") -> None:
    if not may_view(actor):
        audit.record(actor, audit.Action.DENIED, "performance", what)
        raise Forbidden("无权查看绩效考核得分", "Not allowed to view the performance scores")


def may_manage(actor: Actor, group_id: int | None) -> bool:
    """The commission manages every scheme; a group administrator those of their group."""
    if actor.is_system:
        return True
    if not indicator_queries.may_manage(actor):
        return False
    return actor.scope.kind == ScopeKind.ALL or (
        group_id is not None and group_id == actor.group_id
    )


def check_can_manage(actor: Actor, group_id: int | None, what: str = "scheme") -> None:
    if not may_manage(actor, group_id):
        audit.record(actor, audit.Action.DENIED, "performance", what)
        raise Forbidden("无权管理该考核方案", "Not allowed to manage this scoring scheme")


def manageable_groups(actor: Actor) -> list[tuple[int | None, str]]:
    """The scopes a manager may create schemes for: (None, 全县) and/or their group."""
    out: list[tuple[int | None, str]] = []
    if may_manage(actor, None):
        out.append((None, "全县"))
        out += list(MedicalGroup.objects.order_by("code").values_list("pk", "name"))
    elif actor.group_id is not None and may_manage(actor, actor.group_id):
        out += list(MedicalGroup.objects.filter(pk=actor.group_id).values_list("pk", "name"))
    return out


# --- the judgement hook -------------------------------------------------------------------------


def judgement_fraction(code: str, facility: int, period: Period) -> Decimal | None:
    """The evidence review's share (0–1) of a qualitative item's points for a facility and
    period, or None when not reviewed (scored "未评审", missing — never 0)."""
    return judgement_fractions([code], [facility], period)[(code, facility)]


def judgement_fractions(
    codes: list[str], facility_ids: list[int], period: Period
) -> dict[tuple[str, int], Decimal | None]:
    """Every (code, facility) of a scoring run at once. The 紧密型 indicators are about the
    medical group as a whole: a member facility gets its group's judgement of the evidence
    (佐证材料评审, `indicators.evidence`: 达标 1, 基本达标 ½, 未达标 0) for exactly that
    period; None — 未评审 — when the group's evidence was not reviewed, or the facility
    belongs to no group. One query for the facilities, one for the reviews."""
    group_of = dict(Facility.objects.filter(pk__in=facility_ids).values_list("pk", "group_id"))
    by_group = {
        (r["code"], r["group_id"]): r["fraction"]
        for r in evidence.evidence_status(period)
        if r["code"] in codes
    }
    return {
        (c, f): by_group.get((c, group_of.get(f))) if group_of.get(f) else None
        for c in codes
        for f in facility_ids
    }


# --- schemes ------------------------------------------------------------------------------------


def schemes_visible_to(actor: Actor) -> QuerySet[ScoringScheme]:
    check_can_view(actor, "schemes")
    return (
        ScoringScheme.objects.select_related("group")
        .annotate(n_items=Count("items"), total=Sum("items__weight"))
        .order_by("status", "facility_kind", "name")
    )


def get_scheme_for(actor: Actor, pk: int) -> ScoringScheme:
    check_can_view(actor, f"scheme:{pk}")
    scheme = ScoringScheme.objects.select_related("group").filter(pk=pk).first()
    if scheme is None:
        raise NotFound("考核方案")
    return scheme


def items_of(scheme: ScoringScheme) -> list[ScoringItem]:
    return list(scheme.items.order_by("order", "pk"))


@dataclass(frozen=True)
class ItemSpec:
    """One item as scored: from the scheme (preview) or the snapshot's frozen copy."""

    code: str
    name: str
    weight: Decimal
    rule: RuleKind
    basis: Basis
    full: Decimal | None = None
    zero: Decimal | None = None
    target: Decimal | None = None


def spec_of(item: ScoringItem) -> ItemSpec:
    return ItemSpec(
        code=item.code,
        name=item.name,
        weight=item.weight,
        rule=RuleKind(item.rule),
        basis=Basis(item.basis),
        full=item.full,
        zero=item.zero,
        target=item.target,
    )


def _dec(v: Any) -> Decimal | None:
    return None if v in (None, "") else Decimal(str(v))


def _str(v: Decimal | None) -> str | None:
    return None if v is None else str(v)


def describe_item(spec: ItemSpec) -> dict[str, Any]:
    """The item with its indicator's definition, JSON-ready (decimals as strings): what a
    snapshot freezes and what pages and exports show."""
    defn = catalogue.get(spec.code)
    return {
        "code": spec.code,
        "name": spec.name or (defn.name if defn else spec.code),
        "indicator_name": defn.name if defn else "",
        "weight": str(spec.weight),
        "rule": spec.rule.value,
        "rule_label": RULE_LABELS[spec.rule],
        "basis": spec.basis.value,
        "basis_label": BASIS_LABELS[spec.basis],
        "full": _str(spec.full),
        "zero": _str(spec.zero),
        "target": _str(spec.target),
        "unit": defn.unit.value if defn else "",
        "unit_label": UNIT_LABELS[defn.unit] if defn else "",
        "direction": defn.direction.value if defn else "",
        "definition": defn.definition if defn else "（该指标已不在指标目录中）",
        "numerator_text": defn.numerator_text if defn else "",
        "denominator_text": defn.denominator_text if defn else "",
        "collected": defn.collected if defn else False,
    }


def plain(v: str | None) -> str:
    """A stored decimal as a person writes it: "200.0" → "200", "0.50" → "0.5"."""
    if v is None:
        return ""
    text = format(Decimal(v), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def rule_text(item: dict[str, Any]) -> str:
    """The rule in words, e.g. "≥80 满分，≤40 零分，之间线性"."""
    higher = item["direction"] != Direction.LOWER.value
    if item["rule"] == RuleKind.LINEAR.value:
        good, bad = ("≥", "≤") if higher else ("≤", "≥")
        return f"{good}{plain(item['full'])} 满分，{bad}{plain(item['zero'])} 零分，之间线性"
    if item["rule"] == RuleKind.PASS_FAIL.value:
        sign = "≥" if higher else "≤"
        target = plain(item["target"]) if item["target"] is not None else "指标目标值"
        return f"{sign}{target} 得满分，否则 0 分"
    return "按佐证材料评审得分比例"


# --- scoring ------------------------------------------------------------------------------------


def facilities_of(scheme_kind: str, group_id: int | None) -> list[dict[str, Any]]:
    qs = Facility.objects.filter(kind=scheme_kind, active=True)
    if group_id is not None:
        qs = qs.filter(group_id=group_id)
    rows: list[dict[str, Any]] = [
        dict(r)
        for r in qs.order_by("code").values(
            "pk", "code", "name", "kind", "group_id", "group__name", "division_id",
            "division__level",
        )
    ]  # fmt: skip
    return rows


def area_cell(fac: dict[str, Any]) -> tuple[Level, int] | None:
    """The cell of the area a facility serves, None when it has none (a facility of kind
    "other", a hospital outside any group, a centre not placed in a township)."""
    level = AREA_LEVEL.get(fac["kind"])
    if level is None:
        return None
    if level == Level.GROUP:
        return (level, fac["group_id"]) if fac["group_id"] else None
    if fac["division__level"] != level.value:
        return None
    return level, fac["division_id"]


def last_refresh() -> datetime | None:
    run = RefreshRun.objects.filter(ok=True).order_by("-started_at").first()
    return run.finished_at if run else None


def compute(
    kind: str, group_id: int | None, specs: list[ItemSpec], period: Period
) -> list[dict[str, Any]]:
    """Score every facility of a kind (in a group, or the county) for a period from the
    current facts: one dict per facility with its rows, total and rank, best first."""
    facilities = facilities_of(kind, group_id)
    fac_ids = [f["pk"] for f in facilities]
    known = [s for s in specs if catalogue.get(s.code) is not None]
    own_codes = [
        s.code for s in known if s.rule != RuleKind.JUDGEMENT and s.basis == Basis.FACILITY
    ]
    area_codes = [s.code for s in known if s.rule != RuleKind.JUDGEMENT and s.basis == Basis.AREA]
    judged = [s.code for s in known if s.rule == RuleKind.JUDGEMENT]
    own = indicator_queries.values_by_unit(own_codes, period, Level.FACILITY) if own_codes else {}
    area: dict[tuple[str, int], indicator_queries.Value] = {}
    area_level = AREA_LEVEL.get(kind)
    if area_codes and area_level is not None:
        area = indicator_queries.values_by_unit(area_codes, period, area_level)
    fractions = judgement_fractions(judged, fac_ids, period) if judged else {}

    results: list[dict[str, Any]] = []
    for fac in facilities:
        cell = area_cell(fac)
        rows = [_score_row(s, fac, cell, own, area, fractions) for s in specs]
        total = total_of((r["weight"], r["points"]) for r in rows)
        results.append(
            {
                "facility_id": fac["pk"],
                "code": fac["code"],
                "name": fac["name"],
                "group_id": fac["group_id"],
                "group_name": fac["group__name"] or "",
                "earned": total.earned,
                "available": total.available,
                "normalised": total.normalised,
                "missing": total.missing,
                "rows": rows,
            }
        )
    order = ranks({r["facility_id"]: r["normalised"] for r in results})
    for r in results:
        r["rank"] = order[r["facility_id"]]
    return sort_ranked(results)


def sort_ranked(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(results, key=lambda r: (r["rank"] is None, r["rank"] or 0, r["code"]))


def _score_row(
    s: ItemSpec,
    fac: dict[str, Any],
    cell: tuple[Level, int] | None,
    own: dict[tuple[str, int], indicator_queries.Value],
    area: dict[tuple[str, int], indicator_queries.Value],
    fractions: dict[tuple[str, int], Decimal | None],
) -> dict[str, Any]:
    defn = catalogue.get(s.code)
    row: dict[str, Any] = {
        "code": s.code,
        "weight": s.weight,
        "level": "",
        "unit_id": None,
        "numerator": None,
        "denominator": None,
        "value": None,
        "target": None,
    }
    if defn is None:
        return {**row, "points": None, "status": ItemStatus.NOT_APPLICABLE.value,
                "reason": "该指标已不在指标目录中"}  # fmt: skip
    if s.rule == RuleKind.JUDGEMENT:
        got = score_item(s.rule, s.weight, defn.direction, value=None,
                         fraction=fractions.get((s.code, fac["pk"])))  # fmt: skip
        return {**row, "level": Level.FACILITY.value, "unit_id": fac["pk"],
                "points": got.points, "status": got.status.value, "reason": got.reason}  # fmt: skip
    if s.basis == Basis.FACILITY:
        level, unit_id = Level.FACILITY, fac["pk"]
        value = own.get((s.code, unit_id))
    elif cell is None:
        return {**row, "points": None, "status": ItemStatus.NOT_APPLICABLE.value,
                "reason": "该机构没有对应的服务区域"}  # fmt: skip
    else:
        level, unit_id = cell
        value = area.get((s.code, unit_id))
    if value is None:
        return {**row, "level": level.value, "unit_id": unit_id, "points": None,
                "status": ItemStatus.NOT_APPLICABLE.value, "reason": "无对应统计单元"}  # fmt: skip
    target = s.target if s.target is not None else value.target
    got = score_item(
        s.rule, s.weight, defn.direction,
        value=value.value, value_status=value.status, value_reason=value.reason,
        full=s.full, zero=s.zero, target=target,
    )  # fmt: skip
    return {
        **row,
        "level": level.value,
        "unit_id": unit_id,
        "numerator": value.numerator if value.status in ("ok", "no_data") else None,
        "denominator": value.denominator
        if value.status in ("ok", "no_data") and defn.unit.value != "count"
        else None,
        "value": value.value,
        "target": target if s.rule == RuleKind.PASS_FAIL else None,
        "points": got.points,
        "status": got.status.value,
        "reason": got.reason,
    }


def last_closed_period(grain: str) -> str:
    """The latest period of a grain that has ended (what is usually scored): last year, or
    the last ended half-year."""
    today = timezone.localdate()
    if grain == SchemeGrain.YEAR:
        return str(today.year - 1)
    return f"{today.year}H1" if today.month >= 7 else f"{today.year - 1}H2"


def check_period(scheme: ScoringScheme, period_text: str) -> Period:
    """A period of the scheme's grain: `2026` for a yearly scheme, `2026H1` for a half-year."""
    period = parse_period(period_text)
    if period.grain.value != scheme.grain:
        example = "2026" if scheme.grain == SchemeGrain.YEAR else "2026H1 或 2026H2"
        raise DomainError(
            FieldError(
                "period",
                f"该方案按{GRAIN_LABELS[scheme.grain]}考核，考核期应为 {example}",
                f"this scheme is scored per {'year' if scheme.grain == 'Y' else 'half-year'}",
            )
        )
    return period


def scheme_out(scheme: ScoringScheme) -> dict[str, Any]:
    return {
        "id": scheme.pk,
        "name": scheme.name,
        "facility_kind": scheme.facility_kind,
        "facility_kind_label": KIND_LABELS.get(scheme.facility_kind, scheme.facility_kind),
        "group_id": scheme.group_id,
        "group_name": scheme.group.name if scheme.group else "全县",
        "grain": scheme.grain,
        "grain_label": GRAIN_LABELS.get(scheme.grain, scheme.grain),
        "status": scheme.status,
        "status_label": scheme.get_status_display(),
    }


def _decorate(items: list[dict[str, Any]], facilities: list[dict[str, Any]]) -> None:
    """Labels for templates and exports, in place."""
    for it in items:
        it["rule_text"] = rule_text(it)
    for f in facilities:
        for r, it in zip(f["rows"], items, strict=True):
            r["name"] = it["name"]
            r["status_label"] = STATUS_LABELS.get(ItemStatus(r["status"]), r["status"])
            r["unit"] = it["unit"]
            r["unit_label"] = it["unit_label"]


def preview(actor: Actor, scheme_id: int, period_text: str) -> dict[str, Any]:
    """The scores computed now from the current facts (not frozen); audited."""
    scheme = get_scheme_for(actor, scheme_id)
    period = check_period(scheme, period_text)
    specs = [spec_of(i) for i in items_of(scheme)]
    items = [describe_item(s) for s in specs]
    facilities = compute(scheme.facility_kind, scheme.group_id, specs, period)
    _decorate(items, facilities)
    audit.record(
        actor, audit.Action.READ, "performance_preview", scheme.pk,
        detail={"period": period.code, "facilities": len(facilities)},
    )  # fmt: skip
    current = (
        ScoreSnapshot.objects.filter(
            scheme=scheme, period_code=period.code, status=SnapshotStatus.CURRENT
        )
        .values_list("pk", flat=True)
        .first()
    )
    return {
        "mode": "preview",
        "scheme": scheme_out(scheme),
        "period": period.code,
        "period_label": period.label,
        "items": items,
        "total_weight": sum((Decimal(i["weight"]) for i in items), Decimal(0)),
        "facilities": facilities,
        "snapshot": None,
        "current_snapshot_id": current,
        "refreshed_at": last_refresh(),
    }


# --- snapshots ----------------------------------------------------------------------------------


def snapshot_out(s: ScoreSnapshot) -> dict[str, Any]:
    return {
        "id": s.pk,
        "scheme_id": s.scheme_id,
        "period": s.period_code,
        "period_label": s.period_label,
        "status": s.status,
        "status_label": s.get_status_display(),
        "published_at": s.published_at,
        "published_by": s.published_by_name,
        "reason": s.reason,
        "facts_refreshed_at": s.facts_refreshed_at,
        "superseded_by_id": s.superseded_by_id,
    }


def snapshot_table(s: ScoreSnapshot) -> dict[str, Any]:
    """The published table, read from the snapshot rows only (two queries)."""
    scores = list(FacilityScore.objects.filter(snapshot=s).order_by("rank", "facility_code"))
    rows_by_score: dict[int, dict[str, ScoreRow]] = defaultdict(dict)
    for r in ScoreRow.objects.filter(score__snapshot=s):
        rows_by_score[r.score_id][r.code] = r
    items = list(s.items)
    facilities = []
    for fs in scores:
        rows = []
        for it in items:
            got = rows_by_score[fs.pk].get(it["code"])
            if got is None:  # not possible for a snapshot written by do_publish
                continue
            r = got
            rows.append(
                {
                    "code": r.code,
                    "weight": r.weight,
                    "level": r.level,
                    "unit_id": r.unit_id,
                    "numerator": r.numerator,
                    "denominator": r.denominator,
                    "value": r.value,
                    "target": r.target,
                    "points": r.points,
                    "status": r.status,
                    "reason": r.reason,
                }
            )
        facilities.append(
            {
                "facility_id": fs.facility_id,
                "code": fs.facility_code,
                "name": fs.facility_name,
                "group_id": fs.group_id_frozen,
                "group_name": fs.group_name,
                "earned": fs.earned,
                "available": fs.available,
                "normalised": fs.normalised,
                "missing": fs.missing,
                "rank": fs.rank,
                "rows": rows,
            }
        )
    facilities = sort_ranked(facilities)
    _decorate(items, facilities)
    scheme = s.scheme
    return {
        "mode": "published",
        "scheme": {
            **scheme_out(scheme),
            "name": s.scheme_name,
            "facility_kind": s.facility_kind,
            "facility_kind_label": KIND_LABELS.get(s.facility_kind, s.facility_kind),
        },
        "period": s.period_code,
        "period_label": s.period_label,
        "items": items,
        "total_weight": sum((Decimal(i["weight"]) for i in items), Decimal(0)),
        "facilities": facilities,
        "snapshot": snapshot_out(s),
        "current_snapshot_id": s.pk if s.status == SnapshotStatus.CURRENT else None,
        "refreshed_at": s.facts_refreshed_at,
    }


def get_snapshot_for(actor: Actor, pk: int, *, action: str = audit.Action.READ) -> dict[str, Any]:
    check_can_view(actor, f"snapshot:{pk}")
    s = ScoreSnapshot.objects.select_related("scheme", "scheme__group").filter(pk=pk).first()
    if s is None:
        raise NotFound("得分快照")
    table = snapshot_table(s)
    audit.record(
        actor, action, "performance_snapshot", s.pk,
        detail={"scheme": s.scheme_id, "period": s.period_code},
    )  # fmt: skip
    return table


def current_snapshot_id(scheme_id: int, period_code: str) -> int | None:
    return (
        ScoreSnapshot.objects.filter(
            scheme_id=scheme_id, period_code=period_code, status=SnapshotStatus.CURRENT
        )
        .values_list("pk", flat=True)
        .first()
    )


def snapshots_of(actor: Actor, scheme_id: int) -> list[dict[str, Any]]:
    scheme = get_scheme_for(actor, scheme_id)
    return [snapshot_out(s) for s in scheme.snapshots.order_by("-published_at", "-pk")]


def current_snapshots(period_code: str, group_id: int | None = None) -> QuerySet[ScoreSnapshot]:
    """The current snapshots of a period; for a group, those of county-wide schemes and of the
    group's own schemes (the report reads them)."""
    qs = ScoreSnapshot.objects.filter(period_code=period_code, status=SnapshotStatus.CURRENT)
    if group_id is not None:
        qs = qs.filter(Q(group_id_frozen__isnull=True) | Q(group_id_frozen=group_id))
    return qs.select_related("scheme").order_by("facility_kind", "scheme_name")


def scheme_detail(actor: Actor, pk: int) -> dict[str, Any]:
    """A scheme with its items described (definitions, rule in words) and the sum of the
    weights. Configuration, not scores: not audited."""
    scheme = get_scheme_for(actor, pk)
    items = [describe_item(spec_of(i)) for i in items_of(scheme)]
    for it in items:
        it["rule_text"] = rule_text(it)
    return {
        **scheme_out(scheme),
        "note": scheme.note,
        "items": items,
        "total_weight": sum((Decimal(i["weight"]) for i in items), Decimal(0)),
        "may_manage": may_manage(actor, scheme.group_id),
    }
