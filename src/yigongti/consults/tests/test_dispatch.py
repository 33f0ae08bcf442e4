"""The dispatch roster, its sessions and trainings, and the DOMAIN.md §10 indicator
"doctors of intermediate title or above from secondary+ hospitals seconded to primary level
per 10,000 residents"."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from yigongti.consults import actions, queries
from yigongti.consults.models import DispatchActivity, Secondment
from yigongti.core.actor import Actor
from yigongti.core.errors import Conflict, DomainError, Forbidden
from yigongti.network.models import Facility, FacilityKind, MedicalGroup, Staff
from yigongti.network.queries import catchment_township_ids
from yigongti.residents.models import Resident

SYSTEM = Actor.system("test")
Y0, Y1 = date(2026, 1, 1), date(2026, 12, 31)


def _staff(facility: Facility, title: str, n: int) -> Staff:
    return Staff.objects.create(
        name=f"专家{n}", facility=facility, title=title, licence_no=f"disp-{n}"
    )


def _add(who: Actor, staff: Staff, to: Facility, kind: str, start: date, end: date) -> Secondment:
    return actions.do_add_secondment(
        who,
        actions.SecondmentInput(
            staff_id=staff.pk, to_facility_id=to.pk, kind=kind, starts_on=start, ends_on=end
        ),
    )


@pytest.fixture
def places(actor):
    g = actor("group_admin")
    group = MedicalGroup.objects.get(pk=g.group_id)
    lead = Facility.objects.get(pk=actor("county_doctor").facility_id)
    home = Facility.objects.get(pk=actor("township_doctor").facility_id)
    clinic = Facility.objects.get(pk=actor("village_doctor").facility_id)
    away = Facility.objects.exclude(group=group).filter(kind=FacilityKind.TOWNSHIP_CENTRE).first()
    other_lead = Facility.objects.filter(kind=FacilityKind.COUNTY_HOSPITAL).exclude(group=group)[0]
    return {
        "group": group,
        "lead": lead,
        "home": home,
        "clinic": clinic,
        "away": away,
        "other_lead": other_lead,
    }


def test_the_indicator_counts_each_qualifying_doctor_once(actor, places):
    g = actor("group_admin")
    lead, home, clinic = places["lead"], places["home"], places["clinic"]
    a = _staff(lead, "主治医师", 1)
    _add(g, a, home, "secondment", date(2026, 1, 1), date(2026, 3, 31))
    _add(g, a, clinic, "support", date(2026, 5, 1), date(2026, 5, 31))  # same doctor again
    _add(g, _staff(lead, "副主任医师", 2), home, "support", date(2025, 12, 1), Y0)  # 1 day in
    _add(g, _staff(lead, "医师", 3), home, "secondment", Y0, Y1)  # junior: not counted
    _add(g, _staff(lead, "主管护师", 4), home, "secondment", Y0, Y1)  # nurse: not counted
    _add(g, _staff(lead, "主任医师", 5), home, "mobile", Y0, Y1)  # a visit, not a secondment
    _add(g, _staff(lead, "主任医师", 6), home, "secondment", date(2025, 1, 1), date(2025, 12, 31))
    _add(SYSTEM, _staff(places["other_lead"], "主任医师", 7), places["away"], "secondment", Y0, Y1)

    v = queries.seconded_doctors_per_10k(Y0, Y1, area="group", area_id=places["group"].pk)
    residents = Resident.objects.filter(
        status="active", township_id__in=catchment_township_ids(places["group"].pk)
    ).count()
    assert (v.numerator, v.denominator) == (2, residents)
    assert v.value == round(2 * 10000 / residents, 2) and not v.missing
    assert "中级及以上职称医师" in v.definition

    whole = queries.seconded_doctors_per_10k(Y0, Y1, area="county")
    assert whole.numerator == 3
    assert whole.denominator == Resident.objects.filter(status="active").count()

    t = queries.seconded_doctors_per_10k(Y0, Y1, area="township", area_id=home.division_id)
    assert t.numerator == 2  # the village clinic lies in the same township

    spring = queries.seconded_doctors_per_10k(
        date(2026, 4, 1), date(2026, 4, 30), area="group", area_id=places["group"].pk
    )
    assert spring.numerator == 0 and spring.value == 0.0 and not spring.missing

    with override_settings(YGT={"DISPATCH_INDICATOR_KINDS": ["secondment", "support", "mobile"]}):
        more = queries.seconded_doctors_per_10k(Y0, Y1, area="group", area_id=places["group"].pk)
    assert more.numerator == 3


def test_the_title_held_when_seconded_counts(actor, places):
    """A doctor promoted later still counts with the title held while seconded."""
    s = _staff(places["lead"], "医师", 11)
    _add(actor("group_admin"), s, places["home"], "secondment", Y0, Y1)
    Staff.objects.filter(pk=s.pk).update(title="主治医师")
    v = queries.seconded_doctors_per_10k(Y0, Y1, area="group", area_id=places["group"].pk)
    assert v.numerator == 0


def test_no_roster_is_missing_not_zero(actor, places):
    v = queries.seconded_doctors_per_10k(Y0, Y1, area="group", area_id=places["group"].pk)
    assert v.numerator == 0 and v.denominator > 0
    assert v.missing and v.value is None


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"area": "province"}, "area"),
        ({"area": "group", "area_id": 999999}, "area_id"),
        ({"area": "township", "area_id": None}, "area_id"),
    ],
)
def test_indicator_bad_area(kw, field, county):
    with pytest.raises(DomainError) as e:
        queries.seconded_doctors_per_10k(Y0, Y1, **kw)
    assert e.value.errors[0].field == field


def test_indicator_period_must_be_ordered(county):
    with pytest.raises(DomainError) as e:
        queries.seconded_doctors_per_10k(Y1, Y0)
    assert e.value.errors[0].field == "until"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"staff_id": None}, "staff_id"),
        ({"to_facility_id": None}, "to_facility_id"),
        ({"kind": "holiday"}, "kind"),
        ({"starts_on": None}, "starts_on"),
        ({"ends_on": None}, "ends_on"),
        ({"ends_on": date(2025, 12, 31)}, "ends_on"),
    ],
)
def test_bad_roster_entry_names_the_field(actor, places, county_staff, change, field):
    base = {
        "staff_id": county_staff.pk,
        "to_facility_id": places["home"].pk,
        "kind": "secondment",
        "starts_on": Y0,
        "ends_on": Y1,
    }
    base.update(change)
    with pytest.raises(DomainError) as e:
        actions.do_add_secondment(actor("group_admin"), actions.SecondmentInput(**base))
    assert field in {x.field for x in e.value.errors}
    assert Secondment.objects.count() == 0


def test_a_township_doctor_cannot_be_seconded_and_no_county_target(actor, places):
    g = actor("group_admin")
    township_staff = Staff.objects.filter(facility=places["home"]).first()
    with pytest.raises(DomainError) as e:
        actions.do_add_secondment(
            g,
            actions.SecondmentInput(
                staff_id=township_staff.pk,
                to_facility_id=places["lead"].pk,
                starts_on=Y0,
                ends_on=Y1,
            ),
        )
    assert {x.field for x in e.value.errors} == {"staff_id", "to_facility_id"}


def test_overlapping_secondments_of_one_doctor_are_refused(actor, places, county_staff):
    g = actor("group_admin")
    _add(g, county_staff, places["home"], "secondment", Y0, date(2026, 6, 30))
    with pytest.raises(Conflict) as e:
        _add(g, county_staff, places["clinic"], "support", date(2026, 6, 30), Y1)
    assert e.value.errors[0].field == "starts_on"
    _add(g, county_staff, places["clinic"], "support", date(2026, 7, 1), Y1)  # next day is fine
    assert Secondment.objects.filter(staff=county_staff).count() == 2


def test_only_the_group_admin_of_that_group_manages_it(actor, places, county_staff):
    with pytest.raises(Forbidden):  # no manage_dispatch
        _add(actor("county_doctor"), county_staff, places["home"], "secondment", Y0, Y1)
    other = Staff.objects.filter(facility=places["other_lead"]).first()
    with pytest.raises(Forbidden):  # another group's doctor and township
        _add(actor("group_admin"), other, places["away"], "secondment", Y0, Y1)
    assert Secondment.objects.count() == 0


def test_sessions_and_trainings(actor, places, county_staff):
    g = actor("group_admin")
    today = timezone.localdate()
    s = _add(g, county_staff, places["home"], "secondment", today - timedelta(days=60), today)
    a = actions.do_record_activity(
        g,
        s.pk,
        actions.ActivityInput(kind="clinic", day=today - timedelta(days=3), patients_seen=23),
    )
    assert a.facility_id == places["home"].pk
    actions.do_record_activity(
        g,
        s.pk,
        actions.ActivityInput(
            kind="training", day=today - timedelta(days=2), attendees=18, topic="高血压规范化管理"
        ),
    )
    actions.do_record_activity(
        g,
        s.pk,
        actions.ActivityInput(
            kind="mobile_clinic",
            day=today - timedelta(days=1),
            patients_seen=40,
            facility_id=places["clinic"].pk,
        ),
    )
    totals = queries.dispatch_totals(g, today - timedelta(days=30), today)
    assert totals == {
        "patients": 63,
        "attendees": 18,
        "clinic": 1,
        "training": 1,
        "mobile_clinic": 1,
    }
    row = queries.roster(g, on=today).get(pk=s.pk)
    assert (row.n_activities, row.n_patients, row.n_attendees) == (3, 63, 18)
    # the roster is not visible outside the two facilities and the group
    assert not queries.secondments_visible_to(actor("outsider_doctor")).exists()
    with pytest.raises(Forbidden):  # no manage_dispatch
        actions.do_record_activity(
            actor("outsider_doctor"), s.pk, actions.ActivityInput(day=today, patients_seen=1)
        )


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"kind": "clinic", "patients_seen": 0}, "patients_seen"),
        ({"kind": "training", "attendees": 0}, "attendees"),
        ({"kind": "clinic", "patients_seen": -1}, "patients_seen"),
        ({"kind": "party", "patients_seen": 3}, "kind"),
        ({"kind": "clinic", "patients_seen": 3, "day": None}, "day"),
        ({"kind": "clinic", "patients_seen": 3, "offset": -400}, "day"),  # before the secondment
        ({"kind": "clinic", "patients_seen": 3, "offset": 1}, "day"),  # the future
        ({"kind": "clinic", "patients_seen": 3, "lead": True}, "facility_id"),
    ],
)
def test_bad_activity_names_the_field(actor, places, county_staff, kw, field):
    g = actor("group_admin")
    today = timezone.localdate()
    s = _add(
        g,
        county_staff,
        places["home"],
        "secondment",
        today - timedelta(days=60),
        today + timedelta(days=30),
    )
    kw = dict(kw)
    day = today + timedelta(days=kw.pop("offset", 0))
    if "day" in kw:
        day = kw.pop("day")
    if kw.pop("lead", False):
        kw["facility_id"] = places["lead"].pk
    with pytest.raises(DomainError) as e:
        actions.do_record_activity(g, s.pk, actions.ActivityInput(day=day, **kw))
    assert field in {x.field for x in e.value.errors}
    assert DispatchActivity.objects.count() == 0


def test_end_a_secondment_early(actor, places, county_staff):
    g = actor("group_admin")
    today = timezone.localdate()
    s = _add(
        g,
        county_staff,
        places["home"],
        "secondment",
        today - timedelta(days=30),
        today + timedelta(days=60),
    )
    actions.do_record_activity(
        g,
        s.pk,
        actions.ActivityInput(kind="clinic", day=today - timedelta(days=5), patients_seen=9),
    )
    with pytest.raises(DomainError) as e:
        actions.do_end_secondment(g, s.pk, today - timedelta(days=10))  # a session after it
    assert e.value.errors[0].field == "ends_on"
    with pytest.raises(DomainError):
        actions.do_end_secondment(g, s.pk, today + timedelta(days=90))  # beyond the period
    actions.do_end_secondment(g, s.pk, today)
    s.refresh_from_db()
    assert s.ends_on == today
