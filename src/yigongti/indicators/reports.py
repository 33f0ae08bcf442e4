"""The half-yearly and yearly indicator report (指标报告) that county offices file: one
county or one medical group, one half-year or year, as an Excel workbook (openpyxl, with
native Excel charts over the workbook's own cells), a PDF (reportlab, with its built-in
Chinese CID font, so no font file and no browser is needed on a county server) and a
printable page (the same charts as inline SVG).

Content (DOMAIN.md §10: "Provinces evaluate yearly, cities half-yearly"; "An indicator value
must always show numerator, denominator and definition; data that was not collected is
reported as missing, never as zero"):

- a title page: whom the report is about, the period, when the facts were refreshed, when
  and by whom the report was produced;
- the indicator table by aspect: numerator, denominator, value and unit, target, met, and
  the same period of the previous year with the change (rates in percentage points, volumes
  in per cent); 未采集 / 无数据 / 不适用 stay words, never 0;
- the key rates of every medical group side by side (a bar chart);
- the monthly trend of outpatient visits and of the primary-care share, this year against
  last (line charts);
- every section registered through `report_sections` (the 1000-point scoring table).

All figures come from `queries` (dashboard, comparison, trend), which check the viewer and
audit each read; the report itself adds one audit entry (`read` for the page, `export` for
a download)."""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone
from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from yigongti.core import audit
from yigongti.core.actor import Actor
from yigongti.core.errors import DomainError, FieldError
from yigongti.core.spreadsheets import xlsx_bytes

from . import catalogue, queries, report_sections
from .report_sections import ReportScope, ReportSection
from .rules import (
    LEVEL_LABELS,
    UNIT_LABELS,
    Grain,
    Level,
    Period,
    Unit,
    parse_level,
    parse_period,
    period_of,
)

#: the periods a report covers (DOMAIN.md §10: cities half-yearly, provinces yearly)
REPORT_GRAINS = (Grain.HALF, Grain.YEAR)
REPORT_LEVELS = (Level.COUNTY, Level.GROUP)

#: rates compared between the medical groups (one bar each per group), if collected
KEY_RATES = (
    "primary_visit_share",
    "in_county_inpatient_share",
    "htn_control_rate",
    "dm_control_rate",
    "priority_contract_coverage",
)
#: monthly trends drawn this year against last
TREND_CODES = ("outpatient_visits", "primary_visit_share")

STATUS_WORDS = {
    "no_data": "无数据",
    "not_collected": "未采集",
    "not_applicable": "不适用",
    "qualitative": "定性评审",
}
NOTE_MISSING = (
    "数值均列出分子与分母。“未采集”表示平台没有该数据，“无数据”表示分母为 0，"
    "“不适用”表示该层级无此维度：均不等于 0。"
)
TITLE = "紧密型县域医共体监测指标报告"


# --- parameters ---------------------------------------------------------------------------------


def check_report_period(period: Period) -> None:
    if period.grain not in REPORT_GRAINS:
        raise DomainError(
            [
                FieldError(
                    "period",
                    "指标报告的统计期只能是半年（如 2026H1）或全年（如 2026），不能按月或按季度",
                    "a report covers a half-year (2026H1) or a year (2026), not a month or a "
                    "quarter",
                    "invalid",
                )
            ]
        )


def check_report_level(level: Level) -> None:
    if level not in REPORT_LEVELS:
        raise DomainError(
            [
                FieldError(
                    "level",
                    "指标报告按全县或医共体出具，层级应为 county 或 group",
                    "a report is for the county or one medical group",
                    "invalid",
                )
            ]
        )


def parse_params(
    period_text: str | None, level_text: str | None, unit_text: str | None
) -> tuple[Period, Level, int | None]:
    """The report's period, level and unit from request parameters; every bad one is named
    (period, level, unit) in one DomainError."""
    errors: list[FieldError] = []
    period: Period | None = None
    level: Level | None = None
    try:
        period = parse_period(period_text or "")
        check_report_period(period)
    except DomainError as exc:
        errors += exc.errors
    try:
        level = parse_level(level_text or "county")
        check_report_level(level)
    except DomainError as exc:
        errors += exc.errors
    unit: int | None = None
    if level == Level.GROUP:
        try:
            unit = int(unit_text) if unit_text else None
        except ValueError:
            unit = None
        try:
            queries.check_unit(level, unit)
        except DomainError as exc:
            errors += exc.errors
    if errors or period is None or level is None:
        raise DomainError(errors)
    return period, level, unit


