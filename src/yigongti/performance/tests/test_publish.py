"""Publishing freezes a period: later fact changes and scheme edits do not alter it;
publishing again needs a reason and keeps the previous snapshot; only active schemes and
ended periods; permissions."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from django.utils import timezone

from yigongti.contracts.models import Contract, ServicePackage, Team
from yigongti.core.audit import AuditEntry
from yigongti.core.errors import Conflict, DomainError, Forbidden
from yigongti.indicators import facts
from yigongti.indicators.tests.conftest import YEAR_2025, at
from yigongti.performance import actions, queries
from yigongti.performance.models import ScoreRow, ScoreSnapshot

from .conftest import SYSTEM, scheme_input


def _c1(table, built):
    return next(f for f in table["facilities"] if f["facility_id"] == built.centre1.pk)


def _points(fac, code):
    return next(r["points"] for r in fac["rows"] if r["code"] == code)


def test_published_scores_equal_the_preview_and_are_audited(scheme, built, actor):
    commission = actor("commission")
    live = queries.preview(commission, scheme.pk, "2025")
    before = AuditEntry.objects.count()
    snap = actions.do_publish(commission, scheme.pk, "2025")
    assert (
        AuditEntry.objects.filter(
            pk__gt=0, action="create", object_type="performance_snapshot", object_id=str(snap.pk)
        ).count()
        == 1
    )
    assert AuditEntry.objects.count() == before + 1
    table = queries.get_snapshot_for(commission, snap.pk)
    assert table["mode"] == "published"
    strip = ("name", "status_label", "unit", "unit_label")
    for a, b in zip(live["facilities"], table["facilities"], strict=True):
        assert {k: a[k] for k in ("facility_id", "earned", "available", "normalised", "rank")} == {
            k: b[k] for k in ("facility_id", "earned", "available", "normalised", "rank")
        }
        assert [{k: v for k, v in r.items() if k not in strip} for r in a["rows"]] == [
            {k: v for k, v in r.items() if k not in strip} for r in b["rows"]
        ]
    assert snap.items[0]["code"] == "htn_norm_rate" and snap.items[0]["weight"] == "200.0"
    assert snap.published_by_name == "commission"


def test_later_fact_changes_and_scheme_edits_do_not_alter_a_published_period(scheme, built):
    snap = actions.do_publish(SYSTEM, scheme.pk, "2025")
    # a's contract in force on 2025-12-31: township 1 coverage 2/3 = 66.67 → full 200 points
    team = Team.objects.get(name="测试团队")
    pkg = ServicePackage.objects.get(code="TBASIC")
    Contract.objects.create(
        resident=built.people["b"], team=team, package=pkg, status="active",
        start_date=date(2025, 7, 1), end_date=date(2026, 6, 30),
        consent_method="paper", consent_at=at(2025, 7, 1), signer_name="测试",
    )  # fmt: skip
    facts.rebuild_facts(YEAR_2025)
    # and the scheme changes its thresholds
    data = scheme_input(built.group.pk)
    data.items[0].full = "50"
    actions.do_update_scheme(SYSTEM, scheme.pk, data)

    live = _c1(queries.preview(SYSTEM, scheme.pk, "2025"), built)
    assert _points(live, "priority_contract_coverage") == D("200.00")
    assert _points(live, "htn_norm_rate") == D("200.00")  # 50 now at full
    frozen = _c1(queries.get_snapshot_for(SYSTEM, snap.pk), built)
    assert _points(frozen, "priority_contract_coverage") == D("133.32")
    assert _points(frozen, "htn_norm_rate") == D("150.00")
    assert (frozen["earned"], frozen["normalised"]) == (D("503.32"), D("719.03"))
    snap.refresh_from_db()
    assert snap.items[0]["full"] == "60.00"


@pytest.mark.parametrize(
    ("change", "field"),
    [({"group_id": None}, "group"), ({"facility_kind": "village_clinic"}, "facility_kind"),
     ({"grain": "H"}, "grain")],
)  # fmt: skip
def test_a_published_scheme_keeps_its_group_kind_and_grain(scheme, built, change, field):
    snap = actions.do_publish(SYSTEM, scheme.pk, "2025")
    with pytest.raises(Conflict) as exc:
        data = scheme_input(built.group.pk)
        for k, v in change.items():
            setattr(data, k, v)
        actions.do_update_scheme(SYSTEM, scheme.pk, data)
    assert [e.field for e in exc.value.errors] == [field]
    # the group's report still finds the snapshot, another group's does not
    assert list(queries.current_snapshots("2025", built.group.pk)) == [snap]
    assert list(queries.current_snapshots("2025", built.group.pk + 999)) == []


def test_publishing_a_published_period_again_needs_a_reason_and_keeps_the_old_one(
    scheme, built, actor
):
    first = actions.do_publish(SYSTEM, scheme.pk, "2025")
    with pytest.raises(Conflict) as exc:
        actions.do_publish(SYSTEM, scheme.pk, "2025")
    assert [e.field for e in exc.value.errors] == ["reason"]
    assert exc.value.extra == {"snapshot": first.pk}
    second = actions.do_publish(actor("commission"), scheme.pk, "2025", reason="补录随访后更正")
    first.refresh_from_db()
    assert (first.status, first.superseded_by_id) == ("superseded", second.pk)
    assert (second.status, second.reason) == ("current", "补录随访后更正")
    assert ScoreSnapshot.objects.filter(scheme=scheme, period_code="2025").count() == 2
    assert queries.current_snapshot_id(scheme.pk, "2025") == second.pk
    # the old rows are kept for audit
    assert ScoreRow.objects.filter(score__snapshot=first).count() == 2 * 7


def test_only_active_schemes_and_ended_periods_of_the_scheme_grain_are_published(scheme, built):
    with pytest.raises(DomainError) as exc:
        actions.do_publish(SYSTEM, scheme.pk, "2025H2")
    assert exc.value.errors[0].field == "period"
    running = str(timezone.localdate().year)
    with pytest.raises(DomainError) as exc:
        actions.do_publish(SYSTEM, scheme.pk, running)
    assert exc.value.errors[0].field == "period" and "尚未结束" in exc.value.errors[0].msg_zh
    actions.do_set_scheme_status(SYSTEM, scheme.pk, "draft")
    with pytest.raises(Conflict) as exc:
        actions.do_publish(SYSTEM, scheme.pk, "2025")
    assert exc.value.errors[0].field == "status"
    assert not ScoreSnapshot.objects.exists()


def test_group_admin_publishes_their_group_scheme_only(scheme, built, actor):
    admin = actor("group_admin")
    with pytest.raises(Forbidden):
        actions.do_publish(admin, scheme.pk, "2025")  # the tiny group is not theirs
    own = actions.do_create_scheme(admin, scheme_input(admin.group_id, name="本集团方案"))
    actions.do_set_scheme_status(admin, own.pk, "active")
    snap = actions.do_publish(admin, own.pk, "2025")
    assert snap.facilities.count() > 0
    assert set(snap.facilities.values_list("group_id_frozen", flat=True)) == {admin.group_id}
    # aggregates: the group admin reads the other group's published scores too
    assert queries.get_snapshot_for(admin, snap.pk)["mode"] == "published"


@pytest.mark.parametrize("who", ["outsider_doctor", "village_doctor", "township_doctor"])
def test_clinicians_and_outsiders_neither_publish_nor_read_scores(scheme, built, actor, who):
    snap = actions.do_publish(SYSTEM, scheme.pk, "2025")
    a = actor(who)
    with pytest.raises(Forbidden):
        actions.do_publish(a, scheme.pk, "2025", reason="x")
    with pytest.raises(Forbidden):
        queries.get_snapshot_for(a, snap.pk)
    with pytest.raises(Forbidden):
        queries.preview(a, scheme.pk, "2025")
    assert AuditEntry.objects.filter(username=who, action="denied").count() == 3
