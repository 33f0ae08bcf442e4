"""REST API for residents: register, find, read, edit, health cards, duplicates and merges."""

from __future__ import annotations

from datetime import date, datetime

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Field, Router, Schema, Status

from yigongti.core.api import ErrorOut, actor_of
from yigongti.core.dates import age_on
from yigongti.core.errors import NotFound

from . import actions, queries, rules
from .models import DuplicateCandidate, HealthCard, MergeRecord, Resident

router = Router(tags=["residents"])


class ResidentIn(Schema):
    name: str = Field(..., description="姓名", examples=["张伟"])
    sex: str = Field(..., description="性别 GB/T 2261.1: 1 男, 2 女, 0 未知, 9 未说明")
    birth_date: date = Field(..., description="出生日期")
    doc_type: str = Field(
        "id_card",
        description="证件类型: id_card, birth_certificate, "
        "passport, hk_macao_permit, taiwan_permit, foreigner_pr, other, none",
    )
    doc_number: str = Field("", description="证件号码")
    phone: str = ""
    village_code: str = Field(..., description="所属村的12位区划代码")
    address: str = ""
    household_key: str = Field("", description="家庭户编号（同户成员相同）")
    confirm_new_person: bool = Field(
        False, description="无证件且与本村同名同生日居民确为两人时为 true"
    )


class ResidentPatch(Schema):
    name: str | None = None
    sex: str | None = None
    birth_date: date | None = None
    doc_type: str | None = None
    doc_number: str | None = None
    phone: str | None = None
    village_code: str | None = None
    address: str | None = None
    household_key: str | None = None


class ResidentRow(Schema):
    """A list row: ID number and phone masked."""

    mpi_id: str
    name: str
    sex: str
    birth_date: date
    age: int
    doc_type: str
    doc_number_masked: str
    phone_masked: str
    village: str
    township: str


class CardOut(Schema):
    card_id: str
    kind: str
    status: str
    issuer: str
    issuing_org: str
    issued_at: datetime
    static_qr: str


class ResidentOut(Schema):
    """The full record header, for a user in scope."""

    mpi_id: str
    name: str
    name_pinyin: str
    sex: str
    birth_date: date
    age: int
    doc_type: str
    doc_number: str
    phone: str
    address: str
    village_code: str
    village: str
    township: str
    household_key: str
    registered_at: str
    created_at: datetime
    status: str
    merged_mpi_ids: list[str]
    cards: list[CardOut]


class SearchOut(Schema):
    query: str
    kind: str
    message: str
    more: bool
    results: list[ResidentRow]


def row(r: Resident) -> ResidentRow:
    return ResidentRow(
        mpi_id=r.mpi_id,
        name=r.name,
        sex=r.sex,
        birth_date=r.birth_date,
        age=age_on(r.birth_date, timezone.localdate()),
        doc_type=r.doc_type,
        doc_number_masked=rules.mask_id_number(r.doc_number),
        phone_masked=rules.mask_phone(r.phone),
        village=r.village.name,
        township=r.township.name,
    )


def card_out(c: HealthCard) -> CardOut:
    return CardOut(
        card_id=c.card_id,
        kind=c.kind,
        status=c.status,
        issuer=c.issuer,
        issuing_org=c.issuing_org,
        issued_at=c.issued_at,
        static_qr=rules.static_qr_text(c.card_id),
    )


def detail(r: Resident) -> ResidentOut:
    ids = queries.identity_ids(r)
    merged = list(
        Resident.objects.filter(pk__in=ids).exclude(pk=r.pk).values_list("mpi_id", flat=True)
    )
    return ResidentOut(
        mpi_id=r.mpi_id,
        name=r.name,
        name_pinyin=r.name_pinyin,
        sex=r.sex,
        birth_date=r.birth_date,
        age=age_on(r.birth_date, timezone.localdate()),
        doc_type=r.doc_type,
        doc_number=r.doc_number,
        phone=r.phone,
        address=r.address,
        village_code=r.village.code,
        village=r.village.name,
        township=r.township.name,
        household_key=r.household.key if r.household else "",
        registered_at=r.registered_at.name if r.registered_at else "",
        created_at=r.created_at,
        status=r.status,
        merged_mpi_ids=merged,
        cards=[card_out(c) for c in queries.cards_of(r)],
    )


