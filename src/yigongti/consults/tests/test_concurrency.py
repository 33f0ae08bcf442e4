"""Races: two experts accept the same request at once; the same request submitted twice."""

from __future__ import annotations

import pytest

from yigongti.consults import actions
from yigongti.consults.models import Consultation, Secondment, Step
from yigongti.core.errors import Conflict
from yigongti.core.testing import run_together
from yigongti.records.models import Entry

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_experts_accept_at_once_exactly_one_wins(actor, resident, consult_input, second_expert):
    x = actions.do_request_consultation(actor("village_doctor"), resident, consult_input())
    experts = [actor("county_doctor"), second_expert("副主任医师")]
    results = run_together(2, lambda i: actions.do_accept_consultation(experts[i], x.pk))
    won = [r for r in results if isinstance(r, Consultation)]
    lost = [r for r in results if isinstance(r, Conflict)]
    assert len(won) == 1 and len(lost) == 1, results
    assert lost[0].errors[0].field == "state"
    x.refresh_from_db()
    assert x.state == "accepted" and x.expert_name == won[0].expert_name
    assert Step.objects.filter(consultation=x, to_state="accepted").count() == 1
    assert Entry.objects.filter(object_type="consultation", object_id=x.pk).count() == 2


def test_accept_and_decline_at_once_leave_one_answer(actor, resident, consult_input, second_expert):
    x = actions.do_request_consultation(actor("village_doctor"), resident, consult_input())
    a, b = actor("county_doctor"), second_expert("主任医师")
    results = run_together(
        2,
        lambda i: (
            actions.do_accept_consultation(a, x.pk)
            if i == 0
            else actions.do_decline_consultation(b, x.pk, "排班已满")
        ),
    )
    assert sum(isinstance(r, Consultation) for r in results) == 1, results
    assert sum(isinstance(r, Conflict) for r in results) == 1
    assert Step.objects.filter(consultation=x).exclude(to_state="submitted").count() == 1


def test_same_client_key_twice_at_once_makes_one(actor, resident, consult_input):
    v = actor("village_doctor")
    results = run_together(
        2, lambda i: actions.do_request_consultation(v, resident, consult_input(client_key="same"))
    )
    assert all(isinstance(r, Consultation) for r in results), results
    assert results[0].pk == results[1].pk
    assert Consultation.objects.count() == 1


def test_one_doctor_put_on_the_roster_twice_at_once(actor, county_staff):
    from datetime import date

    township = actor("township_doctor").facility_id
    g = actor("group_admin")
    d = actions.SecondmentInput(
        staff_id=county_staff.pk,
        to_facility_id=township,
        starts_on=date(2026, 1, 1),
        ends_on=date(2026, 6, 30),
    )
    results = run_together(2, lambda i: actions.do_add_secondment(g, d))
    assert sum(isinstance(r, Secondment) for r in results) == 1, results
    assert sum(isinstance(r, Conflict) for r in results) == 1
    assert Secondment.objects.filter(staff=county_staff).count() == 1
