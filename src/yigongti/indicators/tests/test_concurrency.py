"""Two refreshes at once (the scheduler and a manager's click) both finish, and the facts are
those of one rebuild."""

from __future__ import annotations

import pytest

from yigongti.core.testing import run_together
from yigongti.indicators import facts
from yigongti.indicators.models import Fact

from .conftest import YEAR_2025

pytestmark = pytest.mark.django_db(transaction=True)


def _cells() -> set[tuple[object, ...]]:
    return set(
        Fact.objects.values_list(
            "code", "grain", "period_start", "facility_id", "township_id", "village_id",
            "numerator", "denominator",
        )
    )  # fmt: skip


def test_two_refreshes_at_once_do_not_collide(tiny):
    results = run_together(2, lambda i: facts.rebuild_facts(YEAR_2025))
    assert all(isinstance(r, int) and r > 0 for r in results), results
    together = _cells()
    facts.rebuild_facts(YEAR_2025)
    assert _cells() == together
    assert Fact.objects.filter(code="outpatient_visits", grain="M").count() == len(
        {c[:6] for c in together if c[0] == "outpatient_visits" and c[1] == "M"}
    )
