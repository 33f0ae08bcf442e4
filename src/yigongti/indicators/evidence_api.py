"""REST API of the qualitative indicators' evidence items (佐证材料), under
/api/v1/indicators/evidence: list, status, create (multipart), attach files, download,
update, submit and review. See `indicators.evidence` for who may do what."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.http import content_disposition_header
from ninja import Field, File, Form, Query, Router, Schema, Status, UploadedFile

from yigongti.core.api import ErrorOut, actor_of

from . import evidence
from .models import EvidenceAttachment, EvidenceItem, EvidenceReview, EvidenceState

router = Router(tags=["监测指标"])
ERRORS: dict[int, type[Schema]] = {403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}
PAGE_SIZE = 50


class AttachmentOut(Schema):
    id: int
    name: str = Field(..., description="文件名")
    content_type: str = Field(..., description="文件类型（按文件内容判定）")
    size: int = Field(..., description="字节数")
    sha256: str
    round: int = Field(..., description="随第几次提交")
    uploaded_at: datetime
    url: str = Field(..., description="下载地址（下载留痕）")


class ReviewOut(Schema):
    seq: int = Field(..., description="评审序号；最后一条为现行结论")
    round: int = Field(..., description="针对第几次提交")
    reviewer: str
    judgement: str = Field(
        ..., description="met 达标 / mostly 基本达标 / not_met 未达标 / returned 退回"
    )
    judgement_label: str
    fraction: float | None = Field(None, description="得分系数 1 / 0.5 / 0；退回为空")
    comment: str
    reviewed_at: datetime


class ItemOut(Schema):
    id: int
    code: str = Field(..., description="指标编码（紧密型定性指标）")
    name: str = Field(..., description="指标名称")
    group_id: int
    group_name: str
    period: str = Field(..., description="统计期：2026 或 2026H1")
    title: str
    description: str
    state: str = Field(
        ..., description="draft 草稿 / submitted 待评审 / returned 退回 / reviewed 已评审"
    )
    state_label: str
    round: int = Field(..., description="提交次数")
    submitted_at: datetime | None
    judgement: str = Field("", description="现行评审结论")
    fraction: float | None = Field(None, description="现行得分系数")
    reviewed_at: datetime | None
    n_files: int = 0


class ItemDetailOut(ItemOut):
    attachments: list[AttachmentOut]
    reviews: list[ReviewOut]


class ItemList(Schema):
    count: int
    page: int
    items: list[ItemOut]


class StatusOut(Schema):
    code: str
    name: str
    group_id: int
    group_name: str
    period: str
    items: int = Field(..., description="已提交的材料份数（草稿不计）")
    pending: int = Field(..., description="待评审份数")
    status: str = Field(..., description="met / mostly / not_met / pending / returned / none")
    status_label: str = Field(
        ..., description="达标 / 基本达标 / 未达标 / 待评审 / 退回补充 / 未提交"
    )
    fraction: float | None
    reviewer: str
    reviewed_at: datetime | None


class ListQuery(Schema):
    period: str = Field("", description="统计期：2026 或 2026H1；空为全部")
    group: int | None = Field(None, ge=1, le=2**31 - 1, description="医共体 id")
    code: str = Field("", description="指标编码")
    state: str = Field("", description="draft / submitted / returned / reviewed")
    page: int = Field(1, ge=1, le=1_000_000)


class StatusQuery(Schema):
    period: str = Field(..., description="统计期：2026 或 2026H1")
    group: int | None = Field(
        None, ge=1, le=2**31 - 1, description="医共体 id；空为全部（医共体管理员为本医共体）"
    )


class UpdateIn(Schema):
    title: str = Field(..., description="标题")
    description: str = Field("", description="工作开展情况")


class ReviewIn(Schema):
    judgement: str = Field(
        ..., description="met 达标 / mostly 基本达标 / not_met 未达标 / returned 退回补充材料"
    )
    comment: str = Field("", description="评审意见（达标以外必填）")
    seen_reviews: int | None = Field(
        None, description="评审人看到的评审条数；期间有他人评审则返回 409"
    )


def _num(v: Any) -> float | None:
    return float(v) if v is not None else None


def _item(it: EvidenceItem, n_files: int | None = None) -> dict[str, Any]:
    names = {d.code: d.name for d in evidence.qualitative_defs()}
    return {
        "id": it.pk,
        "code": it.code,
        "name": names.get(it.code, it.code),
        "group_id": it.group_id,
        "group_name": it.group.name,
        "period": it.period,
        "title": it.title,
        "description": it.description,
        "state": it.state,
        "state_label": it.get_state_display(),
        "round": it.round,
        "submitted_at": it.submitted_at,
        "judgement": it.judgement,
        "fraction": _num(it.fraction),
        "reviewed_at": it.reviewed_at,
        "n_files": n_files if n_files is not None else getattr(it, "n_files", 0),
    }


def _attachment(a: EvidenceAttachment) -> dict[str, Any]:
    return {
        "id": a.pk,
        "name": a.name,
        "content_type": a.content_type,
        "size": a.size,
        "sha256": a.sha256,
        "round": a.round,
        "uploaded_at": a.uploaded_at,
        "url": f"/api/v1/indicators/evidence/{a.item_id}/attachments/{a.pk}",
    }


def _review(r: EvidenceReview) -> dict[str, Any]:
    return {
        "seq": r.seq,
        "round": r.round,
        "reviewer": evidence.display_name(r.reviewer),
        "judgement": r.judgement,
        "judgement_label": r.get_judgement_display(),
        "fraction": _num(r.fraction),
        "comment": r.comment,
        "reviewed_at": r.reviewed_at,
    }


def _detail(it: EvidenceItem) -> dict[str, Any]:
    files = [_attachment(a) for a in evidence.attachments_of(it)]
    return {
        **_item(it, len(files)),
        "attachments": files,
        "reviews": [_review(r) for r in evidence.reviews_of(it)],
    }


@router.get("/indicators/evidence", response={200: ItemList, **ERRORS})
def list_items(request: HttpRequest, q: Query[ListQuery]) -> Any:
    """佐证材料列表（医共体管理员：本医共体；卫健委：已提交的全部材料）。"""
    actor = actor_of(request)
    period = evidence.parse_evidence_period(q.period) if q.period else None
    state = q.state if q.state in EvidenceState.values else ""
    qs = evidence.list_evidence(actor, period=period, group_id=q.group, code=q.code, state=state)
    count = qs.count()
    rows = list(qs[(q.page - 1) * PAGE_SIZE : q.page * PAGE_SIZE])
    return {"count": count, "page": q.page, "items": [_item(it) for it in rows]}


@router.get("/indicators/evidence/status", response={200: list[StatusOut], **ERRORS})
def status(request: HttpRequest, q: Query[StatusQuery]) -> Any:
    """各紧密型指标、各医共体的评审情况：达标 / 基本达标 / 未达标 / 待评审 / 退回补充 / 未提交。"""
    period = evidence.parse_evidence_period(q.period)
    rows = evidence.evidence_status_for(actor_of(request), period, q.group)
    return [{**r, "fraction": _num(r["fraction"])} for r in rows]


@router.post("/indicators/evidence", response={201: ItemDetailOut, **ERRORS})
def create(
    request: HttpRequest,
    code: str = Form(
        ..., description="指标编码：tight_resources / tight_decision / tight_services"
    ),
    group: int | None = Form(None, description="医共体 id（医共体管理员为本医共体）"),
    period: str = Form(..., description="统计期：2026 或 2026H1"),
    title: str = Form("", description="标题"),
    description: str = Form("", description="工作开展情况"),
    submit: bool = Form(False, description="true：创建后立即提交评审（至少一个附件）"),
    client_key: str = Form("", description="幂等键：重复提交返回同一份材料"),
    files: File[list[UploadedFile]] = None,  # type: ignore[assignment]
) -> Status[dict[str, Any]]:
    """新建佐证材料（multipart/form-data，可附多个文件 `files`）。"""
    actor = actor_of(request)
    item = evidence.do_create_evidence(
        actor,
        code=code,
        group_id=group if group is not None else actor.group_id,
        period=period,
        title=title,
        description=description,
        files=evidence.uploads_from(files or []),
        submit=submit,
        client_key=client_key,
    )
    return Status(201, _detail(evidence.get_evidence_for(actor, item.pk)))


@router.get("/indicators/evidence/{item_id}", response={200: ItemDetailOut, **ERRORS})
def detail(request: HttpRequest, item_id: int) -> Any:
    """一份佐证材料：附件与评审记录。"""
    return _detail(evidence.get_evidence_for(actor_of(request), item_id))


@router.delete(
    "/indicators/evidence/{item_id}/attachments/{file_id}", response={204: None, **ERRORS}
)
def remove_attachment(request: HttpRequest, item_id: int, file_id: int) -> Any:
    """从尚未提交的草稿中删除附件（已提交过的材料不能删除附件）。"""
    evidence.do_remove_attachment(actor_of(request), item_id, file_id)
    return Status(204, None)


@router.post("/indicators/evidence/{item_id}/attachments", response={201: ItemDetailOut, **ERRORS})
def upload(
    request: HttpRequest, item_id: int, files: File[list[UploadedFile]]
) -> Status[dict[str, Any]]:
    """为草稿或退回的材料补充附件（multipart/form-data，字段 `files`，可多个）。"""
    actor = actor_of(request)
    evidence.do_add_attachments(actor, item_id, evidence.uploads_from(files))
    return Status(201, _detail(evidence.get_evidence_for(actor, item_id)))


@router.get(
    "/indicators/evidence/{item_id}/attachments/{file_id}",
    response={200: None, **ERRORS},
    openapi_extra={"responses": {"200": {"content": {"application/octet-stream": {}}}}},
)
def download(request: HttpRequest, item_id: int, file_id: int) -> HttpResponse:
    """下载附件（原文件字节；下载留痕）。"""
    att = evidence.get_attachment_for_download(actor_of(request), item_id, file_id)
    resp = HttpResponse(bytes(att.data), content_type=att.content_type)
    resp["Content-Disposition"] = content_disposition_header(True, att.name) or "attachment"
    resp["X-Content-Type-Options"] = "nosniff"
    resp["Cache-Control"] = "private, no-store"
    return resp


@router.put("/indicators/evidence/{item_id}", response={200: ItemDetailOut, **ERRORS})
def update(request: HttpRequest, item_id: int, body: UpdateIn) -> Any:
    """修改草稿或退回材料的标题与工作开展情况。"""
    actor = actor_of(request)
    evidence.do_update_evidence(actor, item_id, title=body.title, description=body.description)
    return _detail(evidence.get_evidence_for(actor, item_id))


@router.post("/indicators/evidence/{item_id}/submit", response={200: ItemDetailOut, **ERRORS})
def submit_item(request: HttpRequest, item_id: int) -> Any:
    """提交评审（草稿，或退回后补充材料重新提交）。"""
    actor = actor_of(request)
    evidence.do_submit_evidence(actor, item_id)
    return _detail(evidence.get_evidence_for(actor, item_id))


@router.post("/indicators/evidence/{item_id}/review", response={200: ItemDetailOut, **ERRORS})
def review(request: HttpRequest, item_id: int, body: ReviewIn) -> Any:
    """卫健委评审：达标 / 基本达标 / 未达标（达标以外须填写意见），或退回补充材料。"""
    actor = actor_of(request)
    evidence.do_review_evidence(
        actor,
        item_id,
        judgement=body.judgement,
        comment=body.comment,
        seen_reviews=body.seen_reviews,
    )
    return _detail(evidence.get_evidence_for(actor, item_id))