def default_period(today: date | None = None) -> Period:
    """The last complete half-year: the one a county office files next."""
    current = period_of(Grain.HALF, today or timezone.localdate())
    return period_of(Grain.HALF, current.start - timedelta(days=1))


def last_year(period: Period) -> Period:
    return period_of(period.grain, period.start.replace(year=period.start.year - 1))


# --- the report's data --------------------------------------------------------------------------


def year_on_year(unit: str, current: Any, previous: Any) -> tuple[float | None, str]:
    """The change against the same period last year: a rate (%, ‰) in percentage (per-mille)
    points, anything else in per cent of last year's value. None when either value is
    missing or last year's volume was 0 (no base to compare with)."""
    if current is None or previous is None:
        return None, ""
    cur, prev = Decimal(str(current)), Decimal(str(previous))
    if unit == Unit.PERCENT.value:
        return float((cur - prev).quantize(Decimal("0.01"))), "个百分点"
    if unit == Unit.PERMILLE.value:
        return float((cur - prev).quantize(Decimal("0.01"))), "个千分点"
    if prev == 0:
        return None, ""
    return float(((cur - prev) / prev * 100).quantize(Decimal("0.01"))), "%"


@dataclass
class Line:
    """One indicator of the table: this period, its target, and the same period last year."""

    aspect: str
    code: str
    name: str
    unit: str
    unit_label: str
    direction: str
    numerator: float | int | None
    denominator: float | int | None
    value: float | int | None
    status: str
    reason: str
    target: float | int | None
    met: bool | None
    last_value: float | int | None
    last_status: str
    change: float | None
    change_unit: str
    definition: str
    numerator_text: str
    denominator_text: str

    @property
    def shown(self) -> str:
        return shown(self.value, self.status, self.unit)

    @property
    def last_shown(self) -> str:
        return shown(self.last_value, self.last_status, self.unit)

    @property
    def missing(self) -> bool:
        return self.status in ("not_collected", "not_applicable", "qualitative")

    @property
    def met_text(self) -> str:
        return "—" if self.met is None else ("达标" if self.met else "未达标")

    @property
    def target_text(self) -> str:
        if self.target is None:
            return "—"
        side = {"higher": "≥", "lower": "≤"}.get(self.direction, "")
        return f"{side}{number(self.target, self.unit)}"

    @property
    def change_text(self) -> str:
        if self.change is None:
            return "—"
        sign = "+" if self.change > 0 else ""
        return f"{sign}{self.change:.2f}{'' if self.change_unit == '%' else ' '}{self.change_unit}"


@dataclass
class Series:
    name: str
    values: list[float | int | None]
    #: how each value reads in a table (a number, or 无数据 / 未采集)
    texts: list[str]
    #: numerator/denominator of each point ("" for a volume)
    fractions: list[str] = field(default_factory=list)


@dataclass
class Chart:
    key: str
    title: str
    kind: str  # "bar" or "line"
    unit_label: str
    categories: list[str]
    series: list[Series]


@dataclass
class Comparison:
    """Key rates of every medical group: rows are groups, columns indicators."""

    codes: list[str]
    headers: list[str]  # indicator name (unit)
    groups: list[tuple[int, str]]
    cells: list[list[dict[str, Any]]]  # [group][indicator] → a queries.Value dict


@dataclass
class Report:
    scope: ReportScope
    period: Period
    previous: Period
    refreshed_at: datetime | None
    produced_at: datetime
    produced_by: str
    aspects: list[tuple[str, list[Line]]]
    comparison: Comparison
    trends: list[Chart]
    sections: list[ReportSection]

    @property
    def title(self) -> str:
        return f"{self.scope.name}{self.period.label}{TITLE}"

    @property
    def level_label(self) -> str:
        return LEVEL_LABELS[self.scope.level]

    @property
    def lines(self) -> list[Line]:
        return [line for _, lines in self.aspects for line in lines]

    @property
    def comparison_chart(self) -> Chart:
        c = self.comparison
        series = [
            Series(
                header,
                [row[j]["value"] for row in c.cells],
                [shown(row[j]["value"], row[j]["status"], row[j]["unit"]) for row in c.cells],
                [fraction(row[j]) for row in c.cells],
            )
            for j, header in enumerate(c.headers)
        ]
        return Chart(
            "comparison", "各医共体重点指标比较", "bar", "%", [n for _, n in c.groups], series
        )

    @property
    def charts(self) -> list[Chart]:
        out = [self.comparison_chart] if self.comparison.groups and self.comparison.codes else []
        return out + self.trends

    def file_name(self, ext: str) -> str:
        return f"指标报告_{self.scope.name}_{self.period.label}.{ext}"

    def ascii_name(self, ext: str) -> str:
        unit = f"-{self.scope.unit_id}" if self.scope.unit_id else ""
        return f"indicator-report-{self.period.code}-{self.scope.level.value}{unit}.{ext}"


