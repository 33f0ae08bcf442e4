"""The same NDJSON file imported twice at the same moment, and the shell command."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from yigongti.core.actor import Actor
from yigongti.core.testing import run_together
from yigongti.records import bulk
from yigongti.records.models import Entry, Observation, VersionStatus
from yigongti.records.tests.helpers import resident_of

from . import clinical_helpers as b

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_imports_of_one_file_at_once_store_each_resource_once(county, actor):
    person = resident_of(actor("village_doctor"))
    raw = b"\n".join(
        json.dumps(b.bp(person, 120 + i, 80, ident=f"race-{i}", at=b.when(5 + i))).encode()
        for i in range(20)
    )
    results = run_together(2, lambda i: bulk.import_ndjson(Actor.system("race"), raw, chunk=7))
    for r in results:
        assert not isinstance(r, Exception), r
    assert sum(j.created for j in results) == 20
    assert sum(j.unchanged for j in results) == 20
    current = Observation.objects.filter(
        source_id__startswith="race-", status=VersionStatus.CURRENT
    )
    assert current.count() == 20
    ids = list(current.values_list("pk", flat=True))
    assert Entry.objects.filter(object_type="observation", object_id__in=ids).count() == 20


def test_import_ndjson_command(county, actor, tmp_path):
    person = resident_of(actor("village_doctor"))
    path = tmp_path / "obs.ndjson"
    lines = [
        b.simple(person, "14771-0", 6.1, "mmol/L", ident="cmd-1"),
        b.simple(person, "14771-0", 0, "mmol/L", ident="cmd-2"),
    ]
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines), encoding="utf-8")
    out = StringIO()
    call_command("import_ndjson", str(path), "--source-system", "HIS-A", stdout=out)
    text = out.getvalue()
    assert (
        "新增 1" in text and "失败 1" in text and "第 2 行 Observation.valueQuantity.value" in text
    )
    assert Observation.objects.get(source_id="cmd-1").value == 6.1
