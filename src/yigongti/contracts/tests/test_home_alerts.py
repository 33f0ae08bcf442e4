"""The contracted doctor's alert list (issue 4): an abnormal home reading of a resident
signed with the team shows on that team's 家庭监测提醒 tab, not on others', and leaves it
with the next follow-up."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from yigongti.chronic.actions import (
    DeviceInput,
    FollowupInput,
    do_bind_device,
    do_record_followup,
    do_register_device,
)
from yigongti.chronic.ingest import ingest_reading
from yigongti.chronic.tests.helpers import enrol, residents_of
from yigongti.contracts import queries

pytestmark = pytest.mark.django_db


def _reading(serial: str, sbp: float, dbp: float) -> dict[str, object]:
    return {
        "serial": serial,
        "type": "bp_meter",
        "measured_at": (timezone.now() - timedelta(minutes=10)).isoformat(),
        "systolic": sbp,
        "diastolic": dbp,
        "pulse": 76,
    }


@pytest.fixture
def alerted(doctor, team, sign):
    """Two enrolled hypertensive residents with an SBP ≥ 180 home reading each; only the
    first is signed with the team."""
    signed, unsigned = residents_of(doctor, 2)
    sign(signed)
    regs = []
    for i, r in enumerate((signed, unsigned)):
        regs.append(enrol(doctor, r))
        dev, _ = do_register_device(doctor, DeviceInput(serial=f"ALERT-{i}", type="bp_meter"))
        do_bind_device(doctor, dev, r)
        ingest_reading(_reading(f"ALERT-{i}", 186, 102))
    for reg in regs:
        reg.refresh_from_db()
        assert "180" in reg.alert, reg.alert
    return signed, unsigned, regs


def test_team_alerts_list_only_the_teams_contracted_residents(doctor, team, alerted):
    _, _, regs = alerted
    listed = list(queries.team_home_alerts(doctor, team))
    assert [r.pk for r in listed] == [regs[0].pk]
    assert queries.home_alert_counts(doctor, [team.pk]) == {team.pk: 1}


def test_alerts_tab_and_home_badge(client_as, team, alerted):
    signed, unsigned, _ = alerted
    c = client_as("village_doctor")
    page = c.get(f"/contracts/teams/{team.pk}/?tab=alerts").content.decode()
    assert signed.name in page and "家庭监测：" in page
    assert unsigned.name not in page
    home = c.get("/contracts/").content.decode()
    assert "家庭监测提醒" in home and '<span class="badge warn">1</span>' in home


def test_next_followup_clears_the_alert(doctor, team, alerted):
    _, _, regs = alerted
    do_record_followup(
        doctor, regs[0], FollowupInput(sbp=150, dbp=92, heart_rate=76, adherence="regular")
    )
    assert list(queries.team_home_alerts(doctor, team)) == []
    assert queries.home_alert_counts(doctor, [team.pk]) == {}


def test_outsider_cannot_open_the_alerts_tab(client_as, team, alerted):
    assert (
        client_as("outsider_doctor").get(f"/contracts/teams/{team.pk}/?tab=alerts").status_code
        == 404
    )
