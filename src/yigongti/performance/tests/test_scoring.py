"""Scoring the tiny hand-built group (indicators/tests/conftest.py) for 2025, every point
worked out by hand; missing data is missing; one grouped read per level; audited."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from yigongti.core.audit import AuditEntry
from yigongti.core.errors import DomainError
from yigongti.indicators.rules import parse_period
from yigongti.performance import queries

from .conftest import SYSTEM

# centre1 (测试一镇卫生院, township 测试一镇) for 2025, by hand:
# - htn_norm_rate at the facility: 1 of its 2 patients norm = 50.00; linear 60/20:
#   (50 − 20) ÷ 40 = 0.75 × 200 = 150.00
# - htn_control_rate at the facility: 2 of 2 = 100.00 ≥ 80 → 100.00
# - priority_contract_coverage in its township: a, b, e priority, e contracted on 2025-12-31:
#   1/3 = 33.33; linear 50/0: 0.6666 × 200 = 133.32
# - out_of_county_referral_share at the facility: 0 of its 2 upward referrals = 0.00, lower is
#   better, full at 0 → 100.00
# - chronic_hospitalisation_rate in its township: a and b managed, a hospitalised: 50.00;
#   lower is better, 10 full / 60 zero: (60 − 50) ÷ 50 = 0.2 × 100 = 20.00
# - tcm_visit_share: 未采集 → missing; tight_services: 未评审 → missing
# earned 503.32 of 700 available → 503.32 ÷ 700 × 1000 = 719.03
#
# centre2 (测试二镇卫生院): manages c (active, no follow-up) and d (exited 2025-06-30):
# norm 0/1 → 0, control 0/1 → 0; township 2: c priority, not contracted 0/1 → 0; no upward
# referral → 无数据 (missing); c managed and hospitalised 1/1 = 100 → 0; tcm, judgement missing
# earned 0 of 600 available (200 + 100 + 200 + 100) → 0.00
CENTRE1 = {
    "htn_norm_rate": ("scored", D(1), D(2), D("50.00"), D("150.00")),
    "htn_control_rate": ("scored", D(2), D(2), D("100.00"), D("100.00")),
    "priority_contract_coverage": ("scored", D(1), D(3), D("33.33"), D("133.32")),
    "out_of_county_referral_share": ("scored", D(0), D(2), D("0.00"), D("100.00")),
    "chronic_hospitalisation_rate": ("scored", D(1), D(2), D("50.00"), D("20.00")),
    "tcm_visit_share": ("not_collected", None, None, None, None),
    "tight_services": ("not_reviewed", None, None, None, None),
}
CENTRE2 = {
    "htn_norm_rate": ("scored", D(0), D(1), D("0.00"), D("0.00")),
    "htn_control_rate": ("scored", D(0), D(1), D("0.00"), D("0.00")),
    "priority_contract_coverage": ("scored", D(0), D(1), D("0.00"), D("0.00")),
    "out_of_county_referral_share": ("no_data", D(0), D(0), None, None),
    "chronic_hospitalisation_rate": ("scored", D(1), D(1), D("100.00"), D("0.00")),
    "tcm_visit_share": ("not_collected", None, None, None, None),
    "tight_services": ("not_reviewed", None, None, None, None),
}


def _rows(fac):
    return {
        r["code"]: (r["status"], r["numerator"], r["denominator"], r["value"], r["points"])
        for r in fac["rows"]
    }


def test_every_item_of_every_facility_is_the_hand_computed_one(scheme, built):
    t = queries.preview(SYSTEM, scheme.pk, "2025")
    facs = {f["facility_id"]: f for f in t["facilities"]}
    assert set(facs) == {built.centre1.pk, built.centre2.pk}  # the group's township centres
    c1, c2 = facs[built.centre1.pk], facs[built.centre2.pk]
    assert _rows(c1) == CENTRE1
    assert _rows(c2) == CENTRE2
    assert (c1["earned"], c1["available"], c1["normalised"], c1["missing"], c1["rank"]) == (
        D("503.32"), D(700), D("719.03"), 2, 1,
    )  # fmt: skip
    assert (c2["earned"], c2["available"], c2["normalised"], c2["missing"], c2["rank"]) == (
        D(0), D(600), D("0.00"), 3, 2,
    )  # fmt: skip
    assert [f["facility_id"] for f in t["facilities"]] == [built.centre1.pk, built.centre2.pk]


def test_missing_items_carry_their_reason(scheme, built):
    t = queries.preview(SYSTEM, scheme.pk, "2025")
    c2 = next(f for f in t["facilities"] if f["facility_id"] == built.centre2.pk)
    rows = {r["code"]: r for r in c2["rows"]}
    assert rows["tcm_visit_share"]["reason"] == "就诊记录未标识中医诊疗"
    assert rows["tcm_visit_share"]["status_label"] == "未采集"
    assert rows["out_of_county_referral_share"]["status_label"] == "无数据"
    assert rows["tight_services"]["status_label"] == "未评审"


def test_values_are_read_at_the_cell_the_item_names(scheme, built):
    t = queries.preview(SYSTEM, scheme.pk, "2025")
    c1 = next(f for f in t["facilities"] if f["facility_id"] == built.centre1.pk)
    cells = {r["code"]: (r["level"], r["unit_id"]) for r in c1["rows"]}
    assert cells["htn_norm_rate"] == ("facility", built.centre1.pk)
    assert cells["priority_contract_coverage"] == ("township", built.t1.pk)


def test_a_county_hospital_reads_its_group_and_a_clinic_its_village(built):
    hosp = {"kind": "county_hospital", "group_id": built.group.pk, "division_id": 1,
            "division__level": "county"}  # fmt: skip
    clinic = {"kind": "village_clinic", "group_id": built.group.pk,
              "division_id": built.v1.pk, "division__level": "village"}  # fmt: skip
    other = {"kind": "other", "group_id": None, "division_id": 1, "division__level": "county"}
    assert queries.area_cell(hosp) == ("group", built.group.pk)
    assert queries.area_cell(clinic) == ("village", built.v1.pk)
    assert queries.area_cell(other) is None


def test_scoring_is_set_based_whatever_the_number_of_facilities(scheme):
    with CaptureQueriesContext(connection) as ctx:
        queries.preview(SYSTEM, scheme.pk, "2025")
    # scheme, items, facilities, 2 × (facts, units, targets), refresh run, current snapshot,
    # audit — a constant, not one per facility
    assert len(ctx.captured_queries) <= 16, [q["sql"][:80] for q in ctx.captured_queries]


def test_a_preview_writes_one_audit_entry(scheme, actor):
    last = AuditEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    queries.preview(actor("commission"), scheme.pk, "2025")
    new = list(AuditEntry.objects.filter(pk__gt=last).values_list("action", "object_type"))
    assert new == [("read", "performance_preview")]


def test_the_period_must_match_the_scheme_grain(scheme):
    with pytest.raises(DomainError) as exc:
        queries.preview(SYSTEM, scheme.pk, "2025H1")
    assert exc.value.errors[0].field == "period"


def test_a_judgement_item_scores_the_review_of_the_groups_evidence(scheme, built, actor):
    from yigongti.accounts.rules import Role
    from yigongti.indicators import evidence
    from yigongti.indicators.tests.evidence_fixtures import _account, pdf

    admin = _account("tiny_admin", Role.GROUP_ADMIN, built.group)
    item = evidence.do_create_evidence(
        admin, code="tight_services", group_id=built.group.pk, period="2025",
        title="双向转诊与检查检验结果互认制度", description="上下联动",
        files=[evidence.Upload.of("制度.pdf", pdf())], submit=True,
    )  # fmt: skip
    evidence.do_review_evidence(actor("commission"), item.pk, judgement="mostly", comment="部分")
    t = queries.preview(SYSTEM, scheme.pk, "2025")
    facs = {f["facility_id"]: f for f in t["facilities"]}
    # 基本达标 = ½ of 200 = 100 for both township centres of the group (group-wide aspect):
    # centre1 503.32 + 100 = 603.32 of 900 → 670.36; centre2 100 of 800 → 125.00
    for fac in (built.centre1.pk, built.centre2.pk):
        row = next(r for r in facs[fac]["rows"] if r["code"] == "tight_services")
        assert (row["status"], row["points"]) == ("scored", D("100.00"))
    c1, c2 = facs[built.centre1.pk], facs[built.centre2.pk]
    assert (c1["earned"], c1["available"], c1["normalised"]) == (D("603.32"), D(900), D("670.36"))
    assert (c2["earned"], c2["available"], c2["normalised"]) == (D(100), D(800), D("125.00"))
    # a review of another period does not count for 2025
    assert (
        queries.judgement_fraction("tight_services", built.centre1.pk, parse_period("2025H2"))
        is None
    )
