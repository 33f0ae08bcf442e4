"""Two managers publish the same period at once: one snapshot wins, the other is refused
(without a reason) or supersedes it (with one); never two current snapshots."""

from __future__ import annotations

import pytest
from django.db import connection

from yigongti.core.errors import Conflict
from yigongti.core.testing import run_together
from yigongti.performance import actions
from yigongti.performance.models import ScoreSnapshot

from .conftest import SYSTEM

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks are PostgreSQL's"),
]


def test_two_publishes_of_the_same_period_at_once_make_one_snapshot(scheme):
    results = run_together(2, lambda i: actions.do_publish(SYSTEM, scheme.pk, "2025"))
    won = [r for r in results if isinstance(r, ScoreSnapshot)]
    refused = [r for r in results if isinstance(r, Conflict)]
    assert (len(won), len(refused)) == (1, 1), results
    assert ScoreSnapshot.objects.filter(scheme=scheme, period_code="2025").count() == 1


def test_two_republishes_with_a_reason_keep_one_current(scheme):
    actions.do_publish(SYSTEM, scheme.pk, "2025")
    results = run_together(
        3, lambda i: actions.do_publish(SYSTEM, scheme.pk, "2025", reason=f"更正{i}")
    )
    assert all(isinstance(r, ScoreSnapshot) for r in results), results
    assert ScoreSnapshot.objects.filter(scheme=scheme, period_code="2025").count() == 4
    assert ScoreSnapshot.objects.filter(scheme=scheme, status="current").count() == 1
    assert ScoreSnapshot.objects.filter(superseded_by__isnull=False).count() == 3
