from __future__ import annotations

from datetime import date, timedelta

from django.utils import timezone

from yigongti.records import actions, queries
from yigongti.records.models import (
    Diagnosis,
    Encounter,
    Entry,
    ICD10Code,
    Observation,
    Prescription,
)
from yigongti.residents.models import Resident
from yigongti.residents.queries import residents_visible_to
from yigongti.synth.records import Batch, Generator, Person, load_records


def test_synthetic_history_is_realistic_and_readable_through_the_record(county, actor):
    today = timezone.localdate()
    counts = load_records(seed=7, today=today, years=1.0)
    residents = Resident.objects.filter(status="active").count()
    assert counts["encounter"] == Encounter.objects.count() > residents  # > 1 visit/person/year
    assert counts["encounter"] < residents * 12
    assert counts["diagnosis"] >= counts["encounter"]
    assert Observation.objects.filter(kind="bp").exists()
    assert Prescription.objects.exists()
    assert Entry.objects.count() == counts["entry"] >= counts["encounter"]
    # nothing in the future; nothing before birth; every diagnosis a known code
    assert not Entry.objects.filter(occurred_at__gte=timezone.now() - timedelta(minutes=1)).exists()
    for enc in Encounter.objects.select_related("resident")[:200]:
        assert timezone.localtime(enc.started_at).date() > enc.resident.birth_date
    assert not Diagnosis.objects.filter(code__isnull=True).exists()
    r = Resident.objects.get(
        pk=Encounter.objects.order_by("pk").values_list("resident_id", flat=True)[0]
    )
    page = queries.timeline(r)
    assert page.entries and all(e.status == "current" for e in page.entries)
    # sequences were reset: a new record after the load does not collide
    doctor = actor("village_doctor")
    target = residents_visible_to(doctor).first()
    actions.do_record_observation(doctor, target, actions.ObservationInput(kind="pulse", value=70))


def test_the_same_seed_gives_the_same_history(county):
    names = dict(ICD10Code.objects.values_list("code", "name"))
    people = [
        Person(*row)
        for row in Resident.objects.order_by("pk").values_list(
            "pk", "birth_date", "sex", "village_id", "township_id"
        )[:50]
    ]

    def run(seed: int) -> list[tuple[object, ...]]:
        gen = Generator(seed=seed, today=date(2026, 6, 1), years=1.0, names=names)
        batch = Batch()
        for p in people:
            gen.person(p, batch)
        return [row[1:] for row in batch.diagnosis] + [row[-4:] for row in batch.entry]

    assert run(7) == run(7)
    assert run(7) != run(8)
