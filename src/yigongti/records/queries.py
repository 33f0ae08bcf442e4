"""Every read of the health record a user triggers: scoped through the resident (the actor
must see the resident), audited once per page, merged identities included."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import TypeVar
from zoneinfo import ZoneInfo

from django.db.models import Q, QuerySet

from yigongti.core import audit
from yigongti.core.actor import Actor
from yigongti.core.errors import NotFound
from yigongti.residents.models import Resident
from yigongti.residents.queries import identity_ids, in_scope, survivor_of

from .models import (
    ClinicalBase,
    DiagnosticReport,
    Drug,
    Encounter,
    Entry,
    HealthExam,
    HealthProfile,
    ICD10Code,
    Observation,
    Prescription,
    VersionStatus,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
TIMELINE_PAGE = 30
C = TypeVar("C", bound=ClinicalBase)


@dataclass(frozen=True)
class TimelineFilter:
    kinds: tuple[str, ...] = ()
    facility_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    include_history: bool = False  # amended and voided versions too


@dataclass
class TimelinePage:
    entries: list[Entry]
    next_cursor: str  # "" when this is the last page


def _cursor(e: Entry) -> str:
    return f"{e.occurred_at.isoformat()}_{e.pk}"


def _parse_cursor(cursor: str) -> tuple[datetime, int] | None:
    try:
        at, pk = cursor.rsplit("_", 1)
        return datetime.fromisoformat(at), int(pk)
    except ValueError:
        return None


def timeline(
    resident: Resident,
    flt: TimelineFilter | None = None,
    *,
    cursor: str = "",
    limit: int = TIMELINE_PAGE,
) -> TimelinePage:
    """The resident's record newest first, across every facility, keyset-paginated (the
    page after `cursor`). The caller has already checked and audited access to `resident`
    (`get_resident_for`)."""
    flt = flt or TimelineFilter()
    qs = Entry.objects.filter(resident_id__in=identity_ids(resident)).select_related("facility")
    if not flt.include_history:
        qs = qs.filter(status=VersionStatus.CURRENT)
    if flt.kinds:
        qs = qs.filter(kind__in=flt.kinds)
    if flt.facility_id:
        qs = qs.filter(facility_id=flt.facility_id)
    if flt.date_from:
        qs = qs.filter(occurred_at__gte=datetime.combine(flt.date_from, time.min, SHANGHAI))
    if flt.date_to:
        qs = qs.filter(occurred_at__lt=datetime.combine(flt.date_to, time.max, SHANGHAI))
    parsed = _parse_cursor(cursor) if cursor else None
    if parsed:
        at, pk = parsed
        qs = qs.filter(Q(occurred_at__lt=at) | Q(occurred_at=at, pk__lt=pk))
    rows = list(qs.order_by("-occurred_at", "-id")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return TimelinePage(rows, _cursor(rows[-1]) if more and rows else "")


def timeline_facilities(resident: Resident) -> list[tuple[int, str]]:
    """The facilities that appear on the resident's record (for the filter)."""
    rows = (
        Entry.objects.filter(resident_id__in=identity_ids(resident), facility__isnull=False)
        .values_list("facility_id", "facility__name")
        .distinct()
    )
    return sorted(set(rows), key=lambda r: r[1])


def _get_clinical_for(actor: Actor, model: type[C], pk: int, what: str, object_type: str) -> C:
    obj = model._default_manager.select_related("resident", "facility").filter(pk=pk).first()
    if obj is None:
        raise NotFound(what)
    person = survivor_of(obj.resident)
    if not in_scope(actor, person):
        audit.record(
            actor,
            audit.Action.DENIED,
            object_type,
            str(pk),
            resident_id=person.pk,
            detail={"purpose": "view"},
        )
        raise NotFound(what)
    audit.record(actor, audit.Action.READ, object_type, str(pk), resident_id=person.pk)
    return obj


def get_encounter_for(actor: Actor, pk: int) -> Encounter:
    return _get_clinical_for(actor, Encounter, pk, "就诊记录", "encounter")


def get_observation_for(actor: Actor, pk: int) -> Observation:
    return _get_clinical_for(actor, Observation, pk, "测量记录", "observation")


def get_exam_for(actor: Actor, pk: int) -> HealthExam:
    return _get_clinical_for(actor, HealthExam, pk, "体检记录", "exam")


def get_report_for(actor: Actor, pk: int) -> DiagnosticReport:
    return _get_clinical_for(actor, DiagnosticReport, pk, "检查检验报告", "report")


