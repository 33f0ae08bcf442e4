"""Table-driven tests of DOMAIN.md §5 (national basic public-health service norm, 3rd ed.)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from yigongti.chronic import rules
from yigongti.chronic.rules import Classification as C
from yigongti.chronic.rules import Measurements as M

D = date(2026, 3, 1)
TWO_WEEKS = D + timedelta(days=14)
THREE_MONTHS = D + timedelta(days=90)


# "Controlled (SBP <140 and DBP <90) … → next routine follow-up (within 3 months).
#  First uncontrolled reading, or an adverse reaction → … within 2 weeks.
#  Two consecutive uncontrolled follow-ups, an adverse reaction hard to control, or new/worse
#  complications → refer upward, follow up within 2 weeks."
@pytest.mark.parametrize(
    ("sbp", "dbp", "prev", "adverse", "comp", "cls", "due"),
    [
        (139, 89, False, "none", "none", C.CONTROLLED, THREE_MONTHS),
        (140, 80, False, "none", "none", C.UNCONTROLLED, TWO_WEEKS),  # exactly 140: raised
        (130, 90, False, "none", "none", C.UNCONTROLLED, TWO_WEEKS),  # exactly 90: raised
        (139, 89, True, "none", "none", C.CONTROLLED, THREE_MONTHS),  # back on target
        (150, 95, True, "none", "none", C.REFER, TWO_WEEKS),  # two consecutive
        (120, 80, False, "present", "none", C.UNCONTROLLED, TWO_WEEKS),  # adverse reaction
        (120, 80, False, "hard", "none", C.REFER, TWO_WEEKS),
        (120, 80, False, "none", "new_or_worse", C.REFER, TWO_WEEKS),  # complication
        (120, 80, False, "none", "stable", C.CONTROLLED, THREE_MONTHS),
        (None, None, True, "none", "none", C.CONTROLLED, THREE_MONTHS),  # not measured
    ],
)
def test_hypertension_classification(sbp, dbp, prev, adverse, comp, cls, due):
    r = rules.classify_hypertension_followup(
        sbp,
        dbp,
        previous_uncontrolled=prev,
        visit_date=D,
        adverse_reaction=adverse,
        complication=comp,
    )
    assert r.classification == cls
    assert r.next_due == due
    assert (r.next_due - D).days == (14 if cls != C.CONTROLLED else 90)


# "controlled = fasting glucose <7.0 mmol/L; then the same three-way rule as hypertension"
@pytest.mark.parametrize(
    ("glucose", "prev", "comp", "cls", "due"),
    [
        (6.9, False, "none", C.CONTROLLED, THREE_MONTHS),
        (7.0, False, "none", C.UNCONTROLLED, TWO_WEEKS),  # exactly 7.0: not controlled
        (7.0, True, "none", C.REFER, TWO_WEEKS),
        (5.5, True, "none", C.CONTROLLED, THREE_MONTHS),
        (5.5, False, "new_or_worse", C.REFER, TWO_WEEKS),
    ],
)
def test_diabetes_classification(glucose, prev, comp, cls, due):
    r = rules.classify_diabetes_followup(
        glucose, previous_uncontrolled=prev, visit_date=D, complication=comp
    )
    assert (r.classification, r.next_due) == (cls, due)


# "Emergency referral when: SBP ≥180 and/or DBP ≥110; …; pregnant or breastfeeding with raised BP"
@pytest.mark.parametrize(
    ("m", "expected"),
    [
        (M(sbp=179, dbp=109), 0),
        (M(sbp=180, dbp=100), 1),  # exactly 180
        (M(sbp=150, dbp=110), 1),  # exactly 110
        (M(sbp=130, dbp=80, signs=frozenset({"chest_tightness", "orthopnea"})), 2),
        (M(sbp=140, dbp=80, pregnant_or_breastfeeding=True), 1),
        (M(sbp=139, dbp=89, pregnant_or_breastfeeding=True), 0),
        (M(sbp=120, dbp=80, signs=frozenset({"acetone_breath"})), 0),  # a diabetes sign only
    ],
)
def test_hypertension_emergency(m, expected):
    assert len(rules.emergency_referral_reasons("hypertension", m)) == expected


# "glucose ≥16.7 or ≤3.9 mmol/L; SBP ≥180 and/or DBP ≥110; … persistent heart rate >100/min;
#  temperature >39 °C; … raised glucose in pregnancy or breastfeeding"
@pytest.mark.parametrize(
    ("m", "expected"),
    [
        (M(glucose=16.6), 0),
        (M(glucose=16.7), 1),
        (M(glucose=3.9), 1),
        (M(glucose=4.0), 0),
        (M(glucose=6, heart_rate=100), 0),
        (M(glucose=6, heart_rate=101), 1),
        (M(glucose=6, temperature=39.0), 0),
        (M(glucose=6, temperature=39.1), 1),
        (M(glucose=6, sbp=180, dbp=90), 1),
        (M(glucose=7.0, pregnant_or_breastfeeding=True), 1),
        (M(glucose=6, signs=frozenset({"acetone_breath", "deep_breathing"})), 2),
    ],
)
def test_diabetes_emergency(m, expected):
    assert len(rules.emergency_referral_reasons("diabetes", m)) == expected


@pytest.mark.parametrize(
    ("sbp", "dbp", "raised", "high_normal"),
    [
        (140, 80, True, False),
        (139, 89, False, True),
        (129, 84, False, False),
        (130, 70, False, True),
    ],
)
def test_bp_bands(sbp, dbp, raised, high_normal):
    assert rules.bp_raised(sbp, dbp) is raised
    assert rules.bp_high_normal(sbp, dbp) is high_normal


@pytest.mark.parametrize(
    ("bmi", "waist", "sex", "n"),
    [
        (24.0, 80, "1", 1),
        (23.9, 90, "1", 1),
        (23.9, 89, "1", 0),
        (20, 85, "2", 1),
        (20, 84, "2", 0),
    ],
)
def test_high_risk_body(bmi, waist, sex, n):
    # "BMI ≥24, waist ≥90 cm men / ≥85 cm women"
    assert len(rules.high_risk_hypertension(120, 70, bmi, waist, sex)) == n


def _q(start: date, gaps: list[int]) -> list[date]:
    out = [start]
    for g in gaps:
        out.append(out[-1] + timedelta(days=g))
    return out


# "≥4 follow-ups a year, no gap over 3 months — configurable"
@pytest.mark.parametrize(
    ("dates", "ok"),
    [
        (_q(date(2026, 1, 10), [90, 90, 90]), True),
        (_q(date(2026, 1, 10), [92, 90, 90]), True),  # 92 days: still three months
        (_q(date(2026, 1, 10), [93, 90, 90]), False),
        (_q(date(2026, 1, 10), [60, 60]), False),  # three follow-ups only
        (_q(date(2026, 1, 10), [0, 60, 60]), False),  # same day twice counts once
    ],
)
def test_managed_to_norm(dates, ok):
    assert rules.managed_to_norm(dates) is ok


def test_rate_is_missing_without_denominator():
    assert rules.rate(0, 0) is None
    assert rules.rate(1, 3) == 33.3


def test_disease_added_by_configuration():
    rules.configure_diseases(
        {"ckd_test": {"name": "测试病", "control_measure": "bp", "emergency_signs": {"x": "某征"}}}
    )
    try:
        d = rules.DISEASES["ckd_test"]
        r = d.classify(M(sbp=150, dbp=80), previous_uncontrolled=True, visit_date=D)
        assert r.classification == C.REFER
        assert rules.emergency_referral_reasons(
            "ckd_test", M(sbp=120, dbp=70, signs=frozenset({"x"}))
        ) == ["某征"]
    finally:
        rules.DISEASES.pop("ckd_test")
