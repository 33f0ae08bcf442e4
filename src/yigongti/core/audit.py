"""The audit log: `record()` appends, `verify_chain()` proves nothing was changed."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from django.db import DatabaseError, connection, transaction
from django.db.models import Model, QuerySet
from django.utils import timezone

from .actor import Actor
from .errors import NotFound
from .models import AuditEntry, AuditHead

GENESIS = "0" * 64
logger = logging.getLogger(__name__)


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
    audit entry commit or roll back together), else in its own. The entry is written
    unsealed and sealed into the hash chain as soon as the transaction commits, by this
    request (`seal`), so writers do not hold the chain's tip while they work and commit."""
    entry = AuditEntry(
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
    )
    with transaction.atomic(savepoint=False):  # inside a write: no savepoint round trips
        entry.save()
        conn = transaction.get_connection()
        if not any(job[1] is _seal_after_commit for job in conn.run_on_commit):
            transaction.on_commit(_seal_after_commit)  # once per transaction
    return entry


def _seal_after_commit() -> None:
    try:
        seal()
    except DatabaseError:  # the entry is committed; the next seal (or verify) chains it
        logger.exception("audit: sealing after commit failed")


def seal(batch: int = 2_000) -> int:
    """Chain every committed, unsealed entry onto the tip, oldest (by id) first, and return
    how many were sealed. One short transaction per batch holds the tip's row lock; a writer
    that finds the work done by another finishes at once."""
    sealed = 0
    while True:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                # A seal lost in a crash is lost whole (entries and head together) and the
                # next seal redoes it from the committed entries: it need not wait for its
                # WAL flush, so an audited write costs one synchronous commit, not two.
                with connection.cursor() as cur:
                    cur.execute("SET LOCAL synchronous_commit = off")
            head = AuditHead.objects.select_for_update().filter(pk=1).first()
            if head is None:
                AuditHead.objects.get_or_create(pk=1)
                head = AuditHead.objects.select_for_update().get(pk=1)
            pending = list(AuditEntry.objects.filter(seq__isnull=True).order_by("id")[:batch])
            if not pending:
                return sealed
            seq, prev = head.last_seq, head.last_hash
            rows: list[tuple[int, int, str, str]] = []
            for e in pending:
                seq += 1
                h = entry_hash(prev, seq, e.at, _hashed_fields(e))
                rows.append((e.pk, seq, prev, h))
                prev = h
            _write_seals(rows)
            AuditHead.objects.filter(pk=1).update(last_seq=seq, last_hash=prev)
        sealed += len(rows)
        if len(pending) < batch:
            return sealed


def _write_seals(rows: list[tuple[int, int, str, str]]) -> None:
    table = AuditEntry._meta.db_table
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            values = ", ".join(["(%s, %s, %s, %s)"] * len(rows))
            cur.execute(
                f"UPDATE {table} AS a SET seq = v.seq, prev_hash = v.prev, hash = v.h "  # noqa: S608
                f"FROM (VALUES {values}) AS v(id, seq, prev, h) "
                "WHERE a.id = v.id AND a.seq IS NULL",
                [x for r in rows for x in (r[0], r[1], r[2], r[3])],
            )
        else:
            cur.executemany(
                f"UPDATE {table} SET seq = %s, prev_hash = %s, hash = %s "  # noqa: S608
                "WHERE id = %s AND seq IS NULL",
                [(r[1], r[2], r[3], r[0]) for r in rows],
            )


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
        # (unsealed entries have no seq: `verify_chain` seals them first)
        if not chunk:
            return
        yield from chunk
        last = chunk[-1].seq or last


def verify_chain() -> ChainReport:
    """Seal what is pending, then walk the whole chain; report the first entry whose link or
    content does not match."""
    seal()
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


M = TypeVar("M", bound=Model)


def read_one(
    actor: Actor,
    visible: QuerySet[M],
    pk: int,
    object_type: str,
    label: str,
    detail: dict[str, Any] | None = None,
) -> M:
    """One resident-linked row among those the actor may see (`visible`), its read audited;
    a row out of reach looks absent (404 naming `label`) and the attempt is audited as
    denied, with the resident it belongs to."""
    row = visible.filter(pk=pk).first()
    if row is None:
        owner = visible.model._default_manager.filter(pk=pk).values_list("resident_id", flat=True)
        record(actor, Action.DENIED, object_type, str(pk), resident_id=owner.first(),
               detail=detail)  # fmt: skip
        raise NotFound(label)
    resident_id: int | None = row.resident_id  # type: ignore[attr-defined]
    record(actor, Action.READ, object_type, str(pk), resident_id=resident_id, detail=detail)
    return row
