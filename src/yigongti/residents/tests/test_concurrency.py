"""Races that must end with exactly one result (run on PostgreSQL in CI as well as SQLite)."""

from __future__ import annotations

import pytest

from yigongti.core.audit import verify_chain
from yigongti.core.errors import Conflict
from yigongti.core.testing import run_together
from yigongti.residents.actions import ResidentInput, do_register_resident
from yigongti.residents.models import Resident

from .helpers import home_village, new_id

pytestmark = pytest.mark.django_db(transaction=True)


def test_same_id_submitted_twice_at_once_makes_one_record(county, actor):
    doctor = actor("village_doctor")
    village = home_village(doctor)
    number = new_id()
    data = ResidentInput(
        name="周同时", sex="1", birth_date=None, doc_number=number, village_code=village.code
    )
    from yigongti.residents.rules import parse_id_number

    data.birth_date = parse_id_number(number, today=__import__("datetime").date.today()).birth_date
    results = run_together(4, lambda i: do_register_resident(doctor, data))
    created = [r for r in results if isinstance(r, Resident)]
    refused = [r for r in results if isinstance(r, Conflict)]
    assert len(created) == 1, results
    assert len(refused) == 3, results
    assert all(r.extra["existing"]["mpi_id"] == created[0].mpi_id for r in refused)
    assert Resident.objects.filter(doc_number=number).count() == 1


def test_parallel_audited_reads_keep_one_chain(county, actor):
    from yigongti.residents.queries import get_resident_for, residents_visible_to

    doctor = actor("village_doctor")
    mpi_ids = list(residents_visible_to(doctor).values_list("mpi_id", flat=True)[:8])
    results = run_together(8, lambda i: get_resident_for(doctor, mpi_ids[i]))
    assert all(isinstance(r, Resident) for r in results), results
    report = verify_chain()
    assert report.ok, report
