"""The 1000-point scores as a section of the half-yearly and yearly indicator report
(indicators/report_sections.py): the current published snapshot(s) of the report's period,
ranked. For the county: every facility; for a medical group: its own facilities (from the
county-wide schemes and the group's own). Nothing published for the period: no section.

Only published scores are reported (a live preview is not a result)."""

from __future__ import annotations

from django.utils import timezone

from yigongti.core import audit
from yigongti.core.actor import Actor
from yigongti.indicators.report_sections import ReportScope, ReportSection
from yigongti.indicators.rules import Level, Period

from . import queries
from .models import FacilityScore

TITLE = "千分制考核得分"
COLUMNS = [
    "机构", "考核方案", "机构类型", "排名", "所属医共体", "得分", "可得分", "千分制得分",
    "缺失项数",
]  # fmt: skip


def scoring_section(scope: ReportScope, period: Period, actor: Actor) -> ReportSection | None:
    if not queries.may_view(actor):
        return None
    group_id = scope.unit_id if scope.level == Level.GROUP else None
    snapshots = list(queries.current_snapshots(period.code, group_id))
    if not snapshots:
        return None
    scores = FacilityScore.objects.filter(snapshot__in=snapshots)
    if group_id is not None:
        scores = scores.filter(group_id_frozen=group_id)
    by_snapshot: dict[int, list[FacilityScore]] = {}
    for fs in scores.order_by("rank", "facility_code"):
        by_snapshot.setdefault(fs.snapshot_id, []).append(fs)
    rows: list[list[object]] = []
    notes = []
    for s in snapshots:
        kind = queries.KIND_LABELS.get(s.facility_kind, s.facility_kind)
        ranked = sorted(
            by_snapshot.get(s.pk, []),
            key=lambda f: (f.rank is None, f.rank or 0, f.facility_code),
        )
        rows.extend(
            [fs.facility_name, s.scheme_name, kind, fs.rank, fs.group_name, fs.earned,
             fs.available, fs.normalised, fs.missing]
            for fs in ranked
        )  # fmt: skip
        published = timezone.localtime(s.published_at).strftime("%Y-%m-%d")
        notes.append(f"{s.scheme_name}：{published} 由 {s.published_by_name} 发布")
    if not rows:
        return None
    audit.record(
        actor, audit.Action.READ, "performance_report", period.code,
        detail={"level": scope.level.value, "unit": scope.unit_id,
                "snapshots": [s.pk for s in snapshots]},
    )  # fmt: skip
    note = (
        "千分制得分 = 得分 ÷ 可得分 × 1000：未采集、无数据、不适用或未评审的考核项不计分，"
        "也不计入可得分；排名在同一方案内，同分同名次。排名为全县（或方案适用医共体）内的名次。"
        + "；".join(notes)
        + "。"
    )
    return ReportSection(title=TITLE, columns=COLUMNS, rows=rows, note=note, chart_column=7)
