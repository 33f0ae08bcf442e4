"""REST endpoints and pages: who can, who cannot, targets and refresh."""

from __future__ import annotations

import pytest

from yigongti.indicators import facts
from yigongti.indicators.models import IndicatorTarget

from .conftest import YEAR_2025


@pytest.fixture
def built(tiny):
    facts.rebuild_facts(YEAR_2025)
    return tiny


def test_catalogue_lists_every_entry_with_its_definition(built, api_as):
    r = api_as("commission").get("/api/v1/indicators/catalogue")
    assert r.status_code == 200
    rows = {x["code"]: x for x in r.json()}
    assert rows["primary_visit_share"]["default_target"] == 55
    assert rows["premature_mortality"]["collected"] is False
    assert rows["premature_mortality"]["missing_reason"]


def test_dashboard_api_reads_a_group(built, api_as):
    r = api_as("commission").get(
        f"/api/v1/indicators/dashboard?period=2025&level=group&unit={built.group.pk}"
    )
    assert r.status_code == 200
    rows = {x["code"]: x for a in r.json()["aspects"] for x in a["indicators"]}
    assert (
        rows["primary_visit_share"]["numerator"],
        rows["primary_visit_share"]["denominator"],
    ) == (7, 12)
    assert rows["tcm_visit_share"]["status"] == "not_collected"
    assert rows["tcm_visit_share"]["value"] is None


def test_value_trend_comparison_and_drilldown_api(built, api_as):
    c = api_as("group_admin")
    base = "/api/v1/indicators/values/referrals_up"
    assert c.get(f"{base}?period=2025&level=group&unit={built.group.pk}").json()["numerator"] == 3
    assert len(c.get(f"{base}/trend?period=2025-06").json()) == 12
    assert c.get(f"{base}/comparison?period=2025").status_code == 200
    d = api_as("commission").get(
        f"{base}/drilldown?period=2025&level=group&unit={built.group.pk}&part=numerator"
    )
    assert d.status_code == 200 and d.json()["total"] == 3


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("period=2025Q5", "period"),
        ("period=2025&level=nation", "level"),
        ("period=2025&level=group&unit=999999", "unit"),
    ],
)
def test_bad_query_names_the_field(built, api_as, query, field):
    r = api_as("commission").get(f"/api/v1/indicators/dashboard?{query}")
    assert r.status_code == 422
    assert field in r.json()["detail"][0]["loc"]


@pytest.mark.parametrize("who", ["outsider_doctor", "village_doctor"])
def test_outsiders_are_refused_by_the_api_and_pages(built, api_as, client_as, who):
    assert api_as(who).get("/api/v1/indicators/dashboard?period=2025").status_code == 403
    assert (
        api_as(who)
        .post("/api/v1/indicators/refresh", {}, content_type="application/json")
        .status_code
        == 403
    )
    assert client_as(who).get("/indicators/?period=2025").status_code == 403
    assert (
        client_as(who).get("/indicators/outpatient_visits/records/?period=2025").status_code == 403
    )
    assert 'href="/indicators/"' not in client_as(who).get("/").content.decode()


def test_refresh_needs_manage_permission(built, api_as):
    r = api_as("commission").post(
        "/api/v1/indicators/refresh", {"full": False}, content_type="application/json"
    )
    assert r.status_code == 200


def test_target_overrides_the_default_and_flips_met(built, api_as):
    c = api_as("commission")
    url = (
        "/api/v1/indicators/values/primary_visit_share"
        f"?period=2025&level=group&unit={built.group.pk}"
    )
    assert c.get(url).json()["met"] is True  # 58.33 ≥ 55
    r = c.put(
        "/api/v1/indicators/targets/primary_visit_share",
        {"target": "60", "level": "group"},
        content_type="application/json",
    )
    assert r.status_code == 200
    got = c.get(url).json()
    assert (got["target"], got["met"]) == (60, False)
    county = c.get("/api/v1/indicators/values/primary_visit_share?period=2025").json()
    assert county["target"] == 55  # the group-level target does not apply to the county


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"target": "abc"}, "target"),
        ({"target": "-1"}, "target"),
        ({"target": "101"}, "target"),
        ({"target": "50", "level": "nation"}, "level"),
    ],
)
def test_bad_target_names_the_field_and_writes_nothing(built, api_as, body, field):
    r = api_as("commission").put(
        "/api/v1/indicators/targets/primary_visit_share", body, content_type="application/json"
    )
    assert r.status_code == 422
    assert field in r.json()["detail"][0]["loc"]
    assert not IndicatorTarget.objects.exists()


def test_target_of_a_not_collected_indicator_is_refused(built, api_as):
    r = api_as("commission").put(
        "/api/v1/indicators/targets/premature_mortality",
        {"target": "10"},
        content_type="application/json",
    )
    assert r.status_code == 422 and not IndicatorTarget.objects.exists()


def test_dashboard_page_shows_values_charts_and_nav(built, client_as):
    c = client_as("commission")
    r = c.get(f"/indicators/?period=2025&level=group&unit={built.group.pk}&code=referrals_up")
    assert r.status_code == 200
    html = r.content.decode()
    assert "县域内基层医疗卫生机构门急诊人次占比" in html and "58.33" in html
    assert "未采集" in html
    assert "indicators/vendor/echarts/echarts.min.js" in html
    assert 'href="/indicators/"' in html  # NAV entry
    assert "cdn" not in html.lower()


def test_drilldown_page_lists_masked_records(built, client_as):
    r = client_as("group_admin").get(
        f"/indicators/htn_control_rate/records/?period=2025&level=group&unit={built.group.pk}"
    )
    assert r.status_code == 200  # a group admin of another group sees an empty list
    r = client_as("commission").get(
        f"/indicators/htn_control_rate/records/?period=2025&level=group&unit={built.group.pk}"
    )
    html = r.content.decode()
    assert "共 2 条" in html and "9999991990010" not in html


def test_refresh_page_for_managers(built, client_as):
    r = client_as("group_admin").post("/indicators/refresh/", {"next": "/indicators/"})
    assert r.status_code == 302


def test_refresh_page_goes_back_only_to_this_site(built, client_as):
    r = client_as("group_admin").post("/indicators/refresh/", {"next": "https://evil.example/"})
    assert (r.status_code, r["Location"]) == (302, "/indicators/")
