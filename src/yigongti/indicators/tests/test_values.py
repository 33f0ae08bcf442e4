"""Each computed indicator on the tiny hand-built group (tests/conftest.py), its answer worked
out by hand; drill-down counts equal the facts; incremental refresh equals a full rebuild;
not-collected indicators are missing, never zero."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone

from yigongti.core.actor import Actor
from yigongti.core.audit import AuditEntry
from yigongti.core.errors import Forbidden
from yigongti.indicators import catalogue, facts, queries
from yigongti.indicators.models import Fact
from yigongti.indicators.rules import Level, parse_period
from yigongti.records.models import Encounter

from .conftest import YEAR_2025, at, encounter, followups, referral

SYSTEM = Actor.system("test")


def v(code: str, period: str, level: Level, unit: int | None) -> queries.Value:
    return queries.value_of(code, parse_period(period), level, unit, SYSTEM)


def nd(val: queries.Value) -> tuple[object, object, object]:
    return (val.numerator, val.denominator, val.value)


@pytest.fixture
def built(tiny):
    facts.rebuild_facts(YEAR_2025)
    return tiny


# (code, numerator, denominator, value) for the group over 2025, computed by hand from the
# rows in conftest.py
GROUP_2025 = [
    # outpatient+emergency: hospital 2 Mar + 1 Apr + 1 May + 1 emergency, centre1 4,
    # clinic1 2 (home visit not counted), centre2 1 (amended old version and voided not counted)
    ("outpatient_visits", 12, 0, 12),
    # primary = centre1 4 + clinic1 2 + centre2 1 = 7 of 12
    ("primary_visit_share", 7, 12, Decimal("58.33")),
    # inpatient: hospital 2 + centre1 1
    ("inpatient_admissions", 3, 0, 3),
    # 3 in-county stays ÷ (3 + 1 out-of-county upward referral)
    ("in_county_inpatient_share", 3, 4, Decimal("75.00")),
    # up: centre1 completed + accepted, clinic1 out-of-county (draft and cancelled left out)
    ("referrals_up", 3, 0, 3),
    ("referrals_down", 1, 0, 1),
    ("down_up_ratio", 1, 3, Decimal("0.33")),
    ("out_of_county_referral_share", 1, 3, Decimal("33.33")),
    # under management at 2025-12-31: a, b, c (d exited in June); a: 4 follow-ups, gaps
    # 89/92/92 days → norm; b: 2 follow-ups; last follow-up controlled: a, b
    ("htn_norm_rate", 1, 3, Decimal("33.33")),
    ("htn_control_rate", 2, 3, Decimal("66.67")),
    # people under management a, b, c; hospitalised in 2025: a (hospital), c (centre1)
    ("chronic_hospitalisation_rate", 2, 3, Decimal("66.67")),
    # priority: a, b, c (hypertension register), e (65+); in force on 2025-12-31: e only
    ("priority_contract_coverage", 1, 4, Decimal("25.00")),
    # consultations answered in 2025: centre1 (24 h) and clinic1 (6 h); the unanswered and
    # the cancelled one left out
    ("remote_consults", 2, 0, 2),
    # imaging/ECG studies reported in 2025 for the group: centre1's film (April) and clinic1's
    # ECG (June); the lab study, the cancelled and the unreported ones left out
    ("shared_centre_services", 2, 0, 2),
    ("remote_consult_turnaround", 30, 2, Decimal("15.00")),
]


@pytest.mark.parametrize(("code", "num", "den", "value"), GROUP_2025)
def test_group_value_for_the_year_is_the_hand_computed_one(built, code, num, den, value):
    got = v(code, "2025", Level.GROUP, built.group.pk)
    assert got.status == "ok"
    assert (got.numerator, got.denominator, got.value) == (num, den, value)


@pytest.mark.parametrize(
    ("code", "period", "level", "unit", "expected"),
    [
        # months: March 6 (23:30 on the 31st is March in Shanghai), April 1 (00:10 on the 1st)
        ("outpatient_visits", "2025-03", Level.GROUP, "group", (6, 0, 6)),
        ("outpatient_visits", "2025-04", Level.GROUP, "group", (1, 0, 1)),
        ("outpatient_visits", "2025-05", Level.GROUP, "group", (5, 0, 5)),
        ("outpatient_visits", "2025Q1", Level.GROUP, "group", (6, 0, 6)),
        ("outpatient_visits", "2025H1", Level.GROUP, "group", (12, 0, 12)),
        ("outpatient_visits", "2025H2", Level.GROUP, "group", (0, 0, 0)),
        # facility, township (centre + its village clinic), village
        ("primary_visit_share", "2025", Level.FACILITY, "hospital", (0, 5, Decimal("0.00"))),
        ("primary_visit_share", "2025", Level.FACILITY, "centre1", (4, 4, Decimal("100.00"))),
        ("outpatient_visits", "2025", Level.TOWNSHIP, "t1", (6, 0, 6)),
        ("referrals_up", "2025", Level.TOWNSHIP, "t1", (3, 0, 3)),
        ("outpatient_visits", "2025", Level.VILLAGE, "v1", (2, 0, 2)),
        ("referrals_up", "2025", Level.VILLAGE, "v1", (1, 0, 1)),
        # chronic by managing facility and by residence
        ("htn_norm_rate", "2025", Level.FACILITY, "centre1", (1, 2, Decimal("50.00"))),
        ("htn_control_rate", "2025", Level.FACILITY, "centre1", (2, 2, Decimal("100.00"))),
        ("htn_control_rate", "2025", Level.VILLAGE, "v2", (0, 1, Decimal("0.00"))),
        # H1 2025: d still under management on 2025-06-30? exited that day → not counted;
        # a: Feb, May follow-ups (2 of 2 needed) gap 89 → norm; b: Apr, Jun → norm
        ("htn_norm_rate", "2025H1", Level.GROUP, "group", (2, 3, Decimal("66.67"))),
        # people under management a, b, c at the end of June and of December (d exited on
        # 30 June); stays: a in March, c in May. Periods ending the same day share one query
        ("chronic_hospitalisation_rate", "2025Q2", Level.GROUP, "group", (1, 3, Decimal("33.33"))),
        ("chronic_hospitalisation_rate", "2025H1", Level.GROUP, "group", (2, 3, Decimal("66.67"))),
        ("chronic_hospitalisation_rate", "2025H2", Level.GROUP, "group", (0, 3, Decimal("0.00"))),
        ("chronic_hospitalisation_rate", "2025-03", Level.GROUP, "group", (1, 4, Decimal("25.00"))),
        ("priority_contract_coverage", "2025", Level.VILLAGE, "v1", (1, 3, Decimal("33.33"))),
        # on 2025-03-31 a's contract (Jan–Jun) was in force, e's not yet
        ("priority_contract_coverage", "2025Q1", Level.GROUP, "group", (1, 4, Decimal("25.00"))),
    ],
)
def test_values_by_period_and_level(built, code, period, level, unit, expected):
    units = {
        "group": built.group.pk,
        "hospital": built.hospital.pk,
        "centre1": built.centre1.pk,
        "t1": built.t1.pk,
        "v1": built.v1.pk,
        "v2": built.v2.pk,
    }
    assert nd(v(code, period, level, units[unit])) == expected


def test_a_rate_with_nothing_to_divide_is_missing_not_zero(built):
    got = v("dm_norm_rate", "2025", Level.GROUP, built.group.pk)
    assert got.status == "no_data" and got.value is None and got.denominator == 0


@pytest.mark.parametrize("d", [d for d in catalogue.all_defs() if not d.collected])
def test_not_collected_indicators_are_missing_never_zero(built, d):
    got = v(d.code, "2025", Level.GROUP, built.group.pk)
    assert got.status == "not_collected"
    assert (got.numerator, got.denominator, got.value, got.met) == (None, None, None, None)
    assert got.reason == d.missing_reason
    assert not Fact.objects.filter(code=d.code).exists()


def test_residence_indicator_has_no_facility_level(built):
    got = v("priority_contract_coverage", "2025", Level.FACILITY, built.centre1.pk)
    assert got.status == "not_applicable" and got.value is None


def test_target_met_follows_the_direction(built):
    share = v("primary_visit_share", "2025", Level.GROUP, built.group.pk)  # 58.33 vs ≥ 55
    assert share.target == Decimal("55") and share.met is True
    inpatient = v("in_county_inpatient_share", "2025", Level.GROUP, built.group.pk)  # 75 vs 90
    assert inpatient.met is False


@pytest.mark.parametrize(("code", "num", "den", "value"), GROUP_2025)
def test_drilldown_counts_equal_the_facts(built, code, num, den, value):
    defn = catalogue.get(code)
    period = parse_period("2025")
    for part, expected in (("numerator", num), ("denominator", den)):
        if any(s.measure for s in defn.sources(part)):
            expected = den  # a sum (hours) over the denominator's rows: the same rows
        total = 0
        for i in range(len(defn.sources(part))):
            _, qs = queries.drilldown_rows(
                SYSTEM, code, period, Level.GROUP, built.group.pk, part=part, source=i
            )
            total += qs.count()
        assert total == expected, (code, part)


def test_drilldown_for_a_township_and_a_month_equals_the_facts(built):
    period = parse_period("2025-03")
    val = queries.value_of("outpatient_visits", period, Level.TOWNSHIP, built.t1.pk, SYSTEM)
    page = queries.drilldown(SYSTEM, "outpatient_visits", period, Level.TOWNSHIP, built.t1.pk)
    assert page["total"] == val.numerator == 4


def test_drilldown_masks_ids_and_is_audited(built, actor):
    commission = actor("commission")
    before = AuditEntry.objects.count()
    page = queries.drilldown(
        commission, "htn_control_rate", parse_period("2025"), Level.GROUP, built.group.pk
    )
    assert page["total"] == 2
    assert all("*" in r["id_number"] for r in page["rows"])
    assert AuditEntry.objects.filter(
        pk__gt=before, object_type="indicator_drilldown", username="commission"
    ).exists()


def test_group_admin_drilldown_is_limited_to_their_catchment(built, actor):
    admin = actor("group_admin")
    assert built.group.pk != admin.group_id
    page = queries.drilldown(
        admin, "outpatient_visits", parse_period("2025"), Level.GROUP, built.group.pk
    )
    assert page["total"] == 0  # aggregates are visible, people of another group are not
    assert v("outpatient_visits", "2025", Level.GROUP, built.group.pk).numerator == 12


@pytest.mark.parametrize(
    "who", ["outsider_doctor", "village_doctor", "township_doctor", "pharmacist"]
)
def test_clinicians_and_outsiders_are_refused(built, actor, who):
    a = actor(who)
    with pytest.raises(Forbidden):
        queries.dashboard(parse_period("2025"), Level.COUNTY, None, a)
    with pytest.raises(Forbidden):
        queries.drilldown(a, "outpatient_visits", parse_period("2025"), Level.COUNTY, None)
    assert AuditEntry.objects.filter(
        username=who, action="denied", object_type="indicator"
    ).exists()


def test_dashboard_groups_every_indicator_by_aspect(built, actor):
    d = queries.dashboard(parse_period("2025"), Level.GROUP, built.group.pk, actor("commission"))
    codes = [r["code"] for a in d["aspects"] for r in a["indicators"]]
    assert sorted(codes) == sorted(x.code for x in catalogue.all_defs())
    assert [a["label"] for a in d["aspects"]][:5] == [
        "紧密型",
        "同质化",
        "促分工",
        "提效能",
        "保健康",
    ]


def test_trend_and_comparison(built, actor):
    a = actor("commission")
    series = queries.trend(
        "outpatient_visits", parse_period("2025"), Level.GROUP, built.group.pk, a
    )
    assert [r["numerator"] for r in series] == [0, 0, 6, 1, 5, 0, 0, 0, 0, 0, 0, 0]
    rows = queries.comparison("primary_visit_share", parse_period("2025"), Level.GROUP, a)
    mine = next(r for r in rows if r["unit_id"] == built.group.pk)
    assert (mine["numerator"], mine["denominator"], mine["value"]) == (7, 12, 58.33)


def _snapshot() -> set[tuple[object, ...]]:
    return set(
        Fact.objects.filter(period_start__year=2025).values_list(
            "code", "grain", "period_start", "facility_id", "group_id", "township_id",
            "village_id", "numerator", "denominator",
        )
    )  # fmt: skip


def test_incremental_refresh_equals_a_full_rebuild(built):
    t = built
    mark = timezone.now()
    # a day's activity: a visit, an amendment, a referral submitted, a follow-up, an exit
    encounter(t.people["f"], t.centre2, "outpatient", at(2025, 9, 3))
    old = Encounter.objects.filter(facility=t.centre1, started_at=at(2025, 3, 2)).get()
    Encounter.objects.filter(pk=old.pk).update(status="amended")
    encounter(old.resident, t.centre1, "outpatient", at(2025, 6, 2), replaces=old)
    referral(t.people["f"], t.clinic1, "up", at(2025, 10, 2), "submitted", to_facility=t.hospital)
    followups(t.regs["b"], [(date(2025, 9, 1), True)])
    n, months = facts.refresh_facts(since=mark)
    assert n > 0
    assert {date(2025, 3, 1), date(2025, 6, 1), date(2025, 9, 1), date(2025, 10, 1)} <= set(months)
    incremental = _snapshot()
    facts.rebuild_facts(YEAR_2025)
    assert _snapshot() == incremental
    assert nd(v("outpatient_visits", "2025", Level.GROUP, t.group.pk)) == (13, 0, 13)
    assert nd(v("outpatient_visits", "2025-03", Level.GROUP, t.group.pk)) == (5, 0, 5)


def test_refresh_without_a_watermark_rebuilds_everything(tiny):
    n, months = facts.refresh_facts()
    assert n > 0 and months == []
    assert Fact.objects.filter(code="outpatient_visits", period_start=date(2025, 3, 1)).exists()


def test_values_by_unit_reads_every_unit_in_one_go_and_matches_value_of(built):
    codes = ["primary_visit_share", "htn_norm_rate", "premature_mortality"]
    year = parse_period("2025")
    got = queries.values_by_unit(codes, year, Level.FACILITY)
    # by hand (as in test_values_by_period_and_level): the hospital 0 of 5 primary visits,
    # centre1 4 of 4; centre1 manages 2 hypertension patients, 1 of them norm
    assert nd(got[("primary_visit_share", built.hospital.pk)]) == (0, 5, Decimal("0.00"))
    assert nd(got[("primary_visit_share", built.centre1.pk)]) == (4, 4, Decimal("100.00"))
    assert nd(got[("htn_norm_rate", built.centre1.pk)]) == (1, 2, Decimal("50.00"))
    assert got[("premature_mortality", built.centre1.pk)].status == "not_collected"
    for fac in (built.hospital, built.centre1, built.centre2, built.clinic1):
        for code in codes:
            assert nd(got[(code, fac.pk)]) == nd(v(code, "2025", Level.FACILITY, fac.pk))


def test_chronic_rates_for_many_periods_in_one_pass_equal_one_period_at_a_time(tiny):
    from yigongti.chronic import queries as chronic_queries
    from yigongti.indicators.rules import Grain, periods_containing

    spans = [
        (p.start, p.end)
        for m in (date(2025, 5, 1), date(2025, 6, 1), date(2025, 12, 1))
        for p in periods_containing(m)
    ]
    assert {parse_period("2025H1").grain, Grain.MONTH} <= {
        p.grain for p in periods_containing(date(2025, 5, 1))
    }
    for disease in ("hypertension", "diabetes"):
        many = chronic_queries.rate_cells_many(disease, spans)
        for span in spans:
            assert many[span] == chronic_queries.rate_cells(disease, *span), span
    # and the hand-computed year (test_values GROUP_2025): 3 managed, 1 norm, 2 controlled
    year = chronic_queries.rate_cells_many("hypertension", spans)[
        (date(2025, 1, 1), date(2025, 12, 31))
    ]
    assert sum(r["den"] for r in year) == 3
    assert (sum(r["norm"] for r in year), sum(r["ctl"] for r in year)) == (1, 2)


def test_a_period_that_has_not_started_has_no_data_not_zero(built):
    from datetime import timedelta

    from yigongti.indicators.rules import Grain, period_of

    later = period_of(Grain.YEAR, timezone.localdate() + timedelta(days=400))
    got = queries.value_of("outpatient_visits", later, Level.GROUP, built.group.pk, SYSTEM)
    assert (got.status, got.numerator, got.value, got.reason) == (
        "no_data", None, None, "统计期尚未开始",
    )  # fmt: skip
