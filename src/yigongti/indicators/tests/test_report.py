"""The half-yearly and yearly indicator report (指标报告): the workbook, the PDF and the
printable page carry the hand-computed figures of the tiny group (tests/conftest.py) with
last year's values and the change; not-collected entries stay 未采集 and empty last-year
rates 无数据 (never 0); the charts reference the right cells; registered sections become a
sheet and a table; only the commission and group administrators may; months and quarters
are refused naming `period`."""

from __future__ import annotations

import io
import re
from datetime import date
from decimal import Decimal
from urllib.parse import unquote

import pytest
from openpyxl import load_workbook

from yigongti.core.actor import Actor
from yigongti.core.errors import DomainError
from yigongti.core.models import AuditEntry
from yigongti.indicators import facts, report_sections, reports
from yigongti.indicators.report_sections import ReportScope, ReportSection
from yigongti.indicators.rules import Level, Period, parse_period

from .conftest import YEAR_2025

pytestmark = pytest.mark.django_db

YEAR_2024 = [date(2024, m, 1) for m in range(1, 13)]
SCORING = "test-scoring"


@pytest.fixture
def built(tiny):
    """Facts for 2024 (the year-on-year base) and 2025."""
    facts.rebuild_facts(YEAR_2024 + YEAR_2025)
    return tiny


@pytest.fixture(autouse=True)
def _only_test_sections(monkeypatch):
    """Sections registered by apps above (the scoring app's) are theirs to test: these tests
    see only the provider they register."""
    monkeypatch.setattr(report_sections, "_PROVIDERS", {})


@pytest.fixture
def scoring_section():
    """A section provider like the 1000-point scoring app's, registered for the test only."""
    seen: list[tuple[ReportScope, Period]] = []

    def provider(scope: ReportScope, period: Period, actor: Actor) -> ReportSection | None:
        seen.append((scope, period))
        return ReportSection(
            title="千分制考核得分",
            columns=["机构", "得分", "等级"],
            rows=[["测试一镇卫生院", Decimal("912.5"), "优秀"], ["测试二镇卫生院", 780, None]],
            note="快照：2025-12-31",
            chart_column=1,
        )

    report_sections.register(SCORING, provider)
    yield seen
    report_sections._PROVIDERS.pop(SCORING, None)


def _group_params(t, period="2025"):
    return {"period": period, "level": "group", "unit": t.group.pk}


def _rows(ws, header_row=2):
    header = [c.value for c in ws[header_row]]
    return header, {
        r[1]: dict(zip(header, r, strict=False))
        for r in ws.iter_rows(min_row=header_row + 1, values_only=True)
        if r[1]
    }


# --- pure pieces --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("unit", "current", "previous", "expected"),
    [
        ("%", 58.33, 100, (-41.67, "个百分点")),  # rates: percentage points
        ("%", 66.67, 0, (66.67, "个百分点")),
        ("‰", 3.5, 2, (1.5, "个千分点")),
        ("count", 12, 1, (1100.0, "%")),  # volumes: per cent of last year
        ("count", 12, 0, (None, "")),  # no base
        ("ratio", 0.33, None, (None, "")),  # last year missing: no change, not 0
        ("%", None, 50, (None, "")),
    ],
)
def test_year_on_year_change(unit, current, previous, expected):
    assert reports.year_on_year(unit, current, previous) == expected


@pytest.mark.parametrize(
    ("today", "expected"),
    [(date(2026, 7, 3), "2026H1"), (date(2026, 3, 1), "2025H2"), (date(2026, 12, 31), "2026H1")],
)
def test_default_period_is_the_last_complete_half_year(today, expected):
    assert reports.default_period(today).code == expected


@pytest.mark.parametrize("text", ["2025Q1", "2025-03"])
def test_months_and_quarters_are_refused_naming_period(text):
    with pytest.raises(DomainError) as exc:
        reports.parse_params(text, "county", None)
    assert [e.field for e in exc.value.errors] == ["period"]
    assert "半年" in exc.value.errors[0].msg_zh


def test_build_report_refuses_a_quarter_and_a_facility(built):
    system = Actor.system("test")
    with pytest.raises(DomainError) as exc:
        reports.build_report(system, parse_period("2025Q2"), Level.COUNTY, None)
    assert exc.value.errors[0].field == "period"
    with pytest.raises(DomainError) as exc:
        reports.parse_params("2025", "facility", str(built.hospital.pk))
    assert exc.value.errors[0].field == "level"
    with pytest.raises(DomainError) as exc:
        reports.parse_params("2025", "group", None)
    assert exc.value.errors[0].field == "unit"


