"""Evidence items (佐证材料) of the qualitative indicators: rules, reads and writes.

DOMAIN.md §10: the 紧密型 aspect of the 2024 national monitoring system is qualitative —
unified resource management, democratic decision-making inside the group, coordinated
services. The platform cannot compute them; a medical group's administrator records what the
group did as an evidence item with attachments (per indicator, group and period: a year or a
half-year, since provinces evaluate yearly and cities half-yearly), and the health commission
judges it: 达标 (met, fraction 1), 基本达标 (mostly met, 0.5) or 未达标 (not met, 0), or
returns it for more material. A later review supersedes the earlier ones; all are kept.

Who: a group administrator (MANAGE_INDICATORS, bound to a group) writes and reads their own
group's items; the health commission (MANAGE_INDICATORS with the whole county in scope)
reads every submitted item and reviews; nobody reviews their own submission. Drafts are the
group's own until submitted. Others are refused with a `denied` audit entry. Every read,
write and download is audited.

For the scoring and the dashboard (callers that check the actor and audit their own read):
`judgement_fraction(code, group_id, period)` and `evidence_status(period, group_id)`."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, QuerySet
from django.utils import timezone

from yigongti.accounts.rules import Perm, Role
from yigongti.core import audit
from yigongti.core.actor import Actor, ScopeKind
from yigongti.core.errors import Conflict, DomainError, FieldError, Forbidden, NotFound
from yigongti.network.models import MedicalGroup

from . import catalogue
from .catalogue import IndicatorDef
from .models import (
    EvidenceAttachment,
    EvidenceItem,
    EvidenceReview,
    EvidenceState,
    Judgement,
)
from .rules import Grain, Period, parse_period

# =============================================================================================
# rules (pure)
# =============================================================================================

#: The aspect whose indicators are judged from evidence (DOMAIN.md §10: 紧密型, qualitative).
QUALITATIVE_ASPECT = "tight"

#: Scoring fraction of each judgement (达标 1, 基本达标 0.5, 未达标 0); a return has none.
FRACTIONS: dict[str, Decimal] = {
    Judgement.MET: Decimal("1"),
    Judgement.MOSTLY: Decimal("0.5"),
    Judgement.NOT_MET: Decimal("0"),
}

#: Default largest attachment (settings.YGT["EVIDENCE_MAX_BYTES"] overrides).
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
#: Most attachments one item may carry.
MAX_FILES_PER_ITEM = 20
TITLE_MAX = 200
DESCRIPTION_MAX = 5000
COMMENT_MAX = 2000

#: States in which the group may still change the item (add files, edit, submit).
EDITABLE = frozenset({EvidenceState.DRAFT, EvidenceState.RETURNED})
#: States in which the commission may review (a reviewed item may be reviewed again).
REVIEWABLE = frozenset({EvidenceState.SUBMITTED, EvidenceState.REVIEWED})

#: Allowed file extensions → (content family detected from the bytes, MIME type served).
FILE_TYPES: dict[str, tuple[str, str]] = {
    "pdf": ("pdf", "application/pdf"),
    "jpg": ("jpeg", "image/jpeg"),
    "jpeg": ("jpeg", "image/jpeg"),
    "png": ("png", "image/png"),
    "docx": (
        "docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    "xlsx": ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "doc": ("ole2", "application/msword"),
    "xls": ("ole2", "application/vnd.ms-excel"),
}
ALLOWED_TEXT = "PDF、JPG、PNG、DOCX、XLSX、DOC、XLS"

_PDF = b"%PDF-"
_JPEG = b"\xff\xd8\xff"
_PNG = b"\x89PNG\r\n\x1a\n"
_ZIP = b"PK\x03\x04"
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Microsoft compound file (.doc, .xls)

#: Cell statuses for the dashboard and reports, best known first.
STATUS_LABELS: dict[str, str] = {
    "met": "达标",
    "mostly": "基本达标",
    "not_met": "未达标",
    "pending": "待评审",
    "returned": "退回补充",
    "none": "未提交",
}


def fraction_of(judgement: str) -> Decimal | None:
    """The scoring fraction of a judgement; None for a return for more material."""
    if judgement == Judgement.RETURNED:
        return None
    if judgement not in FRACTIONS:
        raise ValueError(f"unknown judgement {judgement!r}")
    return FRACTIONS[judgement]


def comment_required(judgement: str) -> bool:
    """A reviewer explains every judgement but 达标 (and every return)."""
    return judgement != Judgement.MET


def detect_kind(data: bytes) -> str | None:
    """The file family from its first bytes (and, for Office Open XML, its parts), or None."""
    if data.startswith(_PDF):
        return "pdf"
    if data.startswith(_JPEG):
        return "jpeg"
    if data.startswith(_PNG):
        return "png"
    if data.startswith(_OLE2):
        return "ole2"
    if data.startswith(_ZIP):
        try:
            names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
        except (zipfile.BadZipFile, ValueError, OSError):
            return None
        if "[Content_Types].xml" not in names:
            return None
        if "word/document.xml" in names:
            return "docx"
        if "xl/workbook.xml" in names:
            return "xlsx"
    return None


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def clean_file_name(name: str) -> str:
    """The file's own name (no directories, no control characters), at most 200 characters
    with its extension kept."""
    base = _CONTROL.sub("", (name or "").replace("\\", "/").rsplit("/", 1)[-1]).strip()
    if len(base) > TITLE_MAX:
        stem, dot, ext = base.rpartition(".")
        base = stem[: TITLE_MAX - len(ext) - 1] + dot + ext if dot and len(ext) <= 10 else base
        base = base[:TITLE_MAX]
    return base


def extension(name: str) -> str:
    _, dot, ext = name.rpartition(".")
    return ext.lower() if dot else ""


def file_errors(
    name: str, size: int, data: bytes | None, max_bytes: int, field: str = "files"
) -> list[FieldError]:
    """Why a file cannot be attached: no name, empty, too big, an extension not allowed, or
    bytes that are not what the extension says (magic bytes, not only the name)."""
    shown = name or "（未命名）"
    if not name:
        return [FieldError(field, "文件名不能为空", "file name missing", "required")]
    ext = extension(name)
    if ext not in FILE_TYPES:
        return [
            FieldError(
                field,
                f"文件“{shown}”的类型不允许，仅支持 {ALLOWED_TEXT}",
                f"file {shown!r}: type not allowed (pdf, jpg, png, docx, xlsx, doc, xls)",
                "file_type",
            )
        ]
    if size <= 0:
        return [FieldError(field, f"文件“{shown}”是空文件", f"file {shown!r} is empty", "empty")]
    if size > max_bytes:
        return [
            FieldError(
                field,
                f"文件“{shown}”过大（{size_text(size)}），单个文件不能超过 {size_text(max_bytes)}",
                f"file {shown!r} is larger than {max_bytes} bytes",
                "too_large",
            )
        ]
    if data is None or detect_kind(data) != FILE_TYPES[ext][0]:
        return [
            FieldError(
                field,
                f"文件“{shown}”的内容与扩展名 .{ext} 不符（不是有效的 {ext.upper()} 文件）",
                f"file {shown!r}: content is not a valid .{ext} file",
                "file_content",
            )
        ]
    return []


def size_text(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MB".replace(".0 MB", " MB")
    if n >= 1024:
        return f"{n / 1024:.1f} KB".replace(".0 KB", " KB")
    return f"{n} 字节"


@dataclass(frozen=True)
class CellItem:
    """What the status of one (indicator, group, period) cell is decided from: one submitted
    item (drafts are left out before)."""

    state: str
    judgement: str
    fraction: Decimal | None
    reviewed_at: datetime | None
    reviewer: str = ""


def cell_status(items: Sequence[CellItem]) -> tuple[str, CellItem | None]:
    """The cell's status and the item that decides it: the latest judgement among reviewed
    items (met / mostly / not_met); else "pending" when an item awaits review; else
    "returned" when items were sent back for more material; else "none" (未提交)."""
    reviewed = [i for i in items if i.state == EvidenceState.REVIEWED and i.reviewed_at]
    if reviewed:
        latest = max(reviewed, key=lambda i: i.reviewed_at or 0)
        return latest.judgement, latest
    if any(i.state == EvidenceState.SUBMITTED for i in items):
        return "pending", None
    returned = [i for i in items if i.state == EvidenceState.RETURNED]
    if returned:
        dated = [i for i in returned if i.reviewed_at]
        return "returned", max(dated, key=lambda i: i.reviewed_at or 0) if dated else None
    return "none", None


def parse_evidence_period(text: str, field: str = "period") -> Period:
    """A year (`2026`) or a half-year (`2026H1`): the periods evidence is judged for."""
    period = parse_period(text, field)
    if period.grain not in (Grain.YEAR, Grain.HALF):
        raise DomainError(
            FieldError(
                field,
                "佐证材料按年度或半年度提交，统计期应为 2026 或 2026H1 的形式",
                "evidence periods are years (2026) or half-years (2026H1)",
                "invalid",
            )
        )
    return period


def max_bytes() -> int:
    conf = getattr(settings, "YGT", {}) or {}
    return int(conf.get("EVIDENCE_MAX_BYTES") or DEFAULT_MAX_BYTES)


# =============================================================================================
# access
# =============================================================================================


def qualitative_defs() -> list[IndicatorDef]:
    return [d for d in catalogue.all_defs() if d.aspect == QUALITATIVE_ASPECT]


def qualitative_codes() -> list[str]:
    return [d.code for d in qualitative_defs()]


def is_reviewer(actor: Actor) -> bool:
    """The health commission: manages indicators with the whole county in scope."""
    return (
        not actor.is_system
        and actor.user_id is not None
        and actor.role != Role.GROUP_ADMIN
        and actor.can(Perm.MANAGE_INDICATORS)
        and actor.scope.kind == ScopeKind.ALL
    )


def is_submitter(actor: Actor) -> bool:
    """A group administrator bound to a medical group."""
    return (
        actor.user_id is not None
        and actor.role == Role.GROUP_ADMIN
        and actor.can(Perm.MANAGE_INDICATORS)
        and actor.group_id is not None
    )


def _uid(actor: Actor) -> int:
    assert actor.user_id is not None  # writers are people (is_submitter / is_reviewer)
    return actor.user_id


def may_view(actor: Actor) -> bool:
    return actor.is_system or is_reviewer(actor) or is_submitter(actor)


def _deny(actor: Actor, what: object, msg_zh: str, msg_en: str) -> Forbidden:
    audit.record(actor, audit.Action.DENIED, "indicator_evidence", what)
    return Forbidden(msg_zh, msg_en)


def check_can_view(actor: Actor, what: object = "list") -> None:
    if not may_view(actor):
        raise _deny(actor, what, "无权查看佐证材料", "Not allowed to view evidence items")


def check_can_submit(actor: Actor, what: object) -> None:
    if not is_submitter(actor):
        raise _deny(
            actor,
            what,
            "只有医共体管理员可以提交本医共体的佐证材料",
            "Only a group administrator submits evidence for their group",
        )


def check_can_review(actor: Actor, what: object) -> None:
    if not is_reviewer(actor):
        raise _deny(
            actor,
            what,
            "只有卫健委可以评审佐证材料",
            "Only the health commission reviews evidence",
        )


# =============================================================================================
# reads
# =============================================================================================


def evidence_visible_to(actor: Actor) -> QuerySet[EvidenceItem]:
    """The items an actor may see: a group administrator their group's (drafts included); the
    commission every submitted item (drafts stay with the group). Not audited: the callers
    below are."""
    check_can_view(actor)
    qs = EvidenceItem.objects.select_related("group", "submitted_by", "reviewed_by")
    if actor.is_system:
        return qs
    if is_submitter(actor):
        return qs.filter(group_id=actor.group_id)
    return qs.exclude(state=EvidenceState.DRAFT)


def groups_for(actor: Actor) -> list[tuple[int, str]]:
    """The groups an actor may pick (lists, new items)."""
    check_can_view(actor, "groups")
    qs = MedicalGroup.objects.order_by("code")
    if is_submitter(actor):
        qs = qs.filter(pk=actor.group_id or 0)
    return list(qs.values_list("pk", "name"))


def list_evidence(
    actor: Actor,
    *,
    period: Period | None = None,
    group_id: int | None = None,
    code: str = "",
    state: str = "",
) -> QuerySet[EvidenceItem]:
    """Items filtered by period, group, indicator and state, newest first; audited."""
    qs = evidence_visible_to(actor)
    if period is not None:
        qs = qs.filter(period=period.code)
    if group_id is not None:
        qs = qs.filter(group_id=group_id)
    if code:
        qs = qs.filter(code=code)
    if state:
        qs = qs.filter(state=state)
    audit.record(
        actor, audit.Action.SEARCH, "indicator_evidence", "list",
        detail={"period": period.code if period else None, "group": group_id, "code": code,
                "state": state},
    )  # fmt: skip
    return qs.annotate(n_files=Count("attachments")).order_by("-created_at", "-pk")


def _visible_item(actor: Actor, pk: int) -> EvidenceItem:
    item = evidence_visible_to(actor).filter(pk=pk).first()
    if item is None:
        audit.record(actor, audit.Action.DENIED, "indicator_evidence", pk)
        raise NotFound("佐证材料")
    return item


def get_evidence_for(actor: Actor, pk: int) -> EvidenceItem:
    """One item (audited read); NotFound (and a `denied` entry) outside the actor's view."""
    item = _visible_item(actor, pk)
    audit.record(actor, audit.Action.READ, "indicator_evidence", pk)
    return item