def number(v: float | int | Decimal | None, unit: str = "") -> str:
    if v is None:
        return "—"
    if unit == Unit.COUNT.value and float(v) == int(v):
        return str(int(v))
    return f"{float(v):.2f}"


def shown(value: Any, status: str, unit: str) -> str:
    if status in STATUS_WORDS:
        return STATUS_WORDS[status]
    if value is None:
        return "无数据"
    return number(value, unit)


def fraction(v: dict[str, Any]) -> str:
    if (
        v["status"] in ("not_collected", "not_applicable", "qualitative")
        or v["denominator"] is None
    ):
        return ""
    return f"{number(v['numerator'], Unit.COUNT.value)}/{number(v['denominator'], 'count')}"


def _collected(codes: Sequence[str], unit: Unit | None = None) -> list[str]:
    out = []
    for code in codes:
        d = catalogue.get(code)
        if d is not None and d.collected and (unit is None or d.unit == unit):
            out.append(code)
    return out


def _lines(current: dict[str, Any], previous: dict[str, Any]) -> list[tuple[str, list[Line]]]:
    prev = {r["code"]: r for a in previous["aspects"] for r in a["indicators"]}
    out: list[tuple[str, list[Line]]] = []
    for aspect in current["aspects"]:
        lines = []
        for r in aspect["indicators"]:
            p = prev.get(r["code"], {"value": None, "status": r["status"]})
            change, change_unit = year_on_year(r["unit"], r["value"], p["value"])
            lines.append(
                Line(
                    aspect=aspect["label"],
                    code=r["code"],
                    name=r["name"],
                    unit=r["unit"],
                    unit_label=r["unit_label"],
                    direction=r["direction"],
                    numerator=r["numerator"],
                    denominator=r["denominator"],
                    value=r["value"],
                    status=r["status"],
                    reason=(
                        f"{r['judgement']}（{r['reason']}）" if r.get("judgement") else r["reason"]
                    ),
                    target=r["target"],
                    met=r["met"],
                    last_value=p["value"],
                    last_status=p["status"],
                    change=change,
                    change_unit=change_unit,
                    definition=r["definition"],
                    numerator_text=r["numerator_text"],
                    denominator_text=r["denominator_text"],
                )
            )
        out.append((aspect["label"], lines))
    return out


def _trend_chart(
    code: str, period: Period, previous: Period, scope: ReportScope, actor: Actor
) -> Chart:
    defn = queries.get_def(code)
    cur = queries.trend(code, period, scope.level, scope.unit_id, actor)
    old = queries.trend(code, previous, scope.level, scope.unit_id, actor)

    def series(name: str, rows: list[dict[str, Any]]) -> Series:
        return Series(
            name,
            [r["value"] for r in rows],
            [shown(r["value"], r["status"], r["unit"]) for r in rows],
            [fraction(r) for r in rows],
        )

    return Chart(
        f"trend-{code}",
        f"{defn.name}逐月趋势",
        "line",
        UNIT_LABELS[defn.unit],
        [f"{m.month}月" for m in period.months()],
        [series(period.label, cur), series(f"上年同期（{previous.label}）", old)],
    )


