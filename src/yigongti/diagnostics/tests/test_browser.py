"""End to end in a real Chromium: the shared diagnosis centres (共享诊断中心).

The resident had a chest film reported two days ago. The township doctor, on a phone, asks the
county imaging centre for the same film: the mutual-recognition notice names the earlier
report, and the doctor overrides it with a reason. The county doctor (a reader at the centre's
hospital) finds the study in the reading queue marked 重复检查, claims it, starts the report
from a template and flags a critical value. The township doctor sees the critical value at the
top of 诊断中心, acknowledges it and records the action taken. The group administrator (another
reader of the group's centres) reviews the report, and the quality page shows the rates with
numerator and denominator. The outsider doctor gets the 404 page. Screenshots go to
test-artifacts/.

Skipped without /usr/bin/chromium unless YGT_REQUIRE_BROWSER=1 (then failed)."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any
from urllib.parse import urljoin

import pytest
from django.utils import timezone

from yigongti.diagnostics.models import CriticalValue, ReportTemplate, Study
from yigongti.web.tests.test_browser import ARTIFACTS, PHONE, _login, browser  # noqa: F401

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = pytest.mark.browser


def fits_phone(page: Any) -> None:
    """Nothing on the page is wider than the phone's screen (no sideways scrolling)."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width}px wide at phone width"


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def links_ok(page: Any) -> None:
    """Every link in the page's content opens (no 404 or error page) for this user."""
    hrefs = page.eval_on_selector_all("main a[href]", "els => els.map(e => e.getAttribute('href'))")
    for href in sorted(set(hrefs)):
        if href.startswith(("#", "mailto:", "tel:")):
            continue
        status = page.context.request.get(urljoin(page.url, href)).status
        assert status == 200, f"{href} on {page.url} answers {status}"