def attachments_of(item: EvidenceItem) -> QuerySet[EvidenceAttachment]:
    """The item's files without their bytes."""
    return (
        EvidenceAttachment.objects.filter(item=item)
        .defer("data")
        .select_related("uploaded_by")
        .order_by("pk")
    )


def reviews_of(item: EvidenceItem) -> QuerySet[EvidenceReview]:
    """The review history, oldest first (the last one is in force)."""
    return EvidenceReview.objects.filter(item=item).select_related("reviewer").order_by("seq")


def get_attachment_for_download(actor: Actor, pk: int, attachment_id: int) -> EvidenceAttachment:
    """One file with its bytes, for download; audited (`export`)."""
    item = _visible_item(actor, pk)
    att = EvidenceAttachment.objects.filter(item=item, pk=attachment_id).first()
    if att is None:
        raise NotFound("附件")
    audit.record(
        actor, audit.Action.EXPORT, "indicator_evidence_file", att.pk,
        detail={"item": item.pk, "name": att.name, "sha256": att.sha256, "size": att.size},
    )  # fmt: skip
    return att


def display_name(user: Any) -> str:
    if user is None:
        return ""
    full = f"{getattr(user, 'last_name', '')}{getattr(user, 'first_name', '')}".strip()
    return str(full or user.get_username())


