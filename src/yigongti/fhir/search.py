"""FHIR search: the parameters each resource supports, how they become a queryset, and the
searchset Bundle with its paging links.

Semantics (docs/fhir.md has the user-facing table):
- repeated parameters are ANDed, comma-separated values within one are ORed;
- unknown parameters are ignored (and left out of the `self` link) unless the client sends
  `Prefer: handling=strict`, which turns them into a 400;
- paging is `_count` (default 20, at most 100) and `_offset`; clients follow `next`."""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import partial, reduce
from operator import and_, or_
from typing import Any
from urllib.parse import urlencode

from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.http import QueryDict

from yigongti.network.models import FacilityKind, Staff
from yigongti.residents import rules
from yigongti.residents.models import CardStatus, HealthCard, Resident
from yigongti.residents.queries import survivor_of

from . import systems
from .mapping import GENDER_TO_SEX, GROUP_KIND, GROUP_PREFIX, JSON
from .outcome import FhirError

DEFAULT_COUNT = 20
MAX_COUNT = 100
NOTHING = Q(pk__in=[])


@dataclass(frozen=True)
class ParamSpec:
    name: str
    type: str  # FHIR SearchParamType: token, string, date, reference
    documentation: str
    modifiers: tuple[str, ...] = ()


_ID = ParamSpec("_id", "token", "资源 id / the resource id")
_STRING_MODIFIERS = ("contains", "exact")

PATIENT_PARAMS = (
    _ID,
    ParamSpec(
        "identifier",
        "token",
        "system|value or a bare value: 居民身份证 urn:oid:2.16.156.10011.1.3, the index "
        "number (…/mpi, old merged numbers find the survivor), the health card "
        "(…/health-card), other documents (…/document/<type>)",
    ),
    ParamSpec(
        "name",
        "string",
        "姓名: Chinese characters (name starts with), pinyin or pinyin initials (zhangwei, "
        "zw); :exact and :contains",
        _STRING_MODIFIERS,
    ),
    ParamSpec(
        "birthdate",
        "date",
        "YYYY, YYYY-MM or YYYY-MM-DD, with the prefixes eq (default), ne, gt, ge, lt, le",
    ),
    ParamSpec("gender", "token", "male | female | unknown | other (GB/T 2261.1 1, 2, 0, 9)"),
)
ORGANIZATION_PARAMS = (
    _ID,
    ParamSpec("identifier", "token", "facility code (…/facility) or group code (…/medical-group)"),
    ParamSpec("name", "string", "name starts with; :exact and :contains", _STRING_MODIFIERS),
    ParamSpec(
        "type",
        "token",
        "county_hospital | branch | township_centre | village_clinic | other | medical_group "
        "(system …/organization-type)",
    ),
    ParamSpec("partof", "reference", "members of a medical group: Organization/group-<code>"),
)
PRACTITIONER_PARAMS = (
    _ID,
    ParamSpec("identifier", "token", "practising licence number (…/practitioner-licence)"),
    ParamSpec("name", "string", "name starts with; :exact and :contains", _STRING_MODIFIERS),
)
#: Accepted on every search and without effect here.
IGNORED = frozenset({"_format", "_pretty"})


# --- parsing ---------------------------------------------------------------------------


@dataclass
class Criterion:
    name: str
    modifier: str
    values: list[str]  # ORed

    @property
    def key(self) -> str:
        return f"{self.name}:{self.modifier}" if self.modifier else self.name

    @property
    def raw(self) -> str:
        return ",".join(v.replace(",", r"\,") for v in self.values)


@dataclass
class SearchRequest:
    criteria: list[Criterion] = field(default_factory=list)
    count: int = DEFAULT_COUNT
    offset: int = 0

    def values(self, name: str) -> list[Criterion]:
        return [c for c in self.criteria if c.name == name]


def _bad(param: str, msg_zh: str, msg_en: str) -> FhirError:
    return FhirError.single(
        400, "invalid", f"参数 {param}：{msg_zh}", f"Parameter {param}: {msg_en}"
    )


def _int_param(name: str, raw: str, *, low: int, high: int | None = None) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise _bad(name, "应为整数", "must be an integer") from None
    if value < low:
        raise _bad(name, f"不能小于 {low}", f"must be at least {low}")
    return value if high is None else min(value, high)


def _split(raw: str) -> list[str]:
    parts = re.split(r"(?<!\\),", raw)
    return [p.replace(r"\,", ",").strip() for p in parts if p.strip()]


