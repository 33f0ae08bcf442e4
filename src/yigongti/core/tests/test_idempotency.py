from __future__ import annotations

import pytest

from yigongti.residents.models import Resident
from yigongti.residents.tests.helpers import home_village, payload

pytestmark = pytest.mark.django_db


def test_retried_write_with_same_key_is_not_duplicated(api_as, actor):
    c = api_as("village_doctor")
    body = payload(home_village(actor("village_doctor")))
    first = c.post(
        "/api/v1/residents",
        body,
        content_type="application/json",
        headers={"Idempotency-Key": "reg-001"},
    )
    again = c.post(
        "/api/v1/residents",
        body,
        content_type="application/json",
        headers={"Idempotency-Key": "reg-001"},
    )
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replay"] == "true"
    assert first.json() == again.json()
    assert Resident.objects.filter(doc_number=body["doc_number"]).count() == 1


def test_same_key_for_another_request_is_refused(api_as, actor):
    c = api_as("village_doctor")
    body = payload(home_village(actor("village_doctor")))
    c.post(
        "/api/v1/residents",
        body,
        content_type="application/json",
        headers={"Idempotency-Key": "k-2"},
    )
    other = c.post(
        "/api/v1/merges", {}, content_type="application/json", headers={"Idempotency-Key": "k-2"}
    )
    assert other.status_code == 422
