"""The audit log over the API (administrators and supervisors)."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Field, Router, Schema

from .api import ErrorOut, actor_of
from .audit import verify_chain
from .errors import Forbidden
from .queries import audit_entries_visible_to

router = Router(tags=["audit"])


class AuditOut(Schema):
    id: int
    seq: int | None = Field(None, description="链序号；刚写入、尚未封存入链时为空")
    at: datetime
    username: str
    role: str
    facility_id: int | None
    action: str
    object_type: str
    object_id: str
    resident_id: int | None
    detail: dict[str, object]
    ip: str
    hash: str


@router.get("/audit", response={200: list[AuditOut], 403: ErrorOut}, summary="Audit log")
def audit_log(
    request: HttpRequest,
    action: str = "",
    username: str = "",
    resident_id: int | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[AuditOut]:
    qs = audit_entries_visible_to(actor_of(request))
    if action:
        qs = qs.filter(action=action)
    if username:
        qs = qs.filter(username=username)
    if resident_id is not None:
        qs = qs.filter(resident_id=resident_id)
    if before_id is not None:
        qs = qs.filter(pk__lt=before_id)
    return [AuditOut.model_validate(e, from_attributes=True) for e in qs[: min(limit, 500)]]


class VerifyOut(Schema):
    ok: bool
    checked: int
    first_bad_seq: int | None
    problem: str


@router.get(
    "/audit/verify", response={200: VerifyOut, 403: ErrorOut}, summary="Verify the hash chain"
)
def verify(request: HttpRequest) -> VerifyOut:
    actor = actor_of(request)
    if actor.role != "sysadmin" and not actor.is_system:
        raise Forbidden("仅系统管理员可校验审计链", "Only the system administrator")
    r = verify_chain()
    return VerifyOut(ok=r.ok, checked=r.checked, first_bad_seq=r.first_bad_seq, problem=r.problem)