def test_sheet_titles_are_valid_and_unique():
    taken: set[str] = set()
    assert reports.sheet_title("a/b:c", taken) == "a_b_c"
    long = "很长的标题" * 10
    first = reports.sheet_title(long, taken)
    second = reports.sheet_title(long, taken)
    assert len(first) == 31 and len(second) == 31 and first != second


# --- the workbook -------------------------------------------------------------------------------


def test_workbook_has_the_hand_computed_group_figures_with_last_year(
    client_as, built, scoring_section
):
    r = client_as("commission").get("/indicators/report/report.xlsx", _group_params(built))
    assert r.status_code == 200
    assert r["Content-Type"].startswith("application/vnd.openxmlformats")
    cd = r["Content-Disposition"]
    assert cd.startswith("attachment; ")
    assert 'filename="indicator-report-2025-group-' in cd
    assert unquote(cd.split("filename*=UTF-8''")[1]) == "指标报告_测试医共体_2025年.xlsx"

    wb = load_workbook(io.BytesIO(r.content))
    assert wb.sheetnames[:2] == ["封面", "指标表"]
    assert "医共体比较" in wb.sheetnames and "千分制考核得分" in wb.sheetnames
    cover = wb["封面"]
    assert cover["A1"].value == "测试医共体2025年紧密型县域医共体监测指标报告"
    info = {row[0]: row[1] for row in cover.iter_rows(min_row=2, max_col=2, values_only=True)}
    assert info["报告对象"] == "测试医共体（医共体）"
    assert info["统计期"] == "2025年（2025-01-01 至 2025-12-31）"
    assert info["同比基期"] == "2024年"
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d$", info["数据刷新时间"])
    assert "卫健委" in info["生成人"] or "commission" in info["生成人"]

    header, rows = _rows(wb["指标表"])
    assert header[:6] == ["维度", "编码", "指标", "分子", "分母", "值"]
    share = rows["primary_visit_share"]
    # 7 primary visits of 12 in 2025 (test_values.GROUP_2025); in 2024 the one visit was at
    # township centre 2: 1 of 1 = 100 %; the change is −41.67 percentage points
    assert (share["分子"], share["分母"], share["值"]) == (7, 12, 58.33)
    assert (share["目标"], share["是否达标"]) == (55, "达标")
    assert (share["上年同期值"], share["同比变化"], share["变化单位"]) == (100, -41.67, "个百分点")
    visits = rows["outpatient_visits"]
    assert (visits["分子"], visits["值"], visits["上年同期值"]) == (12, 12, 1)
    assert (visits["同比变化"], visits["变化单位"]) == (1100, "%")
    # hypertension control 2/3; on 2024-12-31 a, b, c, d were managed and nobody followed up
    control = rows["htn_control_rate"]
    assert (control["值"], control["上年同期值"], control["同比变化"]) == (66.67, 0, 66.67)
    # not collected: the word, never 0, in this year and last
    tcm = rows["tcm_visit_share"]
    assert (tcm["分子"], tcm["分母"], tcm["值"], tcm["上年同期值"]) == (
        None,
        None,
        "未采集",
        "未采集",
    )
    assert tcm["同比变化"] is None and str(tcm["说明"]).startswith("未采集")

    scores = wb["千分制考核得分"]
    assert [c.value for c in scores[2]] == ["机构", "得分", "等级"]
    assert [c.value for c in scores[3]] == ["测试一镇卫生院", 912.5, "优秀"]
    assert [c.value for c in scores[4]] == ["测试二镇卫生院", 780, "—"]
    (chart,) = scores._charts
    # the scores' bars: below the table and its note, the chart's own block (B10:B11)
    assert _series(chart) == [
        ("'千分制考核得分'!B9", "'千分制考核得分'!$A$10:$A$11", "'千分制考核得分'!$B$10:$B$11")
    ]
    assert (scores["A10"].value, scores["B10"].value) == ("测试一镇卫生院", 912.5)
    # the provider saw the report's scope and period
    scope, period = scoring_section[-1]
    assert (scope.level, scope.unit_id, scope.name, period.code) == (
        Level.GROUP,
        built.group.pk,
        "测试医共体",
        "2025",
    )

    entries = AuditEntry.objects.filter(action="export", object_type="indicator_report")
    assert entries.count() == 1
    assert entries.get().detail["format"] == "xlsx"