def judgement_fraction(code: str, group_id: int, period: Period) -> Decimal | None:
    """The scoring fraction (1 / 0.5 / 0) of the latest review in force among the group's
    reviewed evidence items of an indicator for exactly this period; None when no item is
    reviewed (not submitted, awaiting review or returned). Not audited and not access-checked:
    for callers (the 1000-point scoring, reports) that check their actor and audit their read."""
    row = (
        EvidenceItem.objects.filter(
            code=code, group_id=group_id, period=period.code, state=EvidenceState.REVIEWED
        )
        .order_by("-reviewed_at", "-pk")
        .values_list("fraction", flat=True)
        .first()
    )
    return row


def evidence_status(period: Period, group_id: int | None = None) -> list[dict[str, Any]]:
    """Per qualitative indicator and medical group (every group, or one): the number of
    submitted items, how many await review, the status (`STATUS_LABELS`: 达标 / 基本达标 /
    未达标 / 待评审 / 退回补充 / 未提交), the judgement's fraction, reviewer and date. Drafts do
    not count. One query for the items. Not audited and not access-checked (see
    `judgement_fraction`); `evidence_status_for` is the scoped, audited read."""
    defs = qualitative_defs()
    groups = MedicalGroup.objects.order_by("code")
    if group_id is not None:
        groups = groups.filter(pk=group_id)
    group_rows = list(groups.values_list("pk", "name"))
    items = (
        EvidenceItem.objects.filter(period=period.code, code__in=[d.code for d in defs])
        .exclude(state=EvidenceState.DRAFT)
        .select_related("reviewed_by")
        .only(
            "code", "group_id", "state", "judgement", "fraction", "reviewed_at",
            "reviewed_by__username", "reviewed_by__first_name", "reviewed_by__last_name",
        )
    )  # fmt: skip
    if group_id is not None:
        items = items.filter(group_id=group_id)
    cells: dict[tuple[str, int], list[CellItem]] = {}
    for it in items:
        cells.setdefault((it.code, it.group_id), []).append(
            CellItem(
                it.state, it.judgement, it.fraction, it.reviewed_at, display_name(it.reviewed_by)
            )
        )
    out: list[dict[str, Any]] = []
    for d in defs:
        for gid, gname in group_rows:
            cell = cells.get((d.code, gid), [])
            status, decisive = cell_status(cell)
            out.append(
                {
                    "code": d.code,
                    "name": d.name,
                    "group_id": gid,
                    "group_name": gname,
                    "period": period.code,
                    "items": len(cell),
                    "pending": sum(1 for i in cell if i.state == EvidenceState.SUBMITTED),
                    "status": status,
                    "status_label": STATUS_LABELS[status],
                    "fraction": decisive.fraction if decisive else None,
                    "reviewer": decisive.reviewer if decisive else "",
                    "reviewed_at": decisive.reviewed_at if decisive else None,
                }
            )
    return out


