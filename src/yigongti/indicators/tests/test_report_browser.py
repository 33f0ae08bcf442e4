"""The printable indicator report in a real Chromium: the group administrator opens the
group's 2025 report, sees the hand-computed figures and the three charts, the 打印 button is
there; printed (print media), the navigation and the tools disappear and Chromium's own
`page.pdf()` makes an A4 document of several pages. The outsider doctor gets the 403 page.
Screenshots go to test-artifacts/.

Skipped without /usr/bin/chromium unless YGT_REQUIRE_BROWSER=1 (then failed)."""

from __future__ import annotations

import os
import re
from datetime import date

import pytest

from yigongti.indicators import facts, report_sections
from yigongti.web.tests.test_browser import ARTIFACTS, _login, browser  # noqa: F401

from .conftest import YEAR_2025

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = pytest.mark.browser


def test_print_page_renders_prints_and_refuses_the_outsider(
    transactional_db,
    county,
    tiny,
    live_server,
    browser,  # noqa: F811
    monkeypatch,
):
    monkeypatch.setattr(report_sections, "_PROVIDERS", {})
    facts.rebuild_facts([date(2024, 12, 1), *YEAR_2025])
    base = live_server.url
    url = f"{base}/indicators/report/?period=2025&level=group&unit={tiny.group.pk}"

    page = _login(browser, base, "group_admin")
    page.set_viewport_size({"width": 1000, "height": 1200})
    page.goto(url)
    assert page.locator("h1").inner_text() == "测试医共体2025年紧密型县域医共体监测指标报告"
    row = page.locator("#row-primary_visit_share")
    assert row.locator("td.value").inner_text() == "58.33 %"
    assert row.locator("td.last").inner_text() == "100.00"
    assert row.locator("td.change").inner_text() == "-41.67 个百分点"
    assert "未采集" in page.locator("#row-tcm_visit_share").inner_text()
    assert page.locator("figure.chart svg").count() == 3
    # the SVG charts are drawn at a readable size
    box = page.locator("#chart-comparison svg").bounding_box()
    assert box is not None and box["width"] > 400 and box["height"] > 150
    assert page.locator("button[data-print]").is_visible()
    assert page.locator("nav.nav").is_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "indicator-report.png"), full_page=True)

    page.emulate_media(media="print")
    assert page.locator("nav.nav").is_hidden()
    assert page.locator("button[data-print]").is_hidden()
    assert page.locator("header.topbar").is_hidden()
    assert page.locator("h1").is_visible()
    pdf = page.pdf(format="A4", print_background=True, prefer_css_page_size=True)
    assert pdf.startswith(b"%PDF-")
    pages = len(re.findall(rb"/Type\s*/Page\b", pdf))
    assert pages >= 4, pages  # cover, the table, the comparison, the charts
    (ARTIFACTS / "indicator-report-print.pdf").write_bytes(pdf)
    page.context.close()

    outsider = _login(browser, base, "outsider_doctor")
    response = outsider.goto(url)
    assert response is not None and response.status == 403
    assert "无权" in outsider.content()
    outsider.context.close()
