"""The endpoints of measures.py: `Measure` read and search, `Measure/$evaluate-measure`
(type and instance level, GET), `MeasureReport` search and read (computed on the fly).

Who: the same rule as the indicator API (indicators.queries.check_can_view): the health
commission and group administrators; anyone else gets 403 with a `denied` audit entry.
Values are audited by indicators.queries.value_of, the subject lists by measures.py."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, QueryDict

from yigongti.core.actor import Actor
from yigongti.indicators import catalogue, queries
from yigongti.indicators.catalogue import IndicatorDef

from . import measures, search
from .mapping import JSON
from .outcome import FhirError, Issue, operation_outcome
from .search import Criterion, ParamSpec
from .views import _strict, fhir_base, fhir_response, fhir_view

_STRING = ("contains", "exact")

MEASURE_PARAMS: tuple[ParamSpec, ...] = (
    ParamSpec("_id", "token", "Measure id: the indicator code with - for _ (primary-visit-share)"),
    ParamSpec("identifier", "token", "the indicator code (…/indicator|primary_visit_share)"),
    ParamSpec(
        "name", "string", "machine name (PrimaryVisitShare) or code; :exact, :contains", _STRING
    ),
    ParamSpec("title", "string", "中文名称 starts with; :exact and :contains", _STRING),
    ParamSpec("status", "token", "active (computed) | draft (未采集, not collected)"),
    ParamSpec(
        "topic",
        "token",
        "aspect (…/indicator-aspect): tight | homogeneous | division | efficiency | health | "
        "classic, or its Chinese label",
    ),
    ParamSpec("url", "uri", "the canonical URL <base>/Measure/<id>"),
)

REPORT_PARAMS: tuple[ParamSpec, ...] = (
    ParamSpec(
        "period",
        "date",
        "required: one whole reporting period, 2025 | 2025H1 | 2025Q1 | 2025-03, or the pair "
        "ge2025-01-01&le2025-03-31",
    ),
    ParamSpec("measure", "reference", "Measure/<id>, its canonical URL or the indicator code"),
    ParamSpec(
        "reporter",
        "reference",
        "the reporting unit: Organization/group-<code> | Organization/<facility id> | "
        "Location/<division code>; default the county",
    ),
)

#: $evaluate-measure parameters (GET), for the CapabilityStatement and docs/fhir.md.
EVALUATE_DOC = (
    "GET Measure/<id>/$evaluate-measure (or Measure/$evaluate-measure?measure=<id>) with "
    "periodStart and periodEnd bounding one whole month, quarter, half-year or year; subject = "
    "the reporting unit (Organization/group-<code>, Organization/<facility id>, "
    "Location/<township or village code>; default the county); reportType summary (default) "
    "or subject-list (contained Lists of the Patients counted, scoped to the viewer, "
    "_count ≤ 1000 and _offset page them). Returns a MeasureReport; a not-collected "
    "indicator is status error with no counts, never 0."
)


# --- Measure -------------------------------------------------------------------------------


def _string_match(modifier: str, value: str, *candidates: str) -> bool:
    v = value.casefold()
    for c in (c.casefold() for c in candidates):
        if (
            (modifier == "exact" and c == v)
            or (modifier == "contains" and v in c)
            or (not modifier and c.startswith(v))
        ):
            return True
    return False


def _token_match(value: str, system: str, *codes: str) -> bool:
    got_system, code = search._token(value)
    return got_system in (None, system) and code in codes


def _measure_matcher(base: str) -> dict[str, Callable[[IndicatorDef, str, str], bool]]:
    return {
        "_id": lambda d, m, v: v in (measures.measure_id(d.code), d.code),
        "identifier": lambda d, m, v: _token_match(v, measures.indicator_system(), d.code),
        "name": lambda d, m, v: _string_match(m, v, measures.machine_name(d.code), d.code),
        "title": lambda d, m, v: _string_match(m, v, d.name),
        "status": lambda d, m, v: search._token(v)[1] == ("active" if d.collected else "draft"),
        "topic": lambda d, m, v: _token_match(
            v, measures.aspect_system(), d.aspect, d.aspect_label
        ),
        "url": lambda d, m, v: v.rstrip("/") == measures.measure_url(base, d),
    }


def _matches(d: IndicatorDef, criteria: list[Criterion], base: str) -> bool:
    matcher = _measure_matcher(base)
    return all(any(matcher[c.name](d, c.modifier, v) for v in c.values) for c in criteria)


@fhir_view("GET")
def measure_type(request: HttpRequest, actor: Actor) -> HttpResponse:
    queries.check_can_view(actor, "catalogue")
    req = search.parse(request.GET, MEASURE_PARAMS, strict=_strict(request))
    base = fhir_base(request)
    found = [d for d in catalogue.all_defs() if _matches(d, req.criteria, base)]
    page = found[req.offset : req.offset + req.count] if req.count else []
    resources = [measures.measure(d, base) for d in page]
    return fhir_response(search.searchset(base, "Measure", resources, len(found), req))


@fhir_view("GET")
def measure_instance(request: HttpRequest, actor: Actor, resource_id: str) -> HttpResponse:
    queries.check_can_view(actor, "catalogue")
    defn = measures.get_def(resource_id)
    return fhir_response(measures.measure(defn, fhir_base(request)))


# --- $evaluate-measure -----------------------------------------------------------------------


def _report_type(raw: str) -> str:
    value = raw.strip() or "summary"
    if value in ("summary", "population"):
        return "summary"
    if value == "subject-list":
        return "subject-list"
    if value in ("subject", "individual"):
        raise FhirError(
            400,
            Issue(
                "not-supported",
                "参数 reportType：不提供单个居民的报告，请用 summary 或 subject-list",
                "Parameter reportType: individual reports are not offered; use summary or "
                "subject-list",
                "reportType",
                "not-supported",
            ),
        )
    raise FhirError(
        400,
        Issue(
            "invalid",
            "参数 reportType：应为 summary 或 subject-list",
            "Parameter reportType: must be summary or subject-list",
            "reportType",
            "invalid",
        ),
    )


def _next_url(request: HttpRequest, offset: int) -> str:
    q: QueryDict = request.GET.copy()
    q["_offset"] = str(offset)
    return request.build_absolute_uri(f"{request.path}?{q.urlencode(safe='/|:')}")


def _evaluate(request: HttpRequest, actor: Actor, key: str) -> HttpResponse:
    queries.check_can_view(actor, "fhir_evaluate_measure")
    q = request.GET
    if not key:
        raise FhirError(
            400,
            Issue(
                "required",
                "参数 measure：必填（Measure/<id>）",
                "Parameter measure: is required (Measure/<id>)",
                "measure",
                "required",
            ),
        )
    defn = measures.get_def(key)
    period = measures.period_from_bounds(q.get("periodStart", ""), q.get("periodEnd", ""))
    report_type = _report_type(q.get("reportType", ""))
    if q.get("practitioner"):
        raise FhirError(
            400,
            Issue(
                "not-supported",
                "参数 practitioner：不支持，请用 subject 指定统计单位",
                "Parameter practitioner: not supported; give the reporting unit as subject",
                "practitioner",
                "not-supported",
            ),
        )
    unit = measures.resolve_unit(actor, q.get("subject", ""), "subject")
    limit = measures.SUBJECT_LIST_MAX
    if q.get("_count"):
        limit = search._int_param("_count", q["_count"], low=1, high=measures.SUBJECT_LIST_MAX)
    offset = search._int_param("_offset", q["_offset"], low=0) if q.get("_offset") else 0
    report = measures.evaluate(
        actor,
        defn,
        period,
        unit,
        fhir_base(request),
        report_type=report_type,
        offset=offset,
        limit=limit,
        next_url=_next_url(request, offset + limit),
    )
    return fhir_response(report)


@fhir_view("GET")
def evaluate_type(request: HttpRequest, actor: Actor) -> HttpResponse:
    return _evaluate(request, actor, request.GET.get("measure", ""))


@fhir_view("GET")
def evaluate_instance(request: HttpRequest, actor: Actor, resource_id: str) -> HttpResponse:
    return _evaluate(request, actor, resource_id)


# --- MeasureReport ---------------------------------------------------------------------------


def _period_missing() -> JSON:
    return operation_outcome(
        [
            Issue(
                "required",
                "参数 period：指标报告按统计期计算，请给出 period（如 2025、2025Q1、2025-03）",
                "Parameter period: reports are computed per reporting period; give period "
                "(e.g. 2025, 2025Q1, 2025-03)",
                "period",
                "required",
                severity="warning",
            )
        ]
    )


@fhir_view("GET")
def measure_report_type(request: HttpRequest, actor: Actor) -> HttpResponse:
    queries.check_can_view(actor, "fhir_measure_report")
    req = search.parse(request.GET, REPORT_PARAMS, strict=_strict(request))
    base = fhir_base(request)
    period_values = [v for c in req.values("period") for v in c.values]
    if not period_values:
        bundle = search.searchset(base, "MeasureReport", [], 0, req)
        bundle["entry"] = [{"resource": _period_missing(), "search": {"mode": "outcome"}}]
        return fhir_response(bundle)
    period = measures.period_from_search(period_values)
    defs = catalogue.all_defs()
    for c in req.values("measure"):
        wanted = {d.code for d in (measures.def_for(v) for v in c.values) if d is not None}
        defs = [d for d in defs if d.code in wanted]
    reporter = req.values("reporter")
    if len(reporter) > 1:
        raise FhirError(
            400,
            Issue(
                "invalid",
                "参数 reporter：只能给出一次（多个单位用逗号分隔）",
                "Parameter reporter: give it once (comma-separate several units)",
                "reporter",
            ),
        )
    units = [
        measures.resolve_unit(actor, v, "reporter")
        for v in (reporter[0].values if reporter else [""])
    ]
    pairs = [(u, d) for u in units for d in defs]
    page = pairs[req.offset : req.offset + req.count] if req.count else []
    resources = [
        measures.measure_report(measures.value(actor, d, period, u, "reporter"), base, u)
        for u, d in page
    ]
    return fhir_response(search.searchset(base, "MeasureReport", resources, len(pairs), req))


@fhir_view("GET")
def measure_report_instance(request: HttpRequest, actor: Actor, resource_id: str) -> HttpResponse:
    queries.check_can_view(actor, "fhir_measure_report")
    defn, period, unit = measures.parse_report_id(actor, resource_id)
    v = measures.value(actor, defn, period, unit)
    return fhir_response(measures.measure_report(v, fhir_base(request), unit))
