"""Races of the HIS import: the same message sent twice at once makes one encounter; two
pollers of one job never import the same chunk twice."""

from __future__ import annotations

import pytest

from yigongti.core.testing import run_together
from yigongti.records.his import hl7_import, jobs
from yigongti.records.models import Encounter, ImportJob

from .fixtures.his import cast_for, fill

pytestmark = pytest.mark.django_db(transaction=True)


def test_same_message_twice_at_once_makes_one_encounter(actor, county):
    admin = actor("group_admin")
    cast = cast_for(admin)
    message = hl7_import.split_messages(fill("adt_messages.hl7", cast.values).decode())[0]
    results = run_together(3, lambda i: hl7_import.handle_message(admin, message, None))
    codes = [r.ack_code if isinstance(r, hl7_import.Result) else repr(r) for r in results]
    assert codes == ["AA", "AA", "AA"]
    assert Encounter.objects.filter(source_id="ZY2025060001", status="current").count() == 1


def test_two_pollers_of_one_job_do_not_import_a_chunk_twice(actor, county):
    admin = actor("group_admin")
    cast = cast_for(admin)
    job = jobs.start_import(
        admin,
        kind="csv",
        name="a.csv",
        raw=fill("encounters_utf8.csv", cast.values),
        facility_code=cast.values["FAC"],
    )
    run_together(2, lambda i: jobs.run_chunk(admin, job.pk, limit=6))
    job = ImportJob.objects.get(pk=job.pk)
    assert (job.processed, job.created, job.unchanged, job.failed) == (6, 3, 0, 3)
