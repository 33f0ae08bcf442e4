"""Monitoring indicators (监测指标, docs/indicators.md) as FHIR R4 `Measure` and
`MeasureReport`, so a city or provincial platform can pull definitions and values.

- One `Measure` per catalogue entry (indicators.catalogue): id = the indicator code with "-"
  for "_" (FHIR ids allow no underscore; the code itself is the identifier), title and
  description in Chinese, scoring from the unit, improvementNotation from the direction, one
  group whose populations carry the numerator and denominator wording, topic = the aspect
  (five national aspects and the classic figures). An indicator the platform does not
  collect is status `draft` with the reason in `purpose` and an extension.
- A `MeasureReport` is computed on the fly from the fact layer (indicators.queries.value_of,
  the same numbers as the dashboard) for one whole reporting period and one reporting unit
  (the county, a medical group or facility as Organization, a township or village as
  Location). `summary` gives the population counts and the score; `subject-list` adds
  contained `List`s of the Patients counted, read through the indicators drill-down (scoped
  to the viewer, paged, audited).
- Never 0 for missing (DOMAIN.md §10): a not-collected indicator (or one that has no value at
  the unit's level) is a MeasureReport with status `error`, no counts, and a measureScore
  carrying only the data-absent-reason extension; a rate whose denominator is 0 is `complete`
  with the counts 0 and 0 and an absent score.

Nothing here reads a request; measure_views.py has the endpoints."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.utils import timezone

from yigongti.core import audit
from yigongti.core.actor import Actor
from yigongti.core.errors import DomainError, NotFound
from yigongti.indicators import catalogue, queries
from yigongti.indicators.catalogue import ATTRIBUTION_LABELS, IndicatorDef
from yigongti.indicators.rules import (
    UNIT_LABELS,
    Direction,
    Grain,
    Level,
    Period,
    Unit,
    parse_period,
    period_of,
)
from yigongti.network.models import Division

from . import systems
from .clinical import local_time
from .locations import division_by_code, location_ref
from .mapping import ID_RE, JSON, facility_resource_id, group_resource_id
from .outcome import FhirError, Issue
from .reads import facility_by_resource_id, group_by_resource_id
from .search import date_range

MEASURE_SCORING = "http://terminology.hl7.org/CodeSystem/measure-scoring"
MEASURE_POPULATION = "http://terminology.hl7.org/CodeSystem/measure-population"
IMPROVEMENT = "http://terminology.hl7.org/CodeSystem/measure-improvement-notation"
DATA_ABSENT = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
LIST_EMPTY = "http://terminology.hl7.org/CodeSystem/list-empty-reason"
ISO_4217 = "urn:iso:std:iso:4217"

#: At most this many records per contained List of a subject-list report (`_count` lowers it).
SUBJECT_LIST_MAX = 1000


# --- URIs (under settings.YGT["IDENTIFIER_BASE"], listed in docs/fhir.md) ------------------


def indicator_system() -> str:
    """指标编码: the catalogue code (primary_visit_share …), Measure.identifier."""
    return f"{systems.base()}/indicator"


def aspect_system() -> str:
    """指标维度: tight 紧密型 | homogeneous 同质化 | division 促分工 | efficiency 提效能 |
    health 保健康 | classic 常用监测指标."""
    return f"{systems.base()}/indicator-aspect"


def value_status_system() -> str:
    """指标值状态: ok 已计算 | no_data 无数据 | not_collected 未采集 | not_applicable 不适用."""
    return f"{systems.base()}/indicator-value-status"


def not_collected_extension() -> str:
    """On Measure: why the platform does not collect the indicator (valueString)."""
    return f"{systems.base()}/ext/indicator-not-collected"


def value_status_extension() -> str:
    """On MeasureReport: the value's status (valueCoding, …/indicator-value-status)."""
    return f"{systems.base()}/ext/indicator-value-status"


def value_reason_extension() -> str:
    """On MeasureReport: why there is no value (valueString)."""
    return f"{systems.base()}/ext/indicator-value-reason"


def target_extension() -> str:
    """On MeasureReport.group: the local target (valueQuantity)."""
    return f"{systems.base()}/ext/indicator-target"


def target_met_extension() -> str:
    """On MeasureReport.group: whether the score meets the target (valueBoolean)."""
    return f"{systems.base()}/ext/indicator-target-met"