def test_request_recognition_read_critical_loop_quality_and_outsider(
    transactional_db,
    county,
    live_server,
    browser,  # noqa: F811
    centres,
    resident,
    reported,
):
    base = live_server.url
    mpi = resident.mpi_id
    imaging = centres["imaging"]
    prior = reported("imaging")
    Study.objects.filter(pk=prior.pk).update(reported_at=timezone.now() - timedelta(days=2))
    template = ReportTemplate.objects.create(
        centre=imaging,
        name="胸片常用",
        exam_code="DR-CHEST",
        findings="双肺纹理清晰，心影不大。",
        impression="心肺未见明显异常。",
    )

    # the township doctor asks for the same chest film: the notice, then the override
    page = _login(browser, base, "township_doctor")
    page.click("nav >> text=诊断中心")
    page.wait_for_url(f"{base}/diagnostics/")
    fits_phone(page)
    links_ok(page)
    page.click("text=申请影像/心电/检验/病理诊断")
    page.wait_for_url(f"{base}/diagnostics/new/")
    page.fill("form[method=get] input[name=resident]", mpi)
    page.click("text=确认居民")
    page.wait_for_url(f"{base}/diagnostics/new/?resident={mpi}")
    assert resident.name in page.locator("main p.card").first.inner_text()
    assert page.input_value("#id_resident") == mpi
    page.select_option("#id_centre_id", str(imaging.pk))
    page.fill("#id_exam_code", "DR-CHEST")
    page.fill("#id_exam_name", "胸部正位片")
    page.fill("#id_body_part", "胸部")
    page.select_option("#id_urgency", "1")
    page.fill("#id_clinical_info", "咳嗽气促三天，右侧呼吸音减弱")
    page.click("form button.primary")
    page.wait_for_load_state("domcontentloaded")
    notice = page.locator("[role=alert]", has_text="结果互认提示")
    assert notice.count() == 1
    assert f"{prior.pk}号" in notice.inner_text()
    assert Study.objects.count() == 1
    # what was typed is kept, and the reason field is offered
    assert page.input_value("#id_clinical_info") == "咳嗽气促三天，右侧呼吸音减弱"
    assert page.input_value("#id_exam_code") == "DR-CHEST"
    fits_phone(page)
    links_ok(page)  # the earlier report is another facility's: no link to a 404
    shot(page, "diagnostics-recognition-phone.png")
    page.fill("#id_still_needed_reason", "症状加重，需排除气胸")
    page.click("form button.primary")
    page.wait_for_url(f"{base}/diagnostics/*/")
    s = Study.objects.exclude(pk=prior.pk).get()
    assert page.url == f"{base}/diagnostics/{s.pk}/"
    assert s.prior_study_id == prior.pk and s.still_needed_reason == "症状加重，需排除气胸"
    assert "诊断申请已提交" in page.content()
    fits_phone(page)
    links_ok(page)
    page.context.close()

    # the reader: queue, claim, report from the template with a critical value
    page = _login(browser, base, "county_doctor")
    page.click("nav >> text=阅片队列")
    page.wait_for_url(f"{base}/diagnostics/queue/*")
    if page.locator(f'nav.tabs a[href="?centre={imaging.pk}"]').count():
        page.click(f'nav.tabs a[href="?centre={imaging.pk}"]')
        page.wait_for_url(f"{base}/diagnostics/queue/?centre={imaging.pk}")
    row = page.locator("table tbody tr", has=page.locator(f'a[href="/diagnostics/{s.pk}/"]'))
    assert "重复检查" in row.inner_text() and resident.name in row.inner_text()
    fits_phone(page)
    links_ok(page)
    row.locator("button[value=claim]").click()
    page.wait_for_url(f"{base}/diagnostics/{s.pk}/")
    assert Study.objects.get(pk=s.pk).state == "claimed"
    page.click(f"text={template.name}")
    page.wait_for_url(f"{base}/diagnostics/{s.pk}/?template={template.pk}#actions")
    assert page.input_value("#findings") == template.findings
    page.fill("#findings", "右侧胸腔可见无肺纹理透亮区，右肺压缩约50%。")
    page.fill("#impression", "右侧气胸（肺压缩约50%）。")
    page.check("#critical")
    # flagged without naming the item: refused, the message by the field, the report kept
    page.click("button[value=report]")
    page.wait_for_load_state("domcontentloaded")
    assert "危急值须写明项目及数值" in page.locator(".has-error:has(#critical_text)").inner_text()
    assert page.input_value("#findings") == "右侧胸腔可见无肺纹理透亮区，右肺压缩约50%。"
    assert page.input_value("#impression") == "右侧气胸（肺压缩约50%）。"
    assert page.is_checked("#critical")
    assert Study.objects.get(pk=s.pk).state == "claimed"
    fits_phone(page)
    page.fill("#critical_text", "右侧气胸，肺压缩约50%")
    page.click("button[value=report]")
    page.wait_for_url(f"{base}/diagnostics/{s.pk}/")
    s.refresh_from_db()
    assert s.state == "reported"
    assert s.reports.get().template_id == template.pk  # type: ignore[attr-defined]
    cv = CriticalValue.objects.get()
    assert "右侧气胸" in page.locator("[aria-label=危急值]").inner_text()
    assert "报告已签发" in page.locator(".messages").inner_text()
    assert "county_doctor" not in page.locator("main").inner_text()  # names, not logins
    assert page.locator("button[value=review]").count() == 0  # the signer does not review
    fits_phone(page)
    links_ok(page)
    shot(page, "diagnostics-report-county.png")
    page.context.close()

    # the township doctor: the critical value at the top, acknowledge, resolve
    page = _login(browser, base, "township_doctor")
    page.click("nav >> text=诊断中心")
    page.wait_for_url(f"{base}/diagnostics/")
    top = page.locator("section.card").first
    assert "危急值" in top.inner_text() and "右侧气胸，肺压缩约50%" in top.inner_text()
    assert "未确认" in top.inner_text()
    fits_phone(page)
    links_ok(page)
    shot(page, "diagnostics-critical-phone.png")
    top.locator(f'a[href="/diagnostics/{s.pk}/"]').click()
    page.wait_for_url(f"{base}/diagnostics/{s.pk}/")
    page.click("button[value=ack]")
    page.wait_for_url(f"{base}/diagnostics/{s.pk}/")
    cv.refresh_from_db()
    assert cv.acknowledged_at is not None and cv.resolved_at is None
    page.click("button[value=resolve]")  # no action written: refused in Chinese
    page.wait_for_load_state("domcontentloaded")
    assert "请填写处置措施" in page.locator("[aria-label=危急值] [role=alert]").inner_text()
    assert CriticalValue.objects.get().resolved_at is None
    page.fill("input[name=action_taken]", "已电话通知患者，120转县医院胸外科行胸腔闭式引流")
    page.click("button[value=resolve]")
    page.wait_for_url(f"{base}/diagnostics/{s.pk}/")
    cv.refresh_from_db()
    assert cv.resolved_at is not None and "胸腔闭式引流" in cv.action_taken
    cv_card = page.locator("[aria-label=危急值]").inner_text()
    assert "胸腔闭式引流" in cv_card and "李秀梅" in cv_card
    fits_phone(page)
    links_ok(page)
    page.click("nav >> text=诊断中心")
    assert "暂无待处理的危急值" in page.locator("section.card").first.inner_text()
    page.context.close()

    # the group administrator reviews it; the quality page shows rates with n/d
    page = _login(browser, base, "group_admin")
    page.goto(f"{base}/diagnostics/{s.pk}/")
    page.select_option("select[name=consistent]", "yes")
    page.select_option("select[name=film_grade]", "A")
    page.click("button[value=review]")
    page.wait_for_url(f"{base}/diagnostics/{s.pk}/")
    assert Study.objects.get(pk=s.pk).state == "reviewed"
    page.click("nav >> text=诊断质量")
    page.wait_for_url(f"{base}/diagnostics/quality/")
    row = page.locator("table tbody tr", has_text=imaging.name).first.inner_text()
    assert "100%" in row and "1/1" in row
    loop = page.locator("section.card", has_text="报告危急值").inner_text()
    assert "已处置" in loop
    fits_phone(page)
    links_ok(page)
    shot(page, "diagnostics-quality-phone.png")
    page.context.close()

    # the outsider doctor: the 404 page, nothing of the study
    page = _login(browser, base, "outsider_doctor")
    response = page.goto(f"{base}/diagnostics/{s.pk}/")
    assert response is not None and response.status == 404
    assert resident.name not in page.content() and "气胸" not in page.content()
    page.context.close()
