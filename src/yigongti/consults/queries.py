"""Reads of consultations and of the dispatch roster.

Consultations are seen by the two sides: the requesting facility's staff and the consulted
facility's staff (a county expert reads the case through the request, audited, even when the
resident lives outside the group's catchment); a group administrator sees those of the
group's facilities; the commission and the platform see all.

`seconded_doctors_per_10k` is the DOMAIN.md §10 同质化 indicator, set-based (two aggregate
queries whatever the size), for the indicators app to call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.conf import settings
from django.db.models import Case, Count, Exists, OuterRef, Q, QuerySet, Sum, Value, When
from django.utils import timezone

from yigongti.core import audit
from yigongti.core.actor import Actor, ScopeKind
from yigongti.core.errors import DomainError, NotFound
from yigongti.network.models import Division, Facility, FacilityKind, Staff
from yigongti.network.queries import catchment_township_ids
from yigongti.records import queries as records
from yigongti.residents.models import Resident, ResidentStatus

from . import rules
from .models import (
    Consultation,
    ConsultPolicy,
    DispatchActivity,
    DispatchKind,
    Secondment,
    State,
    Step,
)

#: Facility kinds that may be asked for a consultation (the county level).
CONSULTED_KINDS = (FacilityKind.COUNTY_HOSPITAL, FacilityKind.BRANCH)
#: Facility kinds that ask (primary care, and branches for their own patients).
REQUESTING_KINDS = (FacilityKind.TOWNSHIP_CENTRE, FacilityKind.VILLAGE_CLINIC, FacilityKind.BRANCH)


def policy_for(facility_id: int | None) -> ConsultPolicy:
    """The consulted facility's limits; without a row, `settings.YGT` keys
    `CONSULT_ARRANGE_HOURS`, `CONSULT_FINISH_WORKING_DAYS`, `CONSULT_EMERGENCY_HOURS`, else
    the DOMAIN.md §7 example (48 h, 3 working days, 12 h)."""
    row = ConsultPolicy.objects.filter(facility_id=facility_id).first() if facility_id else None
    if row is not None:
        return row
    ygt = getattr(settings, "YGT", {})
    return ConsultPolicy(
        arrange_hours=int(ygt.get("CONSULT_ARRANGE_HOURS", rules.ARRANGE_HOURS)),
        finish_working_days=int(ygt.get("CONSULT_FINISH_WORKING_DAYS", rules.FINISH_WORKING_DAYS)),
        emergency_hours=int(ygt.get("CONSULT_EMERGENCY_HOURS", rules.EMERGENCY_HOURS)),
    )


# ---------------------------------------------------------------------------------------------
# consultations


def _base() -> QuerySet[Consultation]:
    return Consultation.objects.select_related(
        "resident", "from_facility", "to_facility", "to_department", "expert"
    )


def consultations_visible_to(actor: Actor) -> QuerySet[Consultation]:
    qs = _base()
    if actor.is_system or actor.scope.kind == ScopeKind.ALL:
        return qs
    if actor.facility_id is not None:
        return qs.filter(
            Q(from_facility_id=actor.facility_id) | Q(to_facility_id=actor.facility_id)
        )
    if actor.group_id is not None:
        return qs.filter(
            Q(from_facility__group_id=actor.group_id) | Q(to_facility__group_id=actor.group_id)
        )
    return qs.none()


def sides_of(actor: Actor, c: Consultation) -> set[str]:
    out: set[str] = set()
    if actor.facility_id is None:
        return out
    if actor.facility_id == c.from_facility_id:
        out.add(rules.REQUESTER)
    if actor.facility_id == c.to_facility_id:
        out.add(rules.CONSULTANT)
    return out


def get_consultation_for(actor: Actor, pk: int, *, purpose: str = "view") -> Consultation:
    """One consultation, its read audited; out of reach it looks absent (and the attempt is
    audited as denied)."""
    return audit.read_one(
        actor,
        consultations_visible_to(actor),
        pk,
        "consultation",
        "会诊申请",
        detail={"purpose": purpose},
    )


def steps_of(c: Consultation) -> QuerySet[Step]:
    return Step.objects.select_related("facility").filter(consultation=c).order_by("at", "pk")


def _late(now: datetime) -> Q:
    return Q(state=State.SUBMITTED, arrange_by__lt=now) | Q(
        state__in=(State.SUBMITTED, State.ACCEPTED), finish_by__lt=now
    )


def inbox(
    actor: Actor, *, state: str | None = None, now: datetime | None = None
) -> QuerySet[Consultation]:
    """The consulted side's worklist: requests to the actor's facility still open (or those in
    `state`). Overdue ones first, then those waiting to be arranged, emergencies first, then by
    deadline."""
    if actor.facility_id is None:
        return Consultation.objects.none()
    qs = _base().filter(to_facility_id=actor.facility_id)
    if state:
        return qs.filter(state=state).order_by("-submitted_at", "-pk")
    late = Case(When(_late(now or timezone.now()), then=Value(1)), default=Value(0))
    # "-state": "submitted" (waiting) sorts before "accepted"
    return (
        qs.filter(state__in=rules.OPEN)
        .annotate(late=late)
        .order_by("-late", "-state", "urgency", "arrange_by", "pk")
    )


def sent(actor: Actor, *, state: str | None = None) -> QuerySet[Consultation]:
    if actor.facility_id is None:
        return Consultation.objects.none()
    qs = _base().filter(from_facility_id=actor.facility_id)
    if state:
        qs = qs.filter(state=state)
    return qs.order_by("-submitted_at", "-pk")


def overdue(actor: Actor, now: datetime | None = None) -> QuerySet[Consultation]:
    """Open requests past their arrange or finish limit that the actor can see: the consulted
    department (county) sees its own, a group administrator the group's."""
    now = now or timezone.now()
    qs = consultations_visible_to(actor).filter(_late(now))
    if actor.facility_id is not None:
        qs = qs.filter(to_facility_id=actor.facility_id)
    return qs.order_by("urgency", "finish_by", "pk")


