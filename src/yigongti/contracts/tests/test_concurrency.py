"""Two signings of the same resident at once: one contract, one clear 409."""

from __future__ import annotations

import pytest

from yigongti.contracts.actions import SignInput, do_sign_contract
from yigongti.contracts.models import Contract
from yigongti.core.errors import Conflict
from yigongti.core.testing import run_together

from .conftest import consent

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_signings_at_once_make_one_contract(doctor, team, package, resident):
    data = SignInput(team_id=team.pk, package_id=package.pk, consent=consent())
    results = run_together(2, lambda i: do_sign_contract(doctor, resident, data))
    made = [r for r in results if isinstance(r, Contract)]
    refused = [r for r in results if isinstance(r, Conflict)]
    assert len(made) == 1 and len(refused) == 1, results
    assert refused[0].errors[0].field == "resident"
    assert Contract.objects.filter(resident=resident, status="active").count() == 1
