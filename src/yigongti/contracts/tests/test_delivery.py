"""履约: services recorded anywhere count against the package, computed at read time."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from yigongti.contracts import queries
from yigongti.contracts.models import Contract
from yigongti.records.actions import EncounterInput, ExamInput, do_record_encounter, upsert_exam

from .conftest import unsigned

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


def lines(contract: Contract, today=None) -> dict[str, tuple[int, int, int]]:
    d = queries.delivery_of([contract], today)[contract.pk]
    return {x.service: (x.promised, x.delivered, x.overdue) for x in d.lines}


def test_exam_and_home_visit_recorded_in_records_are_counted(sign, resident, doctor):
    c = sign(resident)
    assert lines(c)["annual_check"] == (1, 0, 0)
    upsert_exam(doctor, resident, ExamInput(kind="general", exam_date=timezone.localdate()))
    at = timezone.now() - timedelta(minutes=5)
    do_record_encounter(doctor, resident, EncounterInput(kind="home_visit", started_at=at))
    do_record_encounter(doctor, resident, EncounterInput(kind="outpatient", started_at=at))
    got = lines(c)
    assert got["annual_check"] == (1, 1, 0)
    assert got["home_visit"] == (2, 1, 0)
    assert got["consultation"] == (2, 1, 0)  # the outpatient visit at the team's clinic
    assert got["bp_followup"][1] == 0


def test_services_before_the_contract_year_do_not_count(sign, resident, doctor):
    day = timezone.localdate() - timedelta(days=20)
    upsert_exam(doctor, resident, ExamInput(kind="general", exam_date=day))
    c = sign(resident)
    assert lines(c)["annual_check"][1] == 0


def test_chronic_followups_count_as_bp_followups(sign, resident, doctor):
    from yigongti.chronic.actions import (
        EnrolInput,
        FollowupInput,
        do_enrol_resident,
        do_record_followup,
    )

    c = sign(resident)
    today = timezone.localdate()
    reg = do_enrol_resident(
        doctor, resident, EnrolInput(disease="hypertension", diagnosed_on=today)
    )
    do_record_followup(doctor, reg, FollowupInput(followup_date=today, sbp=128, dbp=78))
    assert lines(c)["bp_followup"][1] == 1


def test_overdue_is_pro_rata(sign, resident, doctor, team):
    c = sign(resident)
    later = c.start_date + timedelta(days=200)  # 201/365 of the year elapsed
    got = lines(c, later)
    assert got["bp_followup"] == (4, 0, 2)  # 4×201//365 = 2 due, none delivered
    assert got["home_visit"] == (2, 0, 1)
    assert got["annual_check"] == (1, 0, 0)  # due by the end of the year
    over = queries.overdue_contracts(doctor, team, today=later)
    assert [x[0].pk for x in over] == [c.pk]
    assert over[0][1].total_overdue == 2 + 1 + 1  # bp 2, home visit 1, consultation 1


def test_delivery_of_a_page_is_set_based(sign, doctor):
    contracts = [sign(r) for r in unsigned(doctor, 6)]
    with CaptureQueriesContext(connection) as one:
        queries.delivery_of(contracts[:1])
    with CaptureQueriesContext(connection) as many:
        queries.delivery_of(contracts)
    assert len(many.captured_queries) == len(one.captured_queries)


def test_merged_records_history_counts(sign, resident, doctor):
    """A service recorded on a record later merged into the contracted resident counts."""
    from yigongti.residents.models import Resident

    c = sign(resident)
    dup = unsigned(doctor, 1, village_id=resident.village_id)[0]
    upsert_exam(doctor, dup, ExamInput(kind="general", exam_date=timezone.localdate()))
    Resident.objects.filter(pk=dup.pk).update(merged_into=resident, status="merged")
    assert lines(c)["annual_check"][1] == 1