ERRORS: dict[int, type[Schema]] = {403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


@router.get("/residents", response=SearchOut, summary="Find residents (one search box)")
def search(request: HttpRequest, q: str = "", limit: int = 20) -> SearchOut:
    """By whole or partial ID number, health-card QR text, index number, name, pinyin or
    initials (张伟 / zhangwei / zw), or phone; only residents in the caller's area."""
    result = queries.search_residents(actor_of(request), q, limit=max(1, min(limit, 100)))
    return SearchOut(
        query=result.query,
        kind=result.kind,
        message=result.message,
        more=result.more,
        results=[row(r) for r in result.residents],
    )


@router.post("/residents", response={201: ResidentOut, **ERRORS}, summary="Register a resident")
def register(request: HttpRequest, payload: ResidentIn) -> Status[ResidentOut]:
    data = actions.ResidentInput(**payload.dict(exclude={"confirm_new_person"}))
    r = actions.do_register_resident(
        actor_of(request), data, confirm_new_person=payload.confirm_new_person
    )
    return Status(
        201,
        detail(
            Resident.objects.select_related(
                "village", "township", "household", "registered_at"
            ).get(pk=r.pk)
        ),
    )


@router.get(
    "/residents/{mpi_id}",
    response={200: ResidentOut, 404: ErrorOut},
    summary="Read a resident (audited)",
)
def read(request: HttpRequest, mpi_id: str) -> ResidentOut:
    return detail(queries.get_resident_for(actor_of(request), mpi_id))


@router.patch(
    "/residents/{mpi_id}",
    response={200: ResidentOut, **ERRORS},
    summary="Correct a resident's data",
)
def update(request: HttpRequest, mpi_id: str, payload: ResidentPatch) -> ResidentOut:
    actor = actor_of(request)
    r = queries.get_resident_for(actor, mpi_id, purpose="edit")
    r = actions.do_update_resident(actor, r, payload.dict(exclude_unset=True))
    return detail(
        Resident.objects.select_related("village", "township", "household", "registered_at").get(
            pk=r.pk
        )
    )


class DynamicQrOut(Schema):
    card_id: str
    qr_text: str
    valid_until: datetime


@router.post(
    "/residents/{mpi_id}/dynamic-qr",
    response={200: DynamicQrOut, 404: ErrorOut},
    summary="Issue a short-lived signed QR text for the resident's card",
)
def dynamic_qr(request: HttpRequest, mpi_id: str) -> DynamicQrOut:
    r = queries.get_resident_for(actor_of(request), mpi_id, purpose="qr")
    card = queries.cards_of(r).filter(status="1").first()
    if card is None:
        raise NotFound("可用的电子健康卡")
    text, until = actions.dynamic_qr(card)
    return DynamicQrOut(card_id=card.card_id, qr_text=text, valid_until=until)


class CardIn(Schema):
    card_id: str = Field(..., description="外部签发的64位十六进制卡号")
    kind: str = Field("2", description="1 临时卡, 2 正式卡")
    issuing_org: str = ""


@router.post(
    "/residents/{mpi_id}/cards",
    response={201: CardOut, **ERRORS},
    summary="Attach an externally issued health card",
)
def attach_card(request: HttpRequest, mpi_id: str, payload: CardIn) -> Status[CardOut]:
    actor = actor_of(request)
    r = queries.get_resident_for(actor, mpi_id, purpose="attach_card")
    card = actions.do_attach_external_card(
        actor, r, payload.card_id, kind=payload.kind, issuing_org=payload.issuing_org
    )
    return Status(201, card_out(card))


class ScanIn(Schema):
    qr_text: str


@router.post(
    "/cards/resolve",
    response={200: ResidentRow, **ERRORS},
    summary="Resolve a scanned health-card QR text",
)
def resolve(request: HttpRequest, payload: ScanIn) -> ResidentRow:
    """Static `CARD_ID:1` or dynamic `CARD_ID:2:VALID_UNTIL:SIG`; says clearly why not:
    malformed, tampered, expired, suspended, unknown."""
    return row(queries.resolve_qr_for(actor_of(request), payload.qr_text))


class CardStatusIn(Schema):
    status: str = Field(..., description="1 正常, 2 挂失/暂停")
    reason: str = ""


@router.patch(
    "/cards/{card_id}",
    response={200: CardOut, **ERRORS},
    summary="Suspend or restore a health card",
)
def set_card_status(request: HttpRequest, card_id: str, payload: CardStatusIn) -> CardOut:
    actor = actor_of(request)
    card = (
        HealthCard.objects.select_related("resident")
        .filter(card_id=card_id.strip().upper())
        .first()
    )
    if card is None or not queries.in_scope(actor, queries.survivor_of(card.resident)):
        raise NotFound("电子健康卡")
    return card_out(actions.do_set_card_status(actor, card, payload.status, payload.reason))


class CandidateOut(Schema):
    id: int
    score: int
    reasons: list[str]
    first: ResidentRow
    second: ResidentRow


@router.get(
    "/duplicates",
    response={200: list[CandidateOut], 403: ErrorOut},
    summary="Possible duplicate records awaiting review",
)
def duplicates(request: HttpRequest, limit: int = 50, offset: int = 0) -> list[CandidateOut]:
    qs = queries.duplicates_visible_to(actor_of(request))[offset : offset + min(limit, 200)]
    return [
        CandidateOut(
            id=c.pk, score=c.score, reasons=c.reasons, first=row(c.first), second=row(c.second)
        )
        for c in qs
    ]


class MergeIn(Schema):
    survivor: str = Field(..., description="保留的主索引号")
    merged: str = Field(..., description="被合并的主索引号")
    reason: str = ""


class MergeOut(Schema):
    id: int
    survivor: str
    merged: str
    merged_at: datetime
    undone_at: datetime | None


def merge_out(m: MergeRecord) -> MergeOut:
    return MergeOut(
        id=m.pk,
        survivor=m.survivor.mpi_id,
        merged=m.merged.mpi_id,
        merged_at=m.merged_at,
        undone_at=m.undone_at,
    )


@router.post("/merges", response={201: MergeOut, **ERRORS}, summary="Merge two records")
def merge(request: HttpRequest, payload: MergeIn) -> Status[MergeOut]:
    actor = actor_of(request)
    survivor = queries.get_resident_for(actor, payload.survivor, purpose="merge")
    merged = queries.get_resident_for(actor, payload.merged, purpose="merge")
    if payload.survivor.strip() != payload.merged.strip() and survivor.pk == merged.pk:
        # the "merged" number already resolves to the survivor
        merged = Resident.objects.get(mpi_id=payload.merged.strip())
    return Status(
        201, merge_out(actions.do_merge_residents(actor, survivor, merged, reason=payload.reason))
    )


@router.post("/merges/{merge_id}/undo", response={200: MergeOut, **ERRORS}, summary="Undo a merge")
def undo_merge(request: HttpRequest, merge_id: int) -> MergeOut:
    record = get_object_or_404(
        MergeRecord.objects.select_related("survivor", "merged"), pk=merge_id
    )
    return merge_out(actions.do_undo_merge(actor_of(request), record))


@router.post(
    "/duplicates/{candidate_id}/dismiss",
    response={200: CandidateOut, **ERRORS},
    summary="Mark a candidate pair as two different people",
)
def dismiss(request: HttpRequest, candidate_id: int) -> CandidateOut:
    actor = actor_of(request)
    c = queries.duplicates_visible_to(actor).filter(pk=candidate_id).first()
    if c is None:
        raise NotFound("疑似重复记录")
    c = actions.do_dismiss_duplicate(actor, c)
    return CandidateOut(
        id=c.pk, score=c.score, reasons=c.reasons, first=row(c.first), second=row(c.second)
    )


__all__ = ["DuplicateCandidate", "router"]