def get_prescription_for(actor: Actor, pk: int) -> Prescription:
    return _get_clinical_for(actor, Prescription, pk, "处方", "prescription")


def versions_of(obj: C) -> list[C]:
    """The amendment chain of a record, newest first: any newer versions that replaced
    `obj`, `obj` itself, and what it replaced, back to the first entry."""
    manager = type(obj)._default_manager
    newer: list[C] = []
    nxt = manager.filter(replaces_id=obj.pk).first()
    while nxt is not None:
        newer.insert(0, nxt)
        nxt = manager.filter(replaces_id=nxt.pk).first()
    chain: list[C] = [*newer, obj]
    back = obj
    while back.replaces is not None:
        back = back.replaces  # type: ignore[assignment]
        chain.append(back)
    return chain


def encounter_parts(enc: Encounter) -> tuple[list, list[Observation], list[Prescription]]:
    """Diagnoses, vitals and prescriptions of one encounter version."""
    return (
        list(enc.diagnoses.select_related("code")),
        list(enc.observations.all().order_by("id")),
        list(enc.prescriptions.select_related("drug").order_by("id")),
    )


def current_profile(resident: Resident) -> HealthProfile | None:
    return (
        HealthProfile.objects.filter(resident_id__in=identity_ids(resident)).order_by("-id").first()
    )


def profile_history(resident: Resident) -> QuerySet[HealthProfile]:
    return HealthProfile.objects.filter(resident_id__in=identity_ids(resident)).order_by("-id")


def latest_observations(resident: Resident, kinds: list[str]) -> dict[str, Observation]:
    """The newest current value of each kind (the record header shows BP, glucose, BMI)."""
    out: dict[str, Observation] = {}
    ids = identity_ids(resident)
    for kind in kinds:
        obs = (
            Observation.objects.filter(resident_id__in=ids, kind=kind, status=VersionStatus.CURRENT)
            .order_by("-effective_at", "-id")
            .first()
        )
        if obs is not None:
            out[kind] = obs
    return out


def observations_of(
    resident: Resident, kind: str, *, since: datetime | None = None
) -> QuerySet[Observation]:
    """Current observations of one kind, newest first (care apps: BP history, glucose)."""
    qs = Observation.objects.filter(
        resident_id__in=identity_ids(resident), kind=kind, status=VersionStatus.CURRENT
    )
    if since is not None:
        qs = qs.filter(effective_at__gte=since)
    return qs.order_by("-effective_at", "-id")


def diagnoses_of(resident: Resident) -> list[tuple[str, str, datetime]]:
    """Distinct ICD-10 codes ever diagnosed (current versions), with the first date."""
    seen: dict[str, tuple[str, str, datetime]] = {}
    rows = (
        Encounter.objects.filter(
            resident_id__in=identity_ids(resident), status=VersionStatus.CURRENT
        )
        .filter(diagnoses__isnull=False)
        .values_list("diagnoses__code_id", "diagnoses__name", "started_at")
        .order_by("started_at")
    )
    for code, name, at in rows:
        seen.setdefault(code, (code, name, at))
    return list(seen.values())


# ---------------------------------------------------------------------------------------------
# Code tables (not personal data: no scope)


def search_icd(q: str, limit: int = 20) -> list[ICD10Code]:
    """ICD-10 by code prefix, Chinese name fragment or pinyin initials."""
    text = q.strip()
    if not text:
        return []
    upper = text.upper()
    qs = ICD10Code.objects.filter(active=True)
    if text.isascii():
        # Code prefix first (I10, E11.9), then initials anywhere in the name (gxy finds
        # 特发性（原发性）高血压, whose initials are tfxyfxgxy).
        by_code = list(qs.filter(code__startswith=upper).order_by("code")[:limit])
        rest = limit - len(by_code)
        by_initials = (
            list(
                qs.filter(initials__contains=text.lower())
                .exclude(code__startswith=upper)
                .order_by("initials", "code")[:rest]
            )
            if rest > 0
            else []
        )
        return by_code + by_initials
    return list(qs.filter(name__contains=text).order_by("code")[:limit])


def search_drugs(q: str, limit: int = 20) -> list[Drug]:
    text = q.strip()
    if not text:
        return []
    qs = Drug.objects.filter(active=True)
    if text.isascii():
        cond = Q(code__startswith=text) | Q(initials__contains=text.lower())
    else:
        cond = Q(generic_name__contains=text) | Q(brand_name__contains=text)
    return list(qs.filter(cond).order_by("generic_name")[:limit])