def build_report(
    actor: Actor,
    period: Period,
    level: Level,
    unit_id: int | None,
    *,
    produced_by: str = "",
    fmt: str = "html",
) -> Report:
    """Gather one report (access-checked; every figure audited by `queries`, and the report
    itself once, as `read` for the page and `export` for a file)."""
    queries.check_can_view(actor, "report")
    check_report_period(period)
    check_report_level(level)
    if level == Level.COUNTY:
        unit_id = None
    queries.check_unit(level, unit_id)
    scope = ReportScope(level, unit_id, queries.unit_name(level, unit_id))
    previous = last_year(period)
    current = queries.dashboard(period, level, unit_id, actor)
    before = queries.dashboard(previous, level, unit_id, actor)

    codes = _collected(KEY_RATES, Unit.PERCENT)  # one chart, one scale
    groups = queries.units_of(Level.GROUP)
    per_code = {c: queries.comparison(c, period, Level.GROUP, actor) for c in codes}
    by_unit = {c: {row["unit_id"]: row for row in rows} for c, rows in per_code.items()}
    comparison = Comparison(
        codes=codes,
        headers=[f"{queries.get_def(c).name}（%）" for c in codes],
        groups=groups,
        cells=[[by_unit[c][uid] for c in codes] for uid, _ in groups],
    )
    trends = [_trend_chart(c, period, previous, scope, actor) for c in _collected(TREND_CODES)]
    sections = report_sections.sections(scope, period, actor)
    audit.record(
        actor,
        audit.Action.READ if fmt == "html" else audit.Action.EXPORT,
        "indicator_report",
        period.code,
        detail={"level": level.value, "unit": unit_id, "format": fmt},
    )
    return Report(
        scope=scope,
        period=period,
        previous=previous,
        refreshed_at=current["refreshed_at"],
        produced_at=timezone.now(),
        produced_by=produced_by or actor.username,
        aspects=_lines(current, before),
        comparison=comparison,
        trends=trends,
        sections=sections,
    )


def _local(dt: datetime | None) -> str:
    return timezone.localtime(dt).strftime("%Y-%m-%d %H:%M") if dt else "尚未刷新"


def cover_rows(report: Report) -> list[tuple[str, str]]:
    p = report.period
    return [
        ("报告对象", f"{report.scope.name}（{report.level_label}）"),
        ("统计期", f"{p.label}（{p.start:%Y-%m-%d} 至 {p.end:%Y-%m-%d}）"),
        ("同比基期", report.previous.label),
        ("数据刷新时间", _local(report.refreshed_at)),
        ("报告生成时间", _local(report.produced_at)),
        ("生成人", report.produced_by),
    ]


def section_chart(section: ReportSection) -> Chart | None:
    """A section's optional bar chart: its `chart_column` against its first column."""
    col = section.chart_column
    if col is None or not section.rows or not 0 < col < len(section.columns):
        return None
    vals = [section_number(r[col]) for r in section.rows]
    return Chart(
        "section",
        section.title,
        "bar",
        "",
        [section_cell(r[0]) for r in section.rows],
        [Series(str(section.columns[col]), vals, [number(v) for v in vals])],
    )


def section_cell(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, Decimal | float):
        return f"{float(v):.2f}".rstrip("0").rstrip(".") if v == v else "—"
    return str(v)


def section_number(v: Any) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, int | float | Decimal):
        return float(v)
    return None


# --- Excel --------------------------------------------------------------------------------------

TABLE_HEADER = [
    "维度",
    "编码",
    "指标",
    "分子",
    "分母",
    "值",
    "单位",
    "目标",
    "是否达标",
    "上年同期值",
    "同比变化",
    "变化单位",
    "说明",
    "定义",
]
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")


def sheet_title(title: str, taken: set[str]) -> str:
    base = _BAD_SHEET_CHARS.sub("_", title).strip("'") or "附表"
    base = base[:31]
    name, n = base, 2
    while name in taken:
        suffix = f"({n})"
        name = base[: 31 - len(suffix)] + suffix
        n += 1
    taken.add(name)
    return name


def _cell_value(value: Any, status: str, unit: str) -> Any:
    """A number stays a number; a missing value is its word (未采集, 无数据), never 0."""
    if status in STATUS_WORDS:
        return STATUS_WORDS[status]
    if value is None:
        return "无数据"
    return value