def test_half_year_report_shows_an_empty_last_year_as_missing(client_as, built):
    r = client_as("group_admin").get(
        "/indicators/report/report.xlsx", _group_params(built, "2025H1")
    )
    assert r.status_code == 200
    _, rows = _rows(load_workbook(io.BytesIO(r.content))["指标表"])
    share = rows["primary_visit_share"]
    assert (share["分子"], share["分母"], share["值"]) == (7, 12, 58.33)
    # 2024H1 had no visit at all: 0 of 0 is 无数据, the change unknown — not 0
    assert (share["上年同期值"], share["同比变化"]) == ("无数据", None)
    visits = rows["outpatient_visits"]
    assert (visits["值"], visits["上年同期值"], visits["同比变化"]) == (12, 0, None)


def _series(chart):
    return [
        (s.tx.strRef.f, s.cat.strRef.f if s.cat.strRef else s.cat.numRef.f, s.val.numRef.f)
        for s in chart.series
    ]


def test_charts_reference_the_right_cells(client_as, built):
    r = client_as("commission").get("/indicators/report/report.xlsx", {"period": "2025"})
    wb = load_workbook(io.BytesIO(r.content))
    assert wb["封面"]["A1"].value.endswith("2025年紧密型县域医共体监测指标报告")

    # the group comparison: one row per group; the chart's block has numbers, missing empty
    cmp = wb["医共体比较"]
    names = [r[0] for r in cmp.iter_rows(min_row=3, values_only=True) if r[0]]
    n_groups = names.index("图表数据（缺失值留空，不按 0 绘制）")
    groups = names[:n_groups]
    assert "测试医共体" in groups
    (chart,) = cmp._charts
    assert chart.tagname == "barChart"
    top = 2 + n_groups + 3  # header row of the chart's block
    first = _series(chart)[0]
    assert first == (
        f"'医共体比较'!B{top}",
        f"'医共体比较'!$A${top + 1}:$A${top + n_groups}",
        f"'医共体比较'!$B${top + 1}:$B${top + n_groups}",
    )
    assert cmp.cell(top, 2).value == "县域内基层医疗卫生机构门急诊人次占比（%）"
    i = groups.index("测试医共体")
    assert cmp.cell(top + 1 + i, 1).value == "测试医共体"
    assert cmp.cell(top + 1 + i, 2).value == 58.33
    # the visible table row: value and numerator/denominator
    row = next(r for r in cmp.iter_rows(min_row=3, values_only=True) if r[0] == "测试医共体")
    assert row[1:3] == (58.33, "7/12")

    # the monthly trend of visits of the county, this year and last
    trend = wb["门急诊人次趋势"]
    (line,) = trend._charts
    assert line.tagname == "lineChart"
    top = 2 + 12 + 3
    assert [s[2] for s in _series(line)] == [
        f"'门急诊人次趋势'!$B${top + 1}:$B${top + 12}",
        f"'门急诊人次趋势'!$C${top + 1}:$C${top + 12}",
    ]
    assert trend.cell(top + 1, 1).value == "1月" and trend.cell(top + 12, 1).value == "12月"


def test_group_trend_of_the_primary_share_leaves_empty_months_empty(client_as, built):
    r = client_as("commission").get("/indicators/report/report.xlsx", _group_params(built))
    ws = load_workbook(io.BytesIO(r.content))["县域内基层医疗卫生机构门急诊人次占比趋势"]
    table = list(ws.iter_rows(min_row=3, max_row=14, values_only=True))
    # March: centre 1's 4 of 6; April: the hospital's 1 visit (0 of 1); May: 3 of 5;
    # January: nothing to divide — 无数据 in the table, an empty cell in the chart's block
    assert table[2][:3] == ("3月", 66.67, "4/6")
    assert table[3][:3] == ("4月", 0, "0/1")
    assert table[4][:3] == ("5月", 60, "3/5")
    assert table[0][:3] == ("1月", "无数据", "0/0")
    assert ws.cell(17 + 1, 2).value is None and ws.cell(17 + 3, 2).value == 66.67
    # last year: December 2024's single visit was at a township centre
    assert table[11][3:5] == (100, "1/1")


# --- the PDF ------------------------------------------------------------------------------------


