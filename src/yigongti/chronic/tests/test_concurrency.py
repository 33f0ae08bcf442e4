"""Races: one active registration per resident and disease; one follow-up a day."""

from __future__ import annotations

import pytest

from yigongti.chronic.actions import FollowupInput, do_record_followup
from yigongti.chronic.models import Followup, Registration
from yigongti.core.errors import Conflict
from yigongti.core.testing import run_together

from .helpers import enrol, residents_of

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_doctors_enrolling_at_once_make_one_registration(actor):
    doc = actor("village_doctor")
    (r,) = residents_of(doc)
    results = run_together(4, lambda i: enrol(doc, r))
    ok = [x for x in results if isinstance(x, Registration)]
    assert len(ok) == 1, results
    assert all(isinstance(x, Conflict) for x in results if not isinstance(x, Registration))
    assert (
        Registration.objects.filter(resident=r, disease="hypertension", status="active").count()
        == 1
    )


def test_the_same_followup_sent_twice_at_once_is_stored_once(actor):
    doc = actor("village_doctor")
    (r,) = residents_of(doc)
    reg = enrol(doc, r)
    results = run_together(
        3, lambda i: do_record_followup(doc, reg, FollowupInput(sbp=130, dbp=80))
    )
    assert sum(1 for x in results if not isinstance(x, Exception)) == 1, results
    assert all(isinstance(x, Conflict) for x in results if isinstance(x, Exception))
    assert Followup.objects.filter(registration=reg).count() == 1
