"""Finding records that may be the same person (rules + rapidfuzz; DESIGN.md).

Blocking: only records with the same birth date and sex are compared (a typo in the birth
date is caught by the ID number when there is one). Scoring is `pair_score`, a pure
function with table-driven tests; pairs at or above the configured threshold are stored as
`DuplicateCandidate`s for an administrator to merge or dismiss."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from itertools import combinations

from django.conf import settings
from django.db.models import Count
from rapidfuzz.distance import Levenshtein
from rapidfuzz.fuzz import ratio

from .models import DuplicateCandidate, Resident, ResidentStatus


@dataclass(frozen=True)
class LinkRecord:
    pk: int
    name: str
    pinyin: str
    sex: str
    birth_date: date
    doc_number: str
    phone: str
    village_id: int
    township_id: int


def pair_score(a: LinkRecord, b: LinkRecord) -> tuple[int, list[str]]:
    """0-100 likelihood that a and b are one person, with the reasons (Chinese)."""
    reasons: list[str] = []
    if a.sex != b.sex:
        return 0, ["性别不同"]
    name_sim = max(
        ratio(a.name, b.name), ratio(a.pinyin, b.pinyin) if a.pinyin and b.pinyin else 0.0
    )
    score = 40 * name_sim / 100
    if a.name == b.name:
        reasons.append("姓名相同")
    elif a.pinyin and a.pinyin == b.pinyin:
        reasons.append("姓名读音相同")
    elif name_sim >= 50:
        reasons.append("姓名相近")
    if a.birth_date == b.birth_date:
        score += 25
        reasons.append("出生日期相同")
    if a.doc_number and b.doc_number:
        if a.doc_number == b.doc_number:
            score += 35
            reasons.append("证件号相同")
        elif Levenshtein.distance(a.doc_number, b.doc_number) <= 2:
            score += 20
            reasons.append("证件号仅差一两位")
        else:
            score -= 40
            reasons.append("证件号不同")
    elif a.doc_number or b.doc_number:
        reasons.append("一方缺证件号")
    if a.phone and a.phone == b.phone:
        score += 15
        reasons.append("电话相同")
    if a.village_id == b.village_id:
        score += 10
        reasons.append("同村")
    elif a.township_id == b.township_id:
        score += 5
        reasons.append("同乡镇")
    return max(0, min(100, round(score))), reasons


def _as_link(r: Resident) -> LinkRecord:
    return LinkRecord(
        r.pk,
        r.name,
        r.name_pinyin,
        r.sex,
        r.birth_date,
        r.doc_number,
        r.phone,
        r.village_id,
        r.township_id,
    )


_FIELDS = (
    "pk",
    "name",
    "name_pinyin",
    "sex",
    "birth_date",
    "doc_number",
    "phone",
    "village_id",
    "township_id",
)


def _blocks(qs: Iterable[tuple[object, ...]]) -> Iterator[list[LinkRecord]]:
    block: list[LinkRecord] = []
    key: tuple[object, object] | None = None
    for row in qs:
        rec = LinkRecord(*row)  # type: ignore[arg-type]
        k = (rec.birth_date, rec.sex)
        if k != key and block:
            yield block
            block = []
        key = k
        block.append(rec)
    if block:
        yield block


def scored_pairs(
    block: list[LinkRecord], threshold: int
) -> Iterator[tuple[LinkRecord, LinkRecord, int, list[str]]]:
    for a, b in combinations(block, 2):
        score, reasons = pair_score(a, b)
        if score >= threshold:
            first, second = (a, b) if a.pk < b.pk else (b, a)
            yield first, second, score, reasons


def _store(pairs: list[tuple[LinkRecord, LinkRecord, int, list[str]]]) -> int:
    DuplicateCandidate.objects.bulk_create(
        [
            DuplicateCandidate(first_id=a.pk, second_id=b.pk, score=s, reasons=r)
            for a, b, s, r in pairs
        ],
        ignore_conflicts=True,
        batch_size=1000,
    )
    return len(pairs)


def find_duplicates(*, threshold: int | None = None) -> int:
    """Batch pass over the whole index. Returns the number of pairs offered (already known
    pairs, merged or dismissed, are left as they are)."""
    limit = int(settings.YGT["DUPLICATE_THRESHOLD"]) if threshold is None else threshold
    active = Resident.objects.filter(status=ResidentStatus.ACTIVE)
    shared = (
        active.values("birth_date", "sex")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
        .values_list("birth_date", flat=True)
    )
    rows = (
        active.filter(birth_date__in=shared)
        .order_by("birth_date", "sex", "pk")
        .values_list(*_FIELDS)
        .iterator(chunk_size=5000)
    )
    found = 0
    batch: list[tuple[LinkRecord, LinkRecord, int, list[str]]] = []
    for block in _blocks(rows):
        batch.extend(scored_pairs(block, limit))
        if len(batch) >= 1000:
            found += _store(batch)
            batch = []
    return found + _store(batch)


def candidates_for(resident: Resident, *, threshold: int | None = None) -> int:
    """The online check run when a resident is registered."""
    limit = int(settings.YGT["DUPLICATE_THRESHOLD"]) if threshold is None else threshold
    me = _as_link(resident)
    peers = (
        Resident.objects.filter(
            status=ResidentStatus.ACTIVE, birth_date=resident.birth_date, sex=resident.sex
        )
        .exclude(pk=resident.pk)
        .values_list(*_FIELDS)[:500]
    )
    pairs = []
    for row in peers:
        other = LinkRecord(*row)
        score, reasons = pair_score(me, other)
        if score >= limit:
            a, b = (me, other) if me.pk < other.pk else (other, me)
            pairs.append((a, b, score, reasons))
    return _store(pairs)