def observation_total_extension() -> str:
    """On a continuous-variable measure-observation population: the sum the score averages
    (hours, yuan) as valueQuantity."""
    return f"{systems.base()}/ext/measure-observation-total"


def counted_record_extension() -> str:
    """On List.entry: the record counted (Encounter, ServiceRequest, CarePlan) as
    valueReference; the entry's item is its Patient."""
    return f"{systems.base()}/ext/counted-record"


def next_page_extension() -> str:
    """On a truncated List: the URL of the next page of the same report (valueUri)."""
    return f"{systems.base()}/ext/next-page"


# --- ids ------------------------------------------------------------------------------


def measure_id(code: str) -> str:
    """primary_visit_share → primary-visit-share (FHIR ids have no "_")."""
    return code.replace("_", "-")


def measure_url(base: str, defn: IndicatorDef) -> str:
    return f"{base}/Measure/{measure_id(defn.code)}"


def def_for(key: str) -> IndicatorDef | None:
    """A Measure id, `Measure/<id>`, its canonical URL, or the indicator code → the entry."""
    key = key.strip().rstrip("/")
    if "/Measure/" in key or key.startswith("Measure/"):
        key = key.rsplit("/", 1)[1]
    key = key.split("|", 1)[0]  # a canonical may carry |version
    found = catalogue.get(key)
    if found is not None:
        return found
    return next((d for d in catalogue.all_defs() if measure_id(d.code) == key), None)


def get_def(key: str) -> IndicatorDef:
    d = def_for(key)
    if d is None:
        raise NotFound("指标")
    return d


def machine_name(code: str) -> str:
    """primary_visit_share → PrimaryVisitShare (Measure.name, computer friendly)."""
    return "".join(p[:1].upper() + p[1:] for p in re.split(r"[_\-]", code) if p)


# --- scoring and units ------------------------------------------------------------------

SCORING: dict[Unit, str] = {
    Unit.PERCENT: "proportion",
    Unit.PERMILLE: "proportion",
    Unit.PER_10K: "ratio",
    Unit.RATIO: "ratio",
    Unit.COUNT: "cohort",
    Unit.HOURS: "continuous-variable",
    Unit.YUAN: "continuous-variable",
}
SCORING_DISPLAY = {
    "proportion": "Proportion",
    "ratio": "Ratio",
    "cohort": "Cohort",
    "continuous-variable": "Continuous Variable",
}

#: Per scoring: the populations a report carries, each with the part of the indicator
#: (numerator / denominator) whose rows and count it is.
POPULATIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "proportion": (
        ("initial-population", "denominator"),
        ("denominator", "denominator"),
        ("numerator", "numerator"),
    ),
    "ratio": (
        ("initial-population", "denominator"),
        ("denominator", "denominator"),
        ("numerator", "numerator"),
    ),
    "cohort": (("initial-population", "numerator"),),
    "continuous-variable": (
        ("initial-population", "denominator"),
        ("measure-population", "denominator"),
        ("measure-observation", "numerator"),
    ),
}
POPULATION_DISPLAY = {
    "initial-population": "Initial Population",
    "denominator": "Denominator",
    "numerator": "Numerator",
    "measure-population": "Measure Population",
    "measure-observation": "Measure Observation",
}

#: Unit → (UCUM system or other, code) of measureScore; the unit text is UNIT_LABELS.
SCORE_CODES: dict[Unit, tuple[str, str]] = {
    Unit.PERCENT: (systems.UCUM, "%"),
    Unit.PERMILLE: (systems.UCUM, "[ppth]"),
    Unit.PER_10K: (systems.UCUM, "/10*4"),
    Unit.RATIO: (systems.UCUM, "1"),
    Unit.COUNT: (systems.UCUM, "1"),
    Unit.HOURS: (systems.UCUM, "h"),
    Unit.YUAN: (ISO_4217, "CNY"),
}

VALUE_STATUS_LABELS = {
    "ok": "已计算",
    "no_data": "无数据",
    "not_collected": "未采集",
    "not_applicable": "不适用",
}


def scoring_of(defn: IndicatorDef) -> str:
    return SCORING[defn.unit]


def _quantity(unit: Unit, value: Decimal | int) -> JSON:
    system, code = SCORE_CODES[unit]
    return {"value": _number(value), "unit": UNIT_LABELS[unit], "system": system, "code": code}


def _number(v: Decimal | int) -> int | float:
    d = Decimal(v)
    return int(d) if d == d.to_integral_value() else float(d)