def awaiting_decision(actor: Actor) -> QuerySet[Consultation]:
    """Answered consultations the requesting facility has still to close with its decision."""
    if actor.facility_id is None:
        return Consultation.objects.none()
    return (
        _base()
        .filter(from_facility_id=actor.facility_id, state=State.ANSWERED)
        .order_by("answered_at", "pk")
    )


def consultations_of(actor: Actor, resident: Resident) -> QuerySet[Consultation]:
    from yigongti.residents.queries import identity_ids

    return consultations_visible_to(actor).filter(resident_id__in=identity_ids(resident))


def destinations() -> QuerySet[Facility]:
    """County hospitals and branches that can be asked, with their departments."""
    return (
        Facility.objects.filter(kind__in=CONSULTED_KINDS, active=True)
        .prefetch_related("departments")
        .order_by("name")
    )


def experts_at(
    facility_id: int, *, level: int = 0, department_id: int | None = None
) -> list[Staff]:
    """Active staff of a facility (of one department when given) whose title is at least
    `level`: the ones who may be arranged for a consultation."""
    rows = Staff.objects.select_related("department").filter(facility_id=facility_id, active=True)
    if department_id is not None:
        rows = rows.filter(department_id=department_id)
    return [
        s for s in rows.order_by("department__name", "name") if rules.title_level(s.title) >= level
    ]


