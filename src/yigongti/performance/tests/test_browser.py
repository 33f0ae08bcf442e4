"""End to end in a real Chromium, at phone width: the commission opens 千分制考核 from the
menu, previews the tiny group's scores for 2025 (ranked, the first centre's items with
numerator, denominator and points), publishes them after the confirmation, lands on the
frozen snapshot; in the editor the sum of the weights follows the typing; the outsider
doctor gets the 403 page. Screenshots go to test-artifacts/.

Skipped without /usr/bin/chromium unless YGT_REQUIRE_BROWSER=1 (then failed)."""

from __future__ import annotations

import os
from typing import Any

import pytest

from yigongti.performance.models import ScoreSnapshot
from yigongti.web.tests.test_browser import ARTIFACTS, PHONE, _login, browser  # noqa: F401

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = pytest.mark.browser


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def test_preview_publish_and_read_the_frozen_scores(
    transactional_db,
    scheme,
    built,
    live_server,
    browser,  # noqa: F811
):
    base = live_server.url
    page = _login(browser, base, "commission")
    page.click("nav >> text=千分制考核")
    page.wait_for_url(f"{base}/performance/")
    page.click(f"text={scheme.name}")
    page.wait_for_url(f"{base}/performance/schemes/{scheme.pk}/")
    # the editor: the sum follows the typing
    assert page.inner_text("#weight-total") == "1000"
    page.fill("input[name=items-0-weight]", "150")
    assert page.inner_text("#weight-total") == "950"
    shot(page, "performance-editor-phone.png")
    page.click("text=查看本方案得分")
    page.fill("input[name=period]", "2025")
    page.select_option("select[name=mode]", "preview")
    page.click("form[method=get] button")
    assert "实时预览" in page.inner_text("#preview-banner")
    first = page.locator("#ranking tr.facility").first
    assert first.get_attribute("data-facility") == "TC1"
    assert "719.03" in first.inner_text()
    first.locator("summary").click()
    norm = first.locator("tr[data-code=htn_norm_rate]")
    assert "150" in norm.inner_text() and "50" in norm.inner_text()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"scores page is {width}px wide at phone width"
    shot(page, "performance-preview-phone.png")

    page.once("dialog", lambda d: d.accept())
    page.check("#publish input[name=confirm]")
    page.click("#publish button[type=submit]")
    snap = ScoreSnapshot.objects.get()
    page.wait_for_url(f"{base}/performance/snapshots/{snap.pk}/")
    assert "已发布（冻结）" in page.inner_text("#snapshot-banner")
    assert "719.03" in page.inner_text("#ranking")
    shot(page, "performance-published-phone.png")

    outsider = _login(browser, base, "outsider_doctor")
    resp = outsider.goto(f"{base}/performance/snapshots/{snap.pk}/")
    assert resp is not None and resp.status == 403