def _count(v: Decimal | None) -> int | None:
    """A population count is an integer; a sum (hours) is not one."""
    if v is None or v != v.to_integral_value():
        return None
    return int(v)


def _improvement(direction: Direction) -> JSON | None:
    code = {Direction.HIGHER: "increase", Direction.LOWER: "decrease"}.get(direction)
    if code is None:
        return None
    display = (
        "Increased score indicates improvement"
        if code == "increase"
        else ("Decreased score indicates improvement")
    )
    text = "越高越好" if code == "increase" else "越低越好"
    return {"coding": [{"system": IMPROVEMENT, "code": code, "display": display}], "text": text}


def _population_code(code: str) -> JSON:
    return {
        "coding": [
            {"system": MEASURE_POPULATION, "code": code, "display": POPULATION_DISPLAY[code]}
        ]
    }


# --- Measure -----------------------------------------------------------------------------


def _part_text(defn: IndicatorDef, part: str, population: str) -> str:
    text = defn.numerator_text if part == "numerator" else defn.denominator_text
    if population == "measure-observation":
        return f"{text}（合计；得分 = 合计 ÷ {defn.denominator_text}）"
    return text


def _guidance(defn: IndicatorDef) -> str:
    parts = [f"数据来源：{defn.source_text}。", f"单位：{UNIT_LABELS[defn.unit]}。"]
    if defn.collected:
        parts.append(f"归属：{ATTRIBUTION_LABELS.get(defn.attribution, defn.attribution)}；")
        parts.append("按月可加。" if defn.additive else "期末状态指标，按期计算。")
    if defn.target is not None:
        parts.append(f"默认目标：{_number(defn.target)}{UNIT_LABELS[defn.unit]}（地方可配置）。")
    parts.append("统计期：月、季度、半年、年。未采集的数据报告为缺失，不报 0。")
    return "".join(parts)


def measure(defn: IndicatorDef, base: str) -> JSON:
    """One catalogue entry as an R4 Measure."""
    scoring = scoring_of(defn)
    out: JSON = {"resourceType": "Measure", "id": measure_id(defn.code)}
    if not defn.collected:
        out["extension"] = [{"url": not_collected_extension(), "valueString": defn.missing_reason}]
    out["url"] = measure_url(base, defn)
    out["identifier"] = [{"use": "official", "system": indicator_system(), "value": defn.code}]
    out["name"] = machine_name(defn.code)
    out["title"] = defn.name
    out["status"] = "active" if defn.collected else "draft"
    out["experimental"] = False
    out["publisher"] = "医共体平台 Yigongti"
    out["description"] = defn.definition
    if not defn.collected:
        out["purpose"] = f"未采集：{defn.missing_reason}"
    out["topic"] = [
        {
            "coding": [
                {"system": aspect_system(), "code": defn.aspect, "display": defn.aspect_label}
            ],
            "text": defn.aspect_label,
        }
    ]
    out["scoring"] = {
        "coding": [
            {"system": MEASURE_SCORING, "code": scoring, "display": SCORING_DISPLAY[scoring]}
        ]
    }
    improvement = _improvement(defn.direction)
    if improvement is not None:
        out["improvementNotation"] = improvement
    out["guidance"] = _guidance(defn)
    populations = []
    for code, part in POPULATIONS[scoring]:
        criteria: JSON = {"language": "text/plain", "description": _part_text(defn, part, code)}
        labels = [s.label for s in defn.sources(part)]
        if labels:
            criteria["expression"] = "；".join(labels)
        populations.append(
            {
                "id": code,
                "code": _population_code(code),
                "description": _part_text(defn, part, code),
                "criteria": criteria,
            }
        )
    out["group"] = [{"id": "main", "description": defn.name, "population": populations}]
    return out


# --- periods -----------------------------------------------------------------------------


def _param_error(param: str, msg_zh: str, msg_en: str, code: str = "invalid") -> FhirError:
    return FhirError(
        400,
        Issue(code, f"参数 {param}：{msg_zh}", f"Parameter {param}: {msg_en}", param, code),
    )


def _day(text: str, param: str, *, last: bool) -> date:
    if not text:
        raise _param_error(param, "必填", "is required", "required")
    try:
        first, final = date_range(text.strip())
    except ValueError:
        raise _param_error(
            param,
            f"日期“{text}”应为 YYYY、YYYY-MM 或 YYYY-MM-DD",
            f"'{text}' must be YYYY, YYYY-MM or YYYY-MM-DD",
        ) from None
    return final if last else first