def evidence_status_for(
    actor: Actor, period: Period, group_id: int | None = None
) -> list[dict[str, Any]]:
    """`evidence_status` for what the actor may see (a group administrator: their group), with
    an audit entry."""
    check_can_view(actor, "status")
    if is_submitter(actor):
        if group_id is not None and group_id != actor.group_id:
            raise _deny(actor, f"status:{group_id}", "只能查看本医共体的佐证材料",
                        "Only your own group's evidence")  # fmt: skip
        group_id = actor.group_id
    audit.record(
        actor, audit.Action.READ, "indicator_evidence", "status",
        detail={"period": period.code, "group": group_id},
    )  # fmt: skip
    return evidence_status(period, group_id)


# =============================================================================================
# writes
# =============================================================================================


class _UploadedFile(Protocol):
    name: str | None
    size: int | None

    def read(self, size: int = ...) -> bytes: ...


@dataclass(frozen=True)
class Upload:
    """A file offered for attachment. `data` is None when the file was too big to read."""

    name: str
    size: int
    data: bytes | None

    @classmethod
    def of(cls, name: str, data: bytes) -> Upload:
        return cls(name, len(data), data)


def upload_from(f: _UploadedFile) -> Upload:
    """A Django upload as an `Upload`, reading the bytes only when the size is allowed."""
    size = int(f.size or 0)
    data = f.read() if 0 < size <= max_bytes() else None
    return Upload(f.name or "", size, data)


