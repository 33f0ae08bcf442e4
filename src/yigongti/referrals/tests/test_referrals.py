from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from yigongti.core.errors import Conflict, DomainError, Forbidden, NotFound
from yigongti.core.models import AuditEntry
from yigongti.records.models import Entry
from yigongti.referrals import actions, queries
from yigongti.referrals.models import Referral, Transition
from yigongti.scheduling.models import Pool, Slot


def test_upward_full_chain_with_booking(actor, resident, up_input, slot):
    v, c = actor("village_doctor"), actor("county_doctor")
    r = actions.do_create_referral(v, resident, up_input(family_doctor=True))
    assert r.state == "submitted" and r.respond_by is not None
    r = actions.do_accept(c, r.pk, slot_id=slot.pk)
    assert r.booking.pool == Pool.RESERVED  # family-doctor referral takes a reserved seat
    actions.do_mark_arrived(c, r.pk)
    r = actions.do_complete(c, r.pk)
    assert r.state == "completed"
    chain = list(Transition.objects.filter(referral=r).values_list("from_state", "to_state"))
    assert chain == [
        ("", "draft"),
        ("draft", "submitted"),
        ("submitted", "accepted"),
        ("accepted", "arrived"),
        ("arrived", "completed"),
    ]
    assert (
        Entry.objects.filter(object_type="referral", object_id=r.pk, kind="referral").count() == 5
    )
    assert AuditEntry.objects.filter(object_type="referral", object_id=str(r.pk)).count() >= 5


def test_non_family_doctor_referral_gets_public_seat(actor, resident, up_input, slot):
    r = actions.do_create_referral(actor("village_doctor"), resident, up_input())
    r = actions.do_accept(actor("county_doctor"), r.pk, slot_id=slot.pk)
    assert r.booking.pool == Pool.PUBLIC


@pytest.mark.parametrize(
    ("steps", "refused"),
    [
        (["decline"], "accept"),
        (["decline"], "arrive"),
        ([], "arrive"),
        ([], "complete"),
        (["accept", "arrive"], "cancel"),
        (["accept", "arrive", "complete"], "decline"),
    ],
)
def test_invalid_transitions_are_409(actor, resident, up_input, ward, steps, refused):
    v, c = actor("village_doctor"), actor("county_doctor")
    r = actions.do_create_referral(v, resident, up_input())
    do = {
        "accept": lambda: actions.do_accept(c, r.pk, ward_id=ward.pk),
        "decline": lambda: actions.do_decline(c, r.pk, "本科室无床"),
        "arrive": lambda: actions.do_mark_arrived(c, r.pk),
        "complete": lambda: actions.do_complete(c, r.pk),
        "cancel": lambda: actions.do_cancel(v, r.pk, "患者拒绝"),
    }
    for s in steps:
        do[s]()
    before = Referral.objects.get(pk=r.pk).state
    with pytest.raises(Conflict) as e:
        do[refused]()
    assert e.value.status == 409 and e.value.errors[0].code == "invalid_transition"
    assert Referral.objects.get(pk=r.pk).state == before


def test_sender_cannot_accept_receiver_cannot_submit(actor, resident, up_input, ward):
    v, c = actor("village_doctor"), actor("county_doctor")
    r = actions.do_create_referral(v, resident, up_input(submit=False))
    with pytest.raises(Forbidden):
        actions.do_submit(c, r.pk)
    actions.do_submit(v, r.pk)
    with pytest.raises(Forbidden):
        actions.do_accept(v, r.pk, ward_id=ward.pk)


def test_cancel_releases_booking(actor, resident, up_input, slot):
    v, c = actor("village_doctor"), actor("county_doctor")
    r = actions.do_create_referral(v, resident, up_input())
    actions.do_accept(c, r.pk, slot_id=slot.pk)
    actions.do_cancel(v, r.pk, "患者自行前往")
    slot.refresh_from_db()
    assert slot.booked_public == 0 and slot.booked_reserved == 0


def test_decline_needs_reason(actor, resident, up_input):
    r = actions.do_create_referral(actor("village_doctor"), resident, up_input())
    with pytest.raises(DomainError) as e:
        actions.do_decline(actor("county_doctor"), r.pk, " ")
    assert e.value.errors[0].field == "reason"


