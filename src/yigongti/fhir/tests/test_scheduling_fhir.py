"""Schedule (expert sessions), Slot (seats with the reserved share) and Appointment
(bookings): mapping, search, booking through the scheduling action (no overbooking, a full
slot is a 409), scope, audit, R4 validity."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from yigongti.conftest import TEST_PASSWORD
from yigongti.core.models import AuditEntry
from yigongti.core.testing import run_together
from yigongti.fhir import scheduling as fs
from yigongti.fhir.clinical import local_time
from yigongti.referrals import actions as referral_actions
from yigongti.referrals.actions import ReferralInput
from yigongti.referrals.tests.conftest import staff_of
from yigongti.residents.models import Resident
from yigongti.residents.queries import residents_visible_to
from yigongti.scheduling import actions as scheduling
from yigongti.scheduling.actions import SlotInput
from yigongti.scheduling.models import Booking, ExpertSession, Slot

from .helpers import assert_valid, issues, post_json

pytestmark = pytest.mark.django_db


def _people(actor, n: int) -> list[Resident]:
    return list(residents_visible_to(actor("village_doctor")).order_by("pk")[:n])


def _publish(actor, capacities: list[int], days: int = 7) -> ExpertSession:
    staff = staff_of("county_doctor")
    assert staff.department is not None
    return scheduling.do_publish_session(
        actor("county_doctor"),
        staff.department,
        staff,
        timezone.localdate() + timedelta(days=days),
        [SlotInput(time(8 + i), time(9 + i), c) for i, c in enumerate(capacities)],
    )


def _slots(session: ExpertSession) -> list[Slot]:
    return list(Slot.objects.filter(session=session).order_by("starts_at"))


def _seats(slot: dict) -> dict[str, int]:
    (ext,) = [e for e in slot["extension"] if e["url"] == fs.seats_extension()]
    return {e["url"]: e["valueUnsignedInt"] for e in ext["extension"]}


def _appointment_body(slot_id: int, person: Resident, **over) -> dict:
    body = {
        "resourceType": "Appointment",
        "status": "booked",
        "slot": [{"reference": f"Slot/{slot_id}"}],
        "participant": [{"actor": {"reference": f"Patient/{person.mpi_id}"}, "status": "accepted"}],
    }
    body.update(over)
    return body


def test_schedule_and_slot_read(api_as, actor):
    session = _publish(actor, [5, 10])
    api = api_as("village_doctor")
    sch = assert_valid(api.get(f"/fhir/Schedule/{session.pk}").json())
    staff = staff_of("county_doctor")
    assert sch["actor"] == [{"reference": f"Practitioner/{staff.pk}", "display": staff.name}]
    assert sch["specialty"][0]["text"] == staff.department.name
    assert sch["planningHorizon"]["start"] == f"{session.day.isoformat()}T00:00:00+08:00"
    assert sch["extension"][0]["valueReference"]["display"] == staff.facility.name

    five, ten = _slots(session)
    s = assert_valid(api.get(f"/fhir/Slot/{five.pk}").json())
    assert s["status"] == "free" and s["schedule"] == {"reference": f"Schedule/{session.pk}"}
    assert s["start"] == local_time(five.starts_at) and s["end"] == local_time(five.ends_at)
    # DOMAIN.md §4: 20% of expert slots reserved (configurable); 5 seats → 1, 10 → 2
    assert _seats(s) == {"capacity": 5, "reserved": 1, "reservedFree": 1, "publicFree": 4}
    assert [c["coding"][0]["code"] for c in s["serviceType"]] == ["public", "reserved"]
    assert _seats(api.get(f"/fhir/Slot/{ten.pk}").json())["reserved"] == 2


def test_slot_status_and_pools_follow_the_seats(api_as, actor):
    session = _publish(actor, [2, 5])
    two, _ = _slots(session)  # 2 seats: 0 reserved
    a, b, c = _people(actor, 3)
    v = actor("village_doctor")
    scheduling.do_book_slot(v, two.pk, a)
    scheduling.do_book_slot(v, two.pk, b)
    api = api_as("village_doctor")
    full = assert_valid(api.get(f"/fhir/Slot/{two.pk}").json())
    assert full["status"] == "busy" and "serviceType" not in full
    # only the reserved seat left: free, but for family-doctor referrals only
    _, five = _slots(session)
    for person in (a, b, c, *_people(actor, 4)[3:]):
        scheduling.do_book_slot(v, five.pk, person)
    only_reserved = assert_valid(api.get(f"/fhir/Slot/{five.pk}").json())
    assert only_reserved["status"] == "free"
    assert [x["coding"][0]["code"] for x in only_reserved["serviceType"]] == ["reserved"]
    assert _seats(only_reserved)["publicFree"] == 0


def test_released_reserved_seats_show_as_public(api_as, actor):
    session = _publish(actor, [5], days=1)  # within the 48 h release time
    (slot,) = _slots(session)
    s = assert_valid(api_as("village_doctor").get(f"/fhir/Slot/{slot.pk}").json())
    assert _seats(s) == {"capacity": 5, "reserved": 0, "reservedFree": 0, "publicFree": 5}


def test_schedule_and_slot_search(api_as, actor):
    near, far = _publish(actor, [2, 3], days=3), _publish(actor, [4], days=20)
    api = api_as("village_doctor")
    day = near.day.isoformat()
    got = assert_valid(api.get("/fhir/Schedule", {"date": day}).json())
    assert [e["resource"]["id"] for e in got["entry"]] == [str(near.pk)]
    staff = staff_of("county_doctor")
    mine = api.get("/fhir/Schedule", {"actor": f"Practitioner/{staff.pk}", "date": f"ge{day}"})
    assert {e["resource"]["id"] for e in mine.json()["entry"]} >= {str(near.pk), str(far.pk)}
    assert api.get("/fhir/Schedule", {"date": f"gt{far.day.isoformat()}"}).json()["total"] == 0

    slots = assert_valid(api.get("/fhir/Slot", {"schedule": f"Schedule/{near.pk}"}).json())
    assert [e["resource"]["id"] for e in slots["entry"]] == [str(s.pk) for s in _slots(near)]
    first = _slots(near)[0]
    at = api.get("/fhir/Slot", {"schedule": near.pk, "start": f"ge{day}", "_count": "1"}).json()
    assert at["total"] == 2 and at["entry"][0]["resource"]["id"] == str(first.pk)
    assert api.get("/fhir/Slot", {"schedule": near.pk, "start": f"lt{day}"}).json()["total"] == 0
    v = actor("village_doctor")
    for person in _people(actor, 2):
        scheduling.do_book_slot(v, first.pk, person)
    busy = api.get("/fhir/Slot", {"schedule": near.pk, "status": "busy"}).json()
    assert [e["resource"]["id"] for e in busy["entry"]] == [str(first.pk)]
    free = api.get("/fhir/Slot", {"schedule": near.pk, "status": "free"}).json()
    assert free["total"] == 1
    assert api.get("/fhir/Slot", {"status": "robot"}).json()["total"] == 0


def test_schedules_need_a_booking_or_publishing_role(api_as, actor):
    session = _publish(actor, [5])
    commission = api_as("commission")  # no book / manage_schedules
    assert commission.get(f"/fhir/Schedule/{session.pk}").status_code == 404
    assert commission.get("/fhir/Slot").json()["total"] == 0
    # not personal data: a doctor of another township sees the board too
    assert api_as("outsider_doctor").get(f"/fhir/Schedule/{session.pk}").status_code == 200


# --- Appointment -------------------------------------------------------------------------


def test_appointment_create_books_through_the_action(api_as, actor):
    (slot,) = _slots(_publish(actor, [5]))
    (person,) = _people(actor, 1)
    api = api_as("village_doctor")
    resp = post_json(api, "/fhir/Appointment", _appointment_body(slot.pk, person))
    assert resp.status_code == 201, resp.content
    appt = assert_valid(resp.json())
    b = Booking.objects.get(pk=int(appt["id"]))
    assert resp["Location"].endswith(f"/fhir/Appointment/{b.pk}")
    assert b.resident_id == person.pk and b.pool == "public" and b.source == "direct"
    assert appt["status"] == "booked" and appt["slot"] == [{"reference": f"Slot/{slot.pk}"}]
    assert appt["participant"][0]["actor"]["reference"] == f"Patient/{person.mpi_id}"
    assert appt["start"] == local_time(slot.starts_at)
    assert AuditEntry.objects.filter(
        action="create", object_type="booking", object_id=str(b.pk)
    ).exists()
    slot.refresh_from_db()
    assert slot.booked_public == 1

    again = post_json(api, "/fhir/Appointment", _appointment_body(slot.pk, person))
    assert again.status_code == 409 and "已预约此时段" in issues(again)[0]["diagnostics"]
    assert Booking.objects.filter(slot=slot).count() == 1


def test_full_slot_is_409_with_chinese_diagnostics(api_as, actor):
    (slot,) = _slots(_publish(actor, [2]))  # 2 public seats, 0 reserved
    people = _people(actor, 3)
    api = api_as("village_doctor")
    for person in people[:2]:
        assert (
            post_json(api, "/fhir/Appointment", _appointment_body(slot.pk, person)).status_code
            == 201
        )
    resp = post_json(api, "/fhir/Appointment", _appointment_body(slot.pk, people[2]))
    assert resp.status_code == 409
    (issue,) = issues(resp)
    assert issue["code"] == "conflict" and issue["expression"] == ["Appointment.slot"]
    assert issue["diagnostics"].startswith("该时段号源已满，无法预约")
    assert Booking.objects.filter(slot=slot).count() == 2


@pytest.mark.parametrize(
    ("change", "status", "expression"),
    [
        ({"status": "proposed"}, 422, "Appointment.status"),
        ({"slot": []}, 422, "Appointment.slot"),
        ({"slot": [{"reference": "Slot/999999999"}]}, 422, "Appointment.slot"),
        (
            {"participant": [{"actor": {"reference": "Practitioner/1"}, "status": "accepted"}]},
            422,
            "Appointment.participant",
        ),
        ({"status": "robot"}, 400, "Appointment.status"),
    ],
)
def test_bad_appointment_names_the_element_and_books_nothing(
    api_as, actor, change, status, expression
):
    (slot,) = _slots(_publish(actor, [5]))
    (person,) = _people(actor, 1)
    resp = post_json(
        api_as("village_doctor"), "/fhir/Appointment", _appointment_body(slot.pk, person, **change)
    )
    assert resp.status_code == status, resp.content
    assert expression in {e for i in issues(resp) for e in i.get("expression", [])}
    assert not Booking.objects.exists()


def test_outsider_cannot_book_read_or_find(api_as, actor):
    (slot,) = _slots(_publish(actor, [5]))
    (person,) = _people(actor, 1)
    out = api_as("outsider_doctor")
    assert (
        post_json(out, "/fhir/Appointment", _appointment_body(slot.pk, person)).status_code == 404
    )
    assert not Booking.objects.exists()
    b = scheduling.do_book_slot(actor("village_doctor"), slot.pk, person)
    resp = out.get(f"/fhir/Appointment/{b.pk}")
    assert resp.status_code == 404 and issues(resp)[0]["code"] == "not-found"
    assert AuditEntry.objects.filter(
        action="denied", username="outsider_doctor", object_type="booking", object_id=str(b.pk)
    ).exists()
    found = out.get("/fhir/Appointment", {"patient": person.mpi_id}).json()
    assert found["total"] == 0 and "entry" not in found
    assert str(b.pk) not in {
        e["resource"]["id"] for e in out.get("/fhir/Appointment").json().get("entry", [])
    }
    assert AuditEntry.objects.filter(
        action="denied", username="outsider_doctor", object_type="resident", object_id=person.mpi_id
    ).exists()
    assert (
        api_as("pharmacist")
        .post(
            "/fhir/Appointment",
            _appointment_body(slot.pk, person),
            content_type="application/fhir+json",
        )
        .status_code
        == 403
    )


def test_appointment_read_search_and_status_mapping(api_as, actor):
    session = _publish(actor, [5, 5])
    first, second = _slots(session)
    a, b = _people(actor, 2)
    v, c = actor("village_doctor"), actor("county_doctor")
    ba = scheduling.do_book_slot(v, first.pk, a)
    bb = scheduling.do_book_slot(v, second.pk, b)
    scheduling.do_cancel_booking(v, bb.pk, "患者改期")
    api = api_as("village_doctor")
    appt = assert_valid(api.get(f"/fhir/Appointment/{ba.pk}").json())
    assert appt["participant"][1]["actor"]["reference"] == f"Practitioner/{session.doctor_id}"
    assert AuditEntry.objects.filter(
        action="read", object_type="booking", object_id=str(ba.pk)
    ).exists()
    both = f"{a.mpi_id},{b.mpi_id}"
    got = assert_valid(api.get("/fhir/Appointment", {"patient": both}).json())
    assert {e["resource"]["id"] for e in got["entry"]} == {str(ba.pk), str(bb.pk)}
    cancelled = api.get("/fhir/Appointment", {"patient": both, "status": "cancelled"}).json()
    assert [e["resource"]["id"] for e in cancelled["entry"]] == [str(bb.pk)]
    day = session.day.isoformat()
    assert api.get("/fhir/Appointment", {"patient": both, "date": day}).json()["total"] == 2
    assert api.get("/fhir/Appointment", {"patient": both, "date": f"gt{day}"}).json()["total"] == 0
    assert api.get("/fhir/Appointment", {"slot": f"Slot/{first.pk}"}).json()["total"] == 1
    assert AuditEntry.objects.filter(action="search", object_type="booking").exists()
    # the receiving hospital sees it as well
    assert api_as("county_doctor").get(f"/fhir/Appointment/{ba.pk}").status_code == 200
    assert c.facility_id != v.facility_id


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("booked", "booked"),
        ("cancelled", "cancelled"),
        ("attended", "fulfilled"),
        ("no_show", "noshow"),
    ],
)
def test_appointment_status_table(status, expected):
    assert fs.APPOINTMENT_STATUS[status] == expected


def test_referral_booking_is_based_on_the_service_request(api_as, actor):
    (slot,) = _slots(_publish(actor, [5]))
    (person,) = _people(actor, 1)
    staff = staff_of("county_doctor")
    r = referral_actions.do_create_referral(
        actor("village_doctor"),
        person,
        ReferralInput(
            reason="血压控制不佳",
            to_facility_id=staff.facility_id,
            family_doctor=True,
            referring_doctor="村医",
        ),
    )
    r = referral_actions.do_accept(actor("county_doctor"), r.pk, slot_id=slot.pk)
    appt = assert_valid(api_as("county_doctor").get(f"/fhir/Appointment/{r.booking_id}").json())
    assert appt["basedOn"] == [{"reference": f"ServiceRequest/{r.pk}"}]
    pool = next(e for e in appt["extension"] if e["url"] == fs.pool_extension())
    assert pool["valueCoding"]["code"] == "reserved"


def test_capability_statement_lists_scheduling_types(client):
    cs = assert_valid(client.get("/fhir/metadata").json())
    types = {r["type"]: r for r in cs["rest"][0]["resource"]}
    assert [i["code"] for i in types["Appointment"]["interaction"]] == [
        "read",
        "search-type",
        "create",
    ]
    for name, params in (
        ("Schedule", {"actor", "date"}),
        ("Slot", {"schedule", "start", "status"}),
        ("Appointment", {"patient", "date", "status", "slot"}),
    ):
        assert params <= {p["name"] for p in types[name]["searchParam"]}


def _token_client(username: str) -> Client:
    c = Client()
    r = c.post(
        "/api/v1/auth/token",
        {"username": username, "password": TEST_PASSWORD},
        content_type="application/json",
    )
    return Client(headers={"Authorization": f"Bearer {r.json()['token']}"})


@pytest.mark.django_db(transaction=True)
def test_parallel_fhir_bookings_never_overbook(county, actor):
    (slot,) = _slots(_publish(actor, [3]))  # 3 seats: 1 reserved, 2 public
    people = _people(actor, 8)
    api = _token_client("village_doctor")

    def book(i: int) -> int:
        resp = post_json(api, "/fhir/Appointment", _appointment_body(slot.pk, people[i]))
        return resp.status_code

    codes = run_together(len(people), book)
    assert sorted(codes) == [201, 201] + [409] * (len(people) - 2), codes
    slot.refresh_from_db()
    assert slot.booked_public == 2 and slot.booked_reserved == 0
    assert Booking.objects.filter(slot=slot).count() == 2
    connection.close()


def test_fhirpy_appointment_create_and_search(transactional_db, county, live_server, actor):
    from fhirpy.base.exceptions import OperationOutcome

    from .test_fhirpy_live import connect

    session = _publish(actor, [2])
    (slot,) = _slots(session)
    people = _people(actor, 3)
    client = connect(live_server, "village_doctor")
    free = client.resources("Slot").search(schedule=f"Schedule/{session.pk}", status="free").fetch()
    assert [s.id for s in free] == [str(slot.pk)]
    made = []
    for person in people[:2]:
        appt = client.resource(
            "Appointment",
            status="booked",
            slot=[{"reference": f"Slot/{slot.pk}"}],
            participant=[
                {"actor": {"reference": f"Patient/{person.mpi_id}"}, "status": "accepted"}
            ],
        )
        appt.save()
        assert appt.id and appt["status"] == "booked"
        made.append(appt.id)
    full = client.resource(
        "Appointment",
        status="booked",
        slot=[{"reference": f"Slot/{slot.pk}"}],
        participant=[{"actor": {"reference": f"Patient/{people[2].mpi_id}"}, "status": "accepted"}],
    )
    with pytest.raises(OperationOutcome) as excinfo:
        full.save()
    assert excinfo.value.resource["issue"][0]["diagnostics"].startswith("该时段号源已满")
    found = (
        client.resources("Appointment").search(patient=people[0].mpi_id, status="booked").fetch()
    )
    assert [a.id for a in found] == [made[0]]
    assert_valid(found[0].serialize())
    busy = client.reference("Slot", str(slot.pk)).to_resource()
    assert busy["status"] == "busy"
