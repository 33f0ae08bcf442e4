"""Reads of the shared diagnosis centres, scoped to the two sides: the requesting facility's
clinicians see their facility's studies; a centre's readers (users with `read_studies` at the
host facility, or the group administrator for the group's centres) see the centre's studies;
the commission sees everything. Quality figures are set-based aggregates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.db.models import BooleanField, Count, Q, QuerySet
from django.db.models.expressions import RawSQL

from yigongti.core import audit
from yigongti.core.actor import Actor, ScopeKind
from yigongti.network.models import Facility
from yigongti.residents.models import Resident
from yigongti.residents.queries import identity_ids

from . import rules
from .models import (
    OPEN_STATES,
    Centre,
    CriticalValue,
    FilmGrade,
    QualityReview,
    Report,
    ReportTemplate,
    Study,
    StudyState,
)

CONSULT = "consult"
READ = "read_studies"
QUEUE_PAGE = 50
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _is_group_admin(actor: Actor) -> bool:
    return actor.facility_id is None and actor.group_id is not None


def reader_centres(actor: Actor) -> QuerySet[Centre]:
    """The centres whose queue the actor works: hosted at their facility, or (group
    administrator) hosted in their group."""
    qs = Centre.objects.select_related("facility")
    if actor.is_system:
        return qs
    if not actor.can(READ):
        return qs.none()
    if actor.facility_id is not None:
        return qs.filter(facility_id=actor.facility_id)
    if actor.group_id is not None:
        return qs.filter(facility__group_id=actor.group_id)
    return qs.none()


def centres_serving(facility: Facility | None) -> QuerySet[Centre]:
    """Active centres a facility may request readings from."""
    if facility is None:
        return Centre.objects.none()
    cond = Q(members=facility)
    if facility.group_id is not None:
        cond |= Q(serves_group=True, facility__group_id=facility.group_id)
    ids = Centre.objects.filter(cond, active=True).values("pk")
    return Centre.objects.select_related("facility").filter(pk__in=ids).order_by("kind", "pk")


def requester_centres(actor: Actor) -> QuerySet[Centre]:
    if not (actor.is_system or actor.can(CONSULT)) or actor.facility_id is None:
        return Centre.objects.none()
    return centres_serving(Facility.objects.filter(pk=actor.facility_id).first())


def _base() -> QuerySet[Study]:
    return Study.objects.select_related(
        "resident", "centre", "centre__facility", "requesting_facility"
    )


def studies_visible_to(actor: Actor) -> QuerySet[Study]:
    qs = _base()
    if actor.is_system or actor.scope.kind == ScopeKind.ALL:
        return qs
    cond = Q(pk__in=[])
    if actor.can(CONSULT) and actor.facility_id is not None:
        cond |= Q(requesting_facility_id=actor.facility_id)
    if actor.can(READ):
        if actor.facility_id is not None:
            cond |= Q(centre__facility_id=actor.facility_id)
        elif actor.group_id is not None:
            cond |= Q(centre__facility__group_id=actor.group_id)
    if _is_group_admin(actor) and actor.can(CONSULT):
        cond |= Q(requesting_facility__group_id=actor.group_id)
    return qs.filter(cond)


def sides_of(actor: Actor, s: Study) -> set[str]:
    if actor.is_system:
        return {rules.REQUESTER, rules.READER, rules.REVIEWER}
    out: set[str] = set()
    if actor.can(CONSULT) and actor.facility_id == s.requesting_facility_id:
        out.add(rules.REQUESTER)
    if reader_centres(actor).filter(pk=s.centre_id).exists():
        out.add(rules.REVIEWER)
        # report and release belong to the reader who claimed; claim to any reader
        if s.state == StudyState.REQUESTED or s.claimed_by_id == actor.user_id:
            out.add(rules.READER)
    return out


def get_study_for(actor: Actor, pk: int, *, purpose: str = "view") -> Study:
    return audit.read_one(
        actor, studies_visible_to(actor), pk, "study", "诊断申请", detail={"purpose": purpose}
    )


def current_report(s: Study) -> Report | None:
    return Report.objects.filter(study=s, is_current=True).first()


def reports_of(s: Study) -> QuerySet[Report]:
    return Report.objects.filter(study=s).order_by("version")


def templates_of(centre_id: int) -> QuerySet[ReportTemplate]:
    return ReportTemplate.objects.filter(centre_id=centre_id, active=True).order_by("name")


# ---------------------------------------------------------------------------------------------
# worklists


@dataclass(frozen=True)
class Cursor:
    """Keyset position in a reading queue: (urgency, requested_at, id) of the last row."""

    urgency: int
    requested_at: datetime
    id: int

    def encode(self) -> str:
        """URL-safe text: urgency~microseconds since the epoch (UTC)~id."""
        us = (self.requested_at - EPOCH) // timedelta(microseconds=1)
        return f"{self.urgency}~{us}~{self.id}"

    @classmethod
    def decode(cls, text: str) -> Cursor | None:
        try:
            u, us, i = text.split("~")
            return cls(int(u), EPOCH + timedelta(microseconds=int(us)), int(i))
        except (ValueError, OverflowError):
            return None


def reading_queue(
    actor: Actor, centre_id: int, *, after: Cursor | None = None, limit: int = QUEUE_PAGE
) -> list[Study]:
    """One centre's open studies, most urgent first, then the longest waiting; a page of
    `limit` after `after` (keyset, so page 100 costs what page 1 costs). Served by the partial
    index `diag_queue` (centre, urgency, requested_at, id) WHERE state IN (requested, claimed).
    Not audited per row: the list shows names only; opening a study is audited."""
    if not reader_centres(actor).filter(pk=centre_id).exists():
        return []
    qs = Study.objects.filter(centre_id=centre_id, state__in=list(OPEN_STATES))
    if after is not None:
        # a row-value comparison, so the database walks the index from the cursor on
        # (PostgreSQL and SQLite ≥ 3.15 both have it); parameters, never interpolated values
        t = connection.ops.quote_name(Study._meta.db_table)
        at = Study._meta.get_field("requested_at").get_db_prep_value(after.requested_at, connection)
        qs = qs.filter(
            RawSQL(  # noqa: S611 - fixed column names, quoted table, values as parameters
                f"({t}.urgency, {t}.requested_at, {t}.id) > (%s, %s, %s)",
                (after.urgency, at, after.id),
                output_field=BooleanField(),
            )
        )
    qs = (
        qs.select_related("resident", "requesting_facility", "centre")
        .only(
            "id",
            "centre_id",
            "kind",
            "state",
            "urgency",
            "requested_at",
            "exam_code",
            "exam_name",
            "body_part",
            "claimed_by_id",
            "prior_study_id",
            "resident__name",
            "resident__mpi_id",
            "requesting_facility__name",
            "centre__name",
        )
        .order_by("urgency", "requested_at", "id")
    )
    return list(qs[: max(1, min(limit, 200))])


def requested_by_facility(actor: Actor, *, state: str = "") -> QuerySet[Study]:
    """The requesting facility's studies, newest first."""
    if actor.facility_id is None or not (actor.is_system or actor.can(CONSULT)):
        return Study.objects.none()
    qs = _base().filter(requesting_facility_id=actor.facility_id)
    if state:
        qs = qs.filter(state=state)
    return qs.order_by("-requested_at", "-id")


