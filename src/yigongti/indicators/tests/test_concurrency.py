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


def test_counting_in_parallel_gives_the_facts_of_counting_one_by_one(tiny, settings):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("SQLite counts one by one (workers only on PostgreSQL)")
    settings.YGT = {**settings.YGT, "INDICATOR_WORKERS": 1}
    facts.rebuild_facts(YEAR_2025)
    one_by_one = _cells()
    settings.YGT = {**settings.YGT, "INDICATOR_WORKERS": 3}
    Fact.objects.all().delete()
    facts.rebuild_facts(YEAR_2025)
    assert _cells() == one_by_one


def test_indicators_sharing_a_source_are_counted_by_the_same_worker():
    from yigongti.indicators import catalogue

    fams = facts.families(catalogue.collected_defs())
    where = {d.code: i for i, fam in enumerate(fams) for d in fam}
    assert where["htn_norm_rate"] == where["htn_control_rate"]
    assert where["dm_norm_rate"] == where["dm_control_rate"]
    assert where["outpatient_visits"] == where["primary_visit_share"]
    assert where["referrals_up"] == where["down_up_ratio"]
    assert where["htn_norm_rate"] != where["priority_contract_coverage"]
    # the state-at-period-end groups (the heavier ones) first
    assert not fams[0][0].additive
    assert sorted(where) == sorted(d.code for d in catalogue.collected_defs())
