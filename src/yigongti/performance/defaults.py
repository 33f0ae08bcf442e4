"""Example schemes for the demo county (示例考核方案): one per facility kind, 1000 points each,
from the indicators the platform computes plus the qualitative 紧密型 items scored by
evidence review. Thresholds and weights are examples (DOMAIN.md §10: configurable); a county
edits them in the scheme editor.

`default_schemes()` is idempotent: a scheme that already exists (by name) is left as it is.
Call it after the county is built, e.g. from the demo command:

    from yigongti.performance.defaults import default_schemes
    default_schemes()                       # creates and activates the three schemes
    default_schemes(publish="2026H1")       # … and publishes that half-year's scores
    default_schemes(publish="last")         # … or the last ended half-year's

or `manage.py seed_performance_schemes [--publish 2026H1]`."""

from __future__ import annotations

from typing import Any

from yigongti.core.actor import Actor
from yigongti.network.models import FacilityKind

from . import actions, queries
from .actions import ItemInput, SchemeInput
from .models import SchemeGrain, SchemeStatus, ScoringScheme

L, P, J = "linear", "pass_fail", "judgement"
F, A = "facility", "area"

#: (code, weight, rule, basis, full, zero, target)
_TOWNSHIP: list[tuple[Any, ...]] = [
    ("htn_norm_rate", 150, L, F, 70, 30, None),
    ("htn_control_rate", 150, L, F, 60, 30, None),
    ("dm_norm_rate", 120, L, F, 70, 30, None),
    ("dm_control_rate", 100, L, F, 60, 30, None),
    ("priority_contract_coverage", 150, L, A, 75, 40, None),
    ("chronic_hospitalisation_rate", 80, L, A, 10, 30, None),
    ("out_of_county_referral_share", 50, L, F, 5, 30, None),
    ("shared_centre_services", 50, P, F, None, None, 10),
    ("tight_resources", 50, J, F, None, None, None),
    ("tight_decision", 50, J, F, None, None, None),
    ("tight_services", 50, J, F, None, None, None),
]
_VILLAGE: list[tuple[Any, ...]] = [
    ("htn_norm_rate", 200, L, A, 70, 30, None),
    ("htn_control_rate", 150, L, A, 60, 30, None),
    ("dm_norm_rate", 150, L, A, 70, 30, None),
    ("dm_control_rate", 100, L, A, 60, 30, None),
    ("priority_contract_coverage", 200, L, A, 75, 40, None),
    ("chronic_hospitalisation_rate", 100, L, A, 10, 30, None),
    ("tight_services", 100, J, F, None, None, None),
]
_HOSPITAL: list[tuple[Any, ...]] = [
    ("in_county_inpatient_share", 200, L, F, 90, 70, None),
    ("out_of_county_referral_share", 150, L, F, 10, 40, None),
    ("down_up_ratio", 150, L, A, "0.5", "0.1", None),
    ("primary_visit_share", 150, L, A, 65, 45, None),
    ("remote_consult_turnaround", 100, L, A, 24, 72, None),
    ("priority_contract_coverage", 100, L, A, 75, 40, None),
    ("tight_resources", 50, J, F, None, None, None),
    ("tight_decision", 50, J, F, None, None, None),
    ("tight_services", 50, J, F, None, None, None),
]

DEFAULTS: list[tuple[str, str, str, list[tuple[Any, ...]]]] = [
    ("乡镇卫生院千分制考核（示例）", FacilityKind.TOWNSHIP_CENTRE, SchemeGrain.HALF, _TOWNSHIP),
    ("村卫生室千分制考核（示例）", FacilityKind.VILLAGE_CLINIC, SchemeGrain.HALF, _VILLAGE),
    ("县级医院千分制考核（示例）", FacilityKind.COUNTY_HOSPITAL, SchemeGrain.HALF, _HOSPITAL),
]


def _items(rows: list[tuple[Any, ...]]) -> list[ItemInput]:
    return [
        ItemInput(
            code=str(code),
            weight=str(weight),
            rule=str(rule),
            basis=str(basis),
            full=None if full is None else str(full),
            zero=None if zero is None else str(zero),
            target=None if target is None else str(target),
        )
        for code, weight, rule, basis, full, zero, target in rows
    ]


def default_schemes(actor: Actor | None = None, publish: str | None = None) -> list[ScoringScheme]:
    """Create and activate the example schemes (county-wide) that do not exist yet; with
    `publish`, also publish that period's scores for each scheme not yet published for it
    ("last": the last ended half-year)."""
    actor = actor or Actor.system("performance-defaults")
    if publish == "last":
        publish = queries.last_closed_period(SchemeGrain.HALF)
    out = []
    for name, kind, grain, rows in DEFAULTS:
        scheme = ScoringScheme.objects.filter(name=name).first()
        if scheme is None:
            scheme = actions.do_create_scheme(
                actor,
                SchemeInput(
                    name=name,
                    facility_kind=kind,
                    grain=grain,
                    note="示例方案：权重与阈值可按本县考核办法修改（DOMAIN.md §10）",
                    items=_items(rows),
                ),
            )
            scheme = actions.do_set_scheme_status(actor, scheme.pk, SchemeStatus.ACTIVE)
        if publish and scheme.status == SchemeStatus.ACTIVE:
            already = scheme.snapshots.filter(period_code=publish, status="current").exists()
            if not already and scheme.grain == _grain_of(publish):
                actions.do_publish(actor, scheme.pk, publish)
        out.append(scheme)
    return out


def _grain_of(period_code: str) -> str:
    return SchemeGrain.HALF if "H" in period_code.upper() else SchemeGrain.YEAR
