"""Reads of referrals, scoped to the two sides: the sending facility's staff and the receiving
facility's staff see a referral (a county doctor reads the resident through it, audited, even
when the resident lives outside the group's catchment); administrators see their group; the
commission sees the county."""

from __future__ import annotations

from datetime import date, datetime

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from yigongti.core import audit
from yigongti.core.actor import Actor, ScopeKind
from yigongti.network.models import Facility
from yigongti.residents.models import Resident
from yigongti.residents.queries import identity_ids

from . import rules
from .models import Direction, Referral, ResponsePolicy, State, Transition

OPEN_UP = (State.SUBMITTED, State.ACCEPTED, State.ARRIVED)
OPEN_STATES = OPEN_UP


def policy_for(facility_id: int | None) -> ResponsePolicy:
    row = ResponsePolicy.objects.filter(facility_id=facility_id).first() if facility_id else None
    return row or ResponsePolicy()


def _base() -> QuerySet[Referral]:
    return Referral.objects.select_related(
        "resident", "from_facility", "to_facility", "to_department", "to_doctor", "diagnosis"
    )


def referrals_visible_to(actor: Actor) -> QuerySet[Referral]:
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


def sides_of(actor: Actor, r: Referral) -> set[str]:
    """Which side(s) of the referral the actor stands on. An out-of-county referral has no
    receiver in the platform: its sender records the outside hospital's answers."""
    if actor.is_system:
        return {rules.SENDER, rules.RECEIVER, rules.SYSTEM}
    out: set[str] = set()
    if actor.facility_id is not None and actor.facility_id == r.from_facility_id:
        out.add(rules.SENDER)
        if r.out_of_county:
            out.add(rules.RECEIVER)
    if actor.facility_id is not None and actor.facility_id == r.to_facility_id:
        out.add(rules.RECEIVER)
    return out


def get_referral_for(actor: Actor, pk: int, *, purpose: str = "view") -> Referral:
    return audit.read_one(
        actor, referrals_visible_to(actor), pk, "referral", "转诊单", detail={"purpose": purpose}
    )


def transitions_of(r: Referral) -> QuerySet[Transition]:
    return Transition.objects.select_related("facility").filter(referral=r).order_by("at", "pk")


def _priority(qs: QuerySet[Referral]) -> QuerySet[Referral]:
    """Family-doctor referrals first, then emergencies ("emergency" sorts before "routine"),
    then the oldest."""
    return qs.order_by("-family_doctor", "urgency", "submitted_at", "pk")


def received(actor: Actor, *, state: str | None = None) -> QuerySet[Referral]:
    """The receiving worklist: upward referrals to the actor's facility and return notes to
    it that still need handling (or those in `state`), family-doctor referrals first."""
    if actor.facility_id is None:
        return Referral.objects.none()
    qs = _base().filter(to_facility_id=actor.facility_id)
    qs = qs.filter(state=state) if state else qs.filter(state__in=OPEN_STATES)
    return _priority(qs)


def sent(actor: Actor, *, state: str | None = None) -> QuerySet[Referral]:
    if actor.facility_id is None:
        return Referral.objects.none()
    qs = _base().filter(from_facility_id=actor.facility_id)
    if state:
        qs = qs.filter(state=state)
    return qs.order_by("-created_at", "-pk")


def waiting(actor: Actor) -> QuerySet[Referral]:
    """Submitted and not yet answered, on either side."""
    return _priority(
        referrals_visible_to(actor).filter(state=State.SUBMITTED, direction=Direction.UP)
    )


def overdue_responses(actor: Actor, now: datetime | None = None) -> QuerySet[Referral]:
    now = now or timezone.now()
    return waiting(actor).filter(respond_by__lt=now)


def followups_due(actor: Actor, today: date | None = None) -> list[tuple[Referral, bool]]:
    """Return notes sent to the actor's facility whose follow-up is not yet recorded, with
    whether it is overdue (DOMAIN.md §6: follow-up within 2 weeks)."""
    today = today or timezone.localdate()
    if actor.facility_id is None:
        return []
    qs = (
        _base()
        .filter(
            direction=Direction.DOWN,
            to_facility_id=actor.facility_id,
            state__in=(State.SUBMITTED, State.ACCEPTED),
            followup_done_at__isnull=True,
        )
        .order_by("followup_due", "pk")
    )
    return [(r, rules.followup_overdue(r.followup_due, False, today)) for r in qs]


def chain_of(resident: Resident) -> QuerySet[Referral]:
    """Every referral of this person (merged records included), oldest first."""
    return _base().filter(resident_id__in=identity_ids(resident)).order_by("created_at", "pk")


def destinations(actor: Actor) -> QuerySet[Facility]:
    """County hospitals and branches a referral may go to (in the actor's group first)."""
    from yigongti.network.models import FacilityKind

    return (
        Facility.objects.filter(
            kind__in=(FacilityKind.COUNTY_HOSPITAL, FacilityKind.BRANCH), active=True
        )
        .prefetch_related("departments")
        .order_by("name")
    )


def out_of_county_summary(
    actor: Actor, since: date, until: date, *, top: int = 10
) -> dict[str, object]:
    """Out-of-county share of submitted upward referrals, and the top diagnoses for which
    patients leave (DOMAIN.md §6). Two grouped queries, whatever the volume."""
    qs = (
        referrals_visible_to(actor)
        .filter(
            direction=Direction.UP,
            submitted_at__date__gte=since,
            submitted_at__date__lte=until,
        )
        .exclude(state__in=(State.DRAFT, State.CANCELLED))
    )
    totals = qs.aggregate(total=Count("pk"), out=Count("pk", filter=Q(out_of_county=True)))
    rows = (
        qs.filter(out_of_county=True)
        .values("diagnosis_id", "diagnosis__name")
        .annotate(n=Count("pk"))
        .order_by("-n", "diagnosis_id")[:top]
    )
    total, out = totals["total"] or 0, totals["out"] or 0
    return {
        "since": since,
        "until": until,
        "total": total,
        "out_of_county": out,
        "share": round(out / total, 4) if total else 0.0,
        "top_diagnoses": [
            {
                "code": r["diagnosis_id"] or "",
                "name": r["diagnosis__name"] or "未填诊断",
                "n": r["n"],
            }
            for r in rows
        ],
    }
