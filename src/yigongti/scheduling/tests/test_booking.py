from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from yigongti.core.errors import Conflict, DomainError, Forbidden, NotFound
from yigongti.scheduling import actions, queries
from yigongti.scheduling.models import Booking, BookingStatus, Pool, QuotaPolicy, Slot, Ward

from .conftest import any_residents


def test_publish_reserves_twenty_percent(actor, publish):
    s = publish(actor("county_doctor"), [10, 5, 2])
    assert list(Slot.objects.filter(session=s).values_list("reserved", flat=True)) == [2, 1, 0]


def test_policy_row_changes_the_share(actor, publish, cardiology):
    doctor = actor("county_doctor")
    actions.do_set_policy(doctor, cardiology, actions.PolicyInput(reserved_slot_pct=30))
    s = publish(doctor, [10])
    assert Slot.objects.get(session=s).reserved == 3


def test_bad_session_input_names_fields(actor, cardiology, expert):
    from datetime import time

    from yigongti.scheduling.actions import SlotInput

    with pytest.raises(DomainError) as e:
        actions.do_publish_session(
            actor("county_doctor"),
            cardiology,
            expert,
            timezone.localdate() - timedelta(days=1),
            [
                SlotInput(time(9), time(8), 0),
                SlotInput(time(8), time(10), 3),
                SlotInput(time(9), time(11), 2),
            ],
        )
    fields = {x.field for x in e.value.errors}
    assert {"day", "slots.0.end", "slots.0.capacity", "slots.2.start"} <= fields


def test_only_the_department_facility_publishes(actor, publish):
    with pytest.raises(Forbidden):
        publish(actor("township_doctor"), [5])  # no manage_schedules
    with pytest.raises(Forbidden):
        publish(actor("outsider_doctor"), [5])


def test_direct_booking_uses_public_seats_then_refuses(actor, publish, village_residents):
    s = publish(actor("county_doctor"), [2])  # 0 reserved
    slot = Slot.objects.get(session=s)
    v = actor("village_doctor")
    b1 = actions.do_book_slot(v, slot.pk, village_residents[0])
    assert b1.pool == Pool.PUBLIC
    with pytest.raises(Conflict) as dup:
        actions.do_book_slot(v, slot.pk, village_residents[0])
    assert dup.value.errors[0].code == "duplicate"
    actions.do_book_slot(v, slot.pk, village_residents[1])
    with pytest.raises(Conflict) as full:
        actions.do_book_slot(v, slot.pk, village_residents[2])
    assert full.value.errors[0].code == "full" and "已满" in full.value.errors[0].msg_zh
    assert Booking.objects.filter(slot=slot).count() == 2


def test_direct_booking_never_takes_reserved_seat(actor, publish, village_residents):
    s = publish(actor("county_doctor"), [1])
    slot = Slot.objects.get(session=s)
    slot.reserved = 1
    slot.save()
    with pytest.raises(Conflict):
        actions.do_book_slot(actor("village_doctor"), slot.pk, village_residents[0])


def test_outsider_cannot_book_for_resident_out_of_scope(actor, publish, village_residents):
    s = publish(actor("county_doctor"), [5])
    slot = Slot.objects.get(session=s)
    with pytest.raises(NotFound):
        actions.do_book_slot(actor("outsider_doctor"), slot.pk, village_residents[0])
    assert not Booking.objects.filter(slot=slot).exists()


def test_cancel_gives_the_seat_back(actor, publish, village_residents):
    s = publish(actor("county_doctor"), [5])
    slot = Slot.objects.get(session=s)
    v = actor("village_doctor")
    b = actions.do_book_slot(v, slot.pk, village_residents[0])
    actions.do_cancel_booking(v, b.pk, "家属要求")
    slot.refresh_from_db()
    assert slot.booked_public == 0
    with pytest.raises(Conflict):
        actions.do_cancel_booking(v, b.pk)
    with pytest.raises(NotFound):
        actions.do_cancel_booking(actor("outsider_doctor"), b.pk)


def test_reserved_seats_are_released_ahead(actor, publish):
    doctor = actor("county_doctor")
    s = publish(doctor, [5, 5], days=1)  # tomorrow: within the 48 h default
    people = any_residents(3)
    first = Slot.objects.filter(session=s).order_by("starts_at").first()
    # the family-doctor seat is used before release, then release frees only the unused one
    actions.book_for_referral(doctor, first.pk, people[0], family_doctor=True)
    first.refresh_from_db()
    assert (first.reserved, first.booked_reserved) == (0, 0) or first.booked_reserved == 1
    n = actions.release_reserved_slots()
    assert n >= 1
    for slot in Slot.objects.filter(session=s):
        assert slot.reserved == slot.booked_reserved
        assert slot.released_at is not None
    assert actions.release_reserved_slots() == 0  # idempotent