def whole_period(start: date, end: date, start_param: str, end_param: str) -> Period:
    """The month, quarter, half-year or year that runs exactly from start to end."""
    if start.day != 1:
        raise _param_error(
            start_param,
            "统计期应从月、季度、半年或年的第一天开始",
            "a reporting period starts on the first day of a month, quarter, half or year",
        )
    for grain in Grain:
        p = period_of(grain, start)
        if p.start == start and p.end == end:
            if not 2000 <= start.year <= 2100:
                break
            return p
    raise _param_error(
        end_param,
        "统计期应为完整的月、季度、半年或年（如 2025-01-01 至 2025-03-31）",
        "the period must be one whole month, quarter, half-year or year "
        "(e.g. 2025-01-01 to 2025-03-31)",
    )


def period_from_bounds(start_text: str, end_text: str) -> Period:
    """$evaluate-measure's periodStart and periodEnd (dates of any precision: 2025 to 2025
    is the year, 2025-01 to 2025-03 the first quarter)."""
    start = _day(start_text, "periodStart", last=False)
    end = _day(end_text, "periodEnd", last=True)
    return whole_period(start, end, "periodStart", "periodEnd")


_PREFIX = re.compile(r"^(eq|ge|le|gt|lt|ne|sa|eb|ap)?(.*)$")


def period_from_search(values: list[str]) -> Period:
    """MeasureReport?period=…: `2025`, `2025-03`, `2025Q1`, `2025H2` (the period itself), or
    a pair `ge2025-01-01` and `le2025-03-31` bounding one whole period."""
    bounds: dict[str, str] = {}
    for raw in values:
        m = _PREFIX.match(raw.strip())
        prefix, text = (m.group(1) or "eq", m.group(2)) if m else ("eq", raw)
        if prefix not in ("eq", "ge", "le") or prefix in bounds:
            raise _param_error(
                "period",
                "应为一个统计期（2025、2025-03、2025Q1、2025H1）或 ge…&le… 一对边界",
                "use one period (2025, 2025-03, 2025Q1, 2025H1) or one ge…/le… pair",
            )
        bounds[prefix] = text
    if "eq" in bounds:
        if len(bounds) > 1:
            raise _param_error("period", "不能同时给出统计期和边界", "give a period or bounds")
        text = bounds["eq"]
        try:
            if re.match(r"^\d{4}(-\d{2})?$", text):
                start, end = date_range(text)
                return whole_period(start, end, "period", "period")
            return parse_period(text)
        except (DomainError, ValueError):
            raise _param_error(
                "period",
                f"“{text}”不是统计期（应为 2025、2025-03、2025Q1 或 2025H1）",
                f"'{text}' is not a reporting period (2025, 2025-03, 2025Q1 or 2025H1)",
            ) from None
    if set(bounds) != {"ge", "le"}:
        raise _param_error("period", "ge 与 le 需成对给出", "give both ge… and le…")
    return whole_period(
        _day(bounds["ge"], "period", last=False),
        _day(bounds["le"], "period", last=True),
        "period",
        "period",
    )


# --- reporting units ----------------------------------------------------------------------


@dataclass(frozen=True)
class ReportUnit:
    """Whose figures: the county, a medical group, a facility, a township or a village."""

    level: Level
    unit_id: int | None
    key: str  # in MeasureReport ids: county | group-<code> | <facility id> | location-<code>
    ref: JSON  # MeasureReport.reporter


LOCATION_KEY = "location-"
_DIVISION_LEVEL = {"county": Level.COUNTY, "township": Level.TOWNSHIP, "village": Level.VILLAGE}


def county_unit() -> ReportUnit:
    county = Division.objects.filter(level="county").order_by("code").first()
    ref = location_ref(county) if county else {"display": "全县"}
    return ReportUnit(Level.COUNTY, None, "county", ref)


def _division_unit(division: Division | None, param: str) -> ReportUnit:
    level = _DIVISION_LEVEL.get(division.level) if division else None
    if division is None or level is None:
        raise _param_error(
            param,
            "找不到该县、乡镇或村（Location/<区划代码>）",
            "no county, township or village Location with that code",
        )
    if level == Level.COUNTY:
        return ReportUnit(Level.COUNTY, None, "county", location_ref(division))
    return ReportUnit(level, division.pk, f"{LOCATION_KEY}{division.code}", location_ref(division))


