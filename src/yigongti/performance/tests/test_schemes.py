"""Defining schemes: validation errors name the field and write nothing; activation needs
exactly 1000 points; who may manage which scheme."""

from __future__ import annotations

import pytest

from yigongti.core.audit import AuditEntry
from yigongti.core.errors import Conflict, DomainError, Forbidden
from yigongti.performance import actions
from yigongti.performance.actions import ItemInput
from yigongti.performance.models import ScoringItem, ScoringScheme

from .conftest import SYSTEM, scheme_input


def test_a_draft_may_be_incomplete_but_activation_needs_1000_points(built):
    data = scheme_input(built.group.pk)
    data.items = data.items[:3]  # 500 points
    s = actions.do_create_scheme(SYSTEM, data)
    assert s.status == "draft" and s.items.count() == 3
    with pytest.raises(DomainError) as exc:
        actions.do_set_scheme_status(SYSTEM, s.pk, "active")
    assert [e.field for e in exc.value.errors] == ["items"]
    assert "500" in exc.value.errors[0].msg_zh
    s.refresh_from_db()
    assert s.status == "draft"


@pytest.mark.parametrize(
    ("item", "field", "words"),
    [
        (ItemInput("no_such_indicator", 100), "items.0.code", "不在指标目录"),
        (ItemInput("", 100), "items.0.code", "请填写指标编码"),
        (ItemInput("htn_norm_rate", 0, full="60", zero="20"), "items.0.weight", "大于 0"),
        (ItemInput("htn_norm_rate", "abc", full="60", zero="20"), "items.0.weight", "数字"),
        (ItemInput("htn_norm_rate", "10.25", full="60", zero="20"), "items.0.weight", "一位小数"),
        # higher is better: full must be above zero
        (ItemInput("htn_norm_rate", 100, full="20", zero="60"), "items.0.full", "阈值颠倒"),
        # lower is better: full must be below zero
        (ItemInput("chronic_hospitalisation_rate", 100, basis="area", full="60", zero="10"),
         "items.0.full", "越低越好"),
        (ItemInput("htn_norm_rate", 100, full="60"), "items.0.zero", "零分阈值"),
        (ItemInput("htn_norm_rate", 100, full="160", zero="20"), "items.0.full", "100"),
        (ItemInput("htn_norm_rate", 100, rule="pass_fail"), "items.0.target", "目标值"),
        (ItemInput("htn_norm_rate", 100, rule="judgement"), "items.0.rule", "定性"),
        (ItemInput("tight_services", 100, full="1", zero="0"), "items.0.rule", "评审"),
        (ItemInput("htn_norm_rate", 100, rule="magic"), "items.0.rule", "无效"),
        # thresholds are numeric(12, 2): too large or too fine is refused, not a 500 later
        (ItemInput("outpatient_visits", 100, full="1e20", zero="0"), "items.0.full", "过大"),
        (ItemInput("htn_norm_rate", 100, full="60.125", zero="20"), "items.0.full", "两位小数"),
        (ItemInput("htn_control_rate", 100, rule="pass_fail", target="NaN"), "items.0.target",
         "数字"),
        # residence-attributed: no facility dimension
        (ItemInput("priority_contract_coverage", 100, full="60", zero="20"), "items.0.basis",
         "居住地"),
    ],
)  # fmt: skip
def test_bad_item_names_the_field_and_writes_nothing(built, item, field, words):
    data = scheme_input(built.group.pk, items=[item])
    before = (ScoringScheme.objects.count(), ScoringItem.objects.count())
    with pytest.raises(DomainError) as exc:
        actions.do_create_scheme(SYSTEM, data)
    assert field in [e.field for e in exc.value.errors]
    assert any(words in e.msg_zh for e in exc.value.errors if e.field == field)
    assert (ScoringScheme.objects.count(), ScoringItem.objects.count()) == before


