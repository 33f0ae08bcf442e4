"""The tiny hand-built medical group of the indicators tests (one county hospital, two
township centres, one village clinic, activity in 2025) and a township-centre scheme over
it whose points the tests work out by hand."""

from __future__ import annotations

from typing import Any

import pytest

from yigongti.core.actor import Actor
from yigongti.indicators import facts
from yigongti.indicators.tests.conftest import *  # noqa: F403  (tiny, _long_history)
from yigongti.indicators.tests.conftest import YEAR_2025
from yigongti.performance import actions
from yigongti.performance.actions import ItemInput, SchemeInput
from yigongti.performance.models import ScoringScheme

SYSTEM = Actor.system("test")

#: (code, weight, rule, basis, full, zero, target) — see test_scoring.py for the points
TINY_ITEMS: list[tuple[Any, ...]] = [
    ("htn_norm_rate", 200, "linear", "facility", 60, 20, None),
    ("htn_control_rate", 100, "pass_fail", "facility", None, None, 80),
    ("priority_contract_coverage", 200, "linear", "area", 50, 0, None),
    ("out_of_county_referral_share", 100, "linear", "facility", 0, 50, None),
    ("chronic_hospitalisation_rate", 100, "linear", "area", 10, 60, None),
    ("tcm_visit_share", 100, "linear", "facility", 30, 0, None),
    ("tight_services", 200, "judgement", "facility", None, None, None),
]


def items(rows: list[tuple[Any, ...]]) -> list[ItemInput]:
    return [
        ItemInput(
            code=c, weight=w, rule=r, basis=b,
            full=None if f is None else str(f),
            zero=None if z is None else str(z),
            target=None if t is None else str(t),
        )
        for c, w, r, b, f, z, t in rows
    ]  # fmt: skip


def scheme_input(group_id: int | None, **kw: Any) -> SchemeInput:
    base: dict[str, Any] = {
        "name": "测试乡镇卫生院考核",
        "facility_kind": "township_centre",
        "grain": "Y",
        "group_id": group_id,
        "items": items(TINY_ITEMS),
    }
    base.update(kw)
    return SchemeInput(**base)


@pytest.fixture
def built(tiny: Any) -> Any:
    facts.rebuild_facts(YEAR_2025)
    return tiny


@pytest.fixture
def scheme(built: Any) -> ScoringScheme:
    """Active, 1000 points, scoped to the tiny group (its two township centres)."""
    s = actions.do_create_scheme(SYSTEM, scheme_input(built.group.pk))
    return actions.do_set_scheme_status(SYSTEM, s.pk, "active")
