from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from .conftest import staff_of


def test_publish_list_book_cancel(api_as, village_residents):
    c, v, o = api_as("county_doctor"), api_as("village_doctor"), api_as("outsider_doctor")
    expert = staff_of("county_doctor")
    day = (timezone.localdate() + timedelta(days=5)).isoformat()
    body = {
        "department_id": expert.department_id,
        "doctor_id": expert.pk,
        "day": day,
        "slots": [{"start": "08:00", "end": "09:00", "capacity": 10}],
    }
    r = c.post("/api/v1/scheduling/sessions", body, content_type="application/json")
    assert r.status_code == 201, r.content
    slot = r.json()["slots"][0]
    assert (slot["reserved_free"], slot["public_free"]) == (2, 8)
    assert (
        v.post("/api/v1/scheduling/sessions", body, content_type="application/json").status_code
        == 403
    )
    assert (
        c.post("/api/v1/scheduling/sessions", body, content_type="application/json").status_code
        == 409
    )
    listed = v.get(f"/api/v1/scheduling/sessions?day_from={day}&day_to={day}").json()
    assert listed[0]["slots"][0]["id"] == slot["id"]
    b = v.post(
        "/api/v1/scheduling/bookings",
        {"slot_id": slot["id"], "mpi_id": village_residents[0].mpi_id},
        content_type="application/json",
    )
    assert b.status_code == 201, b.content
    assert b.json()["pool"] == "public"
    ob = o.post(
        "/api/v1/scheduling/bookings",
        {"slot_id": slot["id"], "mpi_id": village_residents[1].mpi_id},
        content_type="application/json",
    )
    assert ob.status_code == 404
    assert o.post(f"/api/v1/scheduling/bookings/{b.json()['id']}/cancel").status_code == 404
    x = v.post(f"/api/v1/scheduling/bookings/{b.json()['id']}/cancel")
    assert x.status_code == 200 and x.json()["status"] == "cancelled"
    w = c.put(
        "/api/v1/scheduling/wards",
        {"department_id": expert.department_id, "beds": 20},
        content_type="application/json",
    )
    assert w.status_code == 200 and w.json()["reserved"] == 2