def test_duplicate_item_is_named_at_its_second_place(built):
    data = scheme_input(
        built.group.pk,
        items=[ItemInput("htn_norm_rate", 100, full="60", zero="20"),
               ItemInput("htn_control_rate", 100, rule="pass_fail", target="60"),
               ItemInput("htn_norm_rate", 100, full="70", zero="20")],
    )  # fmt: skip
    with pytest.raises(DomainError) as exc:
        actions.do_create_scheme(SYSTEM, data)
    assert [e.field for e in exc.value.errors] == ["items.2.code"]
    assert "与第1项重复" in exc.value.errors[0].msg_zh


def test_pass_fail_may_use_the_indicator_target(built):
    data = scheme_input(built.group.pk, items=[ItemInput("primary_visit_share", 1000,
                                                         rule="pass_fail")])  # fmt: skip
    s = actions.do_create_scheme(SYSTEM, data)
    assert s.items.get().target is None  # the catalogue's 55 % is used when scoring


def test_scheme_name_is_unique(scheme, built):
    with pytest.raises(DomainError) as exc:
        actions.do_create_scheme(SYSTEM, scheme_input(built.group.pk))
    assert [e.field for e in exc.value.errors] == ["name"]


def test_an_active_scheme_must_keep_1000_points_when_edited(scheme, built):
    data = scheme_input(built.group.pk)
    data.items[0].weight = 150
    with pytest.raises(DomainError) as exc:
        actions.do_update_scheme(SYSTEM, scheme.pk, data)
    assert [e.field for e in exc.value.errors] == ["items"]
    assert "950" in exc.value.errors[0].msg_zh
    assert scheme.items.get(code="htn_norm_rate").weight == 200


def test_editing_replaces_the_items_and_is_audited(scheme, built, actor):
    data = scheme_input(built.group.pk)
    data.items[0].weight, data.items[1].weight = 250, 50
    before = AuditEntry.objects.count()
    actions.do_update_scheme(actor("commission"), scheme.pk, data)
    assert scheme.items.get(code="htn_norm_rate").weight == 250
    assert AuditEntry.objects.filter(
        pk__gt=before, action="update", object_type="scoring_scheme"
    ).exists()
    assert before < AuditEntry.objects.count()


def test_a_retired_scheme_is_read_only_and_only_drafts_are_deleted(scheme, built):
    with pytest.raises(Conflict):
        actions.do_delete_scheme(SYSTEM, scheme.pk)
    actions.do_set_scheme_status(SYSTEM, scheme.pk, "retired")
    with pytest.raises(Conflict):
        actions.do_update_scheme(SYSTEM, scheme.pk, scheme_input(built.group.pk))
    draft = actions.do_create_scheme(SYSTEM, scheme_input(None, name="草稿"))
    actions.do_delete_scheme(SYSTEM, draft.pk)
    assert not ScoringScheme.objects.filter(pk=draft.pk).exists()


def test_group_admin_manages_their_group_only_and_the_commission_everything(built, actor):
    admin = actor("group_admin")
    own = actions.do_create_scheme(admin, scheme_input(admin.group_id, name="本集团方案"))
    assert own.group_id == admin.group_id
    with pytest.raises(Forbidden):
        actions.do_create_scheme(admin, scheme_input(None, name="全县方案"))
    with pytest.raises(Forbidden):
        actions.do_create_scheme(admin, scheme_input(built.group.pk, name="别的集团"))
    county = actions.do_create_scheme(actor("commission"), scheme_input(None, name="全县方案"))
    with pytest.raises(Forbidden):
        actions.do_set_scheme_status(admin, county.pk, "retired")
    assert AuditEntry.objects.filter(username="group_admin", action="denied").count() == 3


@pytest.mark.parametrize(
    "who", ["outsider_doctor", "village_doctor", "township_doctor", "county_doctor", "pharmacist"]
)
def test_clinicians_and_outsiders_cannot_define_schemes(built, actor, who):
    with pytest.raises(Forbidden):
        actions.do_create_scheme(actor(who), scheme_input(None, name=f"{who}的方案"))
    assert not ScoringScheme.objects.filter(name=f"{who}的方案").exists()