def parse(query: QueryDict, specs: Sequence[ParamSpec], *, strict: bool) -> SearchRequest:
    by_name = {s.name: s for s in specs}
    out = SearchRequest()
    for key, raws in query.lists():
        name, _, modifier = key.partition(":")
        if name == "_count" and not modifier:
            out.count = _int_param(name, raws[-1], low=0, high=MAX_COUNT)
        elif name == "_offset" and not modifier:
            out.offset = _int_param(name, raws[-1], low=0)
        elif name in IGNORED:
            continue
        elif name in by_name:
            if modifier and modifier not in by_name[name].modifiers:
                raise FhirError.single(
                    400,
                    "not-supported",
                    f"参数 {name} 不支持修饰符 :{modifier}",
                    f"Parameter {name} does not support the modifier :{modifier}",
                )
            for raw in raws:
                values = _split(raw)
                if values:  # an empty parameter is ignored (FHIR search rules)
                    out.criteria.append(Criterion(name, modifier, values))
        elif strict:
            raise FhirError.single(
                400,
                "not-supported",
                f"不支持的查询参数：{key}",
                f"Unsupported search parameter: {key}",
            )
    return out


def _any_of(values: list[str], make: Callable[[str], Q]) -> Q:
    return reduce(or_, (make(v) for v in values))


def mapped_q(field_name: str, mapping: Mapping[Any, str]) -> Callable[[str], Q]:
    """A token search on a code the facade maps from a column (status, priority, intent):
    the rows whose `field_name` value maps to the code asked for; no row for an unknown code."""

    def make(value: str) -> Q:
        code = _token(value)[1]
        wanted = [k for k, v in mapping.items() if v == code]
        return Q(**{f"{field_name}__in": wanted}) if wanted else NOTHING

    return make


def _token(value: str) -> tuple[str | None, str]:
    """ "system|code" → (system, code); a bare "code" → (None, code)."""
    if "|" in value:
        system, code = value.split("|", 1)
        return system, code.strip()
    return None, value.strip()


def _string_q(field_name: str, modifier: str, value: str) -> Q:
    if modifier == "exact":
        return Q(**{field_name: value})
    if modifier == "contains":
        return Q(**{f"{field_name}__icontains": value})
    return Q(**{f"{field_name}__istartswith": value})


# --- Patient ---------------------------------------------------------------------------

LATIN = re.compile(r"^[a-z]+$")


def _survivor_q(resident: Resident | None) -> Q:
    return NOTHING if resident is None else Q(pk=survivor_of(resident).pk)


def _mpi_q(value: str) -> Q:
    """An index number finds its record, an old (merged) one the survivor."""
    return _survivor_q(Resident.objects.filter(mpi_id=value).first()) if value else NOTHING


def _card_q(value: str) -> Q:
    try:
        card_id = rules.normalize_card_id(value)
    except rules.RuleError:
        return NOTHING
    card = (
        HealthCard.objects.select_related("resident")
        .filter(card_id=card_id, status=CardStatus.NORMAL)
        .first()
    )
    return _survivor_q(card.resident if card else None)


def _document_q(doc_type: str | None, value: str) -> Q:
    number = rules.normalize_id_number(value).upper()
    if not number:
        return NOTHING
    q = Q(doc_number=number)
    return q & Q(doc_type=doc_type) if doc_type else q


def _patient_identifier_q(value: str) -> Q:
    system, code = _token(value)
    if system is None:
        return _mpi_q(code) | _document_q(None, code) | _card_q(code)
    if system == systems.mpi_system():
        return _mpi_q(code)
    if system == systems.health_card_system():
        return _card_q(code)
    doc_type = systems.document_type_for(system)
    if doc_type is None:
        return NOTHING  # a system we do not issue or store: nobody matches
    if not code:  # "system|": everyone with such a document
        return Q(doc_type=doc_type) & ~Q(doc_number="")
    return _document_q(doc_type, code)


def _name_q(modifier: str, value: str) -> Q:
    """Characters, pinyin or initials, like the search box (residents.queries)."""
    name = rules.normalize_name(value)
    latin = value.replace(" ", "").lower()
    if modifier == "exact":
        q = Q(name=name)
        return q | Q(name_pinyin=latin) | Q(name_initials=latin) if LATIN.match(latin) else q
    if modifier == "contains":
        q = Q(name__contains=name)
        return q | Q(name_pinyin__contains=latin) if LATIN.match(latin) else q
    q = Q(name__startswith=name)
    if LATIN.match(latin):
        q |= Q(name_pinyin__startswith=latin) | Q(name_initials__startswith=latin)
    return q