def case_summary_for(resident: Resident) -> str:
    """A case summary drafted from the health record (read-only, through `records.queries`):
    known diagnoses, the latest vitals, history from the health profile. The caller has
    already read the resident through `get_resident_for` (scoped and audited)."""
    lines: list[str] = []
    age = ""
    if resident.birth_date:
        today = timezone.localdate()
        years = (
            today.year
            - resident.birth_date.year
            - ((today.month, today.day) < (resident.birth_date.month, resident.birth_date.day))
        )
        age = f"{years}岁"
    lines.append(f"患者{resident.name}，{resident.get_sex_display()}，{age}。")
    dx = records.diagnoses_of(resident)
    if dx:
        lines.append(
            "既往诊断："
            + "；".join(f"{name or code}（{code}，{at:%Y-%m}）" for code, name, at in dx[-8:])
            + "。"
        )
    obs = records.latest_observations(resident, ["bp", "glucose_fasting", "bmi"])
    vitals = []
    if "bp" in obs and obs["bp"].value is not None:
        o = obs["bp"]
        vitals.append(f"血压 {o.value:.0f}/{(o.value2 or 0):.0f} mmHg（{o.effective_at:%Y-%m-%d}）")
    if "glucose_fasting" in obs and obs["glucose_fasting"].value is not None:
        o = obs["glucose_fasting"]
        vitals.append(f"空腹血糖 {o.value:.1f} mmol/L（{o.effective_at:%Y-%m-%d}）")
    if "bmi" in obs and obs["bmi"].value is not None:
        vitals.append(f"BMI {obs['bmi'].value:.1f}")
    if vitals:
        lines.append("近期测量：" + "，".join(vitals) + "。")
    profile = records.current_profile(resident)
    if profile is not None:
        extra = []
        for field, label in (
            ("allergies", "过敏史"),
            ("past_history", "既往史"),
            ("family_history", "家族史"),
        ):
            value = getattr(profile, field, None)
            if value:
                extra.append(f"{label}：{_text(value)}")
        if extra:
            lines.append("；".join(extra) + "。")
    return "\n".join(lines)


def _text(value: object) -> str:
    if isinstance(value, list | tuple):
        return "、".join(str(v.get("name", v)) if isinstance(v, dict) else str(v) for v in value)
    if isinstance(value, dict):
        return "、".join(f"{k}" for k in value)
    return str(value)


# ---------------------------------------------------------------------------------------------
# dispatch roster


def secondments_visible_to(actor: Actor) -> QuerySet[Secondment]:
    """The roster: the platform and the commission see all; a group administrator the
    secondments from or to the group's facilities; staff those from or to their facility."""
    qs = Secondment.objects.select_related("staff", "from_facility", "to_facility")
    if actor.is_system or actor.scope.kind == ScopeKind.ALL:
        return qs
    if actor.facility_id is not None:
        return qs.filter(
            Q(from_facility_id=actor.facility_id) | Q(to_facility_id=actor.facility_id)
        )
    if actor.group_id is not None:
        return qs.filter(
            Q(from_facility__group_id=actor.group_id) | Q(to_facility__group_id=actor.group_id)
        )
    return qs.none()


def get_secondment_for(actor: Actor, pk: int) -> Secondment:
    s = secondments_visible_to(actor).filter(pk=pk).first()
    if s is None:
        audit.record(actor, audit.Action.DENIED, "secondment", str(pk))
        raise NotFound("下沉登记")
    return s


def activities_of(s: Secondment) -> QuerySet[DispatchActivity]:
    return DispatchActivity.objects.select_related("facility").filter(secondment=s)


def roster(actor: Actor, *, on: date | None = None, kind: str = "") -> QuerySet[Secondment]:
    """Secondments current on `on` (all when None), with activity totals, newest first."""
    qs = secondments_visible_to(actor)
    if on is not None:
        qs = qs.filter(starts_on__lte=on, ends_on__gte=on)
    if kind:
        qs = qs.filter(kind=kind)
    return qs.annotate(
        n_activities=Count("activities"),
        n_patients=Sum("activities__patients_seen"),
        n_attendees=Sum("activities__attendees"),
    ).order_by("-starts_on", "-pk")


