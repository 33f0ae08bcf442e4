"""The catalogue is complete data; a county adds an indicator without a migration; the
refresh command."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from yigongti.core.actor import Actor
from yigongti.indicators import catalogue, facts, queries
from yigongti.indicators.catalogue import IndicatorDef, Source, in_days, register
from yigongti.indicators.models import Fact, RefreshRun
from yigongti.indicators.rules import Direction, Level, Unit, parse_period
from yigongti.records.models import Encounter

from .conftest import YEAR_2025


@pytest.mark.parametrize("d", catalogue.all_defs(), ids=lambda d: d.code)
def test_every_entry_is_complete(d):
    assert d.name and d.definition and d.numerator_text and d.denominator_text
    assert d.source_text and d.aspect in catalogue.ASPECTS
    assert d.collected or d.missing_reason
    if d.collected:
        assert d.numerator and (d.unit == Unit.COUNT or d.denominator)
        for s in d.numerator + d.denominator:
            assert (s.month is not None) == d.additive, s.label


def test_the_five_national_aspects_are_all_present():
    aspects = {d.aspect for d in catalogue.all_defs()}
    assert {"tight", "homogeneous", "division", "efficiency", "health", "classic"} <= aspects


def test_a_collected_rate_needs_a_denominator():
    with pytest.raises(ValueError, match="denominator"):
        register(
            IndicatorDef(
                code="x", name="x", aspect="classic", definition="x", numerator_text="x",
                denominator_text="x", unit=Unit.PERCENT, source_text="x",
                direction=Direction.HIGHER,
                numerator=(catalogue.OUTPATIENT,),
            )
        )  # fmt: skip


def _home_visits(start, end):
    return Encounter.objects.filter(
        in_days("started_at", start, end),
        kind="home_visit",
        status="current",
        facility__isnull=False,
    )


def test_a_county_adds_an_indicator_without_a_migration(tiny):
    register(
        IndicatorDef(
            code="home_visits", name="上门服务人次", aspect="classic",
            definition="家庭医生上门服务的有效记录数。", numerator_text="上门服务人次",
            denominator_text="—", unit=Unit.COUNT, source_text="就诊记录",
            direction=Direction.NONE,
            numerator=(Source("上门服务记录", "encounter", _home_visits, month="started_at",
                              facility="facility_id"),),
        )
    )  # fmt: skip
    try:
        facts.rebuild_facts(YEAR_2025, codes=["home_visits"])
        got = queries.value_of(
            "home_visits", parse_period("2025"), Level.VILLAGE, tiny.v1.pk, Actor.system()
        )
        assert (got.status, got.numerator) == ("ok", 1)  # clinic 1's home visit in May
        page = queries.drilldown(
            Actor.system(), "home_visits", parse_period("2025-05"), Level.VILLAGE, tiny.v1.pk
        )
        assert page["total"] == 1
    finally:
        catalogue._REGISTRY.pop("home_visits", None)


def test_refresh_command_full_then_incremental(tiny):
    out = StringIO()
    call_command("refresh_indicators", "--full", stdout=out)
    assert "全量重建" in out.getvalue()
    assert Fact.objects.filter(code="outpatient_visits").exists()
    call_command("refresh_indicators", stdout=out)
    assert "增量刷新" in out.getvalue()
    assert RefreshRun.objects.filter(ok=True).count() == 2
