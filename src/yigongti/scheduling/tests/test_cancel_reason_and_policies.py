"""Booking.cancel_reason (kept by the cancel action, shown on the bookings page, emitted as
Appointment.cancelationReason) and the bulk `policies_for` (same precedence as
`policy_for`: the department's row, else its facility's, else the defaults)."""

from __future__ import annotations

import pytest

from yigongti.core.errors import Conflict
from yigongti.network.models import Department
from yigongti.scheduling import actions, queries
from yigongti.scheduling.models import Booking, BookingStatus, QuotaPolicy, Slot

from .conftest import staff_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def booking(actor, publish, village_residents) -> Booking:
    s = publish(actor("county_doctor"), [5])
    slot = Slot.objects.get(session=s)
    return actions.do_book_slot(actor("village_doctor"), slot.pk, village_residents[0])


@pytest.mark.parametrize(
    ("reason", "kept"),
    [
        ("患者临时有事", "患者临时有事"),
        ("  前后空格  ", "前后空格"),
        ("", ""),
        ("长" * 250, "长" * 200),
    ],
)
def test_cancel_keeps_the_reason(actor, booking, reason, kept):
    b = actions.do_cancel_booking(actor("village_doctor"), booking.pk, reason)
    assert b.status == BookingStatus.CANCELLED and b.cancel_reason == kept
    assert Booking.objects.get(pk=booking.pk).cancel_reason == kept


def test_a_refused_second_cancel_keeps_the_first_reason(actor, booking):
    actions.do_cancel_booking(actor("village_doctor"), booking.pk, "第一次")
    with pytest.raises(Conflict):
        actions.do_cancel_booking(actor("village_doctor"), booking.pk, "第二次")
    assert Booking.objects.get(pk=booking.pk).cancel_reason == "第一次"


def test_the_bookings_page_shows_the_reason(actor, client_as, booking):
    actions.do_cancel_booking(actor("village_doctor"), booking.pk, "患者已转往上级医院")
    page = client_as("village_doctor").get("/scheduling/bookings/", {"status": "cancelled"})
    assert page.status_code == 200
    assert "取消原因：患者已转往上级医院" in page.content.decode()
    live = client_as("village_doctor").get("/scheduling/bookings/")
    assert "取消原因：" not in live.content.decode()


def test_the_api_and_the_page_take_a_reason(
    actor, api_as, client_as, booking, publish, village_residents
):
    api = api_as("village_doctor")
    r = api.post(
        f"/api/v1/scheduling/bookings/{booking.pk}/cancel",
        {"reason": "家属要求改期"},
        content_type="application/json",
    )
    assert r.status_code == 200 and r.json()["cancel_reason"] == "家属要求改期"
    long = api.post(
        f"/api/v1/scheduling/bookings/{booking.pk}/cancel",
        {"reason": "长" * 201},
        content_type="application/json",
    )
    assert long.status_code == 422 and "reason" in str(long.json()["detail"][0]["loc"])
    other = actions.do_book_slot(actor("village_doctor"), booking.slot_id, village_residents[1])
    live = client_as("village_doctor").get("/scheduling/bookings/").content.decode()
    assert 'name="reason"' in live  # the cancel form asks for one
    page = client_as("village_doctor").post(
        f"/scheduling/bookings/{other.pk}/act/", {"do": "cancel", "reason": "已在乡镇就诊"}
    )
    assert page.status_code in (200, 302)
    assert Booking.objects.get(pk=other.pk).cancel_reason == "已在乡镇就诊"
    plain = api.post(f"/api/v1/scheduling/bookings/{other.pk}/cancel")
    assert plain.status_code == 409  # already cancelled; a body is optional


def test_appointment_cancelation_reason(actor, api_as, booking):
    from yigongti.fhir.tests.helpers import assert_valid

    api = api_as("village_doctor")
    before = assert_valid(api.get(f"/fhir/Appointment/{booking.pk}").json())
    assert "cancelationReason" not in before
    actions.do_cancel_booking(actor("village_doctor"), booking.pk, "患者临时有事")
    after = assert_valid(api.get(f"/fhir/Appointment/{booking.pk}").json())
    assert after["status"] == "cancelled"
    assert after["cancelationReason"] == {"text": "患者临时有事"}


# --- policies_for ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dept_row", "facility_row", "expected"),
    [
        (True, True, 12),  # the department's row wins
        (True, False, 12),
        (False, True, 24),  # else the facility's
        (False, False, 48),  # else the default
    ],
)
def test_policies_for_has_the_precedence_of_policy_for(county, dept_row, facility_row, expected):
    dept = staff_of("county_doctor").department
    assert dept is not None
    other = Department.objects.filter(facility_id=dept.facility_id).exclude(pk=dept.pk).first()
    if dept_row:
        QuotaPolicy.objects.create(
            facility_id=dept.facility_id, department=dept, release_hours_ahead=12
        )
    if facility_row:
        QuotaPolicy.objects.create(facility_id=dept.facility_id, release_hours_ahead=24)
    depts = [dept] + ([other] if other is not None else [])
    bulk = queries.policies_for(depts)
    assert bulk[dept.pk].release_hours_ahead == expected
    for d in depts:
        assert bulk[d.pk].release_hours_ahead == queries.policy_for(d).release_hours_ahead
    if other is not None:  # a sibling without its own row gets the facility's or the default
        assert bulk[other.pk].release_hours_ahead == (24 if facility_row else 48)


def test_policies_for_reads_once(county, django_assert_num_queries):
    depts = list(Department.objects.order_by("pk")[:5])
    with django_assert_num_queries(1):
        out = queries.policies_for(depts)
    assert set(out) == {d.pk for d in depts}
    assert queries.policies_for([]) == {}
