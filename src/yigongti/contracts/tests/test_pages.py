"""The Chinese pages: the right persona can, the outsider cannot, forms name the field."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from yigongti.contracts.models import Contract, ServicePackage, Team

from .conftest import staff_of

pytestmark = pytest.mark.django_db


def test_nav_and_home(client_as, team):
    r = client_as("village_doctor").get("/contracts/")
    assert r.status_code == 200
    text = r.content.decode()
    assert "家庭医生签约" in text and team.name in text


def test_team_tabs_render(client_as, team, sign, resident):
    sign(resident)
    c = client_as("village_doctor")
    for tab in ("contracts", "expiring", "overdue", "priority"):
        r = c.get(f"/contracts/teams/{team.pk}/?tab={tab}")
        assert r.status_code == 200, tab
    assert resident.name in c.get(f"/contracts/teams/{team.pk}/").content.decode()
    r = c.get(f"/contracts/teams/{team.pk}/?tab=priority&group=elderly")
    assert "签约" in r.content.decode()


def test_sign_form_signs_and_shows_delivery(client_as, team, package, resident):
    c = client_as("village_doctor")
    url = f"/contracts/sign/{resident.mpi_id}/"
    assert c.get(f"/contracts/resident/{resident.mpi_id}/")["Location"] == url
    assert c.get(url).status_code == 200
    today = timezone.localdate()
    form = {
        "team": team.pk,
        "package": package.pk,
        "start_date": today.isoformat(),
        "end_date": (today + timedelta(days=100)).isoformat(),
        "consent_method": "paper",
        "signer_name": resident.name,
        "signer_relation": "本人",
    }
    r = c.post(url, form)
    assert r.status_code == 200 and "不少于1年" in r.content.decode()
    assert not Contract.objects.filter(resident=resident).exists()
    form["end_date"] = ""
    r = c.post(url, form)
    assert r.status_code == 302, r.content.decode()[:2000]
    contract = Contract.objects.get(resident=resident)
    assert (
        c.get(f"/contracts/resident/{resident.mpi_id}/")["Location"] == f"/contracts/{contract.pk}/"
    )
    page = c.get(r["Location"]).content.decode()
    assert "履约情况" in page and "年度健康体检" in page
    r = c.post(f"/contracts/{contract.pk}/terminate/", {"reason": ""})
    assert r.status_code == 200 and "has-error" in r.content.decode()
    contract.refresh_from_db()
    assert contract.status == "active"
    r = c.post(f"/contracts/{contract.pk}/terminate/", {"reason": "迁出"})
    assert r.status_code == 302
    contract.refresh_from_db()
    assert contract.status == "terminated"


def test_outsider_is_refused_pages(client_as, team, sign, resident):
    contract = sign(resident)
    c = client_as("outsider_doctor")
    assert c.get(f"/contracts/{contract.pk}/").status_code == 404
    assert c.get(f"/contracts/teams/{team.pk}/").status_code == 404
    assert c.get(f"/contracts/sign/{resident.mpi_id}/").status_code == 404
    assert c.post(f"/contracts/{contract.pk}/terminate/", {"reason": "x"}).status_code == 404
    assert c.get("/contracts/admin/").status_code == 403


def test_admin_pages_create_team_and_package(client_as, actor):
    c = client_as("group_admin")
    assert c.get("/contracts/admin/").status_code == 200
    assert c.get("/contracts/admin/teams/new/").status_code == 200
    r = c.post(
        "/contracts/admin/packages/new/",
        {"code": "PG1", "name": "老年人包", "kind": "basic", "fee": "0", "covered_share": "1",
         "svc_annual_check": "1", "svc_home_visit": "2"},
    )  # fmt: skip
    assert r.status_code == 302
    p = ServicePackage.objects.get(code="PG1")
    assert p.services == [
        {"service": "annual_check", "count": 1},
        {"service": "home_visit", "count": 2},
    ]
    doctor = actor("village_doctor")
    r = c.post(
        "/contracts/admin/teams/new/",
        {"name": "页面团队", "facility": doctor.facility_id,
         "villages": list(doctor.scope.division_ids), "doctor": staff_of("village_doctor"),
         "active": "on"},
    )  # fmt: skip
    assert r.status_code == 302, r.content.decode()[:3000]
    assert Team.objects.filter(name="页面团队").exists()
    assert client_as("village_doctor").get("/contracts/admin/").status_code == 403


def test_coverage_page(client_as, team):
    c = client_as("group_admin")
    assert "分母" in c.get("/contracts/coverage/").content.decode()
    assert team.name in c.get("/contracts/coverage/?by=team").content.decode()


def test_team_page_queries_do_not_grow_with_rows(client_as, team, sign, doctor):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from .conftest import unsigned

    people = unsigned(doctor, 6)
    sign(people[0])
    c = client_as("village_doctor")
    url = f"/contracts/teams/{team.pk}/"
    with CaptureQueriesContext(connection) as one:
        assert c.get(url).status_code == 200
    for r in people[1:]:
        sign(r)
    with CaptureQueriesContext(connection) as six:
        assert c.get(url).status_code == 200
    assert len(six.captured_queries) == len(one.captured_queries)
