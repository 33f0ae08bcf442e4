"""End to end in a real Chromium (Playwright, sync API) against the live server.

The village doctor registers a resident, finds them by pinyin initials in the live search
box and opens the record; the outsider doctor (another township, another group) finds
nothing and gets the Chinese 404 on the record URL. A phone-sized screenshot of the record
page goes to test-artifacts/.

Skipped when /usr/bin/chromium is missing, unless YGT_REQUIRE_BROWSER=1 (CI), then failed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from yigongti.conftest import TEST_PASSWORD
from yigongti.residents.models import Resident
from yigongti.residents.rules import make_id_number, name_search_keys

from .helpers import home_village

# Playwright's sync API runs an event loop in this thread; pytest-django documents this
# switch for using the database from such a test.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[4] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
NAME = "欧阳震华"


@pytest.fixture
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        if os.environ.get("YGT_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing and YGT_REQUIRE_BROWSER=1")
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def _unused_id_number(address: str, birth: date) -> str:
    for seq in range(991, 1, -2):  # odd: male
        number = make_id_number(address, birth, seq)
        if not Resident.objects.filter(doc_number=number).exists():
            return number
    raise AssertionError("no free sequence number")


def _login(browser: Any, base: str, username: str) -> Any:
    context = browser.new_context(viewport=PHONE, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    return page


def test_register_find_open_and_outsider_cannot(
    transactional_db, county, live_server, browser, actor
):
    base = live_server.url
    village = home_village(actor("village_doctor"))
    birth = date(1958, 11, 3)
    number = _unused_id_number(village.code[:6], birth)
    initials = name_search_keys(NAME)[1]

    # the village doctor registers ...
    page = _login(browser, base, "village_doctor")
    page.click("nav >> text=建档")
    page.wait_for_url(f"{base}/residents/new/")
    page.fill("#id_name", NAME)
    page.select_option("#id_sex", "1")
    page.fill("#id_birth_date", birth.isoformat())
    page.select_option("#id_doc_type", "id_card")
    page.fill("#id_doc_number", number)
    page.fill("#id_phone", "13698765432")
    page.select_option("#id_village_code", village.code)
    page.fill("#id_address", f"{village.name}6组9号")
    page.click("form button.primary")
    page.wait_for_url(f"{base}/residents/*/")
    resident = Resident.objects.get(doc_number=number)
    assert page.url == f"{base}/residents/{resident.mpi_id}/"
    assert number in page.content()

    # ... finds the resident by pinyin initials in the live search box ...
    page.goto(f"{base}/residents/")
    page.type("#q", initials, delay=60)
    link = page.locator(f'#results a[href="/residents/{resident.mpi_id}/"]')
    link.wait_for(timeout=10_000)
    assert "/residents/" in page.url and f"q={initials}" in page.url  # pushed by htmx
    link.click()
    page.wait_for_url(f"{base}/residents/{resident.mpi_id}/")
    assert page.locator("h1").inner_text().startswith(NAME)
    page.click("text=生成动态二维码")
    page.locator(".countdown").wait_for(timeout=10_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "record-phone.png"), full_page=True)
    page.context.close()

    # ... and the outsider finds nothing and cannot open the record.
    page = _login(browser, base, "outsider_doctor")
    page.goto(f"{base}/residents/")
    for query in (initials, number):
        page.fill("#q", "")
        with page.expect_response(lambda r: "/residents/?q=" in r.url):
            page.type("#q", query, delay=30)
        page.wait_for_load_state("networkidle")
        assert page.locator(f'#results a[href="/residents/{resident.mpi_id}/"]').count() == 0
        assert NAME not in page.locator("#results").inner_text()
    response = page.goto(f"{base}/residents/{resident.mpi_id}/")
    assert response is not None and response.status == 404
    assert "未找到居民档案" in page.content()
    assert number not in page.content()
    page.context.close()
