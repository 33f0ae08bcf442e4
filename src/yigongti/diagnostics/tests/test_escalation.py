"""Escalation of unacknowledged critical values, with a controlled clock."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command

from yigongti.core.errors import Forbidden
from yigongti.diagnostics import actions, queries
from yigongti.diagnostics.models import CriticalValue


@pytest.fixture
def cv(reported) -> CriticalValue:
    s = reported("ecg", critical=True)
    return CriticalValue.objects.get(study=s)


@pytest.mark.parametrize(
    ("minutes", "level"), [(10, 0), (30, 0), (31, 1), (60, 1), (61, 2), (240, 2)]
)
def test_escalation_at_controlled_times(cv, minutes, level):
    n = actions.escalate_critical_values(now=cv.flagged_at + timedelta(minutes=minutes))
    cv.refresh_from_db()
    assert cv.escalation_level == level and n == (1 if level else 0)
    if level:
        assert cv.escalated_at == cv.flagged_at + timedelta(minutes=minutes)


def test_escalation_steps_once_per_level_and_stops_on_acknowledgement(actor, cv):
    t = cv.flagged_at
    assert actions.escalate_critical_values(now=t + timedelta(minutes=35)) == 1
    assert actions.escalate_critical_values(now=t + timedelta(minutes=40)) == 0  # same level
    assert actions.escalate_critical_values(now=t + timedelta(minutes=65)) == 1
    assert actions.escalate_critical_values(now=t + timedelta(minutes=500)) == 0  # at the top
    cv.refresh_from_db()
    assert cv.escalation_level == 2


def test_acknowledged_values_do_not_escalate(actor, cv):
    actions.do_acknowledge_critical(actor("village_doctor"), cv.pk)
    assert actions.escalate_critical_values(now=cv.flagged_at + timedelta(hours=5)) == 0
    cv.refresh_from_db()
    assert cv.escalation_level == 0


def test_centre_limits_are_configurable(centres, reported):
    """The limits in force when the value is flagged apply (10 min to acknowledge, then 5)."""
    Centre = type(centres["ecg"])
    Centre.objects.filter(pk=centres["ecg"].pk).update(ack_minutes=10, escalate_minutes=5)
    cv = CriticalValue.objects.get(study=reported("ecg", critical=True))
    assert cv.ack_due_at == cv.flagged_at + timedelta(minutes=10)
    actions.escalate_critical_values(now=cv.flagged_at + timedelta(minutes=14))
    cv.refresh_from_db()
    assert cv.escalation_level == 1
    actions.escalate_critical_values(now=cv.flagged_at + timedelta(minutes=16))
    cv.refresh_from_db()
    assert cv.escalation_level == 2


def test_group_admin_worklist_after_level_two(actor, cv):
    g = actor("group_admin")
    assert not queries.critical_worklist(g).exists()
    with pytest.raises(Forbidden):
        actions.do_acknowledge_critical(g, cv.pk)
    actions.escalate_critical_values(now=cv.flagged_at + timedelta(minutes=90))
    assert list(queries.critical_worklist(g)) == [cv]
    done = actions.do_resolve_critical(g, cv.pk, "已联系乡镇卫生院院长，患者已转运")
    assert done.acknowledged_at is not None and done.resolved_at is not None


def test_command_escalates_overdue_values(cv, capsys):
    back = timedelta(minutes=45)
    CriticalValue.objects.filter(pk=cv.pk).update(
        flagged_at=cv.flagged_at - back, ack_due_at=cv.ack_due_at - back
    )
    call_command("escalate_critical_values")
    assert "escalated 1 critical values" in capsys.readouterr().out
    cv.refresh_from_db()
    assert cv.escalation_level == 1
