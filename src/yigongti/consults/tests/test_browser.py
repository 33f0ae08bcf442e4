"""End to end in a real Chromium: remote consultation (远程会诊) and expert dispatch (专家下沉).

The village doctor, on a phone, opens a resident, goes to the consultation request, pre-fills
the case summary from the health record, first forgets the consent (the Chinese error shows
next to the field and what was typed stays), then sends it and finds it under 发出的会诊. The
county doctor finds it at the top of the inbox, accepts it naming the expert and the time and
writes the opinion; the village doctor records the final decision and a rating, and the
consultation is on the resident's health record timeline. The outsider doctor gets the 404
page. The group administrator enters a secondment and a clinic session and reads the
per-10,000 figure with its numerator and denominator. Phone-sized screenshots go to
test-artifacts/.

Skipped without /usr/bin/chromium unless YGT_REQUIRE_BROWSER=1 (then failed)."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any
from urllib.parse import urljoin

import pytest
from django.utils import timezone

from yigongti.consults.models import Consultation, DispatchActivity, Secondment
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


def test_request_accept_answer_close_and_outsider_refused(
    transactional_db,
    county,
    live_server,
    browser,  # noqa: F811
    resident,
    county_staff,
):
    base = live_server.url
    mpi = resident.mpi_id

    # the village doctor opens the resident and goes to the request form
    page = _login(browser, base, "village_doctor")
    page.goto(f"{base}/residents/{mpi}/")
    page.click("text=健康档案")
    page.wait_for_url(f"{base}/residents/{mpi}/health/")
    # (the health record has no link to the request yet: through the menu, with the id)
    page.click("nav >> text=远程会诊")
    page.wait_for_url(f"{base}/consults/")
    page.click("text=申请远程会诊")
    page.wait_for_url(f"{base}/consults/new/")
    page.fill("form[method=get] input[name=resident]", mpi)
    page.click("text=从健康档案预填病情摘要")
    page.wait_for_url(f"{base}/consults/new/?resident={mpi}")
    summary = page.input_value("#id_case_summary")
    assert summary.startswith(f"患者{resident.name}"), summary
    assert page.input_value("#id_resident") == mpi
    fits_phone(page)
    links_ok(page)

    page.select_option("#id_urgency", "emergency")
    page.select_option(
        "#id_to_department", f"{county_staff.facility_id}:{county_staff.department_id}"
    )
    page.fill("#id_wanted_specialty", "心血管内科")
    page.select_option("#id_wanted_title", "1")
    page.fill("#id_reason", "血压控制不佳，两种降压药联用后仍≥160/100 mmHg")
    page.fill("#id_purpose", "排查继发性高血压，调整治疗方案")
    page.fill("#id_case_summary", summary + "\n近一周头痛加重。")
    page.fill("#id_consent_signer", "患者本人")
    page.fill("#id_requesting_phone", "13800001111")

    # without the consent ticked: the error is next to the box, what was typed is kept
    page.click("form button.primary")
    page.wait_for_load_state("domcontentloaded")
    err = page.locator(".field.has-error:has(#id_consent) .error")
    assert "知情同意" in err.inner_text()
    assert Consultation.objects.count() == 0
    assert page.input_value("#id_reason").startswith("血压控制不佳")
    assert page.input_value("#id_case_summary").endswith("近一周头痛加重。")
    assert page.input_value("#id_urgency") == "emergency"
    assert page.input_value("#id_wanted_specialty") == "心血管内科"
    assert page.input_value("#id_requesting_phone") == "13800001111"
    fits_phone(page)
    links_ok(page)
    shot(page, "consult-request-error-phone.png")

    page.check("#id_consent")
    page.click("form button.primary")
    page.wait_for_url(f"{base}/consults/*/")
    c = Consultation.objects.get()
    assert page.url == f"{base}/consults/{c.pk}/"
    assert c.urgency == "emergency" and c.wanted_title == 1 and c.consent
    assert "会诊申请已提交" in page.content()
    fits_phone(page)
    links_ok(page)

    page.click("nav >> text=远程会诊")  # a village clinic only asks: starts on what it sent
    page.wait_for_url(f"{base}/consults/")
    assert page.locator("nav.tabs a.active").inner_text() == "发出的会诊"
    assert page.locator(f'a[href="/consults/{c.pk}/"]').count() == 1
    page.click("text=发出的会诊")
    page.wait_for_url(f"{base}/consults/?box=sent")
    assert page.locator(f'a[href="/consults/{c.pk}/"]').count() == 1
    fits_phone(page)
    links_ok(page)
    page.context.close()

    # the county doctor: first in the inbox, accepts with expert and time, writes the opinion
    page = _login(browser, base, "county_doctor")
    page.click("nav >> text=远程会诊")
    page.wait_for_url(f"{base}/consults/")
    first = page.locator("table tbody tr").first
    assert resident.name in first.inner_text() and "急会诊" in first.inner_text()
    first.locator(f'a[href="/consults/{c.pk}/"]').click()
    page.wait_for_url(f"{base}/consults/{c.pk}/")
    assert "近一周头痛加重" in page.content()
    fits_phone(page)
    links_ok(page)
    shot(page, "consult-accept-county.png")
    page.select_option("#expert_id", str(county_staff.pk))
    when = timezone.localtime() + timedelta(hours=3)
    page.fill("#scheduled_at", when.strftime("%Y-%m-%dT%H:%M"))
    page.fill("#accept_note", "心内科视频会诊室")
    page.click("button[value=accept]")
    page.wait_for_url(f"{base}/consults/{c.pk}/")
    c.refresh_from_db()
    assert c.state == "accepted" and c.expert_id == county_staff.pk
    assert c.scheduled_at is not None
    assert timezone.localtime(c.scheduled_at).strftime("%H:%M") == when.strftime("%H:%M")
    assert county_staff.name in page.locator("main").inner_text()
    # the advice written before the opinion: refused, the advice kept
    page.fill("#advice", "暂加用螺内酯20 mg qd，两周后复查血钾。")
    page.click("button[value=opinion]")
    page.wait_for_load_state("domcontentloaded")
    assert "请填写会诊意见" in page.locator(".has-error:has(#opinion)").inner_text()
    assert page.input_value("#advice") == "暂加用螺内酯20 mg qd，两周后复查血钾。"
    assert Consultation.objects.get().state == "accepted"
    page.fill("#opinion", "考虑原发性醛固酮增多症可能，建议查血浆醛固酮/肾素比值。")
    page.click("button[value=opinion]")
    page.wait_for_url(f"{base}/consults/{c.pk}/")
    c.refresh_from_db()
    assert c.state == "answered"
    assert "会诊意见已提交" in page.locator(".messages").inner_text()
    fits_phone(page)
    links_ok(page)
    shot(page, "consult-answered-county.png")
    page.context.close()

    # the village doctor records the final decision and a rating
    page = _login(browser, base, "village_doctor")
    page.click("nav >> text=远程会诊")
    page.click("text=待记录处理决定")
    page.wait_for_url(f"{base}/consults/?box=decide")
    page.click(f'a[href="/consults/{c.pk}/"]')
    page.wait_for_url(f"{base}/consults/{c.pk}/")
    assert "原发性醛固酮增多症" in page.content()
    page.fill("#final_decision", "采纳意见，转县医院查醛固酮/肾素比值，暂加螺内酯。")
    page.select_option("#rating", "5")
    page.fill("#rating_note", "响应及时")
    page.click("button[value=close]")
    page.wait_for_url(f"{base}/consults/{c.pk}/")
    c.refresh_from_db()
    assert c.state == "closed" and c.rating == 5
    assert "经治医生最终处理决定" in page.content()
    steps = page.locator("table tbody").inner_text()  # people by name, not by login
    assert county_staff.name in steps and "county_doctor" not in steps
    fits_phone(page)
    links_ok(page)
    shot(page, "consult-closed-phone.png")

    # ... and sees it on the resident's health record timeline, with a link back
    page.goto(f"{base}/residents/{mpi}/health/")
    entry = page.locator(f'#timeline .entry:has(a[href="/consults/{c.pk}/"])').first
    assert "远程会诊" in entry.inner_text()
    page.context.close()

    # the outsider doctor gets the 404 page
    page = _login(browser, base, "outsider_doctor")
    response = page.goto(f"{base}/consults/{c.pk}/")
    assert response is not None and response.status == 404
    assert resident.name not in page.content()
    assert "原发性醛固酮增多症" not in page.content()
    page.context.close()


def test_group_admin_enters_a_secondment_and_reads_the_figure(
    transactional_db,
    county,
    live_server,
    browser,  # noqa: F811
    actor,
    county_staff,
):
    base = live_server.url
    today = timezone.localdate()
    home = actor("township_doctor").facility_id
    page = _login(browser, base, "group_admin")
    page.click("nav >> text=专家下沉")
    page.wait_for_url(f"{base}/dispatch/")
    assert "缺失" in page.locator("main").inner_text()
    page.click("text=登记下沉医生")
    page.wait_for_url(f"{base}/dispatch/new/")
    page.select_option("#id_staff", str(county_staff.pk))
    page.select_option("#id_to_facility", str(home))
    page.select_option("#id_kind", "secondment")
    page.fill("#id_starts_on", str(today - timedelta(days=20)))
    page.fill("#id_ends_on", str(today + timedelta(days=160)))
    page.fill("#id_note", "对口支援慢病门诊")
    page.click("form button.primary")
    page.wait_for_url(f"{base}/dispatch/*/")
    s = Secondment.objects.get()
    assert page.url == f"{base}/dispatch/{s.pk}/"
    fits_phone(page)
    links_ok(page)

    page.select_option("#id_kind", "clinic")
    page.fill("#id_day", str(today - timedelta(days=1)))
    page.fill("#id_patients_seen", "23")
    page.fill("#id_topic", "高血压专病门诊")
    page.click("button[value=activity]")
    page.wait_for_url(f"{base}/dispatch/{s.pk}/")
    assert DispatchActivity.objects.get().patients_seen == 23
    assert "高血压专病门诊" in page.locator("main").inner_text()

    page.click("text=返回名册")
    page.wait_for_url(f"{base}/dispatch/")
    card = page.locator("section.card", has_text="每万人口").inner_text()
    assert "分子" in card and "1 人" in card
    assert "分母" in card and "名在册居民" in card
    assert "缺失" not in card
    row = page.locator("table tbody tr", has_text=county_staff.name).inner_text()
    assert "接诊 23" in row
    fits_phone(page)
    links_ok(page)
    shot(page, "dispatch-roster-phone.png")
    page.context.close()
