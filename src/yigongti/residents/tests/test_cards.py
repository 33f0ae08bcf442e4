"""The electronic health card: static and dynamic QR texts, scanning, external cards."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from yigongti.residents import rules
from yigongti.residents.queries import card_secret

from .helpers import home_village, payload

pytestmark = pytest.mark.django_db


@pytest.fixture
def person(api_as, actor):
    village = home_village(actor("village_doctor"))
    r = api_as("village_doctor").post(
        "/api/v1/residents", payload(village, name="李梅"), content_type="application/json"
    )
    assert r.status_code == 201
    return r.json()


def scan(client, text):
    return client.post("/api/v1/cards/resolve", {"qr_text": text}, content_type="application/json")


def test_dynamic_qr_resolves_to_the_resident(api_as, person):
    c = api_as("village_doctor")
    qr = c.post(f"/api/v1/residents/{person['mpi_id']}/dynamic-qr").json()
    assert qr["qr_text"].startswith(person["cards"][0]["card_id"] + ":2:")
    r = scan(c, qr["qr_text"])
    assert r.status_code == 200
    assert r.json()["mpi_id"] == person["mpi_id"]


def test_static_qr_resolves(api_as, person):
    r = scan(api_as("township_doctor"), person["cards"][0]["static_qr"])
    assert r.json()["mpi_id"] == person["mpi_id"]


def _reason(resp) -> str:
    return resp.json()["detail"][0]["type"]


def test_expired_dynamic_qr_says_expired(api_as, person):
    card_id = person["cards"][0]["card_id"]
    text = rules.dynamic_qr_text(
        card_id, valid_until=timezone.now() - timedelta(seconds=5), secret=card_secret()
    )
    r = scan(api_as("village_doctor"), text)
    assert r.status_code == 422
    assert _reason(r) == "expired"
    assert "过期" in r.json()["detail"][0]["msg"]


def test_forged_signature_says_tampered(api_as, person):
    card_id = person["cards"][0]["card_id"]
    forged = rules.dynamic_qr_text(
        card_id, valid_until=timezone.now() + timedelta(minutes=5), secret=b"someone-elses-key"
    )
    r = scan(api_as("village_doctor"), forged)
    assert r.status_code == 422
    assert _reason(r) == "tampered"


def test_extended_validity_without_resigning_is_tampered(api_as, person):
    c = api_as("village_doctor")
    text = c.post(f"/api/v1/residents/{person['mpi_id']}/dynamic-qr").json()["qr_text"]
    card, kind, until, sig = text.split(":")
    r = scan(c, ":".join([card, kind, str(int(until) + 10000), sig]))
    assert _reason(r) == "tampered"


def test_suspended_card_is_refused_and_can_be_restored(api_as, person):
    c = api_as("village_doctor")
    card_id = person["cards"][0]["card_id"]
    r = c.patch(
        f"/api/v1/cards/{card_id}",
        {"status": "2", "reason": "挂失"},
        content_type="application/json",
    )
    assert r.status_code == 200
    refused = scan(c, person["cards"][0]["static_qr"])
    assert refused.status_code == 422 and _reason(refused) == "suspended"
    c.patch(f"/api/v1/cards/{card_id}", {"status": "1"}, content_type="application/json")
    assert scan(c, person["cards"][0]["static_qr"]).status_code == 200


def test_unknown_and_malformed_cards(api_as):
    c = api_as("village_doctor")
    unknown = scan(c, "AB" * 32 + ":1")
    assert unknown.status_code == 404 and _reason(unknown) == "unknown_card"
    assert _reason(scan(c, "AB" * 32 + ":7")) == "malformed"


def test_outsider_scanning_a_card_gets_not_found(api_as, person):
    r = scan(api_as("outsider_doctor"), person["cards"][0]["static_qr"])
    assert r.status_code == 404


def test_attach_external_card(api_as, person):
    c = api_as("village_doctor")
    external = "0123456789abcdef" * 4
    r = c.post(
        f"/api/v1/residents/{person['mpi_id']}/cards",
        {"card_id": external, "issuing_org": "省电子健康卡平台"},
        content_type="application/json",
    )
    assert r.status_code == 201, r.content
    assert r.json()["card_id"] == external.upper() and r.json()["issuer"] == "external"
    assert scan(c, f"{external.upper()}:1").json()["mpi_id"] == person["mpi_id"]
    # a retry is harmless; the same card for somebody else is refused
    again = c.post(
        f"/api/v1/residents/{person['mpi_id']}/cards",
        {"card_id": external},
        content_type="application/json",
    )
    assert again.status_code == 201
    bad = c.post(
        f"/api/v1/residents/{person['mpi_id']}/cards",
        {"card_id": "12345"},
        content_type="application/json",
    )
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "card_id"
