"""Races: two readers claiming the same study, two acknowledgements of one critical value,
two escalation runs at once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from yigongti.core.errors import Conflict
from yigongti.core.models import AuditEntry
from yigongti.core.testing import run_together
from yigongti.diagnostics import actions
from yigongti.diagnostics.models import CriticalValue, Study

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_readers_claiming_the_same_study_exactly_one_wins(actor, ask):
    s = ask("imaging").study
    readers = [actor("county_doctor"), actor("group_admin")]
    results = run_together(2, lambda i: actions.do_claim_study(readers[i], s.pk))
    won = [r for r in results if isinstance(r, Study)]
    lost = [r for r in results if isinstance(r, Conflict)]
    assert len(won) == 1 and len(lost) == 1, results
    assert lost[0].errors[0].code == "invalid_transition"
    s.refresh_from_db()
    assert s.state == "claimed" and s.claimed_by_id == won[0].claimed_by_id
    steps = AuditEntry.objects.filter(object_type="study", object_id=str(s.pk), action="update")
    assert steps.count() == 1


def test_acknowledging_twice_at_once_is_idempotent(actor, reported):
    cv = CriticalValue.objects.get(study=reported("ecg", critical=True))
    v = actor("village_doctor")
    results = run_together(2, lambda i: actions.do_acknowledge_critical(v, cv.pk))
    assert all(isinstance(r, CriticalValue) for r in results), results
    assert results[0].acknowledged_at == results[1].acknowledged_at
    acks = AuditEntry.objects.filter(object_type="critical_value", object_id=str(cv.pk))
    assert acks.filter(detail__step="acknowledged").count() == 1


def test_two_escalation_runs_escalate_once(reported):
    cv = CriticalValue.objects.get(study=reported("ecg", critical=True))
    when = cv.flagged_at + timedelta(minutes=45)
    results = run_together(2, lambda i: actions.escalate_critical_values(now=when))
    assert sorted(results) == [0, 1], results
    cv.refresh_from_db()
    assert cv.escalation_level == 1
