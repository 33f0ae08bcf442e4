"""Registers and follow-ups (DOMAIN.md §5)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from django.utils import timezone

from yigongti.chronic import queries
from yigongti.chronic.actions import (
    EnrolInput,
    FollowupInput,
    do_enrol_resident,
    do_exit_registration,
    do_record_followup,
)
from yigongti.chronic.models import Followup, Registration
from yigongti.core.errors import Conflict, DomainError, Forbidden, NotFound
from yigongti.records.models import Entry, Observation

from .helpers import enrol, residents_of


def test_enrol_then_a_second_active_registration_is_a_conflict(actor):
    doc = actor("village_doctor")
    (r,) = residents_of(doc)
    reg = enrol(doc, r)
    assert reg.status == "active"
    with pytest.raises(Conflict) as exc:
        enrol(doc, r)
    assert exc.value.errors[0].field == "disease"
    # a different disease is fine, and after exit a new registration is allowed
    enrol(doc, r, "diabetes")
    do_exit_registration(doc, reg, "moved", note="迁往外县")
    assert enrol(doc, r).pk != reg.pk


def test_exit_needs_a_valid_reason_and_keeps_the_row(actor):
    doc = actor("village_doctor")
    (r,) = residents_of(doc)
    reg = enrol(doc, r)
    with pytest.raises(DomainError) as exc:
        do_exit_registration(doc, reg, "bored")
    assert exc.value.errors[0].field == "reason"
    reg.refresh_from_db()
    assert reg.status == "active"
    do_exit_registration(doc, reg, "death")
    reg.refresh_from_db()
    assert (reg.status, reg.exit_reason) == ("exited", "death")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"disease": "flu"}, "disease"),
        ({"diagnosed_on": "future"}, "diagnosed_on"),
        ({"level": "9"}, "level"),
    ],
)
def test_bad_enrolment_names_the_field_and_writes_nothing(actor, change, field):
    doc = actor("village_doctor")
    (r,) = residents_of(doc)
    data = EnrolInput(disease="hypertension")
    for k, v in change.items():
        setattr(data, k, timezone.localdate() + timedelta(days=3) if v == "future" else v)
    with pytest.raises(DomainError) as exc:
        do_enrol_resident(doc, r, data)
    assert field in [e.field for e in exc.value.errors]
    assert not Registration.objects.filter(resident=r).exists()


def test_outsider_cannot_enrol_or_follow_up_or_read(actor):
    doc, out = actor("village_doctor"), actor("outsider_doctor")
    (r,) = residents_of(doc)
    with pytest.raises(Forbidden):
        enrol(out, r)
    reg = enrol(doc, r)
    with pytest.raises(Forbidden):
        do_record_followup(out, reg, FollowupInput(sbp=130, dbp=80))
    with pytest.raises(NotFound):
        queries.get_registration_for(out, reg.pk)
    assert not queries.registrations_visible_to(out).filter(pk=reg.pk).exists()
    assert queries.registrations_visible_to(actor("township_doctor")).filter(pk=reg.pk).exists()


def test_followup_classifies_stores_measurements_and_goes_on_the_timeline(actor):
    doc = actor("village_doctor")
    (r,) = residents_of(doc)
    reg = enrol(doc, r)
    today = timezone.localdate()
    d1 = today - timedelta(days=30)
    out = do_record_followup(
        doc, reg, FollowupInput(followup_date=d1, sbp=150, dbp=85, weight=70, height=170)
    )
    assert out.result.classification == "uncontrolled"
    assert out.followup.next_due == d1 + timedelta(days=14)
    assert out.emergency is None
    assert Observation.objects.filter(resident=r, kind="bp", value=150, value2=85).exists()
    assert Observation.objects.filter(resident=r, kind="bmi").exists()
    assert Entry.objects.filter(resident=r, kind="followup", object_id=out.followup.pk).exists()
    # two consecutive uncontrolled → refer
    d2 = d1 + timedelta(days=14)
    out2 = do_record_followup(doc, reg, FollowupInput(followup_date=d2, sbp=145, dbp=80))
    assert out2.result.classification == "refer"
    assert out2.followup.gap_days == 14
    reg.refresh_from_db()
    assert (reg.last_classification, reg.next_due) == ("refer", d2 + timedelta(days=14))
    # back on target → routine 3 months
    out3 = do_record_followup(doc, reg, FollowupInput(followup_date=today, sbp=128, dbp=78))
    assert out3.result.classification == "controlled"
    reg.refresh_from_db()
    assert reg.next_due == today + timedelta(days=90)


def test_emergency_criteria_return_a_prefilled_referral_link(actor):
    doc = actor("village_doctor")
    (r,) = residents_of(doc)
    reg = enrol(doc, r, "diabetes")
    out = do_record_followup(
        doc,
        reg,
        FollowupInput(glucose=17.2, sbp=130, dbp=80, heart_rate=110, dorsalis_pedis="weak"),
    )
    assert out.emergency is not None
    assert len(out.emergency.reasons) == 2
    url = urlparse(out.emergency.url)
    q = parse_qs(url.query)
    assert url.path == "/referrals/new/"
    assert q["resident"] == [r.mpi_id] and q["urgency"] == ["emergency"]
    assert "16.7" in q["reason"][0]
    assert out.followup.emergency == out.emergency.reasons


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"sbp": 999, "dbp": 5}, "sbp"),
        ({"sbp": 140, "dbp": None}, "dbp"),
        ({"sbp": None, "dbp": None}, "sbp"),
        ({"sbp": 120, "dbp": 80, "symptoms": ["flying"]}, "symptoms.0"),
        ({"sbp": 120, "dbp": 80, "complication": "maybe"}, "complication"),
        ({"sbp": 120, "dbp": 80, "followup_date": "future"}, "followup_date"),
    ],
)
def test_bad_followup_names_the_field_and_writes_nothing(actor, data, field):
    doc = actor("village_doctor")
    (r,) = residents_of(doc)
    reg = enrol(doc, r)
    before = Observation.objects.filter(resident=r).count()
    if data.get("followup_date") == "future":
        data["followup_date"] = timezone.localdate() + timedelta(days=2)
    with pytest.raises(DomainError) as exc:
        do_record_followup(doc, reg, FollowupInput(**data))
    assert field in [e.field for e in exc.value.errors]
    assert not Followup.objects.filter(registration=reg).exists()
    assert Observation.objects.filter(resident=r).count() == before


def test_a_second_followup_the_same_day_is_a_conflict(actor):
    doc = actor("village_doctor")
    (r,) = residents_of(doc)
    reg = enrol(doc, r)
    do_record_followup(doc, reg, FollowupInput(sbp=120, dbp=80))
    with pytest.raises(Conflict):
        do_record_followup(doc, reg, FollowupInput(sbp=122, dbp=80))
    assert Followup.objects.filter(registration=reg).count() == 1


def test_late_followup_between_two_others_fixes_the_next_gap(actor):
    doc = actor("village_doctor")
    (r,) = residents_of(doc)
    reg = enrol(doc, r)
    t = timezone.localdate()
    do_record_followup(
        doc, reg, FollowupInput(followup_date=t - timedelta(days=100), sbp=120, dbp=80)
    )
    last = do_record_followup(doc, reg, FollowupInput(followup_date=t, sbp=120, dbp=80)).followup
    assert last.gap_days == 100
    do_record_followup(
        doc, reg, FollowupInput(followup_date=t - timedelta(days=40), sbp=120, dbp=80)
    )
    last.refresh_from_db()
    assert last.gap_days == 40
    reg.refresh_from_db()
    assert reg.last_followup_on == t


def test_contracts_helpers(actor):
    doc = actor("village_doctor")
    a, b = residents_of(doc, 2)
    enrol(doc, a)
    enrol(doc, b, "diabetes")
    assert set(queries.register_resident_ids()) >= {a.pk, b.pk}
    assert a.pk not in set(queries.register_resident_ids(["diabetes"]))
    reg = Registration.objects.get(resident=b, disease="diabetes")
    do_record_followup(doc, reg, FollowupInput(glucose=6.0))
    t = timezone.localdate()
    rows = list(
        queries.followups_between(
            queries.register_resident_ids(), t - timedelta(days=1), t
        ).values_list("resident_id", "followup_date")
    )
    assert (b.pk, t) in rows