#: files one request may carry, in multiples of the per-file limit (the bytes are read into
#: memory to be checked and stored)
MAX_REQUEST_FILES_BYTES = 5


def uploads_from(files: Sequence[_UploadedFile], existing_count: int = 0) -> list[Upload]:
    """A request's uploads as `Upload`s, refusing too many files or too many bytes before
    reading any of them."""
    total = sum(int(f.size or 0) for f in files)
    if existing_count + len(files) > MAX_FILES_PER_ITEM:
        raise DomainError(
            FieldError(
                "files",
                f"每份佐证材料最多 {MAX_FILES_PER_ITEM} 个附件",
                f"at most {MAX_FILES_PER_ITEM} files per item",
                "too_many",
            )
        )
    if total > MAX_REQUEST_FILES_BYTES * max_bytes():
        mb = MAX_REQUEST_FILES_BYTES * max_bytes() // (1024 * 1024)
        raise DomainError(
            FieldError(
                "files",
                f"一次上传的文件合计不能超过 {mb} MB，请分几次上传",
                f"at most {mb} MB per upload",
                "too_large",
            )
        )
    return [upload_from(f) for f in files]


@dataclass(frozen=True)
class _CleanFile:
    name: str
    content_type: str
    data: bytes
    sha256: str


def _clean_files(
    uploads: Iterable[Upload], existing: dict[str, str] | None = None, existing_count: int = 0
) -> tuple[list[_CleanFile], list[FieldError]]:
    """Validate each file; refuse a file whose content is already on the item or earlier in the
    same upload (sha256)."""
    limit = max_bytes()
    seen: dict[str, str] = dict(existing or {})
    clean: list[_CleanFile] = []
    errors: list[FieldError] = []
    files = list(uploads)
    for i, up in enumerate(files):
        field = f"files.{i}"
        name = clean_file_name(up.name)
        errs = file_errors(name, up.size, up.data, limit, field)
        if errs:
            errors += errs
            continue
        assert up.data is not None
        digest = hashlib.sha256(up.data).hexdigest()
        if digest in seen:
            errors.append(
                FieldError(
                    field,
                    f"文件“{name}”与已上传的“{seen[digest]}”内容相同，同一材料不能重复上传",
                    f"file {name!r} duplicates {seen[digest]!r} on this item",
                    "duplicate",
                )
            )
            continue
        seen[digest] = name
        clean.append(_CleanFile(name, FILE_TYPES[extension(name)][1], up.data, digest))
    if existing_count + len(files) > MAX_FILES_PER_ITEM:
        errors.append(
            FieldError(
                "files",
                f"每份佐证材料最多 {MAX_FILES_PER_ITEM} 个附件",
                f"at most {MAX_FILES_PER_ITEM} files per item",
                "too_many",
            )
        )
    return clean, errors