def test_referral_to_full_department_is_refused_cleanly(actor, resident, up_input, slot):
    Slot.objects.filter(pk=slot.pk).update(booked_public=4, booked_reserved=1)
    r = actions.do_create_referral(actor("village_doctor"), resident, up_input(family_doctor=True))
    with pytest.raises(Conflict) as e:
        actions.do_accept(actor("county_doctor"), r.pk, slot_id=slot.pk)
    assert "已满" in e.value.errors[0].msg_zh
    assert Referral.objects.get(pk=r.pk).state == "submitted"
    assert not Transition.objects.filter(referral=r, to_state="accepted").exists()


def test_bad_input_names_fields_and_writes_nothing(actor, resident, up_input):
    n = Referral.objects.count()
    with pytest.raises(DomainError) as e:
        actions.do_create_referral(
            actor("village_doctor"),
            resident,
            up_input(
                urgency="soon",
                reason="",
                to_facility_id=None,
                attachments=["encounter:999999", "x"],
            ),
        )
    fields = {x.field for x in e.value.errors}
    assert {"urgency", "reason", "to_facility_id", "attachments.0", "attachments.1"} <= fields
    assert Referral.objects.count() == n


def test_duplicate_submission(actor, resident, up_input):
    v = actor("village_doctor")
    a = actions.do_create_referral(v, resident, up_input(client_key="form-123"))
    b = actions.do_create_referral(v, resident, up_input(client_key="form-123"))
    assert a.pk == b.pk
    with pytest.raises(Conflict) as e:
        actions.do_create_referral(v, resident, up_input(client_key="form-456"))
    assert e.value.errors[0].code == "duplicate" and e.value.extra["existing"] == a.pk


def test_outsider_refused(actor, resident, up_input):
    r = actions.do_create_referral(actor("village_doctor"), resident, up_input())
    o = actor("outsider_doctor")
    with pytest.raises(NotFound):
        queries.get_referral_for(o, r.pk)
    with pytest.raises(NotFound):
        actions.do_decline(o, r.pk, "x")
    with pytest.raises(NotFound):
        actions.do_create_referral(o, resident, up_input())
    assert AuditEntry.objects.filter(
        object_type="referral", object_id=str(r.pk), action="denied"
    ).exists()


def test_county_doctor_reads_resident_through_referral(actor, up_input, county_staff):
    """A resident outside the group's catchment, referred to the lead hospital."""
    o = actor("outsider_doctor")
    from yigongti.residents.queries import in_scope, residents_visible_to

    far = residents_visible_to(o).first()
    c = actor("county_doctor")
    assert not in_scope(c, far)
    r = actions.do_create_referral(o, far, up_input())
    got = queries.get_referral_for(c, r.pk)
    assert got.resident.pk == far.pk
    assert AuditEntry.objects.filter(
        object_type="referral", object_id=str(r.pk), action="read", resident_id=far.pk
    ).exists()


def test_inbox_family_doctor_first(actor, up_input, county_staff):
    from yigongti.residents.queries import residents_visible_to

    v = actor("village_doctor")
    people = list(residents_visible_to(v).order_by("pk")[:3])
    plain = actions.do_create_referral(v, people[0], up_input())
    fd = actions.do_create_referral(v, people[1], up_input(family_doctor=True))
    em = actions.do_create_referral(v, people[2], up_input(urgency="emergency"))
    inbox = [r.pk for r in queries.received(actor("county_doctor"))]
    assert inbox.index(fd.pk) < inbox.index(em.pk) < inbox.index(plain.pk)
    assert plain.pk in [r.pk for r in queries.sent(v)]
    assert plain.pk in [r.pk for r in queries.waiting(v)]


def test_expiry_and_overdue_list(actor, resident, up_input):
    v = actor("village_doctor")
    r = actions.do_create_referral(v, resident, up_input(urgency="emergency"))
    late = timezone.now() + timedelta(hours=3)  # emergency default: answer within 2 h
    assert r.pk in [x.pk for x in queries.overdue_responses(v, late)]
    assert actions.expire_overdue(late) >= 1
    r.refresh_from_db()
    assert r.state == "expired"
    with pytest.raises(Conflict):
        actions.do_decline(actor("county_doctor"), r.pk, "迟到")