def as_xlsx(report: Report) -> bytes:
    bold = Font(bold=True)
    head_fill = PatternFill("solid", fgColor="DDE7EE")
    wrap = Alignment(wrap_text=True, vertical="top")
    taken: set[str] = set()
    wb = Workbook()

    # cover
    ws = wb.active
    assert ws is not None
    ws.title = sheet_title("封面", taken)
    ws["A1"] = report.title
    ws["A1"].font = Font(bold=True, size=16)
    for label, value in cover_rows(report):
        ws.append([label, value])
        ws.cell(ws.max_row, 1).font = bold
    ws.append([])
    ws.append(["说明", NOTE_MISSING])
    ws.cell(ws.max_row, 1).font = bold
    ws.cell(ws.max_row, 2).alignment = wrap
    ws.column_dimensions["A"].width = 16
    ws.column_dimensions["B"].width = 80
    contents_row = ws.max_row + 2
    ws.cell(contents_row, 1, "目录").font = bold

    # the indicator table
    t = wb.create_sheet(sheet_title("指标表", taken))
    t.append([f"{report.title} · 指标表（同比基期：{report.previous.label}）"])
    t["A1"].font = Font(bold=True, size=13)
    t.append(TABLE_HEADER)
    for cell in t[2]:
        cell.font = bold
        cell.fill = head_fill
    for line in report.lines:
        note = STATUS_WORDS.get(line.status, "")
        if line.reason:
            note = f"{note}：{line.reason}" if note else line.reason
        t.append(
            [
                line.aspect,
                line.code,
                line.name,
                None if line.missing else line.numerator,
                None if line.missing else line.denominator,
                _cell_value(line.value, line.status, line.unit),
                line.unit_label,
                line.target,
                "" if line.met is None else ("达标" if line.met else "未达标"),
                _cell_value(line.last_value, line.last_status, line.unit),
                line.change,
                line.change_unit,
                note,
                line.definition,
            ]
        )
        for col in (6, 10, 11):
            c = t.cell(t.max_row, col)
            if isinstance(c.value, int | float) and line.unit != Unit.COUNT.value:
                c.number_format = "0.00"
        t.cell(t.max_row, 14).alignment = wrap
    for i, width in enumerate([10, 24, 30, 10, 10, 10, 8, 8, 8, 10, 10, 9, 30, 60], start=1):
        t.column_dimensions[_col(i)].width = width
    t.freeze_panes = "D3"

    # comparison between groups
    if report.comparison.groups and report.comparison.codes:
        _chart_sheet(wb, taken, report.comparison_chart, report, bold, head_fill)
    for chart in report.trends:
        _chart_sheet(wb, taken, chart, report, bold, head_fill)

    # registered sections (the 1000-point scoring table …)
    for section in report.sections:
        s = wb.create_sheet(sheet_title(section.title, taken))
        s.append([section.title])
        s["A1"].font = Font(bold=True, size=13)
        s.append(list(section.columns))
        for cell in s[2]:
            cell.font = bold
            cell.fill = head_fill
        for row in section.rows:
            s.append([_section_xlsx(v) for v in row])
        if section.note:
            s.append([])
            s.append([section.note])
        for i in range(1, len(section.columns) + 1):
            s.column_dimensions[_col(i)].width = 16
        bars = section_chart(section)
        if bars is not None:
            _chart_block(s, bars, s.max_row + 3, bold)

    # table of contents on the cover
    for i, name in enumerate(wb.sheetnames[1:], start=1):
        ws.cell(contents_row + i, 1, f"{i}.")
        ws.cell(contents_row + i, 2, name)
    return xlsx_bytes(wb)


def _col(i: int) -> str:
    return get_column_letter(i)


def _section_xlsx(v: Any) -> Any:
    if v is None:
        return "—"
    if isinstance(v, Decimal):
        return float(v)
    return v


def _chart_sheet(
    wb: Workbook, taken: set[str], chart: Chart, report: Report, bold: Font, fill: PatternFill
) -> None:
    """A sheet with the chart's table as read (numbers, or 无数据 / 未采集 words, with
    numerator/denominator), the chart's data block (numbers; missing left empty so Excel
    leaves a gap rather than drawing 0) and the Excel chart over that block."""
    title = "医共体比较" if chart.kind == "bar" else chart.title.replace("逐月趋势", "趋势")
    s = wb.create_sheet(sheet_title(title, taken))
    s.append([f"{report.title} · {chart.title}"])
    s["A1"].font = Font(bold=True, size=13)
    first = "医共体" if chart.kind == "bar" else "月份"
    header = [first]
    for se in chart.series:
        header += [se.name, f"{se.name}·分子/分母"]
    s.append(header)
    for cell in s[2]:
        cell.font = bold
        cell.fill = fill
    for i, cat in enumerate(chart.categories):
        row: list[Any] = [cat]
        for se in chart.series:
            v = se.values[i]
            row += [v if v is not None else se.texts[i], se.fractions[i] if se.fractions else ""]
        s.append(row)
    s.column_dimensions["A"].width = 24
    for i in range(2, len(header) + 1):
        s.column_dimensions[_col(i)].width = 18
    _chart_block(s, chart, s.max_row + 3, bold)