def _name_exact(value: str) -> Q:
    latin = value.replace(" ", "").lower()
    q = Q(name=rules.normalize_name(value))
    return q | Q(name_pinyin=latin) | Q(name_initials=latin) if LATIN.match(latin) else q


_DATE_PREFIXES = ("eq", "ne", "gt", "ge", "lt", "le", "sa", "eb", "ap")
_DATE_RE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def date_range(text: str) -> tuple[date, date]:
    """The days a FHIR date of any precision covers: "1960" → 1960-01-01..1960-12-31."""
    m = _DATE_RE.match(text.split("T", 1)[0])
    if m is None:
        raise ValueError(text)
    year = int(m.group(1))
    if m.group(2) is None:
        return date(year, 1, 1), date(year, 12, 31)
    month = int(m.group(2))
    if m.group(3) is None:
        return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
    day = date(year, month, int(m.group(3)))
    return day, day


def _birthdate_q(value: str) -> Q:
    prefix, text = ("eq", value)
    if value[:2] in _DATE_PREFIXES:
        prefix, text = value[:2], value[2:]
    if prefix in ("sa", "eb", "ap"):
        raise _bad("birthdate", f"不支持前缀 {prefix}", f"the prefix {prefix} is not supported")
    try:
        start, end = date_range(text)
    except ValueError:
        raise _bad(
            "birthdate",
            f"日期“{text}”应为 YYYY、YYYY-MM 或 YYYY-MM-DD",
            f"'{text}' must be YYYY, YYYY-MM or YYYY-MM-DD",
        ) from None
    within = Q(birth_date__gte=start, birth_date__lte=end)
    return {
        "eq": within,
        "ne": ~within,
        "gt": Q(birth_date__gt=end),
        "ge": Q(birth_date__gte=start),
        "lt": Q(birth_date__lt=start),
        "le": Q(birth_date__lte=end),
    }[prefix]


def _gender_q(value: str) -> Q:
    system, code = _token(value)
    if code not in GENDER_TO_SEX or system not in (
        None,
        "http://hl7.org/fhir/administrative-gender",
    ):
        raise _bad(
            "gender",
            "应为 male、female、unknown 或 other",
            "must be male, female, unknown or other",
        )
    return Q(sex=GENDER_TO_SEX[code])


def patient_queryset(visible: QuerySet[Resident], search: SearchRequest) -> QuerySet[Resident]:
    """`visible` is residents_visible_to(actor); the result is filtered and ordered (name
    matches that are exact first)."""
    qs = visible
    for c in search.criteria:
        if c.name == "_id":
            qs = qs.filter(mpi_id__in=c.values)
        elif c.name == "identifier":
            qs = qs.filter(_any_of(c.values, _patient_identifier_q))
        elif c.name == "name":
            qs = qs.filter(_any_of(c.values, partial(_name_q, c.modifier)))
        elif c.name == "birthdate":
            qs = qs.filter(_any_of(c.values, _birthdate_q))
        elif c.name == "gender":
            qs = qs.filter(_any_of(c.values, _gender_q))
    names = [v for c in search.values("name") for v in c.values]
    if names:
        exact = _any_of(names, _name_exact)
        rank = Case(When(exact, then=Value(1)), default=Value(0), output_field=IntegerField())
        return qs.annotate(rank=rank).order_by("-rank", "name", "pk")
    return qs.order_by("pk")


# --- Organization ----------------------------------------------------------------------


@dataclass
class OrgFilter:
    """A condition on facilities and one on medical groups (both are Organizations)."""

    facility: Q
    group: Q

    def __or__(self, other: OrgFilter) -> OrgFilter:
        return OrgFilter(self.facility | other.facility, self.group | other.group)


def _org_id(value: str) -> OrgFilter:
    if value.startswith(GROUP_PREFIX):
        key = value[len(GROUP_PREFIX) :]
        group = Q(code=key) | (Q(pk=int(key)) if key.isdigit() else NOTHING)
        return OrgFilter(NOTHING, group)
    facility = Q(code=value)
    if value.startswith("facility-") and value[9:].isdigit():
        facility |= Q(pk=int(value[9:]))
    return OrgFilter(facility, NOTHING)


