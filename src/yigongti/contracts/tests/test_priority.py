"""Priority groups (DOMAIN.md §4) flagged from the record; targeting and coverage."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from yigongti.contracts import queries, rules
from yigongti.records.actions import (
    DiagnosisInput,
    EncounterInput,
    ProfileInput,
    do_record_encounter,
    do_update_profile,
)
from yigongti.residents.models import Resident

from .conftest import unsigned

pytestmark = pytest.mark.django_db


def _young_adults(doctor, n: int) -> list[Resident]:
    today = timezone.localdate()
    cands = unsigned(
        doctor,
        200,
        birth_date__gt=rules.elderly_born_on_or_before(today),
        birth_date__lte=rules.child_born_after(today),
    )
    flags = queries.priority_flags([r.pk for r in cands])
    out = [r for r in cands if not flags[r.pk]]
    assert len(out) >= n
    return out[:n]


def test_flags_come_from_age_diagnoses_registers_and_profile(doctor):
    a, b, c = _young_adults(doctor, 3)
    at = timezone.now() - timedelta(hours=1)
    do_record_encounter(
        doctor, a, EncounterInput(started_at=at, diagnoses=[DiagnosisInput(code="E11.9")])
    )
    do_update_profile(doctor, b, ProfileInput(disabilities=["肢体残疾"]))
    from yigongti.chronic.actions import EnrolInput, do_enrol_resident

    do_enrol_resident(doctor, c, EnrolInput(disease="hypertension"))
    flags = queries.priority_flags([a.pk, b.pk, c.pk])
    assert flags == {a.pk: ["diabetes"], b.pk: ["disabled"], c.pk: ["hypertension"]}


def test_elderly_are_flagged_by_age(doctor):
    today = timezone.localdate()
    old = unsigned(doctor, 1, birth_date__lte=rules.elderly_born_on_or_before(today))[0]
    assert "elderly" in queries.priority_flags([old.pk])[old.pk]


def test_unsigned_priority_list_of_the_team(doctor, team, sign):
    today = timezone.localdate()
    listed = queries.unsigned_priority_residents(doctor, team)
    old = listed.filter(birth_date__lte=rules.elderly_born_on_or_before(today)).first()
    assert old is not None
    assert all(r.village_id in set(team.villages.values_list("pk", flat=True)) for r in listed)
    (young,) = _young_adults(doctor, 1)
    assert not listed.filter(pk=young.pk).exists()  # not a priority resident
    sign(old)
    assert not queries.unsigned_priority_residents(doctor, team).filter(pk=old.pk).exists()
    only_old = queries.unsigned_priority_residents(doctor, team, group="elderly")
    assert all(r.birth_date <= rules.elderly_born_on_or_before(today) for r in only_old)


def test_outsider_sees_no_one_of_the_team(actor, team):
    assert not queries.unsigned_priority_residents(actor("outsider_doctor"), team).exists()


def test_coverage_has_numerator_and_denominator(doctor, team, sign, admin):
    before = {r.key: r for r in queries.coverage_by_team(admin, [team])}[team.pk]
    target = queries.unsigned_priority_residents(doctor, team).first()
    sign(target)
    after = {r.key: r for r in queries.coverage_by_team(admin, [team])}[team.pk]
    assert after.denominator == before.denominator > 0
    assert after.numerator == before.numerator + 1
    townships = {r.key: r for r in queries.coverage_by_township(admin)}
    row = townships[target.township_id]
    assert 0 < row.numerator <= row.denominator
    assert row.rate == row.numerator / row.denominator
