"""The synthetic county's contracts: deterministic, realistic shares, and consistent with
the rules (one active contract per resident, term of one year)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from yigongti.contracts import queries, rules
from yigongti.contracts.models import Contract, Team
from yigongti.residents.models import Resident
from yigongti.synth.contracts import load_contracts

pytestmark = pytest.mark.django_db


def test_synthetic_contracts(actor):
    today = timezone.localdate()
    Contract.objects.all().delete()
    n = load_contracts(seed=7, today=today)
    residents = Resident.objects.filter(status="active")
    total = residents.count()
    assert n == Contract.objects.count() and Team.objects.exists()
    assert 0.30 < n / total < 0.55, n / total
    old = residents.filter(birth_date__lte=rules.elderly_born_on_or_before(today))
    signed_old = old.filter(pk__in=Contract.objects.values("resident_id")).count()
    assert 0.55 < signed_old / old.count() < 0.85
    assert all(c.end_date == rules.term_end(c.start_date, 1) for c in Contract.objects.all()[:200])
    first = list(Contract.objects.order_by("resident_id").values_list("resident_id", "start_date"))
    Contract.objects.all().delete()
    load_contracts(seed=7, today=today)
    again = list(Contract.objects.order_by("resident_id").values_list("resident_id", "start_date"))
    assert first == again
    # the worklists work on synthetic data
    doctor = actor("village_doctor")
    team = queries.teams_visible_to(doctor).filter(level="village").first()
    assert team is not None
    horizon = today + timezone.timedelta(days=rules.DEFAULT_EXPIRING_DAYS)
    assert all(c.end_date <= horizon for c in queries.expiring_contracts(doctor, team))
    assert queries.coverage_by_team(doctor, [team])[0].numerator > 0
