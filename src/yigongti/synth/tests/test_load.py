"""The synthetic county as loaded into the database (the tests' own county)."""

from __future__ import annotations

import pytest

from yigongti.accounts.models import Account
from yigongti.network.models import Division, Facility, Staff
from yigongti.residents.models import HealthCard, Household, Resident
from yigongti.residents.rules import parse_id_number
from yigongti.synth.load import persona_facilities
from yigongti.synth.plan import SIZES

pytestmark = pytest.mark.django_db


def test_counts_match_the_plan(county):
    assert Resident.objects.count() >= SIZES["tiny"].residents
    assert Division.objects.filter(level="village").count() == len(county.villages)
    assert Facility.objects.count() == len(county.facilities)
    assert Staff.objects.count() >= len(county.staff)
    # every resident has exactly one card and belongs to a household of their village
    assert HealthCard.objects.values("resident").distinct().count() == Resident.objects.count()
    assert not Resident.objects.exclude(household__village=models_f("village")).exists()


def models_f(name: str):
    from django.db.models import F

    return F(name)


def test_loaded_residents_are_valid_and_searchable(county):
    from django.utils import timezone

    today = timezone.localdate()
    for r in Resident.objects.filter(doc_type="id_card")[:300]:
        parsed = parse_id_number(r.doc_number, today=today)
        assert parsed.birth_date == r.birth_date and parsed.sex == r.sex
        assert r.doc_rev == r.doc_number[::-1]
        assert r.name_pinyin and r.name_initials
        assert r.township_id == r.village.parent_id
    assert Household.objects.count() > 50


def test_personas_sit_where_designed(county):
    where = persona_facilities(county)
    for username, code in where.items():
        account = Account.objects.select_related("staff__facility").get(user__username=username)
        assert account.staff.facility.code == code
    village = Facility.objects.get(code=where["village_doctor"])
    outsider = Facility.objects.get(code=where["outsider_doctor"])
    assert village.supervisor.code == where["township_doctor"]
    assert village.division.parent_id != outsider.division.parent_id
    assert village.group_id != outsider.group_id


def test_second_registrations_are_found_as_duplicates(county):
    from yigongti.residents.linkage import find_duplicates
    from yigongti.residents.models import DuplicateCandidate

    twins = Resident.objects.filter(registered_at__kind="township_centre", doc_type="none")
    assert twins.exists()
    find_duplicates()
    for twin in twins:
        pair = DuplicateCandidate.objects.filter(first__lt=twin.pk, second=twin.pk) | (
            DuplicateCandidate.objects.filter(first=twin.pk)
        )
        assert pair.exists(), twin