def _chart_block(s: Any, chart: Chart, top: int, bold: Font) -> None:
    """Write the chart's numbers at `top` (header row, then one row per category; missing
    values empty) and anchor an Excel chart referencing them."""
    s.cell(top - 1, 1, "图表数据（缺失值留空，不按 0 绘制）").font = bold
    s.cell(top, 1, "类别").font = bold
    for j, se in enumerate(chart.series, start=2):
        s.cell(top, j, se.name).font = bold
    for i, cat in enumerate(chart.categories, start=1):
        s.cell(top + i, 1, cat)
        for j, se in enumerate(chart.series, start=2):
            s.cell(top + i, j, se.values[i - 1])
    n = len(chart.categories)
    xl: Any = BarChart() if chart.kind == "bar" else LineChart()
    if chart.kind == "bar":
        xl.type = "col"
        xl.grouping = "clustered"
    xl.title = chart.title
    xl.y_axis.title = chart.unit_label
    xl.x_axis.delete = False
    xl.y_axis.delete = False
    xl.display_blanks = "gap"
    xl.height, xl.width = 9, 18
    data = Reference(s, min_col=2, max_col=1 + len(chart.series), min_row=top, max_row=top + n)
    xl.add_data(data, titles_from_data=True)
    xl.set_categories(Reference(s, min_col=1, min_row=top + 1, max_row=top + n))
    s.add_chart(xl, f"{_col(len(chart.series) + 3)}{top}")


# --- charts as drawings (PDF and the printable page) --------------------------------------------

CJK_FONT = "STSong-Light"
PALETTE = ["#2f6f9f", "#d9822b", "#3a9a5b", "#a23b72", "#6c5fa7", "#8c8c8c"]
_font_ready = False


def _cjk_font() -> str:
    """Reportlab's built-in Adobe CID font for Simplified Chinese: no font file to ship; a
    PDF reader supplies the glyphs (every Chinese PDF reader has them)."""
    global _font_ready
    if not _font_ready:
        from reportlab.pdfbase import pdfmetrics
        from reportlab.pdfbase.cidfonts import UnicodeCIDFont

        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
        _font_ready = True
    return CJK_FONT


