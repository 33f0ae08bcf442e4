"""The indicator catalogue (指标目录): one `IndicatorDef` per indicator, as data plus small
functions. DOMAIN.md §10 lists the 2024 national monitoring set for tight county medical
communities (five aspects, 14 indicators) and the classic figures counties report; every
entry carries its name, aspect, definition, numerator, denominator, unit, data source,
direction and default target, and says whether the platform collects its data.

An indicator the platform has no data for is `collected=False` with the reason: it is shown
as "未采集" (not collected), never computed as zero (DOMAIN.md §10).

A computed indicator names its numerator and denominator as `Source`s: a function returning
the rows counted in a period (a queryset, unscoped: the facts layer counts them grouped by
month and attribution cell; the drill-down pages them for one cell, scoped to the viewer).
Because both read the same function, the drill-down always agrees with the facts.

A county adds an indicator without a migration: write an `IndicatorDef` in a module of its
own and list the module in `settings.YGT["INDICATOR_MODULES"]`; the module calls
`register(...)` at import. Facts are keyed by the indicator's code, so no table changes."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import (
    Case,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    When,
)
from django.utils import timezone

from yigongti.chronic import queries as chronic_queries
from yigongti.chronic.models import Registration, RegistrationStatus
from yigongti.consults import queries as consults_queries
from yigongti.consults.models import Consultation, Secondment
from yigongti.consults.models import State as ConsultState
from yigongti.contracts import queries as contracts_queries
from yigongti.contracts.models import Contract
from yigongti.core.actor import Actor
from yigongti.diagnostics.models import CentreKind, Study, StudyState
from yigongti.network.models import FacilityKind
from yigongti.records.models import Encounter, EncounterKind, VersionStatus
from yigongti.referrals.models import Direction as RefDirection
from yigongti.referrals.models import Referral
from yigongti.referrals.models import State as RefState
from yigongti.residents.models import Resident, ResidentStatus

from .rules import Direction, Unit

SHANGHAI = ZoneInfo("Asia/Shanghai")

#: The aspects of the 2024 national monitoring system (DOMAIN.md §10) plus the classic figures.
ASPECTS: dict[str, str] = {
    "tight": "紧密型",
    "homogeneous": "同质化",
    "division": "促分工",
    "efficiency": "提效能",
    "health": "保健康",
    "classic": "常用监测指标",
}

#: Attribution of a computed indicator's rows to the fact cells.
BY_FACILITY = "facility"  # where the service happened (facility → township/village/group)
BY_RESIDENCE = "residence"  # where the person lives (township/village; group by catchment)

ATTRIBUTION_LABELS = {BY_FACILITY: "按服务机构", BY_RESIDENCE: "按居住地"}

#: 基层医疗卫生机构 for the primary-care share: township health centres and village clinics.
#: A county may count its branches (分院) too: settings.YGT["INDICATOR_PRIMARY_KINDS"].
DEFAULT_PRIMARY_KINDS = (FacilityKind.TOWNSHIP_CENTRE, FacilityKind.VILLAGE_CLINIC)


def primary_kinds() -> tuple[str, ...]:
    conf = getattr(settings, "YGT", {}) or {}
    return tuple(conf.get("INDICATOR_PRIMARY_KINDS", DEFAULT_PRIMARY_KINDS))


def day_start(d: date) -> datetime:
    """Midnight in Asia/Shanghai: clinical days are local days (DESIGN.md, Time)."""
    return datetime.combine(d, time.min, tzinfo=SHANGHAI)


def in_days(field_name: str, start: date, end: date) -> Q:
    return Q(
        **{
            f"{field_name}__gte": day_start(start),
            f"{field_name}__lt": day_start(end + timedelta(days=1)),
        }
    )


def as_of(end: date) -> date:
    """The day a state-at-period-end indicator is read on: the period's end, or today for the
    running period."""
    return min(end, timezone.localdate())


@dataclass(frozen=True)
class Source:
    """One kind of row counted in a numerator or denominator.

    `query(start, end)` returns the rows of the period (both dates inclusive), unscoped.
    `month` is the field whose month places a row in a monthly fact (additive indicators;
    None for state-at-period-end indicators). `facility`, `township`, `village` are field
    paths of the attribution; `resident` the path of the person (scope, masks)."""

    label: str
    model_label: str
    query: Callable[[date, date], QuerySet[Any]]
    month: str | None = None
    facility: str | None = None
    township: str | None = None
    village: str | None = None
    resident: str = "resident"
    #: whom a row is about: "resident" (`resident` is the path to a Resident; the drill-down
    #: masks the ID number and keeps to the viewer's area) or "staff" (`resident` is the path
    #: to a network Staff: a roster, not personal health data; the drill-down shows the name)
    person: str = "resident"
    columns: tuple[tuple[str, str], ...] = ()
    #: what a row contributes: None counts rows; else an aggregate over the rows (a sum of
    #: hours, of yuan…), e.g. `lambda: Sum("amount")`
    measure: Callable[[], Any] | None = None
    #: what the rows of a state-at-period-end source depend on: "period" (start and end),
    #: "end" (the last day only), "as_of" (the day it is read on, `as_of(end)`) or "none"
    #: (the current state: residents, whose residence has no history). Periods
    #: sharing that day (December, Q4, H2 and the year; the running month, quarter, half and
    #: year) are then counted once per refresh.
    depends_on: str = "period"
    #: optional fast path for the fact layer: `grouped(start, end, memo)` returns the rows
    #: `query(...).values(facility, township, village).annotate(_n=...)` would, computed by
    #: the source app in one set-based query (`memo` lets sources sharing a computation run it
    #: once); the drill-down still reads `query`, and a test holds the two equal
    grouped: Callable[[date, date, dict[Any, Any]], list[dict[str, Any]]] | None = None
    #: optional: `prefetch(spans, memo)` computes what `grouped` will need for all the periods
    #: of a run at once (the chronic rates read a year's follow-ups once for the month,
    #: quarter, half-year and year), leaving it in `memo`
    prefetch: Callable[[list[tuple[date, date]], dict[Any, Any]], None] | None = None


@dataclass(frozen=True)
class IndicatorDef:
    code: str
    name: str
    aspect: str
    definition: str
    numerator_text: str
    denominator_text: str
    unit: Unit
    source_text: str
    direction: Direction
    target: Decimal | None = None
    target_note: str = ""
    collected: bool = True
    missing_reason: str = ""
    additive: bool = True
    attribution: str = BY_FACILITY
    numerator: tuple[Source, ...] = ()
    denominator: tuple[Source, ...] = ()
    order: int = 0
    #: a numerator that is "the denominator's rows that also satisfy this condition": the
    #: facts then count both in one grouped query, and the numerator's drill-down source is
    #: derived (the denominator's rows filtered)
    numerator_q: Callable[[date, date], Q] | None = None
    numerator_label: str = ""
    #: whether `numerator_q` reads the period's start (else only what the denominator's
    #: source depends on, and the combined count is shared like the denominator's)
    numerator_q_uses_start: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.numerator_q is not None and not self.numerator:
            cond = self.numerator_q
            derived = tuple(
                replace(s, label=self.numerator_label or s.label, query=_filtered(s.query, cond))
                for s in self.denominator
            )
            object.__setattr__(self, "numerator", derived)

    @property
    def aspect_label(self) -> str:
        return ASPECTS.get(self.aspect, self.aspect)

    def sources(self, part: str) -> tuple[Source, ...]:
        return self.numerator if part == "numerator" else self.denominator


def _filtered(
    query: Callable[[date, date], QuerySet[Any]], cond: Callable[[date, date], Q]
) -> Callable[[date, date], QuerySet[Any]]:
    def q(start: date, end: date) -> QuerySet[Any]:
        return query(start, end).filter(cond(start, end))

    return q


_REGISTRY: dict[str, IndicatorDef] = {}
_LOADED = False


def register(defn: IndicatorDef) -> IndicatorDef:
    """Add (or replace, by code) an indicator in the catalogue."""
    if defn.aspect not in ASPECTS:
        raise ValueError(f"unknown aspect {defn.aspect!r} for {defn.code}")
    if defn.collected and not defn.numerator:
        raise ValueError(f"{defn.code}: a collected indicator needs a numerator source")
    if defn.collected and defn.unit != Unit.COUNT and not defn.denominator:
        raise ValueError(f"{defn.code}: a rate needs a denominator source")
    _REGISTRY[defn.code] = defn
    return defn


def _load_local_modules() -> None:
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    conf = getattr(settings, "YGT", {}) or {}
    for name in conf.get("INDICATOR_MODULES", ()):
        importlib.import_module(name)


def all_defs() -> list[IndicatorDef]:
    _load_local_modules()
    aspect_rank = {a: i for i, a in enumerate(ASPECTS)}
    return sorted(_REGISTRY.values(), key=lambda d: (aspect_rank[d.aspect], d.order, d.code))


def get(code: str) -> IndicatorDef | None:
    _load_local_modules()
    return _REGISTRY.get(code)


def collected_defs(codes: Iterable[str] | None = None) -> list[IndicatorDef]:
    wanted = set(codes) if codes is not None else None
    return [d for d in all_defs() if d.collected and (wanted is None or d.code in wanted)]


# --- sources ------------------------------------------------------------------------------------

_ENCOUNTER_COLUMNS = (
    ("就诊时间", "started_at"),
    ("类型", "kind"),
    ("机构", "facility__name"),
)
_REFERRAL_COLUMNS = (
    ("提交时间", "submitted_at"),
    ("方向", "direction"),
    ("转出机构", "from_facility__name"),
    ("接收机构", "to_facility__name"),
    ("县外医院", "destination_name"),
    ("状态", "state"),
)

OUTPATIENT_KINDS = (EncounterKind.OUTPATIENT, EncounterKind.EMERGENCY)


def _encounter_source(label: str, kinds: tuple[str, ...], *, primary_only: bool = False) -> Source:
    def query(start: date, end: date) -> QuerySet[Encounter]:
        qs = Encounter.objects.filter(
            in_days("started_at", start, end),
            status=VersionStatus.CURRENT,
            kind__in=kinds,
            facility__isnull=False,
        )
        if primary_only:
            qs = qs.filter(facility__kind__in=primary_kinds())
        return qs

    return Source(
        label=label,
        model_label="encounter",
        query=query,
        month="started_at",
        facility="facility_id",
        columns=_ENCOUNTER_COLUMNS,
    )


def _referral_source(label: str, direction: str, *, out_of_county: bool | None = None) -> Source:
    """Referrals submitted in the period, drafts and cancelled ones left out (the referrals
    app's out-of-county summary counts the same way)."""

    def query(start: date, end: date) -> QuerySet[Referral]:
        qs = Referral.objects.filter(
            in_days("submitted_at", start, end), direction=direction
        ).exclude(state__in=(RefState.DRAFT, RefState.CANCELLED))
        if out_of_county is not None:
            qs = qs.filter(out_of_county=out_of_county)
        return qs

    return Source(
        label=label,
        model_label="referral",
        query=query,
        month="submitted_at",
        facility="from_facility_id",
        columns=_REFERRAL_COLUMNS,
    )


def _chronic_source(label: str, disease: str, measure: str, part: str) -> Source:
    """Registrations counted by the chronic app's own 规范管理率/控制率 (chronic.queries,
    DOMAIN.md §5), attributed to the resident's village and the managing facility."""

    def query(start: date, end: date) -> QuerySet[Registration]:
        return chronic_queries.indicator_residents(
            Actor.system("indicators"),
            disease=disease,
            start=start,
            end=end,
            by="village",
            unit_id=None,
            measure=measure,
            part=part,
        )

    column = "den" if part == "denominator" else ("norm" if measure == "norm" else "ctl")

    def prefetch(spans: list[tuple[date, date]], memo: dict[Any, Any]) -> None:
        """Every period of a calendar year in one pass over that year's follow-ups."""
        todo = [s for s in spans if ("chronic.rate_cells", disease, *s) not in memo]
        for year in sorted({s[0].year for s in todo}):
            batch = [s for s in todo if s[0].year == year]
            for (start, end), rows in chronic_queries.rate_cells_many(disease, batch).items():
                memo[("chronic.rate_cells", disease, start, end)] = rows

    def grouped(start: date, end: date, memo: dict[Any, Any]) -> list[dict[str, Any]]:
        key = ("chronic.rate_cells", disease, start, end)
        if key not in memo:  # numerators and denominator of both rates: one query
            memo[key] = chronic_queries.rate_cells(disease, start, end)
        return [
            {
                "facility_id": r["facility_id"],
                "resident__township_id": r["township_id"],
                "resident__village_id": r["village_id"],
                "_n": r[column],
            }
            for r in memo[key]
            if r[column]
        ]

    return Source(
        label=label,
        model_label="registration",
        query=query,
        grouped=grouped,
        prefetch=prefetch,
        facility="facility_id",
        township="resident__township_id",
        village="resident__village_id",
        columns=(
            ("病种", "disease"),
            ("纳入管理", "enrolled_on"),
            ("最近随访", "last_followup_on"),
            ("管理机构", "facility__name"),
        ),
    )


def _priority_residents(start: date, end: date) -> QuerySet[Resident]:
    day = as_of(end)
    return Resident.objects.filter(status=ResidentStatus.ACTIVE).filter(
        contracts_queries.priority_condition(day)
    )


def _contract_on(day: date) -> Exists:
    """A contract in force on that day (read-only aggregate over contracts' table)."""
    return Exists(
        Contract.objects.filter(
            resident_id=OuterRef("pk"), start_date__lte=day, end_date__gte=day
        ).filter(Q(ended_at__isnull=True) | Q(ended_at__gte=day_start(day + timedelta(days=1))))
    )


def _covered(start: date, end: date) -> Q:
    return Q(_contract_on(as_of(end)))


def _managed_people(start: date, end: date) -> QuerySet[Resident]:
    """People on a chronic register (any disease) under management at the period's end."""
    reg = Registration.objects.filter(resident_id=OuterRef("pk"), enrolled_on__lte=end).filter(
        Q(status=RegistrationStatus.ACTIVE) | Q(exited_on__gt=end)
    )
    return Resident.objects.filter(status=ResidentStatus.ACTIVE).filter(Exists(reg))


def _hospitalised(start: date, end: date) -> Q:
    stays = Encounter.objects.filter(
        in_days("started_at", start, end),
        resident_id=OuterRef("pk"),
        status=VersionStatus.CURRENT,
        kind=EncounterKind.INPATIENT,
    )
    return Q(Exists(stays))


_RESIDENT_COLUMNS = (
    ("出生日期", "birth_date"),
    ("所属乡镇", "township__name"),
    ("所属村", "village__name"),
)


def _resident_source(
    label: str, query: Callable[[date, date], QuerySet[Resident]], depends_on: str
) -> Source:
    return Source(
        label=label,
        model_label="resident",
        query=query,
        township="township_id",
        village="village_id",
        resident="",
        columns=_RESIDENT_COLUMNS,
        depends_on=depends_on,
    )


def _consults_answered(start: date, end: date) -> QuerySet[Consultation]:
    """Remote consultations whose opinion was given in the period (cancelled ones left out)."""
    return Consultation.objects.filter(in_days("answered_at", start, end)).exclude(
        state=ConsultState.CANCELLED
    )


def _consult_duration() -> Sum:
    return Sum(
        ExpressionWrapper(F("answered_at") - F("submitted_at"), output_field=DurationField())
    )


CONSULTS_ANSWERED = Source(
    label="已出具意见的远程会诊",
    model_label="consultation",
    query=_consults_answered,
    month="answered_at",
    facility="from_facility_id",
    columns=(
        ("申请时间", "submitted_at"),
        ("出具意见时间", "answered_at"),
        ("申请机构", "from_facility__name"),
        ("受邀机构", "to_facility__name"),
    ),
)


def _centre_reports(start: date, end: date) -> QuerySet[Study]:
    """Imaging and ECG studies a shared centre reported in the period, for any member."""
    return Study.objects.filter(
        in_days("reported_at", start, end),
        kind__in=(CentreKind.IMAGING, CentreKind.ECG),
        state__in=(StudyState.REPORTED, StudyState.REVIEWED),
    )


CENTRE_REPORTS = Source(
    label="诊断中心出具报告的影像、心电检查",
    model_label="study",
    query=_centre_reports,
    month="reported_at",
    facility="requesting_facility_id",
    columns=(
        ("检查项目", "exam_name"),
        ("申请时间", "requested_at"),
        ("报告时间", "reported_at"),
        ("申请机构", "requesting_facility__name"),
    ),
)


def _township_of_facility(path: str) -> Case:
    """The township of a facility (a centre's division, a village clinic's village's parent)."""
    return Case(
        When(**{f"{path}__division__level": "village"}, then=F(f"{path}__division__parent_id")),
        When(**{f"{path}__division__level": "township"}, then=F(f"{path}__division_id")),
        default=None,
        output_field=IntegerField(),
    )


def _village_of_facility(path: str) -> Case:
    return Case(
        When(**{f"{path}__division__level": "village"}, then=F(f"{path}__division_id")),
        default=None,
        output_field=IntegerField(),
    )


def _seconded(start: date, end: date) -> QuerySet[Secondment]:
    """The doctors counted, one row each (consults.queries.counted_secondments), placed at the
    primary facility they were seconded to and its township and village."""
    return consults_queries.counted_secondments(start, end).annotate(
        to_township=_township_of_facility("to_facility"),
        to_village=_village_of_facility("to_facility"),
    )


def _population(start: date, end: date) -> QuerySet[Resident]:
    """Active residents (current residence), or none when no secondment was ever entered: a
    roster that is not kept gives 无数据, never 0 (DOMAIN.md §10)."""
    if not consults_queries.roster_kept():
        return Resident.objects.none()
    return Resident.objects.filter(status=ResidentStatus.ACTIVE)


SECONDED = Source(
    label="派驻基层的中级及以上职称医师",
    model_label="secondment",
    query=_seconded,
    facility="to_facility_id",
    township="to_township",
    village="to_village",
    resident="staff",
    person="staff",
    columns=(
        ("职称", "title"),
        ("类型", "kind"),
        ("派出机构", "from_facility__name"),
        ("派驻机构", "to_facility__name"),
        ("开始日期", "starts_on"),
        ("结束日期", "ends_on"),
    ),
)
POPULATION = Source(
    label="常住人口（在册居民）",
    model_label="resident",
    query=_population,
    township="township_id",
    village="village_id",
    resident="",
    columns=(
        ("出生日期", "birth_date"),
        ("所属乡镇", "township__name"),
        ("所属村", "village__name"),
    ),
    depends_on="none",
)
CONSULT_HOURS = replace(CONSULTS_ANSWERED, label="会诊用时合计（小时）", measure=_consult_duration)


# --- the catalogue ------------------------------------------------------------------------------

_NOT_COLLECTED_QUALITATIVE = (
    "定性指标：由医共体上传佐证材料、卫健委评审（/indicators/evidence/），平台不计算数值"
)

OUTPATIENT = _encounter_source("门急诊就诊记录", OUTPATIENT_KINDS)
OUTPATIENT_PRIMARY = _encounter_source(
    "基层机构门急诊就诊记录", OUTPATIENT_KINDS, primary_only=True
)
INPATIENT = _encounter_source("住院记录", (EncounterKind.INPATIENT,))
UP = _referral_source("上转单", RefDirection.UP)
UP_OUT = _referral_source("县外上转单", RefDirection.UP, out_of_county=True)
DOWN = _referral_source("下转（回转）单", RefDirection.DOWN)


def _chronic_defs() -> list[IndicatorDef]:
    out = []
    for i, (disease, dname, ctl) in enumerate(
        (("hypertension", "高血压", "血压"), ("diabetes", "2型糖尿病", "血糖"))
    ):
        prefix = "htn" if disease == "hypertension" else "dm"
        # registrations under management at the period's end (chronic.queries._managed:
        # enrolled by the end, not exited before it): the count depends on the end only
        managed = replace(
            _chronic_source("管理中的登记", disease, "norm", "denominator"), depends_on="end"
        )
        target_text = (
            "收缩压<140且舒张压<90 mmHg" if disease == "hypertension" else "空腹血糖<7.0 mmol/L"
        )
        out.append(
            IndicatorDef(
                code=f"{prefix}_norm_rate",
                name=f"{dname}患者规范管理率",
                aspect="classic",
                definition=(
                    f"期内按规范管理的{dname}患者数 ÷ 期末管理中的{dname}患者数（DOMAIN.md §5）。"
                    "按规范管理：期内面对面随访次数达到全年4次按期长折算的要求，且相邻两次随访间隔"
                    "不超过规定天数（可配置）。口径与慢病管理模块一致。"
                ),
                numerator_text=f"期内按规范管理的{dname}患者数",
                denominator_text=f"期末管理中的{dname}患者数",
                unit=Unit.PERCENT,
                source_text="慢病管理：登记与随访（chronic.queries）",
                direction=Direction.HIGHER,
                additive=False,
                attribution=BY_RESIDENCE,
                numerator=(_chronic_source("规范管理的登记", disease, "norm", "numerator"),),
                denominator=(managed,),
                order=10 + 2 * i,
            )
        )
        out.append(
            IndicatorDef(
                code=f"{prefix}_control_rate",
                name=f"{dname}患者{ctl}控制率",
                aspect="classic",
                definition=(
                    f"期内最近一次随访{target_text}的患者数 ÷ 期末管理中的{dname}患者数"
                    "（期内未随访者计入分母，不计入分子；DOMAIN.md §5）。"
                ),
                numerator_text=f"期内最近一次随访{ctl}达标的患者数",
                denominator_text=f"期末管理中的{dname}患者数",
                unit=Unit.PERCENT,
                source_text="慢病管理：登记与随访（chronic.queries）",
                direction=Direction.HIGHER,
                additive=False,
                attribution=BY_RESIDENCE,
                numerator=(_chronic_source(f"{ctl}达标的登记", disease, "control", "numerator"),),
                denominator=(managed,),
                order=11 + 2 * i,
            )
        )
    return out


def _not_collected(
    code: str, name: str, aspect: str, definition: str, num: str, den: str, unit: Unit,
    source: str, direction: Direction, reason: str, order: int,
) -> IndicatorDef:  # fmt: skip
    return IndicatorDef(
        code=code,
        name=name,
        aspect=aspect,
        definition=definition,
        numerator_text=num,
        denominator_text=den,
        unit=unit,
        source_text=source,
        direction=direction,
        collected=False,
        missing_reason=reason,
        order=order,
    )


def _builtin() -> list[IndicatorDef]:
    q = "—"
    defs: list[IndicatorDef] = [
        # 紧密型 (qualitative)
        _not_collected(
            "tight_resources",
            "资源统一管理",
            "tight",
            "医共体内行政、人事、财务、绩效、设备、药品、业务、信息统一管理的落实情况（定性）。",
            q,
            q,
            Unit.COUNT,
            "佐证材料",
            Direction.NONE,
            _NOT_COLLECTED_QUALITATIVE,
            1,
        ),
        _not_collected(
            "tight_decision",
            "集团内部民主决策",
            "tight",
            "医共体内部重大事项民主决策机制的建立与运行（定性）。",
            q,
            q,
            Unit.COUNT,
            "佐证材料",
            Direction.NONE,
            _NOT_COLLECTED_QUALITATIVE,
            2,
        ),
        _not_collected(
            "tight_services",
            "服务协同",
            "tight",
            "医共体内上下联动、服务协同的落实情况（定性）。",
            q,
            q,
            Unit.COUNT,
            "佐证材料",
            Direction.NONE,
            _NOT_COLLECTED_QUALITATIVE,
            3,
        ),
        # 同质化
        IndicatorDef(
            code="seconded_per_10k",
            name="每万人口派驻基层的中级及以上职称医师数",
            aspect="homogeneous",
            definition=(
                "期内在岗的二级及以上医院派驻（长期派驻、短期帮扶；巡回医疗不计）到基层医疗卫生"
                "机构的中级及以上职称医师数 ÷ 常住人口 × 10000（DOMAIN.md §10）。一名医师期内"
                "派驻多处只计一次，计入其最近一次派驻的机构；常住人口按在册居民的现居住地；"
                "未登记任何派驻时为“无数据”，不计为 0。派出机构、派驻机构类型与计入的派驻类型"
                "可配置（docs/consults.md）。"
            ),
            numerator_text="派驻基层的中级及以上职称医师数（按人去重）",
            denominator_text="常住人口数",
            unit=Unit.PER_10K,
            source_text="专家下沉登记（consults）+ 健康档案",
            direction=Direction.HIGHER,
            additive=False,
            attribution=BY_RESIDENCE,
            numerator=(SECONDED,),
            denominator=(POPULATION,),
            order=1,
        ),
        IndicatorDef(
            code="shared_centre_services",
            name="影像、心电诊断中心服务量",
            aspect="homogeneous",
            definition=(
                "期内由县级影像、心电共享诊断中心为成员机构出具报告的检查人次（已报告、已质控；"
                "撤销不计），归属申请机构（DOMAIN.md §7、§10）。"
            ),
            numerator_text="诊断中心出具报告人次",
            denominator_text=q,
            unit=Unit.COUNT,
            source_text="共享诊断中心（diagnostics）",
            direction=Direction.HIGHER,
            numerator=(CENTRE_REPORTS,),
            order=2,
        ),
        _not_collected(
            "village_ecg_coverage",
            "村卫生室心电设备覆盖率",
            "homogeneous",
            "配备心电设备并接入心电诊断中心的村卫生室数 ÷ 村卫生室数。",
            "配备心电设备的村卫生室数",
            "村卫生室数",
            Unit.PERCENT,
            "设备台账",
            Direction.HIGHER,
            "平台未登记村卫生室设备",
            3,
        ),
        _not_collected(
            "primary_income_ratio",
            "基层医务人员与牵头医院人员人均收入之比",
            "homogeneous",
            "基层医疗卫生机构在岗职工人均收入 ÷ 牵头医院在岗职工人均收入。",
            "基层在岗职工人均收入",
            "牵头医院在岗职工人均收入",
            Unit.RATIO,
            "财务/人事",
            Direction.HIGHER,
            "平台未采集人员收入数据",
            4,
        ),
        # 促分工
        IndicatorDef(
            code="primary_visit_share",
            name="县域内基层医疗卫生机构门急诊人次占比",
            aspect="division",
            definition=(
                "乡镇卫生院和村卫生室的门急诊人次 ÷ 县域内全部成员机构门急诊人次（DOMAIN.md §10）。"
                "门急诊人次为就诊类型“门诊”“急诊”的有效就诊记录；上门服务不计；"
                '基层机构类型可配置（settings.YGT["INDICATOR_PRIMARY_KINDS"]）。'
            ),
            numerator_text="基层医疗卫生机构门急诊人次",
            denominator_text="县域内成员机构门急诊总人次",
            unit=Unit.PERCENT,
            source_text="健康档案：就诊记录（records.Encounter）",
            direction=Direction.HIGHER,
            target=Decimal("55"),
            target_note="DOMAIN.md §10 示例：基层门急诊占比 55%–65%（可配置）",
            numerator=(OUTPATIENT_PRIMARY,),
            denominator=(OUTPATIENT,),
            order=1,
        ),
        _not_collected(
            "fund_in_county_share",
            "县域内医保基金支出占比",
            "division",
            "县域内医疗机构医保基金支出 ÷ 县域参保人员医保基金总支出（不含药店）。",
            "县域内医保基金支出",
            "医保基金总支出",
            Unit.PERCENT,
            "医保结算",
            Direction.HIGHER,
            "医保结算数据尚未接入",
            2,
        ),
        _not_collected(
            "fund_primary_share",
            "基层医疗卫生机构医保基金支出占比",
            "division",
            "基层医疗卫生机构医保基金支出 ÷ 县域医保基金总支出。",
            "基层医保基金支出",
            "医保基金总支出",
            Unit.PERCENT,
            "医保结算",
            Direction.HIGHER,
            "医保结算数据尚未接入",
            3,
        ),
        # 提效能
        _not_collected(
            "inpatient_cost_per_case",
            "县域内住院次均费用",
            "efficiency",
            "县域内成员机构住院总费用 ÷ 出院人次。",
            "住院总费用",
            "出院人次",
            Unit.YUAN,
            "医保结算/HIS 费用",
            Direction.LOWER,
            "平台未采集住院费用",
            1,
        ),
        _not_collected(
            "inpatient_cost_growth",
            "县域内住院次均费用增幅",
            "efficiency",
            "（本期住院次均费用 − 上年同期）÷ 上年同期。",
            "次均费用增加额",
            "上年同期次均费用",
            Unit.PERCENT,
            "医保结算/HIS 费用",
            Direction.LOWER,
            "平台未采集住院费用",
            2,
        ),
        IndicatorDef(
            code="in_county_inpatient_share",
            name="县域内住院人次占比",
            aspect="efficiency",
            definition=(
                "县域内成员机构住院人次 ÷（县域内住院人次 + 县外转诊人次）。平台未接入医保结算，"
                "县外住院以提交的县外上转单计（未经转诊自行赴县外住院者未采集，故本值偏高）；"
                "参保身份未采集，按全部住院人次计。"
            ),
            numerator_text="县域内成员机构住院人次",
            denominator_text="县域内住院人次 + 县外上转人次",
            unit=Unit.PERCENT,
            source_text="就诊记录（住院）+ 双向转诊（县外上转）",
            direction=Direction.HIGHER,
            target=Decimal("90"),
            target_note="DOMAIN.md §10 示例：县域内住院率约 90%（可配置）",
            numerator=(INPATIENT,),
            denominator=(INPATIENT, UP_OUT),
            order=3,
        ),
        _not_collected(
            "tcm_visit_share",
            "中医诊疗人次占比",
            "efficiency",
            "中医门急诊人次 ÷ 门急诊总人次。",
            "中医门急诊人次",
            "门急诊总人次",
            Unit.PERCENT,
            "就诊记录（中医科室/中医诊断）",
            Direction.HIGHER,
            "就诊记录未标识中医诊疗",
            4,
        ),
        # 保健康
        IndicatorDef(
            code="chronic_hospitalisation_rate",
            name="慢病管理人群住院率",
            aspect="health",
            definition=(
                "期末在慢病（高血压、2型糖尿病等）登记管理中的居民里，期内有住院记录的人数 ÷ "
                "期末在管居民人数（按人计，一人多病只计一次；按居住地归属）。"
            ),
            numerator_text="期内住院的在管慢病患者人数",
            denominator_text="期末在管慢病患者人数",
            unit=Unit.PERCENT,
            source_text="慢病登记 + 就诊记录（住院）",
            direction=Direction.LOWER,
            additive=False,
            attribution=BY_RESIDENCE,
            numerator_q=_hospitalised,
            numerator_label="期内住院的在管患者",
            denominator=(_resident_source("在管慢病患者", _managed_people, "end"),),
            order=1,
        ),
        _not_collected(
            "premature_mortality",
            "四类慢性病过早死亡率",
            "health",
            "30–70岁人群因心脑血管疾病、癌症、慢性呼吸系统疾病和糖尿病死亡的概率。",
            "30–70岁四类慢病死亡人数",
            "30–70岁人口",
            Unit.PERCENT,
            "死因监测",
            Direction.LOWER,
            "平台未采集死因监测数据",
            2,
        ),
        # classic
        IndicatorDef(
            code="outpatient_visits",
            name="门急诊人次",
            aspect="classic",
            definition="成员机构门诊、急诊有效就诊记录数。",
            numerator_text="门急诊人次",
            denominator_text=q,
            unit=Unit.COUNT,
            source_text="就诊记录（records.Encounter）",
            direction=Direction.NONE,
            numerator=(OUTPATIENT,),
            order=1,
        ),
        IndicatorDef(
            code="inpatient_admissions",
            name="住院人次",
            aspect="classic",
            definition="成员机构入院时间在期内的有效住院记录数。",
            numerator_text="住院人次",
            denominator_text=q,
            unit=Unit.COUNT,
            source_text="就诊记录（records.Encounter）",
            direction=Direction.NONE,
            numerator=(INPATIENT,),
            order=2,
        ),
        IndicatorDef(
            code="referrals_up",
            name="上转人次",
            aspect="classic",
            definition="期内提交的上转单数（含县外转诊；草稿与已撤销不计），归属转出机构。",
            numerator_text="上转人次",
            denominator_text=q,
            unit=Unit.COUNT,
            source_text="双向转诊（referrals）",
            direction=Direction.NONE,
            numerator=(UP,),
            order=3,
        ),
        IndicatorDef(
            code="referrals_down",
            name="下转人次",
            aspect="classic",
            definition="期内提交的下转（回转）单数（已撤销不计），归属转出机构。",
            numerator_text="下转人次",
            denominator_text=q,
            unit=Unit.COUNT,
            source_text="双向转诊（referrals）",
            direction=Direction.NONE,
            numerator=(DOWN,),
            order=4,
        ),
        IndicatorDef(
            code="down_up_ratio",
            name="下转与上转人次之比",
            aspect="classic",
            definition="期内下转人次 ÷ 期内上转人次（含县外）。比值越高，下转越充分。",
            numerator_text="下转人次",
            denominator_text="上转人次",
            unit=Unit.RATIO,
            source_text="双向转诊（referrals）",
            direction=Direction.HIGHER,
            numerator=(DOWN,),
            denominator=(UP,),
            order=5,
        ),
        IndicatorDef(
            code="out_of_county_referral_share",
            name="县外转诊占比",
            aspect="classic",
            definition="期内县外上转人次 ÷ 期内全部上转人次（DOMAIN.md §6：县外转诊需跟踪）。",
            numerator_text="县外上转人次",
            denominator_text="上转总人次",
            unit=Unit.PERCENT,
            source_text="双向转诊（referrals）",
            direction=Direction.LOWER,
            numerator=(UP_OUT,),
            denominator=(UP,),
            order=6,
        ),
        IndicatorDef(
            code="priority_contract_coverage",
            name="重点人群家庭医生签约覆盖率",
            aspect="classic",
            definition=(
                "期末（进行中的期为今日）有有效签约的重点人群居民数 ÷ 重点人群居民数。重点人群口径"
                "同签约模块（DOMAIN.md §4；建档立卡贫困人口未采集，不计入）；按居住地归属。"
            ),
            numerator_text="期末有有效签约的重点人群居民数",
            denominator_text="期末重点人群居民数",
            unit=Unit.PERCENT,
            source_text="家庭医生签约（contracts）+ 健康档案",
            direction=Direction.HIGHER,
            additive=False,
            attribution=BY_RESIDENCE,
            numerator_q=_covered,
            numerator_label="已签约的重点人群",
            numerator_q_uses_start=False,
            denominator=(_resident_source("重点人群", _priority_residents, "as_of"),),
            order=20,
        ),
        IndicatorDef(
            code="remote_consults",
            name="远程会诊量",
            aspect="classic",
            definition="期内出具会诊意见的远程会诊例数（已撤销不计），归属申请机构。",
            numerator_text="出具意见的远程会诊例数",
            denominator_text=q,
            unit=Unit.COUNT,
            source_text="远程会诊（consults）",
            direction=Direction.NONE,
            numerator=(CONSULTS_ANSWERED,),
            order=30,
        ),
        IndicatorDef(
            code="remote_consult_turnaround",
            name="远程会诊平均完成时长",
            aspect="classic",
            definition=(
                "期内出具意见的远程会诊，从提出申请到出具意见的小时数合计 ÷ 例数"
                "（DOMAIN.md §7：时限由地方确定，可配置）。"
            ),
            numerator_text="申请至出具意见的小时数合计",
            denominator_text="出具意见的远程会诊例数",
            unit=Unit.HOURS,
            source_text="远程会诊（consults）",
            direction=Direction.LOWER,
            numerator=(CONSULT_HOURS,),
            denominator=(CONSULTS_ANSWERED,),
            order=31,
        ),
    ]
    return defs + _chronic_defs()


for _d in _builtin():
    register(_d)
