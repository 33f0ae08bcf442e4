"""Races on the record (run on PostgreSQL in CI as well as SQLite)."""

from __future__ import annotations

import pytest

from yigongti.core.actor import Actor
from yigongti.core.errors import Conflict
from yigongti.core.testing import run_together
from yigongti.records import actions
from yigongti.records.models import Encounter, VersionStatus

from .helpers import resident_of, visit

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_same_outside_visit_sent_four_times_at_once_makes_one_record(county, actor):
    doctor = actor("county_doctor")
    r = resident_of(doctor)
    data = visit(facility_id=doctor.facility_id)
    data.provenance = actions.Provenance("hl7", "HIS-RACE", "V-777")
    his = Actor.system("his")
    results = run_together(4, lambda i: actions.upsert_encounter(his, r, data))
    assert all(isinstance(x, tuple) for x in results), results
    assert sorted(outcome for _, outcome in results) == [
        "created",
        "unchanged",
        "unchanged",
        "unchanged",
    ]
    assert Encounter.objects.filter(source_system="HIS-RACE", source_id="V-777").count() == 1


def test_two_doctors_amending_the_same_visit_at_once_one_wins(county, actor):
    doctor = actor("village_doctor")
    r = resident_of(doctor)
    enc = actions.do_record_encounter(doctor, r, visit())
    results = run_together(
        2, lambda i: actions.do_amend_encounter(doctor, enc, visit(sbp=140 + i), f"更正{i}")
    )
    wins = [x for x in results if isinstance(x, Encounter)]
    refused = [x for x in results if isinstance(x, Conflict)]
    assert len(wins) == 1 and len(refused) == 1, results
    assert Encounter.objects.filter(replaces=enc).count() == 1
    assert Encounter.objects.filter(resident=r, status=VersionStatus.CURRENT).count() == 1