def _org_identifier(value: str) -> OrgFilter:
    system, code = _token(value)
    match = Q(code=code) if code else ~Q(code="")
    if system is None:
        return OrgFilter(match, match)
    if system == systems.facility_system():
        return OrgFilter(match, NOTHING)
    if system == systems.medical_group_system():
        return OrgFilter(NOTHING, match)
    return OrgFilter(NOTHING, NOTHING)


def _org_type(value: str) -> OrgFilter:
    system, code = _token(value)
    if system == systems.HL7_ORG_TYPE:
        return OrgFilter(Q(), Q()) if code == "prov" else OrgFilter(NOTHING, NOTHING)
    if system not in (None, systems.organization_type_system()):
        return OrgFilter(NOTHING, NOTHING)
    if code == GROUP_KIND:
        return OrgFilter(NOTHING, Q())
    if code in FacilityKind.values:
        return OrgFilter(Q(kind=code), NOTHING)
    return OrgFilter(NOTHING, NOTHING)


def _org_partof(value: str) -> OrgFilter:
    """Only medical groups have members: "Organization/group-G01" or "group-G01"."""
    kind, _, target = value.rpartition("/")
    if kind not in ("", "Organization") and not kind.endswith("/Organization"):
        return OrgFilter(NOTHING, NOTHING)
    if not target.startswith(GROUP_PREFIX):
        return OrgFilter(NOTHING, NOTHING)
    key = target[len(GROUP_PREFIX) :]
    by = Q(group__code=key) | (Q(group_id=int(key)) if key.isdigit() else NOTHING)
    return OrgFilter(by, NOTHING)


def _org_name(modifier: str, value: str) -> OrgFilter:
    q = _string_q("name", modifier, value)
    return OrgFilter(q, q)


def organization_filter(search: SearchRequest) -> OrgFilter:
    """The AND of every criterion, each the OR of its values."""
    makers: dict[str, Callable[[str, str], OrgFilter]] = {
        "_id": lambda m, v: _org_id(v),
        "identifier": lambda m, v: _org_identifier(v),
        "type": lambda m, v: _org_type(v),
        "partof": lambda m, v: _org_partof(v),
        "name": _org_name,
    }
    facility, group = Q(), Q()
    for c in search.criteria:
        make = makers[c.name]
        either = reduce(or_, (make(c.modifier, v) for v in c.values))
        facility &= either.facility
        group &= either.group
    return OrgFilter(facility, group)


# --- Practitioner ----------------------------------------------------------------------


def _staff_identifier(value: str) -> Q:
    system, code = _token(value)
    if system not in (None, systems.licence_system()):
        return NOTHING
    return Q(licence_no=code) if code else ~Q(licence_no="")


def practitioner_queryset(staff: QuerySet[Staff], search: SearchRequest) -> QuerySet[Staff]:
    conds: list[Q] = []
    for c in search.criteria:
        if c.name == "_id":
            conds.append(_any_of(c.values, lambda v: Q(pk=int(v)) if v.isdigit() else NOTHING))
        elif c.name == "identifier":
            conds.append(_any_of(c.values, _staff_identifier))
        elif c.name == "name":
            conds.append(_any_of(c.values, partial(_string_q, "name", c.modifier)))
    return staff.filter(reduce(and_, conds, Q())).order_by("pk")


# --- the Bundle ------------------------------------------------------------------------


def _link(base: str, resource_type: str, search: SearchRequest, offset: int) -> str:
    pairs = [(c.key, c.raw) for c in search.criteria]
    pairs += [("_count", str(search.count)), ("_offset", str(offset))]
    return f"{base}/{resource_type}?{urlencode(pairs, safe='|:,/')}"


def searchset(
    base: str,
    resource_type: str,
    resources: list[JSON],
    total: int,
    search: SearchRequest,
) -> JSON:
    links = [{"relation": "self", "url": _link(base, resource_type, search, search.offset)}]
    if search.count and search.offset + search.count < total:
        links.append(
            {
                "relation": "next",
                "url": _link(base, resource_type, search, search.offset + search.count),
            }
        )
    if search.offset > 0 and search.count:
        links.append(
            {
                "relation": "previous",
                "url": _link(base, resource_type, search, max(0, search.offset - search.count)),
            }
        )
    bundle: JSON = {"resourceType": "Bundle", "type": "searchset", "total": total, "link": links}
    if resources:  # FHIR JSON has no empty arrays
        bundle["entry"] = [
            {
                "fullUrl": f"{base}/{r['resourceType']}/{r['id']}",
                "resource": r,
                "search": {"mode": "match"},
            }
            for r in resources
        ]
    return bundle
