"""End to end in a real Chromium: a village doctor opens a resident's health record, records
a visit with a diagnosis found by pinyin initials, a blood pressure and a prescription, and
sees it at the top of the timeline. A phone-sized screenshot goes to test-artifacts/."""

from __future__ import annotations

import os

import pytest

from yigongti.records.models import Encounter
from yigongti.web.tests.test_browser import ARTIFACTS, _login, browser  # noqa: F401

from .helpers import resident_of

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = pytest.mark.browser


def test_village_doctor_records_a_visit_and_sees_it_on_the_timeline(
    transactional_db,
    county,
    live_server,
    browser,  # noqa: F811
    actor,
):
    base = live_server.url
    r = resident_of(actor("village_doctor"))
    page = _login(browser, base, "village_doctor")
    page.goto(f"{base}/residents/{r.mpi_id}/")
    page.click("text=健康档案")
    page.wait_for_url(f"{base}/residents/{r.mpi_id}/health/")
    page.click("text=记录就诊")
    page.wait_for_url(f"{base}/residents/{r.mpi_id}/health/encounters/new/")
    page.fill("#id_complaint", "头晕三天")
    page.fill("#id_sbp", "162")
    page.fill("#id_dbp", "100")
    with page.expect_response(lambda res: "/records/codes/icd10/" in res.url):
        page.type("#id_dx_0", "gxy", delay=80)
    page.locator('#icd-options option[value^="I10 "]').wait_for(state="attached", timeout=10_000)
    page.fill("#id_dx_0", page.locator('#icd-options option[value^="I10 "]').get_attribute("value"))
    page.fill("#id_rx_0_drug", "YP0002")
    page.fill("#id_rx_0_dose", "1")
    page.select_option("#id_rx_0_freq", "qd")
    page.fill("#id_rx_0_days", "28")
    page.click("form button.primary")
    page.wait_for_url(f"{base}/records/encounters/*/")
    enc = Encounter.objects.filter(resident=r).latest("pk")
    assert "162/100 mmHg" in page.content()
    assert enc.prescriptions.get().quantity == 28
    page.click("text=返回健康档案")
    first = page.locator("#timeline .entry").first
    assert "高血压" in first.inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "health-record-phone.png"), full_page=True)
    page.context.close()
