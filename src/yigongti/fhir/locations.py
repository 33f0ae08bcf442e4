"""Administrative divisions (行政区划: the county, its townships and villages) as FHIR
`Location`: read and search only. They exist so that indicator reports for a township or a
village (MeasureReport.reporter, the `subject` of `$evaluate-measure`) point at something a
client can read; facilities and medical groups stay Organizations.

The id is the GB/T 2260-style division code (6 digits for the county, 9 for a township, 12
for a village), the same code the Patient and Organization addresses carry in the extension
…/ext/division-code. Divisions are not personal data: every signed-in staff member reads
them, like the network (reads.py)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial, reduce
from operator import and_

from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse

from yigongti.core.actor import Actor
from yigongti.core.errors import NotFound
from yigongti.network.models import Division, DivisionLevel

from . import search, systems
from .mapping import JSON
from .search import ParamSpec, SearchRequest
from .views import _strict, fhir_base, fhir_response, fhir_view

PHYSICAL_TYPE = "http://terminology.hl7.org/CodeSystem/location-physical-type"


def division_system() -> str:
    """区划代码: GB/T 2260-style code of a county, township or village."""
    return f"{systems.base()}/division"


def division_level_system() -> str:
    """区划级别: province | city | county | township | village."""
    return f"{systems.base()}/division-level"


PARAMS: tuple[ParamSpec, ...] = (
    ParamSpec("_id", "token", "区划代码 / the division code"),
    ParamSpec("identifier", "token", "division code (…/division)"),
    ParamSpec("name", "string", "name starts with; :exact and :contains", ("contains", "exact")),
    ParamSpec("type", "token", "county | township | village (system …/division-level)"),
    ParamSpec("partof", "reference", "divisions inside another one: Location/<code>"),
)


def location_ref(division: Division) -> JSON:
    return {"reference": f"Location/{division.code}", "display": division.name}


def location(division: Division) -> JSON:
    """A division (parent loaded) as a Location of physical type "area"."""
    label = DivisionLevel(division.level).label
    out: JSON = {
        "resourceType": "Location",
        "id": division.code,
        "identifier": [{"use": "official", "system": division_system(), "value": division.code}],
        "status": "active",
        "name": division.name,
        "mode": "instance",
        "type": [
            {
                "coding": [
                    {"system": division_level_system(), "code": division.level, "display": label}
                ],
                "text": label,
            }
        ],
        "physicalType": {
            "coding": [{"system": PHYSICAL_TYPE, "code": "area", "display": "Area"}],
            "text": "行政区划",
        },
    }
    if division.parent is not None:
        out["partOf"] = location_ref(division.parent)
    return out


def division_by_code(code: str) -> Division | None:
    if not code.isdigit():
        return None
    return Division.objects.select_related("parent").filter(code=code).first()


def _code_of(value: str, kind: str = "Location") -> str:
    """ "Location/4101…" or a bare code → the code ("" for another resource type)."""
    prefix, _, key = value.rpartition("/")
    if prefix not in ("", kind) and not prefix.endswith(f"/{kind}"):
        return ""
    return key


def _identifier_q(value: str) -> Q:
    system, code = search._token(value)
    if system not in (None, division_system()):
        return search.NOTHING
    return Q(code=code) if code else Q()


def _type_q(value: str) -> Q:
    system, code = search._token(value)
    if system not in (None, division_level_system()) or code not in DivisionLevel.values:
        return search.NOTHING
    return Q(level=code)


def _partof_q(value: str) -> Q:
    code = _code_of(value)
    return Q(parent__code=code) if code else search.NOTHING


def queryset(req: SearchRequest) -> QuerySet[Division]:
    makers: dict[str, Callable[[str], Q]] = {
        "_id": lambda v: Q(code=v),
        "identifier": _identifier_q,
        "type": _type_q,
        "partof": _partof_q,
    }
    conds: list[Q] = []
    for c in req.criteria:
        if c.name == "name":
            conds.append(search._any_of(c.values, partial(search._string_q, "name", c.modifier)))
        else:
            conds.append(search._any_of(c.values, makers[c.name]))
    qs = Division.objects.select_related("parent").filter(reduce(and_, conds, Q()))
    return qs.order_by("code")


@fhir_view("GET")
def location_type(request: HttpRequest, actor: Actor) -> HttpResponse:
    req = search.parse(request.GET, PARAMS, strict=_strict(request))
    qs = queryset(req)
    total = qs.count()
    rows = list(qs[req.offset : req.offset + req.count]) if req.count else []
    resources = [location(d) for d in rows]
    return fhir_response(search.searchset(fhir_base(request), "Location", resources, total, req))


@fhir_view("GET")
def location_instance(request: HttpRequest, actor: Actor, resource_id: str) -> HttpResponse:
    division = division_by_code(resource_id)
    if division is None:
        raise NotFound("行政区划")
    return fhir_response(location(division))
