"""Pure rules of chronic-disease management (DOMAIN.md §5, the national basic public-health
service norm, 3rd edition). No database, no request: plain values in, plain values out.

Diseases are data (`DISEASES`): a new one is a new `DiseaseDef` entry (or an entry in
`settings.YGT["CHRONIC_DISEASES"]`), with its control target, its emergency criteria and its
follow-up intervals. Hypertension and type 2 diabetes are the two the norm defines.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

# --- DOMAIN.md §5, hypertension -------------------------------------------------------------

#: "SBP ≥140 and/or DBP ≥90 mmHg" — raised / uncontrolled ("Controlled (SBP <140 and DBP <90)").
BP_SBP_TARGET = 140
BP_DBP_TARGET = 90
#: "Emergency referral when: SBP ≥180 and/or DBP ≥110".
BP_SBP_EMERGENCY = 180
BP_DBP_EMERGENCY = 110
#: "High-risk people (BP 130–139/85–89, BMI ≥24, waist ≥90 cm men / ≥85 cm women, …)".
BP_SBP_HIGH_NORMAL = 130
BP_DBP_HIGH_NORMAL = 85
HIGH_RISK_BMI = 24.0
HIGH_RISK_WAIST_MALE = 90.0
HIGH_RISK_WAIST_FEMALE = 85.0
#: "every resident 35+ gets one blood-pressure measurement a year".
SCREENING_AGE = 35
#: "SBP ≥140 and/or DBP ≥90 mmHg on three different days → hypertension".
CONFIRM_DAYS = 3
#: "High-risk people … are measured at least every 6 months".
HIGH_RISK_INTERVAL = timedelta(days=183)

# --- DOMAIN.md §5, type 2 diabetes ----------------------------------------------------------

#: "controlled = fasting glucose <7.0 mmol/L".
GLUCOSE_TARGET = 7.0
#: "Emergency referral: glucose ≥16.7 or ≤3.9 mmol/L".
GLUCOSE_EMERGENCY_HIGH = 16.7
GLUCOSE_EMERGENCY_LOW = 3.9
#: "persistent heart rate >100/min".
HEART_RATE_EMERGENCY = 100
#: "temperature >39 °C".
TEMPERATURE_EMERGENCY = 39.0

# --- DOMAIN.md §5, both ----------------------------------------------------------------------

#: "next routine follow-up (within 3 months)".
ROUTINE_INTERVAL = timedelta(days=90)
#: "First uncontrolled reading … follow up within 2 weeks";
#: "refer upward, follow up within 2 weeks".
SHORT_INTERVAL = timedelta(days=14)
#: "At least 4 face-to-face follow-ups a year" (规范管理, configurable).
NORM_FOLLOWUPS_PER_YEAR = 4
#: "no gap over 3 months" (configurable): 92 days covers any three calendar months.
NORM_MAX_GAP_DAYS = 92
#: A worklist shows what falls due within a week.
DUE_SOON = timedelta(days=7)


class Classification(StrEnum):
    CONTROLLED = "controlled"  # 1. 控制满意
    UNCONTROLLED = "uncontrolled"  # 2. 控制不满意（首次）/ 药物不良反应
    REFER = "refer"  # 3. 连续两次控制不满意 / 不良反应难以控制 / 新发或加重并发症 → 转诊


CLASSIFICATION_LABELS: dict[str, str] = {
    Classification.CONTROLLED: "控制满意",
    Classification.UNCONTROLLED: "控制不满意",
    Classification.REFER: "需转诊",
}

#: Worklist order: the riskier patient first.
RISK_RANK: dict[str, int] = {
    "": 1,
    Classification.CONTROLLED: 1,
    Classification.UNCONTROLLED: 2,
    Classification.REFER: 3,
}


class Complication(StrEnum):
    NONE = "none"
    STABLE = "stable"  # known, neither new nor worse
    NEW_OR_WORSE = "new_or_worse"


class AdverseReaction(StrEnum):
    NONE = "none"
    PRESENT = "present"  # adjust treatment → 2 weeks
    HARD_TO_CONTROL = "hard"  # → refer


@dataclass(frozen=True)
class FollowupResult:
    classification: Classification
    next_due: date
    reasons: tuple[str, ...]

    @property
    def label(self) -> str:
        return CLASSIFICATION_LABELS[self.classification]


# --- emergency criteria as data --------------------------------------------------------------

#: Hypertension, "altered consciousness, severe headache or dizziness, nausea/vomiting, blurred
#: vision, eye pain, palpitations, chest tightness, breathlessness lying flat; pregnant or
#: breastfeeding with raised BP; other conditions the clinic cannot handle".
HYPERTENSION_EMERGENCY_SIGNS: dict[str, str] = {
    "consciousness": "意识改变",
    "severe_headache": "剧烈头痛或头晕",
    "nausea_vomiting": "恶心呕吐",
    "blurred_vision": "视力模糊",
    "eye_pain": "眼痛",
    "palpitations": "心悸",
    "chest_tightness": "胸闷",
    "orthopnea": "喘憋不能平卧",
    "cannot_handle": "处理困难的其他情况",
}

#: Type 2 diabetes, "altered consciousness or behaviour, acetone breath, palpitations, sweating,
#: vomiting, polydipsia/polyuria, abdominal pain, deep breathing, flushed skin; … sudden vision
#: loss; … other conditions the clinic cannot handle".
DIABETES_EMERGENCY_SIGNS: dict[str, str] = {
    "consciousness": "意识或行为改变",
    "acetone_breath": "呼气有烂苹果样丙酮味",
    "palpitations": "心悸",
    "sweating": "出汗",
    "vomiting": "呕吐",
    "polydipsia_polyuria": "多饮多尿",
    "abdominal_pain": "腹痛",
    "deep_breathing": "深大呼吸",
    "flushed_skin": "皮肤潮红",
    "vision_loss": "视力骤降",
    "cannot_handle": "处理困难的其他情况",
}

#: Everyday symptoms a follow-up form asks about (not emergency criteria by themselves).
COMMON_SYMPTOMS: dict[str, str] = {
    "none": "无症状",
    "headache_dizziness": "头痛头晕",
    "tinnitus": "耳鸣",
    "numbness": "四肢发麻",
    "edema": "下肢水肿",
    "polydipsia": "多饮",
    "polyuria": "多尿",
    "polyphagia": "多食",
    "weight_loss": "体重下降",
    "vision_blur": "视力模糊",
    "infection": "感染",
}

ADHERENCE_LABELS: dict[str, str] = {"regular": "规律", "intermittent": "间断", "none": "不服药"}
DORSALIS_LABELS: dict[str, str] = {
    "": "未查",
    "normal": "触及正常",
    "weak": "减弱",
    "absent": "消失",
}


@dataclass(frozen=True)
class Measurements:
    """What a follow-up (or a home reading) measured; None = not measured."""

    sbp: float | None = None
    dbp: float | None = None
    glucose: float | None = None  # fasting, mmol/L
    heart_rate: float | None = None
    temperature: float | None = None
    pregnant_or_breastfeeding: bool = False
    signs: frozenset[str] = frozenset()


def bp_raised(sbp: float | None, dbp: float | None) -> bool:
    """SBP ≥140 and/or DBP ≥90 (DOMAIN.md §5). Unmeasured parts do not count."""
    return (sbp is not None and sbp >= BP_SBP_TARGET) or (dbp is not None and dbp >= BP_DBP_TARGET)


def bp_controlled(sbp: float | None, dbp: float | None) -> bool | None:
    """Controlled = SBP <140 and DBP <90; None when BP was not measured."""
    if sbp is None or dbp is None:
        return None
    return not bp_raised(sbp, dbp)


def bp_high_normal(sbp: float | None, dbp: float | None) -> bool:
    """BP 130–139 / 85–89: a high-risk sign (not raised)."""
    if bp_raised(sbp, dbp):
        return False
    return (sbp is not None and sbp >= BP_SBP_HIGH_NORMAL) or (
        dbp is not None and dbp >= BP_DBP_HIGH_NORMAL
    )


def glucose_controlled(glucose: float | None) -> bool | None:
    """Controlled = fasting glucose <7.0 mmol/L; None when not measured."""
    return None if glucose is None else glucose < GLUCOSE_TARGET


def high_risk_hypertension(
    sbp: float | None, dbp: float | None, bmi: float | None, waist: float | None, sex: str
) -> list[str]:
    """The high-risk reasons of DOMAIN.md §5 that apply (empty: not high-risk)."""
    out = []
    if bp_high_normal(sbp, dbp):
        out.append("血压130–139/85–89 mmHg")
    if bmi is not None and bmi >= HIGH_RISK_BMI:
        out.append("BMI≥24")
    limit = HIGH_RISK_WAIST_MALE if sex == "1" else HIGH_RISK_WAIST_FEMALE
    if waist is not None and waist >= limit:
        out.append(f"腰围≥{limit:g}cm")
    return out


def _bp_emergency(m: Measurements) -> list[str]:
    if (m.sbp is not None and m.sbp >= BP_SBP_EMERGENCY) or (
        m.dbp is not None and m.dbp >= BP_DBP_EMERGENCY
    ):
        return [f"收缩压≥{BP_SBP_EMERGENCY}和/或舒张压≥{BP_DBP_EMERGENCY} mmHg"]
    return []


def _signs(m: Measurements, table: Mapping[str, str]) -> list[str]:
    return [label for key, label in table.items() if key in m.signs]


def hypertension_emergency_reasons(m: Measurements) -> list[str]:
    """DOMAIN.md §5 hypertension: emergency referral criteria that apply."""
    out = _bp_emergency(m)
    out += _signs(m, HYPERTENSION_EMERGENCY_SIGNS)
    if m.pregnant_or_breastfeeding and bp_raised(m.sbp, m.dbp):
        out.append("妊娠或哺乳期血压升高")
    return out


def diabetes_emergency_reasons(m: Measurements) -> list[str]:
    """DOMAIN.md §5 type 2 diabetes: emergency referral criteria that apply."""
    out = []
    if m.glucose is not None and m.glucose >= GLUCOSE_EMERGENCY_HIGH:
        out.append(f"血糖≥{GLUCOSE_EMERGENCY_HIGH} mmol/L")
    if m.glucose is not None and m.glucose <= GLUCOSE_EMERGENCY_LOW:
        out.append(f"血糖≤{GLUCOSE_EMERGENCY_LOW} mmol/L")
    out += _bp_emergency(m)
    out += _signs(m, DIABETES_EMERGENCY_SIGNS)
    if m.heart_rate is not None and m.heart_rate > HEART_RATE_EMERGENCY:
        out.append(f"心率持续>{HEART_RATE_EMERGENCY}次/分")
    if m.temperature is not None and m.temperature > TEMPERATURE_EMERGENCY:
        out.append(f"体温>{TEMPERATURE_EMERGENCY:g}℃")
    if m.pregnant_or_breastfeeding and m.glucose is not None and m.glucose >= GLUCOSE_TARGET:
        out.append("妊娠或哺乳期血糖升高")
    return out


def _classify(
    controlled: bool | None,
    *,
    previous_uncontrolled: bool,
    adverse_reaction: str,
    complication: str,
    visit_date: date,
    what: str,
) -> FollowupResult:
    """The three-way rule of DOMAIN.md §5 (the same for hypertension and diabetes):
    1. controlled, no adverse reaction, no new/worse complication → routine, within 3 months;
    2. first uncontrolled, or an adverse reaction → adjust treatment, within 2 weeks;
    3. two consecutive uncontrolled, a hard-to-control adverse reaction, or a new/worse
       complication → refer upward, follow up within 2 weeks.
    A follow-up without the measurement counts neither as controlled nor as uncontrolled."""
    refer: list[str] = []
    if controlled is False and previous_uncontrolled:
        refer.append(f"连续两次{what}控制不满意")
    if adverse_reaction == AdverseReaction.HARD_TO_CONTROL:
        refer.append("药物不良反应难以控制")
    if complication == Complication.NEW_OR_WORSE:
        refer.append("出现新的并发症或原有并发症加重")
    if refer:
        return FollowupResult(Classification.REFER, visit_date + SHORT_INTERVAL, tuple(refer))
    adjust: list[str] = []
    if controlled is False:
        adjust.append(f"{what}控制不满意")
    if adverse_reaction == AdverseReaction.PRESENT:
        adjust.append("药物不良反应")
    if adjust:
        return FollowupResult(
            Classification.UNCONTROLLED, visit_date + SHORT_INTERVAL, tuple(adjust)
        )
    return FollowupResult(Classification.CONTROLLED, visit_date + ROUTINE_INTERVAL, ())


def classify_hypertension_followup(
    sbp: float | None,
    dbp: float | None,
    *,
    previous_uncontrolled: bool,
    visit_date: date,
    adverse_reaction: str = AdverseReaction.NONE,
    complication: str = Complication.NONE,
) -> FollowupResult:
    """DOMAIN.md §5 hypertension: controlled = SBP <140 and DBP <90."""
    return _classify(
        bp_controlled(sbp, dbp),
        previous_uncontrolled=previous_uncontrolled,
        adverse_reaction=adverse_reaction,
        complication=complication,
        visit_date=visit_date,
        what="血压",
    )


def classify_diabetes_followup(
    glucose: float | None,
    *,
    previous_uncontrolled: bool,
    visit_date: date,
    adverse_reaction: str = AdverseReaction.NONE,
    complication: str = Complication.NONE,
) -> FollowupResult:
    """DOMAIN.md §5 type 2 diabetes: controlled = fasting glucose <7.0 mmol/L."""
    return _classify(
        glucose_controlled(glucose),
        previous_uncontrolled=previous_uncontrolled,
        adverse_reaction=adverse_reaction,
        complication=complication,
        visit_date=visit_date,
        what="血糖",
    )


# --- diseases as data -------------------------------------------------------------------------


@dataclass(frozen=True)
class DiseaseDef:
    code: str  # our short key, stored on registrations
    name: str  # 中文名
    icd_prefixes: tuple[str, ...]
    #: "bp" or "glucose": which measurement decides control
    control_measure: str
    min_age: int = 0
    emergency_signs: Mapping[str, str] = field(default_factory=dict)
    control_label: str = "控制率"
    #: extra items on the follow-up form (e.g. dorsalis pedis for diabetes)
    extra_fields: tuple[str, ...] = ()

    def controlled(self, m: Measurements) -> bool | None:
        if self.control_measure == "bp":
            return bp_controlled(m.sbp, m.dbp)
        if self.control_measure == "glucose":
            return glucose_controlled(m.glucose)
        return None

    def emergency_reasons(self, m: Measurements) -> list[str]:
        return emergency_referral_reasons(self.code, m)

    def classify(
        self,
        m: Measurements,
        *,
        previous_uncontrolled: bool,
        visit_date: date,
        adverse_reaction: str = AdverseReaction.NONE,
        complication: str = Complication.NONE,
    ) -> FollowupResult:
        return _classify(
            self.controlled(m),
            previous_uncontrolled=previous_uncontrolled,
            adverse_reaction=adverse_reaction,
            complication=complication,
            visit_date=visit_date,
            what="血压" if self.control_measure == "bp" else "血糖",
        )


HYPERTENSION = "hypertension"
DIABETES = "diabetes"

DISEASES: dict[str, DiseaseDef] = {
    HYPERTENSION: DiseaseDef(
        HYPERTENSION,
        "高血压",
        ("I10", "I11", "I12", "I13", "I15"),
        "bp",
        min_age=SCREENING_AGE,
        emergency_signs=HYPERTENSION_EMERGENCY_SIGNS,
        control_label="血压控制率",
    ),
    DIABETES: DiseaseDef(
        DIABETES,
        "2型糖尿病",
        ("E11",),
        "glucose",
        emergency_signs=DIABETES_EMERGENCY_SIGNS,
        control_label="血糖控制率",
        extra_fields=("dorsalis_pedis",),
    ),
}

#: Emergency criteria by control measure, for diseases added by configuration.
_EMERGENCY_BY_DISEASE = {
    HYPERTENSION: hypertension_emergency_reasons,
    DIABETES: diabetes_emergency_reasons,
}


def emergency_referral_reasons(disease: str, m: Measurements) -> list[str]:
    """Which emergency-referral criteria of DOMAIN.md §5 the follow-up meets (empty: none).
    A disease added by configuration gets the criteria of its control measure plus its signs."""
    fn = _EMERGENCY_BY_DISEASE.get(disease)
    if fn is not None:
        return fn(m)
    d = DISEASES.get(disease)
    if d is None:
        return []
    base = (
        hypertension_emergency_reasons(Measurements(m.sbp, m.dbp))
        if d.control_measure == "bp"
        else diabetes_emergency_reasons(Measurements(glucose=m.glucose))
    )
    return base + _signs(m, d.emergency_signs)


def configure_diseases(extra: Mapping[str, Mapping[str, Any]] | None) -> None:
    """Add diseases from `settings.YGT["CHRONIC_DISEASES"]` ({code: {name, icd_prefixes,
    control_measure, min_age, emergency_signs}}). Called once at app start."""
    for code, spec in (extra or {}).items():
        if code in DISEASES:
            continue
        DISEASES[code] = DiseaseDef(
            code=code,
            name=str(spec["name"]),
            icd_prefixes=tuple(spec.get("icd_prefixes", ())),
            control_measure=str(spec.get("control_measure", "bp")),
            min_age=int(spec.get("min_age", 0)),
            emergency_signs=dict(spec.get("emergency_signs", {})),
            control_label=str(spec.get("control_label", "控制率")),
        )


def disease_choices() -> list[tuple[str, str]]:
    return [(d.code, d.name) for d in DISEASES.values()]


# --- managed to the norm ----------------------------------------------------------------------


def managed_to_norm(
    visit_dates: list[date],
    *,
    min_followups: int = NORM_FOLLOWUPS_PER_YEAR,
    max_gap_days: int = NORM_MAX_GAP_DAYS,
) -> bool:
    """规范管理 (DOMAIN.md §5, configurable): ≥4 follow-ups in the year and no gap over
    3 months between consecutive ones. The SQL of the indicator computes the same thing."""
    days = sorted(set(visit_dates))
    if len(days) < min_followups:
        return False
    return all((b - a).days <= max_gap_days for a, b in itertools.pairwise(days))


def rate(numerator: int, denominator: int) -> float | None:
    """A percentage with one decimal; None (shown as 'missing', never 0) without a denominator."""
    if not denominator:
        return None
    return round(100.0 * numerator / denominator, 1)


# --- home devices -----------------------------------------------------------------------------

DEVICE_TYPES: dict[str, str] = {"bp_meter": "电子血压计", "glucometer": "血糖仪"}

#: How many uncontrolled home readings within two weeks bring the next follow-up forward.
HOME_UNCONTROLLED_REPEAT = 2
HOME_WINDOW = timedelta(days=14)
