"""Over a year of synthetic referrals and bookings: every ServiceRequest, Task, Schedule, Slot
and Appointment the searches emit is valid R4, every referral state shows up, and a page
costs a fixed number of queries whatever its size."""

from __future__ import annotations

import pytest
from django.utils import timezone

from yigongti.fhir import referrals as fr
from yigongti.referrals.models import Referral, State
from yigongti.scheduling.models import Booking

from .helpers import assert_valid

pytestmark = pytest.mark.django_db


@pytest.fixture
def synthetic(county):
    from yigongti.synth.referrals import load_referrals

    return load_referrals(seed=7, today=timezone.localdate())


def _all_pages(api, resource_type: str, params: dict[str, str] | None = None) -> list[dict]:
    from urllib.parse import urlsplit

    out: list[dict] = []
    url = f"/fhir/{resource_type}"
    query: dict[str, str] | None = {"_count": "100", **(params or {})}
    for _ in range(50):
        bundle = assert_valid(api.get(url, query).json())  # every entry validated too
        out += [e["resource"] for e in bundle.get("entry", [])]
        nxt = next((lnk["url"] for lnk in bundle["link"] if lnk["relation"] == "next"), None)
        if nxt is None:
            break
        parts = urlsplit(nxt)
        url, query = f"{parts.path}?{parts.query}", None
    return out


def test_every_emitted_resource_is_valid_r4(api_as, synthetic):
    commission = api_as("commission")  # the whole county
    requests = _all_pages(commission, "ServiceRequest")
    assert len(requests) == Referral.objects.count()
    states = set(Referral.objects.values_list("state", flat=True))
    assert {r["status"] for r in requests} == {fr.REQUEST_STATUS[s] for s in states}
    tasks = _all_pages(commission, "Task")
    assert {t["businessStatus"]["coding"][0]["code"] for t in tasks} == states
    assert State.COMPLETED in states and len(states) >= 3
    today = timezone.localdate()
    appointments = _all_pages(commission, "Appointment", {"date": today.isoformat()})
    assert len(appointments) == Booking.objects.filter(slot__starts_at__date=today).count() > 0

    admin = api_as("group_admin")  # may book: sees the schedule board
    schedules = _all_pages(admin, "Schedule")
    slots = _all_pages(admin, "Slot", {"start": f"ge{today.isoformat()}"})
    assert schedules and slots
    assert {s["status"] for s in slots} <= {"free", "busy", "busy-unavailable"}


@pytest.mark.parametrize("resource_type", ["ServiceRequest", "Task", "Appointment", "Slot"])
def test_a_page_costs_the_same_whatever_its_size(
    api_as, synthetic, django_assert_max_num_queries, resource_type
):
    # the commission sees every referral and booking; slots need the booking permission
    api = api_as("group_admin" if resource_type == "Slot" else "commission")
    with django_assert_max_num_queries(40) as small:
        api.get(f"/fhir/{resource_type}", {"_count": "2"})
    with django_assert_max_num_queries(40) as large:
        resp = api.get(f"/fhir/{resource_type}", {"_count": "100"})
    assert resp.status_code == 200 and len(resp.json().get("entry", [])) >= 5
    assert len(large.captured_queries) <= len(small.captured_queries) + 3, [
        q["sql"][:120] for q in large.captured_queries
    ]
