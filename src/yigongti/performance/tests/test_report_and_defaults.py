"""The report section (千分制考核得分) and the example schemes."""

from __future__ import annotations

from decimal import Decimal as D

from yigongti.indicators.report_sections import ReportScope, sections
from yigongti.indicators.rules import Level, parse_period
from yigongti.network.models import FacilityKind
from yigongti.performance import actions, queries
from yigongti.performance.defaults import DEFAULTS, default_schemes
from yigongti.performance.models import ScoreSnapshot, ScoringScheme
from yigongti.performance.report_section import TITLE, scoring_section

from .conftest import SYSTEM, scheme_input

COUNTY = ReportScope(Level.COUNTY, None, "全县")
YEAR = parse_period("2025")


def test_no_published_scores_no_section(scheme):
    assert scoring_section(COUNTY, YEAR, SYSTEM) is None


def test_the_report_carries_the_current_snapshot_ranked(scheme, built, actor):
    actions.do_publish(SYSTEM, scheme.pk, "2025")
    actions.do_publish(SYSTEM, scheme.pk, "2025", reason="更正")  # the old one is superseded
    got = [s for s in sections(COUNTY, YEAR, actor("commission")) if s.title == TITLE]
    assert len(got) == 1
    section = got[0]
    assert section.columns[0] == "机构" and section.columns[section.chart_column] == "千分制得分"
    assert [r[:4] for r in section.rows] == [
        ["测试一镇卫生院", scheme.name, "乡镇卫生院", 1],
        ["测试二镇卫生院", scheme.name, "乡镇卫生院", 2],
    ]
    assert section.rows[0][5:8] == [D("503.32"), D("700.00"), D("719.03")]
    assert "得分 ÷ 可得分 × 1000" in section.note


def test_a_group_report_shows_only_its_own_facilities(scheme, built, actor):
    county_wide = actions.do_create_scheme(SYSTEM, scheme_input(None, name="全县乡镇卫生院"))
    actions.do_set_scheme_status(SYSTEM, county_wide.pk, "active")
    actions.do_publish(SYSTEM, county_wide.pk, "2025")
    actions.do_publish(SYSTEM, scheme.pk, "2025")
    mine = ReportScope(Level.GROUP, built.group.pk, built.group.name)
    section = scoring_section(mine, YEAR, actor("commission"))
    assert section is not None
    names = {(r[0], r[1]) for r in section.rows}
    assert names == {
        ("测试一镇卫生院", "全县乡镇卫生院"), ("测试二镇卫生院", "全县乡镇卫生院"),
        ("测试一镇卫生院", scheme.name), ("测试二镇卫生院", scheme.name),
    }  # fmt: skip
    # the county-wide ranks are kept (rank in the county, not inside the group)
    whole = scoring_section(COUNTY, YEAR, actor("commission"))
    assert whole is not None and len(whole.rows) > len(section.rows)


def test_clinicians_get_no_section(scheme, actor):
    actions.do_publish(SYSTEM, scheme.pk, "2025")
    assert scoring_section(COUNTY, YEAR, actor("village_doctor")) is None


def test_default_schemes_are_active_1000_point_schemes_one_per_kind(county):
    made = default_schemes()
    assert {s.facility_kind for s in made} == {
        FacilityKind.TOWNSHIP_CENTRE,
        FacilityKind.VILLAGE_CLINIC,
        FacilityKind.COUNTY_HOSPITAL,
    }
    for s in made:
        assert s.status == "active"
        assert sum(i.weight for i in s.items.all()) == 1000
        assert s.items.filter(rule="judgement").exists()
    assert len(made) == len(DEFAULTS)
    again = default_schemes()
    assert [s.pk for s in again] == [s.pk for s in made]
    assert ScoringScheme.objects.count() == len(DEFAULTS)


def test_default_schemes_can_publish_a_half_year(county):
    default_schemes(publish="2025H1")
    assert ScoreSnapshot.objects.filter(period_code="2025H1", status="current").count() == 3
    default_schemes(publish="2025H1")  # idempotent
    assert ScoreSnapshot.objects.count() == 3
    default_schemes(publish="last")  # the last ended half-year
    last = queries.last_closed_period("H")
    assert ScoreSnapshot.objects.filter(period_code=last, status="current").count() == 3
    hospital = ScoringScheme.objects.get(facility_kind="county_hospital")
    table = queries.preview(SYSTEM, hospital.pk, "2025H1")
    assert table["facilities"] and all(f["rows"] for f in table["facilities"])


def test_the_example_township_scheme_on_the_tiny_group_by_hand(built):
    """centre1, first half of 2025, by hand (indicators/tests/conftest.py):
    htn norm 2/2 = 100 → 150 of 150; htn control 2/2 = 100 → 150; diabetes: no patients →
    无数据 (missing, 120 + 100 not available); township coverage on 2025-06-30: a (contract
    Jan–Jun), of a, b, e = 33.33 ≤ 40 → 0 of 150; township hospitalisation of the managed
    1/2 = 50 ≥ 30 → 0 of 80; out-of-county share 0/2 → 50 of 50; centre-reported studies 1 <
    10 → 0 of 50; the three 紧密型 items not reviewed (missing).
    350 of 630 → 350 ÷ 630 × 1000 = 555.56."""
    scheme = next(s for s in default_schemes() if s.facility_kind == "township_centre")
    table = queries.preview(SYSTEM, scheme.pk, "2025H1")
    c1 = next(f for f in table["facilities"] if f["facility_id"] == built.centre1.pk)
    points = {r["code"]: r["points"] for r in c1["rows"]}
    assert points == {
        "htn_norm_rate": D("150.00"), "htn_control_rate": D("150.00"),
        "dm_norm_rate": None, "dm_control_rate": None,
        "priority_contract_coverage": D("0.00"), "chronic_hospitalisation_rate": D("0.00"),
        "out_of_county_referral_share": D("50.00"), "shared_centre_services": D("0.00"),
        "tight_resources": None, "tight_decision": None, "tight_services": None,
    }  # fmt: skip
    assert (c1["earned"], c1["available"], c1["normalised"], c1["missing"]) == (
        D("350.00"), D("630.0"), D("555.56"), 5,
    )  # fmt: skip
    assert c1["rank"] == 1  # the persona county's centres have no activity: 0 of 50