def dispatch_totals(actor: Actor, since: date, until: date) -> dict[str, int]:
    """Activity totals in a period (one grouped query)."""
    qs = DispatchActivity.objects.filter(
        secondment__in=secondments_visible_to(actor), day__gte=since, day__lte=until
    )
    rows = qs.values("kind").annotate(n=Count("pk"), p=Sum("patients_seen"), a=Sum("attendees"))
    out: dict[str, int] = {"patients": 0, "attendees": 0}
    for r in rows:
        out[r["kind"]] = r["n"]
        out["patients"] += r["p"] or 0
        out["attendees"] += r["a"] or 0
    return out


def candidate_staff(actor: Actor) -> QuerySet[Staff]:
    """Doctors who may be seconded: active staff of the county hospitals and branches of the
    actor's group (all of them for the platform)."""
    qs = Staff.objects.select_related("facility", "department").filter(
        active=True, facility__kind__in=CONSULTED_KINDS
    )
    if not actor.is_system and actor.scope.kind != ScopeKind.ALL:
        qs = qs.filter(facility__group_id=actor.group_id) if actor.group_id else qs.none()
    return qs.order_by("facility__name", "department__name", "name")


def primary_facilities(actor: Actor) -> QuerySet[Facility]:
    qs = Facility.objects.filter(active=True, kind__in=PRIMARY_KINDS_DEFAULT)
    if not actor.is_system and actor.scope.kind != ScopeKind.ALL:
        qs = qs.filter(group_id=actor.group_id) if actor.group_id else qs.none()
    return qs.order_by("kind", "name")


# ---------------------------------------------------------------------------------------------
# the 同质化 indicator (DOMAIN.md §10)

PRIMARY_KINDS_DEFAULT = (FacilityKind.TOWNSHIP_CENTRE, FacilityKind.VILLAGE_CLINIC)
SECONDARY_KINDS_DEFAULT = (FacilityKind.COUNTY_HOSPITAL,)
COUNTED_KINDS_DEFAULT = (DispatchKind.SECONDMENT, DispatchKind.SUPPORT)

DEFINITION = (
    "二级及以上医院派驻到基层医疗卫生机构的中级及以上职称医师数（期内在岗，按人去重）"
    "÷ 区域常住居民数（平台在册居民）× 10000"
)


@dataclass(frozen=True)
class IndicatorValue:
    numerator: int
    denominator: int
    value: float | None  # per 10,000 residents; None when missing
    missing: bool
    definition: str
    since: date
    until: date
    area: str
    area_id: int | None