def _text_errors(title: str, description: str) -> list[FieldError]:
    errors: list[FieldError] = []
    if not title:
        errors.append(FieldError("title", "请填写标题", "title is required", "required"))
    elif len(title) > TITLE_MAX:
        errors.append(
            FieldError("title", f"标题不能超过 {TITLE_MAX} 字", "title too long", "too_long")
        )
    if len(description) > DESCRIPTION_MAX:
        errors.append(
            FieldError(
                "description",
                f"工作开展情况不能超过 {DESCRIPTION_MAX} 字",
                "description too long",
                "too_long",
            )
        )
    return errors


def _attach(
    actor: Actor, item: EvidenceItem, files: list[_CleanFile], now: datetime
) -> list[EvidenceAttachment]:
    return EvidenceAttachment.objects.bulk_create(
        [
            EvidenceAttachment(
                item=item,
                name=f.name,
                content_type=f.content_type,
                size=len(f.data),
                sha256=f.sha256,
                data=f.data,
                round=item.round + 1,
                uploaded_by_id=_uid(actor),
                uploaded_at=now,
            )
            for f in files
        ]
    )


def _mark_submitted(actor: Actor, item: EvidenceItem, now: datetime) -> None:
    item.state = EvidenceState.SUBMITTED
    item.round += 1
    item.submitted_by_id = actor.user_id
    item.submitted_at = now
    item.judgement = ""
    item.fraction = None
    item.reviewed_by_id = None
    item.reviewed_at = None


def do_create_evidence(
    actor: Actor,
    *,
    code: str,
    group_id: int | None,
    period: str,
    title: str,
    description: str = "",
    files: Sequence[Upload] = (),
    submit: bool = False,
    client_key: str = "",
) -> EvidenceItem:
    """A group administrator records evidence for their group (as a draft, or submitted for
    review at once). Posting the same `client_key` again returns the first item."""
    check_can_submit(actor, "create")
    client_key = (client_key or "").strip()[:64]
    if client_key:
        prior = EvidenceItem.objects.filter(
            created_by_id=actor.user_id, client_key=client_key
        ).first()
        if prior is not None:
            return prior
    title, description = (title or "").strip(), (description or "").strip()
    errors: list[FieldError] = []
    if code not in qualitative_codes():
        errors.append(
            FieldError(
                "code",
                "请选择紧密型定性指标（资源统一管理、集团内部民主决策、服务协同）",
                "code must be a qualitative (紧密型) indicator",
            )
        )
    if group_id is None or not MedicalGroup.objects.filter(pk=group_id).exists():
        errors.append(FieldError("group", "请选择医共体", "unknown medical group", "required"))
    elif group_id != actor.group_id:
        audit.record(actor, audit.Action.DENIED, "indicator_evidence", f"create:group:{group_id}")
        raise DomainError(
            FieldError(
                "group",
                "只能为本医共体提交佐证材料，所选医共体不在您的管理范围",
                "group is outside your scope: only your own group",
                "scope",
            ),
            status=403,
        )
    try:
        period_code = parse_evidence_period(period).code
    except DomainError as exc:
        errors += exc.errors
        period_code = ""
    errors += _text_errors(title, description)
    clean, file_errs = _clean_files(files)
    errors += file_errs
    if submit and not files:
        errors.append(
            FieldError("files", "提交评审至少需要一个附件", "submitting needs a file", "required")
        )
    if errors:
        raise DomainError(errors)
    assert group_id is not None
    now = timezone.now()
    try:
        with transaction.atomic():
            item = EvidenceItem(
                code=code,
                group_id=group_id,
                period=period_code,
                title=title,
                description=description,
                created_by_id=_uid(actor),
                created_at=now,
                client_key=client_key,
            )
            item.save()
            _attach(actor, item, clean, now)
            if submit:
                _mark_submitted(actor, item, now)
                item.save()
            audit.record(
                actor, audit.Action.CREATE, "indicator_evidence", item.pk,
                detail={"code": code, "group": group_id, "period": period_code,
                        "files": [f.name for f in clean], "submitted": submit},
            )  # fmt: skip
    except IntegrityError as exc:  # the same client_key at the same moment
        prior = EvidenceItem.objects.filter(
            created_by_id=actor.user_id, client_key=client_key
        ).first()
        if client_key and prior is not None:
            return prior
        raise Conflict.single(
            "client_key", "重复提交", "Duplicate submission", "duplicate"
        ) from exc
    return item


