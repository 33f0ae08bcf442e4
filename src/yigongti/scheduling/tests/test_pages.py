from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from yigongti.scheduling.models import Booking, ExpertSession, Slot

from .conftest import staff_of


def test_publish_board_book_and_beds(client_as, village_residents):
    c = client_as("county_doctor")
    expert = staff_of("county_doctor")
    day = timezone.localdate() + timedelta(days=3)
    assert c.get("/scheduling/publish/").status_code == 200
    bad = c.post(
        "/scheduling/publish/",
        {
            "department_id": expert.department_id,
            "doctor_id": expert.pk,
            "day": day.isoformat(),
            "slots": "8点",
        },
    )
    assert "格式" in bad.content.decode()
    r = c.post(
        "/scheduling/publish/",
        {
            "department_id": expert.department_id,
            "doctor_id": expert.pk,
            "day": day.isoformat(),
            "slots": "08:00-09:00*5",
        },
    )
    assert r.status_code == 302
    slot = Slot.objects.get(session=ExpertSession.objects.get())
    v = client_as("village_doctor")
    board = v.get(f"/scheduling/?from={day.isoformat()}")
    assert board.status_code == 200 and expert.name in board.content.decode()
    assert "选择时段" in board.content.decode()  # all departments: one line per session
    one = v.get(f"/scheduling/?from={day.isoformat()}&department={expert.department_id}")
    assert f'name="slot_id" value="{slot.pk}"' in one.content.decode()
    v.post("/scheduling/book/", {"slot_id": slot.pk, "mpi_id": village_residents[0].mpi_id})
    assert Booking.objects.filter(slot=slot).count() == 1
    o = client_as("outsider_doctor")
    o.post("/scheduling/book/", {"slot_id": slot.pk, "mpi_id": village_residents[1].mpi_id})
    assert Booking.objects.filter(slot=slot).count() == 1
    assert v.get("/scheduling/bookings/").status_code == 200
    assert (
        c.post(
            "/scheduling/beds/", {"department_id": expert.department_id, "beds": "12"}
        ).status_code
        == 302
    )
    assert "心内科" in c.get("/scheduling/beds/").content.decode()
    assert v.get("/scheduling/publish/").status_code == 403
    assert client_as("commission").get("/scheduling/").status_code == 403