def _setting(key: str, default: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(getattr(settings, "YGT", {}).get(key, default))


def _qualifying(since: date, until: date) -> QuerySet[Secondment]:
    """Secondments counted by the indicator that overlap [since, until]: kind in
    `DISPATCH_INDICATOR_KINDS`, title of intermediate level or above, from a facility of a
    kind in `DISPATCH_SECONDARY_KINDS` to one in `DISPATCH_PRIMARY_KINDS`."""
    return Secondment.objects.filter(
        starts_on__lte=until,
        ends_on__gte=since,
        kind__in=_setting("DISPATCH_INDICATOR_KINDS", COUNTED_KINDS_DEFAULT),
        from_facility__kind__in=_setting("DISPATCH_SECONDARY_KINDS", SECONDARY_KINDS_DEFAULT),
        to_facility__kind__in=_setting("DISPATCH_PRIMARY_KINDS", PRIMARY_KINDS_DEFAULT),
        title__in=rules.qualifying_doctor_titles(1),
    )


def counted_secondments(since: date, until: date) -> QuerySet[Secondment]:
    """For the indicator fact layer (system use, unscoped; staff, not residents): one row per
    doctor counted by `seconded_doctors_per_10k` over [since, until], the doctor's latest
    qualifying secondment of the period (latest start, then latest entry). Counting these rows
    per primary facility therefore adds up to the distinct doctors of any larger area: a
    doctor seconded to two places in one period counts once, at the later one."""
    later = (
        _qualifying(since, until)
        .filter(staff_id=OuterRef("staff_id"))
        .filter(
            Q(starts_on__gt=OuterRef("starts_on"))
            | Q(starts_on=OuterRef("starts_on"), pk__gt=OuterRef("pk"))
        )
    )
    return _qualifying(since, until).filter(~Exists(later))


def roster_kept() -> bool:
    """Whether any secondment was ever entered (a roster not kept is missing, not zero)."""
    return Secondment.objects.exists()


def area_townships(area: str, area_id: int | None) -> tuple[str, list[int] | None]:
    """The township ids of an area: "county" (a Division of county level; None = every
    township), "group" (a medical group's catchment) or "township". Returns the area's name."""
    if area == "county":
        if area_id is None:
            return "全县", None
        county = Division.objects.filter(pk=area_id).first()
        if county is None:
            raise DomainError.single("area_id", "区划不存在", "Unknown county", "unknown")
        ids = list(Division.objects.filter(parent_id=area_id).values_list("pk", flat=True))
        return county.name, ids
    if area == "group":
        from yigongti.network.models import MedicalGroup

        group = MedicalGroup.objects.filter(pk=area_id).first() if area_id else None
        if group is None:
            raise DomainError.single("area_id", "医共体不存在", "Unknown group", "unknown")
        return group.name, sorted(catchment_township_ids(group.pk))
    if area == "township":
        t = Division.objects.filter(pk=area_id).first() if area_id else None
        if t is None:
            raise DomainError.single("area_id", "乡镇不存在", "Unknown township", "unknown")
        return t.name, [t.pk]
    raise DomainError.single(
        "area", "区域应为 county、group 或 township", "county, group or township", "choice"
    )


def seconded_doctors_per_10k(
    since: date, until: date, *, area: str = "county", area_id: int | None = None
) -> IndicatorValue:
    """DOMAIN.md §10 (同质化): "doctors of intermediate title or above from secondary+
    hospitals seconded to primary level (per 10,000 residents)".

    Numerator: distinct doctors with a secondment overlapping [since, until] whose kind is in
    `settings.YGT["DISPATCH_INDICATOR_KINDS"]` (default long-term 派驻 and short-term 帮扶;
    mobile clinics are visits, not secondments), whose title while seconded is a physician
    title of intermediate level or above (主治医师/副主任医师/主任医师 and the TCM series),
    sent from a facility of a kind in `DISPATCH_SECONDARY_KINDS` (default county hospitals:
    the network has no hospital grade field, see docs/consults.md) to one in
    `DISPATCH_PRIMARY_KINDS` (default township centres and village clinics) located in the
    area. Denominator: active residents living in the area. Missing (value None) when the
    area has no residents or no secondment was ever entered for it (a roster not kept is not
    a zero)."""
    if until < since:
        raise DomainError.single("until", "结束日期早于开始日期", "until before since", "invalid")
    name, townships = area_townships(area, area_id)
    in_area = Q(to_facility__kind__in=_setting("DISPATCH_PRIMARY_KINDS", PRIMARY_KINDS_DEFAULT))
    residents = Resident.objects.filter(status=ResidentStatus.ACTIVE)
    if townships is not None:
        in_area &= Q(to_facility__division_id__in=townships) | Q(
            to_facility__division__parent_id__in=townships
        )
        residents = residents.filter(township_id__in=townships)
    roster = Secondment.objects.filter(in_area)
    counted = (
        _qualifying(since, until).filter(in_area).aggregate(n=Count("staff_id", distinct=True))
    )
    numerator = counted["n"] or 0
    denominator = residents.count()
    kept = numerator > 0 or roster.exists()
    value = rules.per_10k(numerator, denominator) if kept else None
    return IndicatorValue(
        numerator=numerator,
        denominator=denominator,
        value=value,
        missing=value is None,
        definition=DEFINITION,
        since=since,
        until=until,
        area=name,
        area_id=area_id,
    )