def _own_item_locked(actor: Actor, pk: int) -> EvidenceItem:
    item = EvidenceItem.objects.select_for_update().filter(pk=pk, group_id=actor.group_id).first()
    if item is None:
        audit.record(actor, audit.Action.DENIED, "indicator_evidence", pk)
        raise NotFound("佐证材料")
    return item


def _need_editable(item: EvidenceItem) -> None:
    if item.state not in EDITABLE:
        raise Conflict.single(
            "state",
            f"该材料当前状态为“{item.get_state_display()}”，不能修改（仅草稿或退回补充的材料可修改）",
            f"item is {item.state}: only drafts and returned items change",
            "state",
        )


def do_add_attachments(actor: Actor, pk: int, files: Sequence[Upload]) -> list[EvidenceAttachment]:
    """Add files to a draft or a returned item of the actor's group."""
    check_can_submit(actor, pk)
    if not files:
        raise DomainError(FieldError("files", "请选择要上传的文件", "no file given", "required"))
    with transaction.atomic():
        item = _own_item_locked(actor, pk)
        _need_editable(item)
        existing = dict(EvidenceAttachment.objects.filter(item=item).values_list("sha256", "name"))
        clean, errors = _clean_files(files, existing, len(existing))
        if errors:
            raise DomainError(errors)
        try:
            with transaction.atomic():
                rows = _attach(actor, item, clean, timezone.now())
        except IntegrityError as exc:  # the same file added at the same moment
            raise Conflict.single(
                "files", "该文件已上传到此材料", "file already attached", "duplicate"
            ) from exc
        audit.record(
            actor, audit.Action.UPDATE, "indicator_evidence", item.pk,
            detail={"added": [f.name for f in clean]},
        )  # fmt: skip
    return rows


def do_remove_attachment(actor: Actor, pk: int, attachment_id: int) -> str:
    """Remove a file from a draft that was never submitted (a wrong file chosen); once the
    commission has seen the material it stays, and the group adds to it instead. Returns the
    file's name; audited with its checksum."""
    check_can_submit(actor, pk)
    with transaction.atomic():
        item = _own_item_locked(actor, pk)
        if item.state != EvidenceState.DRAFT:
            raise Conflict.single(
                "attachment",
                "只能从尚未提交的草稿中删除附件；已提交过的材料请补充附件并在说明中更正",
                "files can only be removed from a draft that was never submitted",
                "not_draft",
            )
        att = EvidenceAttachment.objects.filter(item=item, pk=attachment_id).first()
        if att is None:
            raise NotFound("附件")
        name, digest = att.name, att.sha256
        att.delete()
        audit.record(
            actor, audit.Action.VOID, "indicator_evidence", item.pk,
            detail={"removed": name, "sha256": digest},
        )  # fmt: skip
    return name


def do_update_evidence(actor: Actor, pk: int, *, title: str, description: str) -> EvidenceItem:
    """Change the title and description of a draft or a returned item."""
    check_can_submit(actor, pk)
    title, description = (title or "").strip(), (description or "").strip()
    errors = _text_errors(title, description)
    if errors:
        raise DomainError(errors)
    with transaction.atomic():
        item = _own_item_locked(actor, pk)
        _need_editable(item)
        item.title, item.description = title, description
        item.save(update_fields=["title", "description"])
        audit.record(actor, audit.Action.UPDATE, "indicator_evidence", item.pk,
                     detail={"title": title})  # fmt: skip
    return item


def do_submit_evidence(actor: Actor, pk: int) -> EvidenceItem:
    """Send a draft (or a returned item, with its new material) to the commission."""
    check_can_submit(actor, pk)
    with transaction.atomic():
        item = _own_item_locked(actor, pk)
        _need_editable(item)
        if not EvidenceAttachment.objects.filter(item=item).exists():
            raise DomainError(
                FieldError(
                    "files", "提交评审至少需要一个附件", "submitting needs a file", "required"
                )
            )
        _mark_submitted(actor, item, timezone.now())
        item.save()
        audit.record(actor, audit.Action.UPDATE, "indicator_evidence", item.pk,
                     detail={"state": item.state, "round": item.round})  # fmt: skip
    return item