def _organization_unit(actor: Actor, key: str, param: str) -> ReportUnit:
    group = group_by_resource_id(actor, key)
    if group is not None:
        ref = {"reference": f"Organization/{group_resource_id(group)}", "display": group.name}
        return ReportUnit(Level.GROUP, group.pk, group_resource_id(group), ref)
    facility = facility_by_resource_id(actor, key)
    if facility is not None:
        fid = facility_resource_id(facility)
        ref = {"reference": f"Organization/{fid}", "display": facility.name}
        return ReportUnit(Level.FACILITY, facility.pk, fid, ref)
    raise _param_error(
        param,
        "找不到该医共体或机构（Organization/group-<编码> 或 Organization/<机构编码>）",
        "no medical group or facility Organization with that id",
    )


def resolve_unit(actor: Actor, value: str, param: str = "subject") -> ReportUnit:
    """`subject` (or `reporter`): empty → the county; Organization/group-<code> → a medical
    group; Organization/<facility id> → a facility; Location/<division code> → the county, a
    township or a village."""
    value = value.strip()
    if not value:
        return county_unit()
    kind, _, key = value.rpartition("/")
    kind = kind.rsplit("/", 1)[-1]
    if kind == "Organization":
        return _organization_unit(actor, key, param)
    if kind == "Location":
        return _division_unit(division_by_code(key), param)
    raise _param_error(
        param,
        "应为 Organization/<医共体或机构> 或 Location/<乡镇或村的区划代码>",
        "must be Organization/<group or facility> or Location/<township or village code>",
        "not-supported",
    )


def unit_from_key(actor: Actor, key: str) -> ReportUnit:
    if key == "county":
        return county_unit()
    if key.startswith(LOCATION_KEY):
        return _division_unit(division_by_code(key[len(LOCATION_KEY) :]), "id")
    return _organization_unit(actor, key, "id")


def report_id(defn: IndicatorDef, period: Period, unit: ReportUnit) -> str:
    """`<measure id>.<period code>.<unit key>`; a unit whose code makes that longer than a
    FHIR id allows is keyed by its row id (`group-<n>`, `facility-<n>`)."""
    head = f"{measure_id(defn.code)}.{period.code}"
    rid = f"{head}.{unit.key}"
    if not ID_RE.match(rid) and unit.unit_id is not None:
        if unit.level == Level.GROUP:
            rid = f"{head}.group-{unit.unit_id}"
        elif unit.level == Level.FACILITY:
            rid = f"{head}.facility-{unit.unit_id}"
    return rid if ID_RE.match(rid) else head[:64]


def parse_report_id(actor: Actor, rid: str) -> tuple[IndicatorDef, Period, ReportUnit]:
    """`<measure id>.<period code>.<unit key>` back to what it reports; NotFound otherwise."""
    parts = rid.split(".", 2)
    if len(parts) != 3:
        raise NotFound("指标报告")
    defn = def_for(parts[0])
    if defn is None or measure_id(defn.code) != parts[0]:
        raise NotFound("指标报告")
    try:
        period = parse_period(parts[1])
        unit = unit_from_key(actor, parts[2])
    except (DomainError, FhirError):
        raise NotFound("指标报告") from None
    return defn, period, unit


# --- MeasureReport -------------------------------------------------------------------------


def _domain_to_fhir(exc: DomainError, param: str) -> FhirError:
    expressions = {"unit": param, "period": "period", "part": "reportType"}
    return FhirError(
        400,
        [
            Issue(
                "invalid",
                f"参数 {expressions.get(e.field, e.field)}：{e.msg_zh}",
                f"Parameter {expressions.get(e.field, e.field)}: {e.msg_en}",
                expressions.get(e.field, e.field),
                e.code,
            )
            for e in exc.errors
        ],
    )


def value(
    actor: Actor, defn: IndicatorDef, period: Period, unit: ReportUnit, param: str = "subject"
) -> queries.Value:
    """The indicator's value (access-checked and audited by indicators.queries)."""
    try:
        return queries.value_of(defn.code, period, unit.level, unit.unit_id, actor)
    except DomainError as exc:
        raise _domain_to_fhir(exc, param) from exc


def _absent_score(reason: str) -> JSON:
    return {"extension": [{"url": DATA_ABSENT, "valueCode": reason}]}


