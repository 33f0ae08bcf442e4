"""The synthetic loader: deterministic rates, rows that satisfy the invariants, and quality
figures that move from the seeds' starting values towards their targets."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from django.utils import timezone

from yigongti.accounts.actors import actor_for
from yigongti.core.actor import Actor
from yigongti.diagnostics import queries
from yigongti.diagnostics.models import Centre, CriticalValue, QualityReview, Report, Study
from yigongti.records.models import Entry


def test_load_diagnostics_is_consistent(county):
    from yigongti.synth.diagnostics import load_diagnostics

    today = timezone.localdate()
    counts = load_diagnostics(seed=7, today=today, scale=20)
    assert counts["centres"] == Centre.objects.count() >= 4
    assert Centre.objects.values("kind").distinct().count() == 4
    assert Study.objects.count() == counts["studies"] > 0
    assert Report.objects.count() == counts["reports"]
    assert Study.objects.filter(state__in=["reported", "reviewed"]).count() == counts["reports"]
    assert Entry.objects.filter(object_type="study").count() == counts["reports"]
    share = counts["critical_values"] / counts["reports"]
    assert 0.003 < share < 0.05
    assert (
        CriticalValue.objects.filter(
            resolved_at__isnull=False, acknowledged_at__isnull=True
        ).count()
        == 0
    )
    assert QualityReview.objects.count() == counts["reviews"] > 0
    assert not QualityReview.objects.exclude(study__kind="imaging").exclude(film_grade="").exists()
    # every study was requested by a facility its centre serves
    for s in Study.objects.select_related("centre__facility", "requesting_facility")[:200]:
        assert s.requesting_facility.group_id == s.centre.facility.group_id


def test_quality_rises_from_the_seeds_starting_figures(county):
    from yigongti.synth.diagnostics import load_diagnostics

    today = timezone.localdate()
    load_diagnostics(seed=7, today=today, scale=60, timeline=False)
    system = Actor.system()
    end = datetime.combine(today, time(0), tzinfo=UTC)
    first = queries.quality_rates(system, end - timedelta(days=365), end - timedelta(days=300))
    last = queries.quality_rates(system, end - timedelta(days=65), end)

    def total(rows, num, den):
        n, d = sum(r[num] for r in rows), sum(r[den] for r in rows)
        return n / d

    assert (
        total(first, "consistent", "reviewed") < 0.6 < 0.75 < total(last, "consistent", "reviewed")
    )
    assert total(first, "grade_a", "graded") < 0.5 < total(last, "grade_a", "graded")


def test_queue_of_synth_data_is_ordered(county, personas):
    from yigongti.synth.diagnostics import load_diagnostics

    counts = load_diagnostics(seed=7, today=timezone.localdate(), scale=200, timeline=False)
    assert counts["open"] > 0
    reader = actor_for(personas["county_doctor"])
    assert reader is not None
    seen = 0
    for c in queries.reader_centres(reader):
        rows = queries.reading_queue(reader, c.pk)
        keys = [(s.urgency, s.requested_at, s.pk) for s in rows]
        assert keys == sorted(keys)
        assert all(s.state in ("requested", "claimed") for s in rows)
        seen += len(rows)
    assert seen > 0
