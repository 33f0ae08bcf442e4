"""The record page, health cards (static and dynamic QR), scanning."""

from __future__ import annotations

import pytest

from yigongti.residents import actions
from yigongti.residents.models import CardStatus
from yigongti.residents.rules import static_qr_text

from .helpers import register

pytestmark = pytest.mark.django_db


@pytest.fixture
def resident(actor):
    return register(actor("village_doctor"), name="慕容复", sex="1", household_key="HH-T-001")


def test_record_shows_full_identity_household_and_card(client_as, actor, resident):
    sibling = register(actor("village_doctor"), name="慕容博", sex="1", household_key="HH-T-001")
    r = client_as("village_doctor").get(f"/residents/{resident.mpi_id}/")
    assert r.status_code == 200
    html = r.content.decode()
    assert resident.doc_number in html and resident.phone in html  # full, in scope
    assert "慕容博" in html and f"/residents/{sibling.mpi_id}/" in html
    assert "<svg" in html and "生成动态二维码" in html
    card = resident.cards.get()
    assert card.card_id in html
    assert f'href="/residents/{resident.mpi_id}/edit/"' in html


def test_dynamic_qr_fragment_has_svg_text_and_countdown(client_as, resident):
    card = resident.cards.get()
    r = client_as("village_doctor").post(
        f"/residents/{resident.mpi_id}/dynamic-qr/",
        {"card_id": card.card_id},
        headers={"HX-Request": "true"},
    )
    html = r.content.decode()
    assert r.status_code == 200 and "<html" not in html
    assert "<svg" in html and f"{card.card_id}:2:" in html and 'class="countdown"' in html
    # without htmx: a whole page
    r = client_as("village_doctor").post(
        f"/residents/{resident.mpi_id}/dynamic-qr/", {"card_id": card.card_id}
    )
    assert "<html" in r.content.decode()


def test_scan_opens_the_record_or_says_why_not(client_as, actor, resident):
    c = client_as("village_doctor")
    card = resident.cards.get()
    r = c.post("/cards/scan/", {"qr": static_qr_text(card.card_id)})
    assert r.status_code == 302 and r["Location"] == f"/residents/{resident.mpi_id}/"
    text, _ = actions.dynamic_qr(card)
    tampered = text[:-1] + ("0" if text[-1] != "0" else "1")
    r = c.post("/cards/scan/", {"qr": tampered})
    assert r.status_code == 422 and "校验失败" in r.content.decode()
    r = c.post("/cards/scan/", {"qr": "not a qr"})
    assert "无法识别" in r.content.decode()
    r = c.post("/cards/scan/", {"qr": "A" * 64 + ":1"})
    assert "本平台无此电子健康卡" in r.content.decode()
    r = client_as("outsider_doctor").post("/cards/scan/", {"qr": static_qr_text(card.card_id)})
    assert r.status_code == 422 and "不在您的管辖范围内" in r.content.decode()


def test_expired_dynamic_code_is_refused(client_as, resident):
    from datetime import timedelta

    from django.utils import timezone

    card = resident.cards.get()
    text, _ = actions.dynamic_qr(card, now=timezone.now() - timedelta(hours=1))
    r = client_as("village_doctor").post("/cards/scan/", {"qr": text})
    assert "已过期" in r.content.decode()


def test_suspend_restore_and_scan_a_suspended_card(client_as, resident):
    c = client_as("village_doctor")
    card = resident.cards.get()
    r = c.post(
        f"/residents/{resident.mpi_id}/cards/{card.card_id}/status/",
        {"status": "2", "reason": "居民报失"},
    )
    assert r.status_code == 302
    card.refresh_from_db()
    assert card.status == CardStatus.SUSPENDED
    assert (
        "挂失或暂停"
        in c.post("/cards/scan/", {"qr": static_qr_text(card.card_id)}).content.decode()
    )
    c.post(f"/residents/{resident.mpi_id}/cards/{card.card_id}/status/", {"status": "1"})
    card.refresh_from_db()
    assert card.status == CardStatus.NORMAL


def test_attach_external_card_with_error_then_success(client_as, resident):
    c = client_as("village_doctor")
    r = c.post(f"/residents/{resident.mpi_id}/cards/", {"card_id": "XYZ", "kind": "2"})
    assert r.status_code == 422
    assert "64位十六进制" in r.context["attach_form"].errors["card_id"][0]
    r = c.post(
        f"/residents/{resident.mpi_id}/cards/",
        {"card_id": "ab" * 32, "kind": "2", "issuing_org": "省平台"},
    )
    assert r.status_code == 302
    assert resident.cards.count() == 2


def test_pharmacist_cannot_manage_cards(client_as, actor):
    resident = register(actor("township_doctor"), name="慕容复")
    card = resident.cards.get()
    c = client_as("pharmacist")
    assert "挂失/暂停" not in c.get(f"/residents/{resident.mpi_id}/").content.decode()
    r = c.post(f"/residents/{resident.mpi_id}/cards/{card.card_id}/status/", {"status": "2"})
    assert r.status_code == 403