def do_review_evidence(
    actor: Actor,
    pk: int,
    *,
    judgement: str,
    comment: str = "",
    seen_reviews: int | None = None,
) -> EvidenceReview:
    """The commission judges a submitted (or already reviewed) item — 达标 / 基本达标 / 未达标,
    a comment required unless 达标 — or returns it for more material (comment required). The
    new review supersedes the earlier ones. `seen_reviews` is the number of reviews the
    reviewer saw: when another review came in meanwhile the review is refused (409)."""
    check_can_review(actor, pk)
    comment = (comment or "").strip()
    errors: list[FieldError] = []
    if judgement not in Judgement.values:
        errors.append(
            FieldError(
                "judgement",
                "请选择评审结论：达标、基本达标、未达标或退回补充材料",
                "judgement must be met, mostly, not_met or returned",
                "required" if not judgement else "invalid",
            )
        )
    elif comment_required(judgement) and not comment:
        errors.append(
            FieldError(
                "comment",
                f"评审结论为“{Judgement(judgement).label}”时须填写评审意见",
                "a comment is required unless the judgement is met",
                "required",
            )
        )
    if len(comment) > COMMENT_MAX:
        errors.append(
            FieldError("comment", f"评审意见不能超过 {COMMENT_MAX} 字", "comment too long",
                       "too_long")
        )  # fmt: skip
    with transaction.atomic():
        item = (
            EvidenceItem.objects.select_for_update()
            .filter(pk=pk)
            .exclude(state=EvidenceState.DRAFT)
            .first()
        )
        if item is None:
            audit.record(actor, audit.Action.DENIED, "indicator_evidence", pk)
            raise NotFound("佐证材料")
        own = {item.created_by_id, item.submitted_by_id} | set(
            EvidenceAttachment.objects.filter(item=item).values_list("uploaded_by_id", flat=True)
        )
        if actor.user_id in own:
            raise _deny(actor, pk, "不能评审本人提交的材料", "Nobody reviews their own submission")
        if item.state not in REVIEWABLE:
            raise Conflict.single(
                "state",
                f"该材料当前状态为“{item.get_state_display()}”，待医共体重新提交后才能评审",
                f"item is {item.state}: only submitted or reviewed items are reviewed",
                "state",
            )
        if errors:
            raise DomainError(errors)
        done = EvidenceReview.objects.filter(item=item).aggregate(n=Count("pk"), s=Max("seq"))
        if seen_reviews is not None and seen_reviews != done["n"]:
            raise Conflict.single(
                "seen_reviews",
                "该材料刚刚已有新的评审结论，请刷新页面查看后再评审",
                "another review came in since you opened the item",
                "stale",
            )
        now = timezone.now()
        fraction = fraction_of(judgement)
        try:
            with transaction.atomic():
                review = EvidenceReview.objects.create(
                    item=item,
                    seq=(done["s"] or 0) + 1,
                    round=item.round,
                    reviewer_id=_uid(actor),
                    judgement=judgement,
                    fraction=fraction,
                    comment=comment,
                    reviewed_at=now,
                )
        except IntegrityError as exc:  # another review took this place in the history
            raise Conflict.single(
                "seen_reviews",
                "该材料刚刚已有新的评审结论，请刷新页面查看后再评审",
                "another review came in at the same moment",
                "stale",
            ) from exc
        item.state = (
            EvidenceState.RETURNED if judgement == Judgement.RETURNED else EvidenceState.REVIEWED
        )
        item.judgement = judgement
        item.fraction = fraction
        item.reviewed_by_id = actor.user_id
        item.reviewed_at = now
        item.save(update_fields=["state", "judgement", "fraction", "reviewed_by", "reviewed_at"])
        audit.record(
            actor, audit.Action.UPDATE, "indicator_evidence", item.pk,
            detail={"review": review.seq, "judgement": judgement,
                    "fraction": str(fraction) if fraction is not None else None},
        )  # fmt: skip
    return review


def user_names(user_ids: Iterable[int | None]) -> dict[int, str]:
    """Display names (family + given name, else the login) of some users."""
    ids = {i for i in user_ids if i is not None}
    users = get_user_model().objects.filter(pk__in=ids)
    return {u.pk: display_name(u) for u in users}