def test_downward_referral_follow_up_due_in_two_weeks(actor, resident, up_input, ward):
    v, c = actor("village_doctor"), actor("county_doctor")
    up = actions.do_create_referral(v, resident, up_input())
    actions.do_accept(c, up.pk, ward_id=ward.pk)
    actions.do_mark_arrived(c, up.pk)
    with pytest.raises(DomainError) as e:
        actions.do_send_return(c, actions.ReturnInput(parent_id=up.pk))
    assert {"return_diagnosis", "next_steps"} <= {x.field for x in e.value.errors}
    down = actions.do_send_return(
        c,
        actions.ReturnInput(
            parent_id=up.pk,
            return_diagnosis="原发性高血压 3级",
            findings="心超左室肥厚",
            treatment="调整降压方案",
            next_steps="氨氯地平 5mg qd，监测血压",
            rehab_advice="低盐饮食",
        ),
    )
    assert down.to_facility_id == up.from_facility_id
    assert down.followup_due == timezone.localdate() + timedelta(days=14)
    up.refresh_from_db()
    assert up.state == "completed"
    due = queries.followups_due(v)
    assert (down.pk, False) in [(r.pk, late) for r, late in due]
    assert (down.pk, True) in [
        (r.pk, late)
        for r, late in queries.followups_due(v, timezone.localdate() + timedelta(days=15))
    ]
    with pytest.raises(Forbidden):
        actions.do_record_followup(c, down.pk, "随访")
    actions.do_record_followup(v, down.pk, "血压 132/84，已按方案服药")
    assert down.pk not in [r.pk for r, _ in queries.followups_due(v)]
    assert [x.pk for x in queries.chain_of(resident)][-2:] == [up.pk, down.pk]


def test_out_of_county_and_summary(actor, resident, up_input):
    from yigongti.records.models import ICD10Code

    v = actor("village_doctor")
    codes = list(ICD10Code.objects.order_by("code")[:2])
    with pytest.raises(DomainError) as e:
        actions.do_create_referral(v, resident, up_input(out_of_county=True))
    assert {"destination_name", "diagnosis_code"} <= {x.field for x in e.value.errors}
    actions.do_create_referral(
        v,
        resident,
        up_input(out_of_county=True, destination_name="省人民医院", diagnosis_code=codes[0].code),
    )
    actions.do_create_referral(
        v,
        resident,
        up_input(out_of_county=True, destination_name="市中心医院", diagnosis_code=codes[0].code),
    )
    actions.do_create_referral(v, resident, up_input())
    today = timezone.localdate()
    s = queries.out_of_county_summary(actor("commission"), today, today)
    assert s["total"] == 3 and s["out_of_county"] == 2
    assert s["share"] == pytest.approx(0.6667)
    assert s["top_diagnoses"][0] == {"code": codes[0].code, "name": codes[0].name, "n": 2}
    assert queries.out_of_county_summary(actor("outsider_doctor"), today, today)["total"] == 0


def test_expire_command_leaves_fresh_referrals(actor, resident, up_input):
    from io import StringIO

    from django.core.management import call_command

    r = actions.do_create_referral(actor("village_doctor"), resident, up_input())
    out = StringIO()
    call_command("expire_referrals", stdout=out)
    assert "expired 0 referrals" in out.getvalue()
    Referral.objects.filter(pk=r.pk).update(respond_by=timezone.now() - timedelta(minutes=1))
    call_command("expire_referrals", stdout=out)
    r.refresh_from_db()
    assert r.state == "expired"
    assert Transition.objects.filter(
        referral=r, to_state="expired", by_name="referral-expiry"
    ).exists()


def test_out_of_county_sender_records_the_outcome(actor, resident, up_input):
    from yigongti.records.models import ICD10Code

    v = actor("village_doctor")
    code = ICD10Code.objects.order_by("code").first()
    r = actions.do_create_referral(
        v,
        resident,
        up_input(out_of_county=True, destination_name="省人民医院", diagnosis_code=code.code),
    )
    assert r.respond_by is None and r.to_facility_id is None
    actions.do_accept(v, r.pk)
    actions.do_mark_arrived(v, r.pk)
    assert actions.do_complete(v, r.pk).state == "completed"
    with pytest.raises(NotFound):
        actions.do_mark_arrived(actor("county_doctor"), r.pk)