def test_reserved_seats_kept_before_release_time(actor, publish):
    s = publish(actor("county_doctor"), [5], days=10)
    assert actions.release_reserved_slots() == 0
    slot = Slot.objects.get(session=s)
    assert slot.reserved == 1 and slot.released_at is None
    # release on read: 10 days ahead nothing changes; at 47 h before it shows as public
    assert queries.effective_free(slot, 48) == (1, 4)
    assert queries.effective_free(slot, 48, slot.starts_at - timedelta(hours=47)) == (0, 5)


def test_release_time_is_configurable(actor, publish, cardiology):
    doctor = actor("county_doctor")
    actions.do_set_policy(doctor, cardiology, actions.PolicyInput(release_hours_ahead=24 * 14))
    publish(doctor, [5], days=10)
    assert actions.release_reserved_slots() == 1


def _past_booking(slot_pk, resident, status):
    return Booking.objects.create(
        slot_id=slot_pk, resident=resident, pool=Pool.PUBLIC, source="direct", status=status
    )


def test_blacklist_after_three_no_shows_in_ninety_days(actor, publish, village_residents):
    doctor = actor("county_doctor")
    s = publish(doctor, [5, 5, 5, 5])
    slots = list(Slot.objects.filter(session=s).order_by("starts_at"))
    r = village_residents[0]
    # three no-shows on slots that already took place
    past = []
    for i in range(3):
        sl = slots[i]
        Slot.objects.filter(pk=sl.pk).update(
            starts_at=timezone.now() - timedelta(days=10 + i),
            ends_at=timezone.now() - timedelta(days=10 + i) + timedelta(hours=1),
        )
        past.append(_past_booking(sl.pk, r, BookingStatus.BOOKED))
    for b in past[:2]:
        actions.do_mark_booking(doctor, b.pk, attended=False)
    v = actor("village_doctor")
    actions.do_book_slot(v, slots[3].pk, village_residents[1])  # others unaffected
    b = actions.do_book_slot(v, slots[3].pk, r)  # 2 no-shows: still allowed
    actions.do_cancel_booking(v, b.pk)
    actions.do_mark_booking(doctor, past[2].pk, attended=False)
    with pytest.raises(DomainError) as e:
        actions.do_book_slot(v, slots[3].pk, r)
    assert e.value.errors[0].code == "blacklisted"
    assert "爽约3次" in e.value.errors[0].msg_zh
    # a referral booking is still possible
    assert actions.book_for_referral(doctor, slots[3].pk, r, family_doctor=True)


def test_no_show_outside_window_does_not_count(actor, publish, village_residents, cardiology):
    doctor = actor("county_doctor")
    QuotaPolicy.objects.create(
        facility_id=cardiology.facility_id,
        department=cardiology,
        noshow_limit=1,
        noshow_window_days=5,
    )
    s = publish(doctor, [5, 5])
    old, new = Slot.objects.filter(session=s).order_by("starts_at")
    Slot.objects.filter(pk=old.pk).update(
        starts_at=timezone.now() - timedelta(days=30),
        ends_at=timezone.now() - timedelta(days=30) + timedelta(hours=1),
    )
    _past_booking(old.pk, village_residents[0], BookingStatus.NO_SHOW)
    assert actions.do_book_slot(actor("village_doctor"), new.pk, village_residents[0])


def test_no_show_only_by_receiving_facility_after_start(actor, publish, village_residents):
    s = publish(actor("county_doctor"), [5])
    slot = Slot.objects.get(session=s)
    v = actor("village_doctor")
    b = actions.do_book_slot(v, slot.pk, village_residents[0])
    with pytest.raises(Forbidden):
        actions.do_mark_booking(v, b.pk, attended=False)
    with pytest.raises(DomainError):
        actions.do_mark_booking(actor("county_doctor"), b.pk, attended=False)


def test_beds_reserved_share_and_full_ward(actor, cardiology):
    doctor = actor("county_doctor")
    ward = actions.do_set_ward(doctor, cardiology, 10)
    assert ward.reserved == 1
    people = any_residents(12)
    r1 = actions.bed_for_referral(doctor, ward.pk, people[0])
    assert r1.pool == Pool.RESERVED
    r2 = actions.bed_for_referral(doctor, ward.pk, people[1])
    assert r2.pool == Pool.PUBLIC
    for p in people[2:10]:
        actions.bed_for_referral(doctor, ward.pk, p)
    with pytest.raises(Conflict) as e:
        actions.bed_for_referral(doctor, ward.pk, people[10])
    assert "床位已满" in e.value.errors[0].msg_zh
    actions.do_release_bed(doctor, r1.pk)
    ward.refresh_from_db()
    assert (ward.used_reserved, ward.used_public) == (0, 9)
    with pytest.raises(DomainError):
        actions.do_set_ward(doctor, cardiology, 0)
    assert Ward.objects.count() == 1


def test_release_command(actor, publish):
    from io import StringIO

    from django.core.management import call_command

    s = publish(actor("county_doctor"), [10], days=1)
    out = StringIO()
    call_command("release_reserved_slots", stdout=out)
    assert "released 1 slots" in out.getvalue()
    assert Slot.objects.get(session=s).reserved == 0
