"""Pure rules of family-doctor contracts (DOMAIN.md §4). No database, no request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from yigongti.core.dates import age_on

#: DOMAIN.md §4: "Term: in principle at least one year".
MIN_TERM_YEARS = 1
#: Default contract term offered by the forms (years).
DEFAULT_TERM_YEARS = 1
#: Issue 4: "expiring contracts appear in the team's list 30 days ahead" — the default of the
#: configurable `settings.YGT["CONTRACT_EXPIRING_DAYS"]`.
DEFAULT_EXPIRING_DAYS = 30

#: Service types a package may promise, and how each is counted from the record (docs/contracts.md).
SERVICE_TYPES: dict[str, str] = {
    "annual_check": "年度健康体检",
    "home_visit": "上门服务",
    "bp_followup": "高血压随访",
    "glucose_followup": "糖尿病随访",
    "consultation": "团队机构就诊/咨询",
}
#: chronic-app disease → the follow-up service type it delivers.
FOLLOWUP_SERVICE = {"hypertension": "bp_followup", "diabetes": "glucose_followup"}

CONSENT_METHODS = ("paper", "online")


class RuleError(ValueError):
    def __init__(self, field: str, msg_zh: str, msg_en: str, code: str = "invalid"):
        super().__init__(msg_zh)
        self.field, self.msg_zh, self.msg_en, self.code = field, msg_zh, msg_en, code


def add_years(day: date, years: int) -> date:
    """The same calendar day `years` later (29 Feb → 28 Feb in a common year)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def term_end(start: date, years: int = DEFAULT_TERM_YEARS) -> date:
    """The last day of a term of whole years: a 1-year term from 2026-01-01 ends 2026-12-31."""
    return add_years(start, years) - timedelta(days=1)


def check_term(start: date, end: date) -> None:
    """DOMAIN.md §4: at least one year. A term from `start` through `end` (inclusive) must
    reach `term_end(start, 1)`."""
    if end < term_end(start, MIN_TERM_YEARS):
        raise RuleError(
            "end_date",
            "签约期限不得少于1年",
            "The contract term must be at least one year",
            "term_too_short",
        )


def parse_services(raw: object) -> list[dict[str, object]]:
    """Validate a package's promised services: a list of {service, count ≥ 1}, each service
    a known type, at most once."""
    if not isinstance(raw, list):
        raise RuleError("services", "服务项目格式错误", "services must be a list")
    out: list[dict[str, object]] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise RuleError(f"services.{i}", "服务项目格式错误", "Each service is an object")
        service = str(item.get("service", "")).strip()
        if service not in SERVICE_TYPES:
            raise RuleError(
                f"services.{i}.service", f"未知的服务项目：{service}", "Unknown service type"
            )
        if service in seen:
            raise RuleError(f"services.{i}.service", "服务项目重复", "Duplicate service type")
        seen.add(service)
        try:
            count = int(item.get("count", 0))
        except (TypeError, ValueError):
            count = 0
        if not 1 <= count <= 365:
            raise RuleError(
                f"services.{i}.count", "次数应为1至365", "count must be between 1 and 365"
            )
        out.append({"service": service, "count": count})
    return out


@dataclass(frozen=True)
class ContractYear:
    start: date
    end: date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def contract_year(start: date, end: date, today: date) -> ContractYear:
    """The contract year that contains `today` (the first year before the start, the last
    one after the end): year k runs from start + k years to the day before start + k+1."""
    k = max(0, today.year - start.year)
    while k > 0 and add_years(start, k) > today:
        k -= 1
    while add_years(start, k + 1) <= today:
        k += 1
    y_start = add_years(start, k)
    while k > 0 and y_start > end:  # past the end: show the last year
        k -= 1
        y_start = add_years(start, k)
    y_end = min(add_years(start, k + 1) - timedelta(days=1), end)
    return ContractYear(y_start, y_end)


def due_so_far(promised: int, year: ContractYear, today: date) -> int:
    """Pro-rata due count (docs/contracts.md): services promised per year × elapsed share of
    the contract year, rounded down. Nothing is due on the first day; all of it on the last."""
    if today < year.start:
        return 0
    elapsed = min((today - year.start).days + 1, year.days)
    if elapsed >= year.days:
        return promised
    return (promised * elapsed) // year.days


def overdue(promised: int, delivered: int, year: ContractYear, today: date) -> int:
    return max(0, due_so_far(promised, year, today) - delivered)


# --- priority groups (重点人群, DOMAIN.md §4) ---------------------------------------------

#: DOMAIN.md §4 priority groups, in its order. `source` says where the flag comes from;
#: None = the platform does not collect it yet ("未采集", reported as missing, never zero).
PRIORITY_GROUPS: dict[str, tuple[str, str | None]] = {
    "elderly": ("65岁及以上老年人", "出生日期"),
    "hypertension": ("高血压患者", "慢病登记 / 诊断 I10–I15"),
    "diabetes": ("糖尿病患者", "慢病登记 / 诊断 E10–E14"),
    "pregnant": ("孕产妇", "近280天诊断 Z33/Z34/O00–O99（女性）"),
    "child": ("0–6岁儿童", "出生日期"),
    "mental": ("严重精神障碍患者", "诊断 F20/F22/F25/F31"),
    "tuberculosis": ("肺结核患者", "诊断 A15–A19"),
    "disabled": ("残疾人", "健康档案残疾情况"),
    "poor": ("建档立卡贫困人口", None),
}
ELDERLY_AGE = 65  # DOMAIN.md §4: "people 65+"
CHILD_MAX_AGE = 6  # "children 0–6": up to the 7th birthday
PREGNANCY_WINDOW_DAYS = 280

#: ICD-10 prefixes that flag a group from a diagnosis on the record.
DIAGNOSIS_PREFIXES: dict[str, tuple[str, ...]] = {
    "hypertension": ("I10", "I11", "I12", "I13", "I15"),
    "diabetes": ("E10", "E11", "E12", "E13", "E14"),
    "mental": ("F20", "F22", "F25", "F31"),
    "tuberculosis": ("A15", "A16", "A17", "A18", "A19"),
    "pregnant": ("Z33", "Z34", "O"),
}


def age_groups(birth_date: date, today: date) -> set[str]:
    """The age-defined priority groups of a resident."""
    age = age_on(birth_date, today)
    out: set[str] = set()
    if age >= ELDERLY_AGE:
        out.add("elderly")
    if age <= CHILD_MAX_AGE:
        out.add("child")
    return out


def elderly_born_on_or_before(today: date) -> date:
    """People born on or before this day are 65+ today."""
    return add_years(today, -ELDERLY_AGE)


def child_born_after(today: date) -> date:
    """People born after this day are 0–6 today (they have not had their 7th birthday)."""
    return add_years(today, -(CHILD_MAX_AGE + 1))


def groups_of_codes(codes: list[str]) -> set[str]:
    out: set[str] = set()
    for group, prefixes in DIAGNOSIS_PREFIXES.items():
        if any(c.startswith(p) for c in codes for p in prefixes):
            out.add(group)
    return out