def drawing(chart: Chart, width: float = 500, height: float = 230) -> Any:
    """The chart as a reportlab Drawing: grouped bars or lines (with point markers, so a
    lone month shows), a legend of up to two columns above the plot, unit, Chinese labels;
    a missing value is a gap (no bar, a break in the line), never 0."""
    from reportlab.graphics.charts.legends import Legend
    from reportlab.graphics.shapes import Drawing, String
    from reportlab.lib import colors

    font = _cjk_font()
    legend_rows = -(-len(chart.series) // 2)
    extra = max(0, legend_rows - 1) * 12
    d = Drawing(width, height + extra)
    top = height + extra
    d.add(String(width / 2, top - 14, chart.title, fontName=font, fontSize=11, textAnchor="middle"))
    # a series without any value is left out of the plot (reportlab cannot draw an empty
    # line) and named "无数据" in the legend; with no value at all, the plot says so
    drawn = [i for i, se in enumerate(chart.series) if any(v is not None for v in se.values)]
    if not drawn:
        d.add(
            String(
                width / 2, height / 2, "期内无数据", fontName=font, fontSize=10, textAnchor="middle"
            )
        )
    else:
        d.add(_plot(chart, drawn, width, height, font))
    d.add(String(8, height - 38, chart.unit_label, fontName=font, fontSize=8))
    legend = Legend()
    legend.fontName = font
    legend.fontSize = 8
    legend.alignment = "right"
    legend.columnMaximum = legend_rows
    legend.dx = legend.dy = 7
    legend.deltay = 12
    legend.x, legend.y = 46, top - 26
    legend.deltax = (width - 60) / 2
    legend.colorNamePairs = [
        (colors.HexColor(PALETTE[i % len(PALETTE)]), se.name + ("" if i in drawn else "（无数据）"))
        for i, se in enumerate(chart.series)
    ]
    d.add(legend)
    return d


def _plot(chart: Chart, drawn: list[int], width: float, height: float, font: str) -> Any:
    from reportlab.graphics.charts.barcharts import VerticalBarChart
    from reportlab.graphics.charts.linecharts import HorizontalLineChart
    from reportlab.graphics.widgets.markers import makeMarker
    from reportlab.lib import colors

    plot: Any = VerticalBarChart() if chart.kind == "bar" else HorizontalLineChart()
    bottom = 62 if chart.kind == "bar" else 44
    plot.x, plot.y = 46, bottom
    plot.width, plot.height = width - 60, height - bottom - 44
    plot.data = [tuple(chart.series[i].values) for i in drawn]
    plot.categoryAxis.categoryNames = list(chart.categories)
    plot.categoryAxis.labels.fontName = font
    plot.categoryAxis.labels.fontSize = 8
    plot.valueAxis.labels.fontSize = 8
    plot.valueAxis.valueMin = 0
    nums = [float(v) for i in drawn for v in chart.series[i].values if v is not None]
    top = max(nums) if nums else 1.0
    if chart.unit_label == "%":
        plot.valueAxis.valueMax = 100 if top <= 100 else top * 1.1
    else:
        plot.valueAxis.valueMax = top * 1.15 if top > 0 else 1
    for k, i in enumerate(drawn):
        color = colors.HexColor(PALETTE[i % len(PALETTE)])
        if chart.kind == "bar":
            plot.bars[k].fillColor = color
            plot.bars[k].strokeColor = None
        else:
            plot.lines[k].strokeColor = color
            plot.lines[k].strokeWidth = 2 if i == 0 else 1.2
            plot.lines[k].symbol = makeMarker("FilledCircle" if i == 0 else "Circle", size=4)
            plot.lines[k].symbol.fillColor = color if i == 0 else colors.white
            plot.lines[k].symbol.strokeColor = color
            if i:
                plot.lines[k].strokeDashArray = (3, 2)
    if chart.kind == "bar":
        many = len(chart.categories) > 3
        plot.categoryAxis.labels.angle = 20 if many else 0
        plot.categoryAxis.labels.boxAnchor = "ne" if many else "n"
        plot.groupSpacing = 8
    return plot


_SVG_FONT = "font-family: 'Noto Serif CJK SC', 'Songti SC', SimSun, 'Noto Sans CJK SC', serif"


def chart_svg(chart: Chart, n: int) -> str:
    """The chart as inline SVG for the printable page (no script, so it prints as drawn).
    Reportlab escapes every text it writes; the prolog is dropped and the clip id made
    unique on the page."""
    from reportlab.graphics import renderSVG

    svg = renderSVG.drawToString(drawing(chart))
    svg = svg[svg.index("<svg") :]
    svg = svg.replace('id="clip"', f'id="clip-{n}"').replace("url(#clip)", f"url(#clip-{n})")
    svg = svg.replace(f"font-family: {CJK_FONT}", _SVG_FONT)
    svg = re.sub(r"<title>.*?</title>", f"<title>{_xml(chart.title)}</title>", svg, count=1)
    svg = re.sub(r'^<svg width="[\d.]+" height="[\d.]+"', '<svg role="img"', svg, count=1)
    return svg


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# --- PDF ----------------------------------------------------------------------------------------


def as_pdf(report: Report) -> bytes:
    """A4 portrait: the title page, the indicator table by aspect, the group comparison,
    the trends and the registered sections; a running footer with the page number."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import (
        KeepTogether,
        PageBreak,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        Table,
        TableStyle,
    )

    font = _cjk_font()
    body = ParagraphStyle("body", fontName=font, fontSize=9, leading=13, wordWrap="CJK")
    small = ParagraphStyle(
        "small", parent=body, fontSize=7.5, leading=10, textColor=colors.HexColor("#444444")
    )
    h1 = ParagraphStyle("h1", parent=body, fontSize=20, leading=28, alignment=1, spaceAfter=18)
    h2 = ParagraphStyle("h2", parent=body, fontSize=14, leading=20, spaceBefore=6, spaceAfter=6)
    h3 = ParagraphStyle("h3", parent=body, fontSize=11, leading=16, spaceBefore=8, spaceAfter=4)
    cell = ParagraphStyle("cell", parent=body, fontSize=8, leading=10)
    grid = TableStyle(
        [
            ("FONTNAME", (0, 0), (-1, -1), font),
            ("FONTSIZE", (0, 0), (-1, -1), 8),
            ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#9aa5ad")),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dde7ee")),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("LEFTPADDING", (0, 0), (-1, -1), 3),
            ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ]
    )

    def p(text: str, style: ParagraphStyle = cell) -> Paragraph:
        return Paragraph(_xml(text), style)

    story: list[Any] = [Spacer(1, 40 * mm), p(report.title, h1)]
    cover = Table(
        [[p(k, body), p(v, body)] for k, v in cover_rows(report)], colWidths=[35 * mm, 110 * mm]
    )
    cover.setStyle(grid)
    cover.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#eef3f6")),
                ("BACKGROUND", (1, 0), (1, 0), colors.white),
            ]
        )
    )
    story += [cover, Spacer(1, 10 * mm), p(NOTE_MISSING, small), PageBreak()]

    story.append(p(f"一、指标表（同比基期：{report.previous.label}）", h2))
    widths = [x * mm for x in (52, 17, 17, 21, 15, 13, 21, 26)]
    for label, lines in report.aspects:
        rows: list[list[Any]] = [
            [p(h) for h in ("指标", "分子", "分母", "值", "目标", "达标", "上年同期", "同比")]
        ]
        spans = []
        for line in lines:
            if line.missing:
                rows.append(
                    [p(line.name), p(f"{line.shown}：{line.reason}"), "", "", "", "", "", ""]
                )
                spans.append(("SPAN", (1, len(rows) - 1), (-1, len(rows) - 1)))
                continue
            unit = "" if line.unit == Unit.COUNT.value else f" {line.unit_label}"
            rows.append(
                [
                    p(line.name),
                    p(number(line.numerator, "count")),
                    p("—" if line.denominator is None else number(line.denominator, "count")),
                    p(line.shown + (unit if line.value is not None else "")),
                    p(line.target_text),
                    p(line.met_text),
                    p(line.last_shown),
                    p(line.change_text),
                ]
            )
        table = Table(rows, colWidths=widths, repeatRows=1)
        table.setStyle(grid)
        if spans:
            table.setStyle(TableStyle(spans))
        story += [p(label, h3), table]

    chapter = 2
    if report.comparison.groups and report.comparison.codes:
        c = report.comparison
        story += [
            PageBreak(),
            p(f"{_cn(chapter)}、各医共体重点指标比较（{report.period.label}）", h2),
        ]
        chapter += 1
        head = [p("医共体")] + [p(h) for h in c.headers]
        body_rows = [
            [p(name)]
            + [Paragraph("<br/>".join(_xml(t) for t in _value_lines(v) if t), cell) for v in row]
            for (_, name), row in zip(c.groups, c.cells, strict=True)
        ]
        first = 40 * mm
        rest = (180 * mm - first) / max(1, len(c.headers))
        table = Table([head, *body_rows], colWidths=[first] + [rest] * len(c.headers), repeatRows=1)
        table.setStyle(grid)
        story += [
            table,
            Spacer(1, 4 * mm),
            p("每格：值（%），其下为分子/分母。", small),
            Spacer(1, 4 * mm),
            drawing(report.comparison_chart),
        ]
    if report.trends:
        story += [PageBreak(), p(f"{_cn(chapter)}、逐月趋势（本期与上年同期）", h2)]
        chapter += 1
        for chart in report.trends:
            story.append(KeepTogether([drawing(chart), Spacer(1, 6 * mm)]))
    for section in report.sections:
        story += [PageBreak(), p(f"{_cn(chapter)}、{section.title}", h2)]
        chapter += 1
        n = max(1, len(section.columns))
        rows = [[p(str(h)) for h in section.columns]]
        rows += [[p(section_cell(v)) for v in r] for r in section.rows]
        table = Table(rows, colWidths=[180 * mm / n] * n, repeatRows=1)
        table.setStyle(grid)
        story.append(table)
        if section.note:
            story += [Spacer(1, 3 * mm), p(section.note, small)]
        bars = section_chart(section)
        if bars is not None:
            story += [Spacer(1, 4 * mm), drawing(bars)]

    footer = f"{report.scope.name}　{report.period.label}　监测指标报告"

    def on_page(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(font, 8)
        canvas.drawString(15 * mm, 10 * mm, footer)
        canvas.drawRightString(A4[0] - 15 * mm, 10 * mm, f"第 {doc.page} 页")
        canvas.restoreState()

    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=18 * mm,
        title=report.title,
        author=report.produced_by,
        subject=f"{report.period.label} 监测指标",
        creator="医共体信息平台",
    )
    doc.build(story, onFirstPage=on_page, onLaterPages=on_page)
    return out.getvalue()


def _value_lines(v: dict[str, Any]) -> tuple[str, str]:
    return shown(v["value"], v["status"], v["unit"]), fraction(v)


def _cn(n: int) -> str:
    return "零一二三四五六七八九十"[n] if n <= 10 else str(n)