def critical_worklist(actor: Actor) -> QuerySet[CriticalValue]:
    """Unresolved critical values the actor must act on: those of their facility's studies; for
    the group administrator those of the group escalated to level 2."""
    qs = CriticalValue.objects.select_related(
        "study", "study__centre", "resident", "requesting_facility"
    ).filter(resolved_at__isnull=True)
    if actor.is_system or actor.scope.kind == ScopeKind.ALL:
        pass
    elif actor.facility_id is not None and actor.can(CONSULT):
        qs = qs.filter(requesting_facility_id=actor.facility_id)
    elif _is_group_admin(actor):
        qs = qs.filter(
            requesting_facility__group_id=actor.group_id, escalation_level__gte=rules.MAX_LEVEL
        )
    else:
        return qs.none()
    return qs.order_by("acknowledged_at", "-escalation_level", "flagged_at", "pk")


def critical_values_visible_to(actor: Actor) -> QuerySet[CriticalValue]:
    return CriticalValue.objects.select_related("study", "resident").filter(
        study__in=studies_visible_to(actor).values("pk")
    )


def prior_recognised(resident: Resident, exam_code: str, now: datetime, days: int) -> Study | None:
    """The most recent reported study of the same exam for this person (merged records
    included, any centre: results are recognised across members) inside the window."""
    if days <= 0:
        return None
    s = (
        Study.objects.select_related("centre", "requesting_facility")
        .filter(
            resident_id__in=identity_ids(resident),
            exam_code=exam_code,
            state__in=(StudyState.REPORTED, StudyState.REVIEWED),
            reported_at__gte=now - timedelta(days=days),
            reported_at__lte=now,
        )
        .order_by("-reported_at", "-pk")
        .first()
    )
    if s is None or s.reported_at is None or not rules.recognised(s.reported_at, now, days):
        return None
    return s


