"""The qualitative indicators (紧密型) on the dashboard, its export and the report: the
evidence reviews' judgement, never a number and never 0."""

from __future__ import annotations

from yigongti.indicators import evidence, exports, queries
from yigongti.indicators.rules import Level, parse_period

from . import evidence_fixtures as fx

home_group = fx.home_group
make_item = fx.make_item
other_group = fx.other_group


def tight_rows(d: dict) -> dict[str, dict]:
    return {r["code"]: r for a in d["aspects"] for r in a["indicators"] if a["aspect"] == "tight"}


def test_a_groups_dashboard_shows_the_judgement_of_its_evidence(actor, home_group, make_item):
    item = make_item(code="tight_decision", period="2026")
    evidence.do_review_evidence(
        actor("commission"), item.pk, judgement="mostly", comment="部分落实"
    )
    year = parse_period("2026")
    d = queries.dashboard(year, Level.GROUP, home_group.pk, actor("commission"))
    rows = tight_rows(d)
    assert rows["tight_decision"]["status"] == "qualitative"
    assert rows["tight_decision"]["judgement"] == "基本达标"
    assert "佐证材料 1 份" in rows["tight_decision"]["reason"]
    assert rows["tight_resources"]["judgement"] == "未提交"
    for r in rows.values():  # never a number
        assert (r["numerator"], r["denominator"], r["value"]) == (None, None, None)
    flat = {row[1]: row for row in exports.rows(d)}
    assert flat["tight_decision"][9].startswith("定性评审：基本达标")
    assert flat["tight_decision"][5] is None


def test_the_county_counts_the_groups_by_judgement(actor, home_group, other_group, make_item):
    item = make_item(code="tight_services", period="2026")
    evidence.do_review_evidence(actor("commission"), item.pk, judgement="met")
    d = queries.dashboard(parse_period("2026"), Level.COUNTY, None, actor("commission"))
    row = tight_rows(d)["tight_services"]
    assert row["status"] == "qualitative"
    assert "达标 1" in row["judgement"] and "未提交" in row["judgement"]


def test_months_are_not_reviewed(actor, home_group):
    d = queries.dashboard(parse_period("2026-03"), Level.GROUP, home_group.pk, actor("commission"))
    assert {r["judgement"] for r in tight_rows(d).values()} == {"—"}
