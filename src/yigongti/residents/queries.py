"""Every read of residents that a user triggers, scoped to the actor and audited."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone

from yigongti.core import audit
from yigongti.core.actor import Actor, Scope, ScopeKind
from yigongti.core.errors import DomainError, Forbidden, NotFound

from . import rules
from .models import (
    CandidateStatus,
    CardStatus,
    DuplicateCandidate,
    HealthCard,
    MergeRecord,
    Resident,
    ResidentStatus,
)

VIEW = "view_residents"


#: Which Resident column a division-based scope is matched on.
SCOPE_COLUMN = {ScopeKind.TOWNSHIPS: "township_id", ScopeKind.VILLAGES: "village_id"}


def _scope_filter(scope: Scope) -> Q | None:
    if scope.kind == ScopeKind.ALL:
        return Q()
    column = SCOPE_COLUMN.get(scope.kind)
    return None if column is None else Q(**{f"{column}__in": scope.division_ids})


def residents_visible_to(actor: Actor, *, include_merged: bool = False) -> QuerySet[Resident]:
    """The residents this actor may see. Not audited by itself: callers that show personal
    data audit what they show."""
    qs = Resident.objects.all()
    if not include_merged:
        qs = qs.filter(status=ResidentStatus.ACTIVE)
    if not (actor.is_system or actor.can(VIEW)):
        return qs.none()
    cond = _scope_filter(actor.scope)
    return qs.none() if cond is None else qs.filter(cond)


def in_scope(actor: Actor, resident: Resident) -> bool:
    if actor.is_system:
        return True
    if not actor.can(VIEW):
        return False
    s = actor.scope
    if s.kind == ScopeKind.ALL:
        return True
    column = SCOPE_COLUMN.get(s.kind)
    return column is not None and getattr(resident, column) in s.division_ids


def survivor_of(resident: Resident) -> Resident:
    """Follow merge pointers to the record that stands for this person now."""
    seen = {resident.pk}
    while resident.merged_into_id is not None:
        resident = Resident.objects.select_related("village", "township").get(
            pk=resident.merged_into_id
        )
        if resident.pk in seen:  # defensive: merges never form a cycle
            break
        seen.add(resident.pk)
    return resident


def identity_ids(resident: Resident) -> list[int]:
    """The ids whose history belongs to this person: the record and every record merged
    into it (recursively). Care apps read histories with `resident_id__in=identity_ids(r)`."""
    ids = [resident.pk]
    frontier = [resident.pk]
    while frontier:
        frontier = list(
            Resident.objects.filter(merged_into_id__in=frontier).values_list("pk", flat=True)
        )
        ids.extend(frontier)
    return ids


def _deny(
    actor: Actor, resident: Resident | None, what: str, detail: dict[str, object]
) -> NotFound:
    audit.record(
        actor,
        audit.Action.DENIED,
        "resident",
        resident.mpi_id if resident else what,
        resident_id=resident.pk if resident else None,
        detail=detail,
    )
    return NotFound("居民档案")


def get_resident_for(actor: Actor, mpi_id: str, *, purpose: str = "view") -> Resident:
    """One resident by index number (an old, merged number resolves to its survivor).
    Out-of-scope looks like absent to the caller, and the attempt is audited."""
    resident = (
        Resident.objects.select_related(
            "village", "township", "household", "registered_at", "merged_into"
        )
        .filter(mpi_id=mpi_id.strip())
        .first()
    )
    if resident is None:
        raise NotFound("居民档案")
    requested = resident
    resident = survivor_of(resident)
    if not in_scope(actor, resident):
        raise _deny(actor, resident, mpi_id, {"purpose": purpose})
    detail: dict[str, object] = {"purpose": purpose}
    if requested.pk != resident.pk:
        detail["via_merged"] = requested.mpi_id
    audit.record(
        actor,
        audit.Action.READ,
        "resident",
        resident.mpi_id,
        resident_id=resident.pk,
        detail=detail,
    )
    return resident


def cards_of(resident: Resident) -> QuerySet[HealthCard]:
    return HealthCard.objects.filter(resident_id__in=identity_ids(resident)).order_by("-issued_at")


def merges_of(resident: Resident) -> QuerySet[MergeRecord]:
    return MergeRecord.objects.filter(Q(survivor=resident) | Q(merged=resident)).select_related(
        "survivor", "merged", "merged_by", "undone_by"
    )


def merges_visible_to(actor: Actor) -> QuerySet[MergeRecord]:
    """Merges whose two records the actor may see (newest first)."""
    if not (actor.is_system or actor.can("merge_residents")):
        raise Forbidden("无权查看档案合并", "Not allowed to review merges")
    visible = residents_visible_to(actor, include_merged=True)
    return MergeRecord.objects.filter(survivor__in=visible, merged__in=visible).select_related(
        "survivor", "merged", "merged_by", "undone_by"
    )


# --- the one search box ------------------------------------------------------------------

DIGITS = re.compile(r"^[0-9]{4,17}[0-9X]?$")
LATIN = re.compile(r"^[a-z]{2,40}$")
OTHER_DOC = re.compile(r"^[A-Za-z]{1,3}[0-9]{5,}[0-9A-Za-z]*$")
SEARCH_LIMIT = 20


@dataclass
class SearchResult:
    query: str
    kind: str  # "card", "id", "digits", "pinyin", "name", "empty", "too_short"
    residents: list[Resident] = field(default_factory=list)
    more: bool = False
    message: str = ""


def _conditions(q: str) -> tuple[str, list[tuple[Q, int]]]:
    """The ways a query can match, each with its rank (higher first)."""
    compact = rules.normalize_id_number(q)
    if DIGITS.match(compact):
        if len(compact) == 18:
            return "id", [(Q(doc_number=compact), 100)]
        conds = [(Q(mpi_id=compact), 100), (Q(phone=compact), 95)]
        conds += [
            (Q(doc_number__startswith=compact), 60),
            (Q(doc_rev__startswith=compact[::-1]), 70),
            (Q(phone__startswith=compact), 50),
            (Q(phone_rev__startswith=compact[::-1]), 55),
        ]
        return "digits", conds
    if OTHER_DOC.match(compact):
        # passports, birth certificates, permits: letters and digits, stored upper-case
        return "id", [(Q(doc_number=compact.upper()), 100)]
    lowered = q.replace(" ", "").lower()
    if LATIN.match(lowered):
        return "pinyin", [
            (Q(name_pinyin=lowered), 90),
            (Q(name_initials=lowered), 85),
            (Q(name_pinyin__startswith=lowered), 60),
            (Q(name_initials__startswith=lowered), 55),
        ]
    name = rules.normalize_name(q)
    return "name", [(Q(name=name), 90), (Q(name__startswith=name), 60)]


def search_residents(actor: Actor, query: str, *, limit: int = SEARCH_LIMIT) -> SearchResult:
    """Find residents by ID number (whole or part), health-card QR text, index number, name,
    pinyin or initials, or phone, among those the actor may see. The search is audited
    (with the query masked) whether or not it finds anyone."""
    q = (query or "").strip()
    if not q:
        return SearchResult(q, "empty")
    if rules.looks_like_qr_text(q):
        try:
            resident = resolve_qr_for(actor, q)
        except (DomainError, NotFound) as exc:
            return SearchResult(q, "card", message=str(exc))
        return SearchResult(q, "card", [resident])
    compact = rules.normalize_id_number(q)
    if compact.isdigit() and len(compact) < 4:
        return SearchResult(q, "too_short", message="号码请至少输入4位")
    if re.fullmatch(r"[A-Za-z]", q):
        return SearchResult(q, "too_short", message="拼音请至少输入2个字母")
    kind, conds = _conditions(q)
    match = Q()
    for cond, _ in conds:
        match |= cond
    rank = Case(
        *[When(cond, then=Value(score)) for cond, score in conds],
        default=Value(0),
        output_field=IntegerField(),
    )
    qs = (
        residents_visible_to(actor)
        .filter(match)
        .select_related("village", "township")
        .annotate(rank=rank)
        .order_by("-rank", "name", "birth_date", "pk")
    )
    rows: list[Resident] = list(qs[: limit + 1])
    audit.record(
        actor,
        audit.Action.SEARCH,
        "resident",
        "",
        detail={
            "query": _mask_query(q, kind),
            "kind": kind,
            "hits": min(len(rows), limit),
            "more": len(rows) > limit,
        },
    )
    return SearchResult(q, kind, rows[:limit], more=len(rows) > limit)


def _mask_query(q: str, kind: str) -> str:
    if kind in ("id", "digits") and len(q) > 6:
        return rules.mask_id_number(q) if len(q) == 18 else q[:2] + "*" * (len(q) - 4) + q[-2:]
    return q


# --- health card ---------------------------------------------------------------------------


def card_secret() -> bytes:
    return settings.SECRET_KEY.encode("utf-8")


def resolve_qr_for(actor: Actor, text: str) -> Resident:
    """A scanned QR text → the resident it belongs to, or a clear reason why not."""
    try:
        scan = rules.parse_qr_text(text, secret=card_secret(), now=timezone.now())
    except rules.RuleError as exc:
        audit.record(
            actor, audit.Action.RESOLVE, "health_card", "", detail={"ok": False, "reason": exc.code}
        )
        raise DomainError.single("qr", exc.msg_zh, exc.msg_en, exc.code) from exc
    card = HealthCard.objects.select_related("resident").filter(card_id=scan.card_id).first()
    if card is None:
        audit.record(
            actor,
            audit.Action.RESOLVE,
            "health_card",
            scan.card_id[:8],
            detail={"ok": False, "reason": "unknown"},
        )
        raise DomainError.single(
            "qr", "本平台无此电子健康卡", "No such health card here", "unknown_card", status=404
        )
    if card.status == CardStatus.SUSPENDED:
        audit.record(
            actor,
            audit.Action.RESOLVE,
            "health_card",
            scan.card_id[:8],
            resident_id=card.resident_id,
            detail={"ok": False, "reason": "suspended"},
        )
        raise DomainError.single(
            "qr", "该电子健康卡已挂失或暂停使用", "This card is suspended", "suspended"
        )
    resident = survivor_of(card.resident)
    if not in_scope(actor, resident):
        raise _deny(actor, resident, scan.card_id[:8], {"purpose": "scan"})
    audit.record(
        actor,
        audit.Action.RESOLVE,
        "health_card",
        scan.card_id[:8],
        resident_id=resident.pk,
        detail={"ok": True, "qr_type": scan.qr_type},
    )
    return resident


# --- duplicates ----------------------------------------------------------------------------


def duplicates_visible_to(
    actor: Actor, *, status: str = CandidateStatus.OPEN
) -> QuerySet[DuplicateCandidate]:
    if not (actor.is_system or actor.can("merge_residents")):
        raise Forbidden("无权审核重复档案", "Not allowed to review duplicates")
    visible = residents_visible_to(actor, include_merged=True)
    return DuplicateCandidate.objects.filter(
        status=status, first__in=visible, second__in=visible
    ).select_related(
        "first__village", "second__village", "first__registered_at", "second__registered_at"
    )