# ---------------------------------------------------------------------------------------------
# quality


def quality_centres(actor: Actor) -> QuerySet[Centre]:
    """Centres whose quality figures the actor may see."""
    qs = Centre.objects.select_related("facility")
    if actor.is_system or actor.scope.kind == ScopeKind.ALL:
        return qs
    if _is_group_admin(actor):
        return qs.filter(facility__group_id=actor.group_id)
    if actor.facility_id is not None:
        host = qs.filter(facility_id=actor.facility_id)
        if host.exists():
            return host
        return requester_centres(actor) if actor.can(CONSULT) else qs.none()
    return qs.none()


def _shares(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    for r in rows:
        r["consistency_rate"] = rules.rate(int(r["consistent"]), int(r["reviewed"]))  # type: ignore[call-overload]
        r["grade_a_rate"] = rules.rate(int(r["grade_a"]), int(r["graded"]))  # type: ignore[call-overload]
    return rows


def quality_rates(
    actor: Actor, since: datetime, until: datetime, *, by: str = "centre"
) -> list[dict[str, object]]:
    """Report consistency on review and grade-A film rate over [since, until) per centre (or
    per requesting facility with `by="facility"`), each with numerator and denominator. One
    grouped query. Consistency: consistent reviews ÷ reviews. Grade-A: grade-A films ÷ graded
    films (imaging). A group with no reviews has no row; a rate with no denominator is None."""
    centres = quality_centres(actor)
    qs = QualityReview.objects.filter(
        centre__in=centres.values("pk"), reviewed_at__gte=since, reviewed_at__lt=until
    )
    if (
        by == "facility"
        and actor.facility_id is not None
        and not reader_centres(actor).exists()
        and not actor.is_system
    ):
        qs = qs.filter(requesting_facility_id=actor.facility_id)
    keys = (
        ["requesting_facility_id", "requesting_facility__name"]
        if by == "facility"
        else ["centre_id", "centre__name", "centre__kind"]
    )
    rows = list(
        qs.values(*keys)
        .annotate(
            reviewed=Count("pk"),
            consistent=Count("pk", filter=Q(consistent=True)),
            graded=Count("pk", filter=~Q(film_grade="")),
            grade_a=Count("pk", filter=Q(film_grade=FilmGrade.A)),
        )
        .order_by(*keys[:1])
    )
    return _shares(rows)


def quality_trend(
    actor: Actor, since: datetime, until: datetime, centre_id: int | None = None
) -> list[dict[str, object]]:
    """The same two rates month by month (Asia/Shanghai months), for the trend line."""
    from django.db.models.functions import TruncMonth

    qs = QualityReview.objects.filter(
        centre__in=quality_centres(actor).values("pk"),
        reviewed_at__gte=since,
        reviewed_at__lt=until,
    )
    if centre_id:
        qs = qs.filter(centre_id=centre_id)
    rows = list(
        qs.annotate(month=TruncMonth("reviewed_at"))
        .values("month")
        .annotate(
            reviewed=Count("pk"),
            consistent=Count("pk", filter=Q(consistent=True)),
            graded=Count("pk", filter=~Q(film_grade="")),
            grade_a=Count("pk", filter=Q(film_grade=FilmGrade.A)),
        )
        .order_by("month")
    )
    return _shares(rows)


def critical_loop_summary(actor: Actor, since: datetime, until: datetime) -> dict[str, object]:
    """Closed-loop figures of critical values flagged in the period, over the visible
    centres: flagged, acknowledged in time, acknowledged, resolved, escalated."""
    from django.db.models import F

    qs = CriticalValue.objects.filter(
        study__centre__in=quality_centres(actor).values("pk"),
        flagged_at__gte=since,
        flagged_at__lt=until,
    )
    agg = qs.aggregate(
        flagged=Count("pk"),
        acknowledged=Count("pk", filter=Q(acknowledged_at__isnull=False)),
        in_time=Count("pk", filter=Q(acknowledged_at__lte=F("ack_due_at"))),
        resolved=Count("pk", filter=Q(resolved_at__isnull=False)),
        escalated=Count("pk", filter=Q(escalation_level__gt=0)),
    )
    out: dict[str, object] = dict(agg)
    out["in_time_rate"] = rules.rate(agg["in_time"] or 0, agg["flagged"] or 0)
    out["resolved_rate"] = rules.rate(agg["resolved"] or 0, agg["flagged"] or 0)
    return out