def test_pdf_is_a_paged_document_with_a_chinese_file_name(client_as, built, scoring_section):
    r = client_as("commission").get("/indicators/report/report.pdf", _group_params(built))
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf"
    assert r.content.startswith(b"%PDF-")
    assert len(r.content) > 5000
    assert len(re.findall(rb"/Type /Page\b", r.content)) >= 4  # cover, table, charts, scores
    assert unquote(r["Content-Disposition"].split("''")[1]) == "指标报告_测试医共体_2025年.pdf"
    assert AuditEntry.objects.filter(action="export", object_type="indicator_report").exists()


def test_pdf_text_carries_the_figures(client_as, built, scoring_section):
    pypdf = pytest.importorskip("pypdf")
    r = client_as("commission").get("/indicators/report/report.pdf", _group_params(built))
    reader = pypdf.PdfReader(io.BytesIO(r.content))
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "测试医共体2025年紧密型县域医共体监测指标报告" in text
    assert "县域内基层医疗卫生机构门急诊人次占比" in text
    assert "58.33" in text and "100.00" in text and "-41.67" in text
    assert "未采集" in text
    assert "千分制考核得分" in text and "912.5" in text
    assert "第 1 页" in text


# --- the printable page -------------------------------------------------------------------------


def test_printable_page_shows_the_figures_charts_and_sections(client_as, built, scoring_section):
    r = client_as("group_admin").get("/indicators/report/", _group_params(built))
    assert r.status_code == 200
    html = r.content.decode()
    assert "测试医共体2025年紧密型县域医共体监测指标报告" in html
    row = html.split('id="row-primary_visit_share"')[1].split("</tr>")[0]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    text = [re.sub(r"<[^>]+>", "", c).strip() for c in cells]
    assert text == [
        "县域内基层医疗卫生机构门急诊人次占比",
        "7",
        "12",
        "58.33 %",
        "≥55.00",
        "达标",
        "100.00",
        "-41.67 个百分点",
    ]
    tcm = html.split('id="row-tcm_visit_share"')[1].split("</tr>")[0]
    assert "未采集" in tcm and ">0<" not in tcm
    assert html.count("<svg") == 4  # comparison bars, two trends, the scores' bars
    assert "data-print" in html and "indicators/report.css" in html
    assert "千分制考核得分" in html and "912.5" in html
    assert "/indicators/report/report.pdf?period=2025&amp;level=group" in html
    assert AuditEntry.objects.filter(action="read", object_type="indicator_report").count() == 1


def test_page_without_parameters_reports_the_county_for_the_last_half_year(client_as, built):
    r = client_as("commission").get("/indicators/report/")
    assert r.status_code == 200
    assert f"{reports.default_period().label}紧密型县域医共体监测指标报告" in r.content.decode()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"period": "2025Q2"}, "period"),
        ({"period": "2025-06"}, "period"),
        ({"period": "2025", "level": "village"}, "level"),
        ({"period": "2025", "level": "group", "unit": "999999"}, "unit"),
    ],
)
def test_bad_parameters_are_named(client_as, built, params, field):
    c = client_as("commission")
    page = c.get("/indicators/report/", params)
    assert page.status_code == 400
    assert f'data-field="{field}"' in page.content.decode()
    download = c.get("/indicators/report/report.xlsx", params)
    assert download.status_code == 400
    assert download.content.decode().startswith(f"{field}：")
    assert not AuditEntry.objects.filter(object_type="indicator_report").exists()


def test_unknown_format_is_404(client_as, built):
    assert client_as("commission").get("/indicators/report/report.docx").status_code == 404


@pytest.mark.parametrize(
    "who", ["village_doctor", "township_doctor", "outsider_doctor", "pharmacist", "county_doctor"]
)
@pytest.mark.parametrize(
    "url",
    ["/indicators/report/", "/indicators/report/report.xlsx", "/indicators/report/report.pdf"],
)
def test_clinicians_and_the_outsider_are_refused(client_as, built, who, url):
    r = client_as(who).get(url, {"period": "2025"})
    assert r.status_code == 403
    assert not AuditEntry.objects.filter(object_type="indicator_report").exists()


def test_build_report_refuses_the_outsider_and_audits_the_denial(actor, built):
    from yigongti.core.errors import Forbidden

    with pytest.raises(Forbidden):
        reports.build_report(actor("outsider_doctor"), parse_period("2025"), Level.COUNTY, None)
