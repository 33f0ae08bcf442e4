"""Pure rules of the health record: which measurements exist, their codes and units, the
range a real human reading can fall in, and prescription arithmetic. No database here.

The plausibility ranges are physical limits chosen by the platform (a reading outside them
is a typing or device error, not a patient): they are *not* the clinical thresholds of
DOMAIN.md §5, which live in the chronic app's rules. Codes are LOINC; DESIGN.md fixes the
blood-pressure panel 85354-9 (8480-6 / 8462-4, mm[Hg]) and fasting glucose 14771-0 (mmol/L).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

BP_PANEL = "85354-9"
SBP_CODE = "8480-6"
DBP_CODE = "8462-4"
FASTING_GLUCOSE_CODE = "14771-0"


@dataclass(frozen=True)
class Vital:
    kind: str
    code: str  # LOINC
    name: str  # 中文名
    unit: str  # UCUM code as FHIR writes it
    unit_label: str  # as a Chinese form prints it
    low: float  # plausibility range, inclusive
    high: float
    name_en: str


#: Every structured measurement the platform knows, by our short kind name.
VITALS: dict[str, Vital] = {
    v.kind: v
    for v in (
        # BP: `low`/`high` bound the systolic; the diastolic has its own bounds below.
        Vital("bp", BP_PANEL, "血压", "mm[Hg]", "mmHg", 50, 300, "blood pressure"),
        Vital("pulse", "8867-4", "心率", "/min", "次/分", 20, 250, "heart rate"),
        Vital("respiration", "9279-1", "呼吸频率", "/min", "次/分", 4, 80, "respiratory rate"),
        Vital("temperature", "8310-5", "体温", "Cel", "℃", 30, 45, "body temperature"),
        Vital("height", "8302-2", "身高", "cm", "cm", 30, 250, "body height"),
        Vital("weight", "29463-7", "体重", "kg", "kg", 0.5, 300, "body weight"),
        Vital("waist", "8280-0", "腰围", "cm", "cm", 30, 200, "waist circumference"),
        Vital("bmi", "39156-5", "体质指数", "kg/m2", "kg/m²", 8, 80, "body mass index"),
        Vital(
            "glucose_fasting",
            FASTING_GLUCOSE_CODE,
            "空腹血糖",
            "mmol/L",
            "mmol/L",
            1.0,
            60,
            "fasting glucose",
        ),
        Vital(
            "glucose_random",
            "15074-8",
            "随机血糖",
            "mmol/L",
            "mmol/L",
            1.0,
            60,
            "random glucose",
        ),
        Vital("hba1c", "4548-4", "糖化血红蛋白", "%", "%", 3, 20, "HbA1c"),
    )
}
DBP_LOW, DBP_HIGH = 20.0, 200.0
KIND_BY_CODE: dict[str, str] = {v.code: k for k, v in VITALS.items()}

#: How far a clock may run ahead of ours before a time counts as "in the future".
CLOCK_SKEW = timedelta(minutes=10)


class RuleError(ValueError):
    def __init__(self, field: str, code: str, msg_zh: str, msg_en: str):
        self.field = field
        self.code = code
        self.msg_zh = msg_zh
        self.msg_en = msg_en
        super().__init__(msg_en)


def _number(field: str, raw: object, label: str) -> float:
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise RuleError(
            field, "not_a_number", f"{label}须为数字", f"{field} must be a number"
        ) from None
    if not math.isfinite(value):
        raise RuleError(field, "not_a_number", f"{label}须为数字", f"{field} must be a number")
    return value


def check_vital(kind: str, value: object, value2: object = None) -> tuple[float, float | None]:
    """A measurement within the physically possible range, else RuleError naming the field.
    Blood pressure takes systolic `value` and diastolic `value2`."""
    vital = VITALS.get(kind)
    if vital is None:
        raise RuleError(
            "kind", "unknown_kind", f"未知的测量项目：{kind}", f"Unknown measurement {kind}"
        )
    if kind == "bp":
        sbp = _number("systolic", value, "收缩压")
        dbp = _number("diastolic", value2, "舒张压")
        if not vital.low <= sbp <= vital.high:
            raise RuleError(
                "systolic",
                "out_of_range",
                f"收缩压 {sbp:g} mmHg 超出可能范围（{vital.low:g}–{vital.high:g}），请核对",
                f"Systolic {sbp:g} mmHg is outside {vital.low:g}-{vital.high:g}",
            )
        if not DBP_LOW <= dbp <= DBP_HIGH:
            raise RuleError(
                "diastolic",
                "out_of_range",
                f"舒张压 {dbp:g} mmHg 超出可能范围（{DBP_LOW:g}–{DBP_HIGH:g}），请核对",
                f"Diastolic {dbp:g} mmHg is outside {DBP_LOW:g}-{DBP_HIGH:g}",
            )
        if dbp >= sbp:
            raise RuleError(
                "diastolic",
                "diastolic_not_below_systolic",
                "舒张压应低于收缩压，请核对",
                "Diastolic must be below systolic",
            )
        return sbp, dbp
    number = _number(kind, value, vital.name)
    if not vital.low <= number <= vital.high:
        raise RuleError(
            kind,
            "out_of_range",
            f"{vital.name} {number:g} {vital.unit_label} 超出可能范围"
            f"（{vital.low:g}–{vital.high:g}），请核对",
            f"{vital.name_en} {number:g} {vital.unit} is outside {vital.low:g}-{vital.high:g}",
        )
    return number, None


def bmi(weight_kg: float, height_cm: float) -> float:
    """体质指数 = kg / m², one decimal."""
    metres = height_cm / 100
    return round(weight_kg / (metres * metres), 1)


def check_clinical_time(
    field: str, when: datetime, *, now: datetime, birth_date: date, birth_day_start: datetime
) -> None:
    """A clinical time may not lie in the future (beyond clock skew) nor before birth."""
    if when > now + CLOCK_SKEW:
        raise RuleError(field, "in_future", "时间不能晚于当前时间", "Time is in the future")
    if when < birth_day_start:
        raise RuleError(
            field,
            "before_birth",
            f"时间早于居民出生日期（{birth_date:%Y-%m-%d}）",
            f"Time is before the resident's birth date {birth_date}",
        )


def check_clinical_date(field: str, day: date, *, today: date, birth_date: date) -> None:
    if day > today:
        raise RuleError(field, "in_future", "日期不能晚于今天", "Date is in the future")
    if day < birth_date:
        raise RuleError(
            field,
            "before_birth",
            f"日期早于居民出生日期（{birth_date:%Y-%m-%d}）",
            f"Date is before the resident's birth date {birth_date}",
        )


# ---------------------------------------------------------------------------------------------
# Prescriptions

#: Frequency codes doctors write (拉丁缩写) → (中文, administrations per day). `prn` (as
#: needed) has no daily count: its total quantity must be given.
FREQUENCIES: dict[str, tuple[str, float | None]] = {
    "qd": ("每日一次", 1),
    "bid": ("每日两次", 2),
    "tid": ("每日三次", 3),
    "qid": ("每日四次", 4),
    "qn": ("每晚一次", 1),
    "q12h": ("每12小时一次", 2),
    "q8h": ("每8小时一次", 3),
    "q6h": ("每6小时一次", 4),
    "qw": ("每周一次", 1 / 7),
    "biw": ("每周两次", 2 / 7),
    "st": ("立即一次", None),
    "prn": ("必要时", None),
}

ROUTES: dict[str, str] = {
    "po": "口服",
    "sl": "舌下含服",
    "iv": "静脉注射",
    "ivgtt": "静脉滴注",
    "im": "肌内注射",
    "sc": "皮下注射",
    "inh": "吸入",
    "top": "外用",
    "eye": "滴眼",
    "ear": "滴耳",
    "nas": "滴鼻",
}

#: Longest prescription in days: chronic-disease long prescriptions go up to 12 weeks.
MAX_DAYS = 84
MAX_DOSE = Decimal("10000")


def check_frequency(code: str) -> str:
    normal = code.strip().lower()
    if normal not in FREQUENCIES:
        raise RuleError(
            "frequency",
            "unknown_frequency",
            f"未知的用药频次：{code}（可用：{'、'.join(FREQUENCIES)}）",
            f"Unknown frequency {code}",
        )
    return normal


def check_route(code: str) -> str:
    normal = code.strip().lower()
    if normal and normal not in ROUTES:
        raise RuleError(
            "route", "unknown_route", f"未知的给药途径：{code}", f"Unknown route {code}"
        )
    return normal


def check_days(days: object) -> int:
    try:
        n = int(days)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise RuleError("days", "not_a_number", "天数须为整数", "days must be an integer") from None
    if not 1 <= n <= MAX_DAYS:
        raise RuleError(
            "days",
            "out_of_range",
            f"用药天数应在 1–{MAX_DAYS} 天之间",
            f"days must be between 1 and {MAX_DAYS}",
        )
    return n


def check_dose(dose: object) -> Decimal:
    try:
        value = Decimal(str(dose))
    except ArithmeticError:
        raise RuleError("dose", "not_a_number", "剂量须为数字", "dose must be a number") from None
    if not value.is_finite() or value <= 0 or value > MAX_DOSE:
        raise RuleError("dose", "out_of_range", "剂量须大于 0", "dose must be positive")
    return value


def total_quantity(dose: Decimal, frequency: str, days: int) -> Decimal | None:
    """Units to dispense when the dose is counted in the dispensing unit (e.g. 1 片 tid × 7
    days = 21 片); None when the frequency has no daily count (prn, st)."""
    per_day = FREQUENCIES[frequency][1]
    if per_day is None:
        return None
    return (dose * Decimal(str(per_day)) * days).quantize(Decimal("1"), rounding="ROUND_CEILING")


# ---------------------------------------------------------------------------------------------
# Uploaded text files (HIS exports, code tables): UTF-8 or GBK, never a mix.


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str  # "utf-8" or "gb18030"


def _try_decode(line: bytes, encoding: str) -> str | None:
    try:
        return line.decode(encoding)
    except UnicodeDecodeError:
        return None


def _looks_chinese(text: str) -> bool:
    """Most non-ASCII characters are CJK ideographs or CJK/full-width punctuation."""
    wide = [ch for ch in text if not ch.isascii()]
    cjk = sum(
        1
        for ch in wide
        if "\u4e00" <= ch <= "\u9fff" or "\u3000" <= ch <= "\u303f" or "\uff00" <= ch <= "\uffef"
    )
    return not wide or cjk * 2 >= len(wide)


def decode_upload(raw: bytes) -> Decoded:
    """Decode a file a hospital exported. Chinese Windows tools write GBK (read as its
    superset GB18030); newer ones UTF-8, sometimes with a BOM. Each line is tried on its own
    so that a file pasted together from both is refused with the line that differs, instead
    of importing mojibake."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    encodings: dict[str, int] = {}  # encoding → first line number using it
    lines = raw.split(b"\n")
    for number, line in enumerate(lines, start=1):
        if line.isascii():
            continue
        as_utf8 = _try_decode(line, "utf-8")
        as_gbk = _try_decode(line, "gb18030")
        # Short GBK runs can be valid UTF-8 by chance (血压 reads as Cyrillic): prefer the
        # reading that looks like Chinese.
        if as_utf8 is not None and (_looks_chinese(as_utf8) or as_gbk is None):
            encodings.setdefault("utf-8", number)
        elif as_gbk is not None:
            encodings.setdefault("gb18030", number)
        else:
            raise RuleError(
                "file",
                "bad_encoding",
                f"第 {number} 行既不是 UTF-8 也不是 GBK 编码，请另存为 UTF-8 后重试",
                f"Line {number} is neither UTF-8 nor GBK",
            )
    if len(encodings) > 1:
        raise RuleError(
            "file",
            "mixed_encoding",
            f"文件混用了 UTF-8 和 GBK 编码（第 {encodings['utf-8']} 行为 UTF-8，"
            f"第 {encodings['gb18030']} 行为 GBK），请统一另存为 UTF-8 后重试",
            "The file mixes UTF-8 and GBK lines",
        )
    encoding = next(iter(encodings), "utf-8")
    return Decoded(raw.decode(encoding), encoding)


def initials_of(text: str) -> str:
    """Pinyin initials of a Chinese term (高血压 → gxy), for search boxes."""
    from pypinyin import Style, lazy_pinyin

    letters = lazy_pinyin(text, style=Style.FIRST_LETTER, errors=lambda chars: chars)
    return "".join(ch for ch in "".join(letters).lower() if ch.isalnum())[:60]