def _score(v: queries.Value) -> JSON:
    unit = v.defn.unit
    if v.status == "ok" and v.value is not None:
        return _quantity(unit, v.value)
    if v.status == "no_data":
        return _absent_score("not-a-number" if not v.numerator else "positive-infinity")
    if v.status == "not_applicable":
        return _absent_score("not-applicable")
    return _absent_score("unsupported")


def report_status(v: queries.Value) -> str:
    if v.status in ("not_collected", "not_applicable"):
        return "error"
    if v.period.end >= timezone.localdate():
        return "pending"  # the running period: its figures still change
    return "complete"


def _populations(v: queries.Value, lists: dict[str, str]) -> list[JSON]:
    defn = v.defn
    has_counts = v.status in ("ok", "no_data")
    counts = {"numerator": v.numerator, "denominator": v.denominator}
    out: list[JSON] = []
    for code, part in POPULATIONS[scoring_of(defn)]:
        pop: JSON = {"id": code, "code": _population_code(code)}
        if code == "measure-observation":
            if has_counts and v.numerator is not None:
                pop["extension"] = [
                    {
                        "url": observation_total_extension(),
                        "valueQuantity": _quantity(defn.unit, v.numerator),
                    }
                ]
        else:
            n = _count(counts[part]) if has_counts else None
            if n is not None:
                pop["count"] = n
            if part in lists:
                pop["subjectResults"] = {"reference": f"#{lists[part]}"}
        out.append(pop)
    return out


def measure_report(
    v: queries.Value,
    base: str,
    unit: ReportUnit,
    *,
    report_type: str = "summary",
    contained: list[JSON] | None = None,
) -> JSON:
    """A value of indicators.queries as an R4 MeasureReport (summary or subject-list)."""
    defn = v.defn
    contained = contained or []
    out: JSON = {"resourceType": "MeasureReport", "id": report_id(defn, v.period, unit)}
    if contained:
        out["contained"] = contained
    extension = [
        {
            "url": value_status_extension(),
            "valueCoding": {
                "system": value_status_system(),
                "code": v.status,
                "display": VALUE_STATUS_LABELS.get(v.status, v.status),
            },
        }
    ]
    if v.reason:
        extension.append({"url": value_reason_extension(), "valueString": v.reason})
    out["extension"] = extension
    out["status"] = report_status(v)
    out["type"] = report_type
    out["measure"] = measure_url(base, defn)
    out["date"] = local_time(timezone.now())
    out["reporter"] = unit.ref
    out["period"] = {"start": v.period.start.isoformat(), "end": v.period.end.isoformat()}
    improvement = _improvement(defn.direction)
    if improvement is not None:
        out["improvementNotation"] = improvement
    lists = {c["id"]: c["id"] for c in contained}
    group: JSON = {"id": "main"}
    group_ext: list[JSON] = []
    if v.target is not None:
        group_ext.append(
            {"url": target_extension(), "valueQuantity": _quantity(defn.unit, v.target)}
        )
    if v.met is not None:
        group_ext.append({"url": target_met_extension(), "valueBoolean": v.met})
    if group_ext:
        group["extension"] = group_ext
    group["population"] = _populations(v, lists)
    group["measureScore"] = _score(v)
    out["group"] = [group]
    return out


# --- subject lists --------------------------------------------------------------------------

#: Source.model_label → the FHIR resource the counted row is served as.
_RECORD_REFS = {
    "encounter": "Encounter/{}",
    "referral": "ServiceRequest/{}",
    "consultation": "ServiceRequest/consult-{}",
    "study": "ServiceRequest/study-{}",
    "registration": "CarePlan/{}",
}


@dataclass
class Counted:
    """The rows of one part visible to the viewer, one page of them."""

    visible: int
    rows: list[tuple[str, int, str]]  # (model label, row pk, "Patient/<index number>")


