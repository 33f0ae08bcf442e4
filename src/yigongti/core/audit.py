"""The audit log: `record()` appends, `verify_chain()` proves nothing was changed."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from .actor import Actor
from .models import AuditEntry, AuditHead

GENESIS = "0" * 64


class Action:
    """Audit action names (what the admin page filters on)."""

    READ = "read"
    SEARCH = "search"
    CREATE = "create"
    UPDATE = "update"
    MERGE = "merge"
    UNMERGE = "unmerge"
    DENIED = "denied"
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGOUT = "logout"
    EXPORT = "export"
    RESOLVE = "resolve"
    AMEND = "amend"
    VOID = "void"
    IMPORT = "import"


def entry_hash(prev_hash: str, seq: int, at: datetime, fields: dict[str, Any]) -> str:
    payload = json.dumps(
        {"prev": prev_hash, "seq": seq, "at": at.isoformat(), **fields},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _hashed_fields(e: AuditEntry) -> dict[str, Any]:
    return {
        "user_id": e.user_id,
        "username": e.username,
        "role": e.role,
        "facility_id": e.facility_id,
        "action": e.action,
        "object_type": e.object_type,
        "object_id": e.object_id,
        "resident_id": e.resident_id,
        "detail": e.detail,
        "ip": e.ip,
    }


def record(
    actor: Actor,
    action: str,
    object_type: str,
    object_id: object = "",
    *,
    resident_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry. Runs in the caller's transaction when there is one (a write and its
    audit entry commit or roll back together), else in its own."""
    with transaction.atomic():
        head = AuditHead.objects.select_for_update().filter(pk=1).first()
        if head is None:
            head, _ = AuditHead.objects.get_or_create(pk=1)
            head = AuditHead.objects.select_for_update().get(pk=1)
        entry = AuditEntry(
            seq=head.last_seq + 1,
            at=timezone.now(),
            user_id=actor.user_id,
            username=actor.username,
            role=actor.role,
            facility_id=actor.facility_id,
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            resident_id=resident_id,
            detail=json.loads(json.dumps(detail or {}, ensure_ascii=False, default=str)),
            ip=actor.ip,
            prev_hash=head.last_hash,
        )
        entry.hash = entry_hash(entry.prev_hash, entry.seq, entry.at, _hashed_fields(entry))
        entry.save()
        AuditHead.objects.filter(pk=1).update(last_seq=entry.seq, last_hash=entry.hash)
    return entry


@dataclass
class ChainReport:
    checked: int
    ok: bool
    first_bad_seq: int | None = None
    problem: str = ""


def _entries(batch: int = 5000) -> Iterator[AuditEntry]:
    last = 0
    while True:
        chunk = list(AuditEntry.objects.filter(seq__gt=last).order_by("seq")[:batch])
        if not chunk:
            return
        yield from chunk
        last = chunk[-1].seq


def verify_chain() -> ChainReport:
    """Walk the whole chain; report the first entry whose link or content does not match."""
    prev = GENESIS
    expected_seq = 1
    n = 0
    for e in _entries():
        n += 1
        if e.seq != expected_seq:
            return ChainReport(n, False, expected_seq, f"entry {expected_seq} is missing")
        if e.prev_hash != prev:
            return ChainReport(n, False, e.seq, "link to the previous entry is broken")
        if entry_hash(e.prev_hash, e.seq, e.at, _hashed_fields(e)) != e.hash:
            return ChainReport(n, False, e.seq, "content does not match its hash")
        prev = e.hash
        expected_seq += 1
    head = AuditHead.objects.filter(pk=1).first()
    if head is not None and (head.last_seq != expected_seq - 1 or head.last_hash != prev):
        return ChainReport(n, False, expected_seq, "entries after the last one were removed")
    return ChainReport(n, True)