def counted_rows(
    actor: Actor,
    defn: IndicatorDef,
    period: Period,
    unit: ReportUnit,
    part: str,
    *,
    offset: int,
    limit: int,
) -> Counted:
    """One page of the rows counted in a part, over all its sources in order, through the
    indicators drill-down (scoped to the viewer's residents); one audit entry."""
    visible = 0
    rows: list[tuple[str, int, str]] = []
    for i in range(len(defn.sources(part))):
        try:
            src, qs = queries.drilldown_rows(
                actor, defn.code, period, unit.level, unit.unit_id, part=part, source=i
            )
        except DomainError as exc:
            raise _domain_to_fhir(exc, "subject") from exc
        n = qs.order_by().count()
        lo, hi = max(0, offset - visible), min(n, max(0, offset + limit - visible))
        if hi > lo:
            if src.person == "staff":  # a roster of doctors: Practitioner/<staff id>
                path, kind = f"{src.resident}_id", "Practitioner"
            else:
                path = f"{src.resident}__mpi_id" if src.resident else "mpi_id"
                kind = "Patient"
            for pk, who in qs.order_by("pk").values_list("pk", path)[lo:hi]:
                rows.append((src.model_label, pk, f"{kind}/{who}"))
        visible += n
    audit.record(
        actor,
        audit.Action.READ,
        "indicator_drilldown",
        f"{defn.code}:{part}",
        detail={
            "via": "fhir",
            "period": period.code,
            "level": unit.level.value,
            "unit": unit.unit_id,
            "offset": offset,
            "rows": len(rows),
            "visible": visible,
        },
    )
    return Counted(visible, rows)


def subject_list(
    defn: IndicatorDef,
    part: str,
    counted: Counted,
    total: Decimal | None,
    *,
    offset: int,
    limit: int,
    next_url: str,
) -> JSON:
    """A contained List: one entry per counted row (a person counted twice appears twice),
    the item its Patient, the record itself in an extension; a note says how many there
    are, how many the viewer may see, and which page this is."""
    label = "分子" if part == "numerator" else "分母"
    text = defn.numerator_text if part == "numerator" else defn.denominator_text
    shown = len(counted.rows)
    more = offset + shown < counted.visible
    note = (
        f"计入{label}的记录共 {_number(total) if total is not None else '—'} 条；"
        f"按查看者权限范围可列出 {counted.visible} 条"
    )
    if total is not None and counted.visible < total:
        note += "（其余居民不在您的权限范围内，不列出）"
    if shown:
        note += f"；本次列出第 {offset + 1}–{offset + shown} 条（每次最多 {limit} 条）"
    else:
        note += "；本次未列出记录"
    note += "。每条记录一项，同一居民可出现多次。"
    if more:
        note += f"下一页：{next_url}"
    out: JSON = {"resourceType": "List", "id": part}
    if more:
        out["extension"] = [{"url": next_page_extension(), "valueUri": next_url}]
    out["status"] = "current"
    out["mode"] = "snapshot"
    out["title"] = f"{label}：{text}"
    out["date"] = local_time(timezone.now())
    out["note"] = [{"text": note}]
    entries = []
    for model_label, pk, who in counted.rows:
        entry: JSON = {"item": {"reference": who}}
        ref = _RECORD_REFS.get(model_label)
        if ref is not None:
            entry["extension"] = [
                {"url": counted_record_extension(), "valueReference": {"reference": ref.format(pk)}}
            ]
        entries.append(entry)
    if entries:
        out["entry"] = entries
    else:
        withheld = total is not None and counted.visible < total
        code, display = (
            ("withheld", "Information Withheld")
            if withheld
            else (
                "nilknown",
                "Nil Known",
            )
        )
        out["emptyReason"] = {
            "coding": [{"system": LIST_EMPTY, "code": code, "display": display}],
            "text": "不在查看者权限范围内" if withheld else "期内无计入的记录",
        }
    return out


def evaluate(
    actor: Actor,
    defn: IndicatorDef,
    period: Period,
    unit: ReportUnit,
    base: str,
    *,
    report_type: str = "summary",
    offset: int = 0,
    limit: int = SUBJECT_LIST_MAX,
    next_url: str = "",
) -> JSON:
    """$evaluate-measure: the summary, or the subject-list with its contained Lists."""
    v = value(actor, defn, period, unit)
    contained: list[JSON] = []
    if report_type == "subject-list" and v.status in ("ok", "no_data"):
        parts = dict.fromkeys(
            part for code, part in POPULATIONS[scoring_of(defn)] if code != "measure-observation"
        )
        totals = {"numerator": v.numerator, "denominator": v.denominator}
        for part in parts:
            counted = counted_rows(actor, defn, period, unit, part, offset=offset, limit=limit)
            contained.append(
                subject_list(
                    defn, part, counted, totals[part], offset=offset, limit=limit, next_url=next_url
                )
            )
    return measure_report(v, base, unit, report_type=report_type, contained=contained)
