"""Import jobs: start one (checks the file, stores it, audits), run it in chunks (each chunk
a short piece of work the job page's poll or the command drives), read them, export errors.

A page upload runs without a background worker: each htmx poll of the job page processes
the next chunk, so progress moves while the page is open; `manage.py import_his` runs big
files to the end with a progress bar. Only one runner holds a job at a time (it is claimed
by switching queued → running in one UPDATE)."""

from __future__ import annotations

import csv
import hashlib
import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from yigongti.core import audit
from yigongti.core.actor import Actor, ScopeKind
from yigongti.core.errors import DomainError, FieldError, NotFound
from yigongti.network.models import Facility

from .. import rules
from ..actions import Outcome
from ..models import ImportJob, ImportKind, ImportStatus
from . import common, csv_import, hl7_import
from .common import RowError, RowFailed

log = logging.getLogger(__name__)

#: Rows (or messages) one chunk imports: a poll stays well under a couple of seconds.
CHUNK = 100
#: Files larger than this go through `manage.py import_his` rather than the page.
PAGE_LIMIT_BYTES = 20 * 1024 * 1024


def store_dir() -> Path:
    path = Path(settings.VAR_DIR) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _path(job: ImportJob) -> Path:
    return store_dir() / f"job-{job.pk}.dat"


def decode_text(raw: bytes) -> str:
    try:
        return rules.decode_upload(raw).text
    except rules.RuleError as exc:
        raise DomainError(FieldError("file", exc.msg_zh, exc.msg_en, exc.code)) from None


def start_import(
    actor: Actor,
    *,
    kind: str,
    name: str,
    raw: bytes,
    facility_code: str = "",
    source_system: str = "",
) -> ImportJob:
    """Check a file (permission, facility, encoding, header) and queue it as a job. Nothing
    is written when the file is refused."""
    common.may_import(actor)
    facility: Facility | None = None
    if kind == ImportKind.CSV or facility_code.strip() or actor.facility_id is not None:
        facility = common.import_facility(actor, facility_code)  # HL7: MSH-4 may name it
    if kind == ImportKind.CSV:
        _, rows = csv_import.open_file(raw)
        total = sum(1 for _ in rows)
    elif kind == ImportKind.HL7:
        total = len(hl7_import.split_messages(decode_text(raw)))
        if total == 0:
            raise DomainError.single("file", "文件中没有 HL7 消息", "No HL7 messages", "empty")
    else:
        raise DomainError.single("kind", "只支持 csv 或 hl7", "kind must be csv or hl7")
    system = source_system.strip()[:64] or (facility.code if facility else "")
    digest = hashlib.sha256(raw).hexdigest()
    with transaction.atomic():
        job = ImportJob.objects.create(
            kind=kind,
            name=(name or kind)[:200],
            sha256=digest,
            source_system=system,
            facility=facility,
            total=total,
            created_by_id=actor.user_id,
            message="等待导入" if total else "文件中没有数据行",
        )
        audit.record(
            actor,
            audit.Action.IMPORT,
            "import_job",
            str(job.pk),
            detail={
                "kind": kind,
                "name": job.name,
                "facility": facility.code if facility else "",
                "source_system": system,
                "sha256": digest,
                "total": total,
            },
        )
        _path(job).write_bytes(raw)
    if total == 0:
        _finish(job.pk)
    return ImportJob.objects.get(pk=job.pk)


def _finish(job_id: int) -> None:
    ImportJob.objects.filter(pk=job_id).update(status=ImportStatus.DONE, finished_at=timezone.now())


def run_chunk(actor: Actor, job_id: int, limit: int = CHUNK) -> ImportJob:
    """Import the next `limit` rows of a queued job, if no one else is running it."""
    claimed = ImportJob.objects.filter(pk=job_id, status=ImportStatus.QUEUED).update(
        status=ImportStatus.RUNNING
    )
    job = ImportJob.objects.select_related("facility").get(pk=job_id)
    if not claimed:
        return job
    stop = min(job.total, job.processed + limit)
    try:
        counts, errors = _process(actor, job, job.processed, stop)
    except Exception as exc:
        _SOURCES.pop(job_id, None)
        log.exception("import job %s failed", job_id)
        ImportJob.objects.filter(pk=job_id).update(
            status=ImportStatus.FAILED,
            message=f"导入中断：{type(exc).__name__}: {exc}"[:300],
            finished_at=timezone.now(),
        )
        return ImportJob.objects.get(pk=job_id)
    job.processed += counts["processed"]
    job.created += counts[Outcome.CREATED]
    job.updated += counts[Outcome.UPDATED]
    job.unchanged += counts[Outcome.UNCHANGED]
    job.failed += counts["failed"]
    job.errors = [*job.errors, *(e.as_dict() for e in errors)]
    # the file ended early only if it changed under us: stop rather than poll for ever
    done = job.processed >= job.total or counts["processed"] < stop - (
        job.processed - counts["processed"]
    )
    job.status = ImportStatus.DONE if done else ImportStatus.QUEUED
    job.message = _summary(job) if done else f"导入中 {job.processed}/{job.total}"
    if done:
        job.finished_at = timezone.now()
        _path(job).unlink(missing_ok=True)
    job.save()
    return job


def _summary(job: ImportJob) -> str:
    return f"完成：新增 {job.created}，更正 {job.updated}，未变 {job.unchanged}，失败 {job.failed}"


@dataclass
class _Source:
    """A job's file, open at the row the next chunk starts with. Kept between chunks of the
    same process (the command, or one web worker serving the polls) so a big file is read
    once, not once per chunk; rebuilt by skipping ahead when another process ran last."""

    job_id: int
    sha256: str
    position: int
    rows: Iterator[Any]
    ctx: csv_import.CsvContext | None = None


_SOURCES: dict[int, _Source] = {}


def _source(job: ImportJob, start: int) -> _Source:
    cached = _SOURCES.pop(job.pk, None)
    if cached is not None and cached.sha256 == job.sha256 and cached.position == start:
        return cached
    _SOURCES.clear()  # one open file per process is enough
    raw = _path(job).read_bytes()
    if job.kind == ImportKind.CSV:
        assert job.facility is not None
        _, rows = csv_import.open_file(raw)
        ctx = csv_import.CsvContext(job.facility, job.source_system)
        for _ in range(start):  # skip what earlier chunks did, remembering their visit ids
            line, row = next(rows)
            ctx.note(line, row)
        return _Source(job.pk, job.sha256, start, rows, ctx)
    messages = hl7_import.split_messages(decode_text(raw))
    return _Source(job.pk, job.sha256, start, iter(enumerate(messages[start:], start + 1)))


def _process(
    actor: Actor, job: ImportJob, start: int, stop: int
) -> tuple[dict[str, int], list[RowError]]:
    counts: dict[str, int] = {"processed": 0, "failed": 0}
    counts.update(dict.fromkeys([o.value for o in Outcome], 0))
    errors: list[RowError] = []
    src = _source(job, start)
    for _ in range(stop - start):
        item = next(src.rows, None)
        if item is None:
            break
        counts["processed"] += 1
        if src.ctx is not None:
            line, row = item
            try:
                counts[csv_import.import_row(src.ctx, line, row)] += 1
            except RowFailed as exc:
                counts["failed"] += 1
                errors.extend(exc.errors)
            except Exception as exc:  # a bug must not lose the rest of the file
                log.exception("CSV row %s of job %s", line, job.pk)
                counts["failed"] += 1
                errors.append(
                    RowError(line, "", f"内部错误：{type(exc).__name__}", row.get("visit_id", ""))
                )
        else:
            index, message = item
            result = hl7_import.handle_message(actor, message, job.facility, index=index)
            if result.outcome is None:
                counts["failed"] += 1
                errors.extend(result.errors)
            else:
                counts[result.outcome] += 1
    src.position = start + counts["processed"]
    _SOURCES[job.pk] = src
    return counts, errors


def run_to_end(actor: Actor, job_id: int, limit: int = CHUNK) -> ImportJob:
    job = ImportJob.objects.get(pk=job_id)
    while job.status == ImportStatus.QUEUED:
        job = run_chunk(actor, job_id, limit)
    return job


def resume(actor: Actor, job_id: int) -> ImportJob:
    """Put a job a crashed runner left `running` back in the queue (the command's --resume)."""
    common.may_import(actor)
    ImportJob.objects.filter(pk=job_id, status=ImportStatus.RUNNING).update(
        status=ImportStatus.QUEUED
    )
    return ImportJob.objects.get(pk=job_id)


# ---------------------------------------------------------------------------------------------
# HL7 messages sent one by one over HTTP


def receive_messages(actor: Actor, text: str, facility_code: str = "") -> list[hl7_import.Result]:
    """Import the messages of one HTTP body; each is counted in the day's live job of the
    facility (so failed ones are kept with their control id) and answered with an ACK."""
    common.may_import(actor)
    default: Facility | None = None
    if facility_code or actor.facility_id is not None:
        default = common.import_facility(actor, facility_code)
    results = []
    for message in hl7_import.split_messages(text) or [text]:
        result = hl7_import.handle_message(actor, message, default)
        _count_live(actor, default, result)
        results.append(result)
    return results


def _count_live(actor: Actor, facility: Facility | None, result: hl7_import.Result) -> None:
    today = timezone.localdate()
    name = f"HL7 实时接口 {today:%Y-%m-%d}" + (f" {facility.code}" if facility else "")
    with transaction.atomic():
        job = (
            ImportJob.objects.select_for_update()
            .filter(kind=ImportKind.HL7, name=name, sha256="")
            .order_by("pk")
            .first()
        )
        if job is None:
            # close the earlier days' live jobs: their counts are final
            ImportJob.objects.filter(
                kind=ImportKind.HL7,
                sha256="",
                status=ImportStatus.RUNNING,
                name__startswith="HL7 实时接口",
            ).update(status=ImportStatus.DONE, finished_at=timezone.now())
            job = ImportJob.objects.create(
                kind=ImportKind.HL7,
                name=name,
                facility=facility,
                source_system="",
                status=ImportStatus.RUNNING,
                created_by_id=actor.user_id,
                message="实时接口：当天收到的消息",
            )
        job.total += 1
        job.processed += 1
        if result.outcome is None:
            job.failed += 1
            for e in result.errors:
                e.line = job.processed
            job.errors = [*job.errors, *(e.as_dict() for e in result.errors)]
        else:
            setattr(job, result.outcome.value, getattr(job, result.outcome.value) + 1)
        job.save()
        audit.record(
            actor,
            audit.Action.IMPORT,
            "import_job",
            str(job.pk),
            detail={"control_id": result.control_id, "ack": result.ack_code},
        )


# ---------------------------------------------------------------------------------------------
# Reads


def jobs_visible_to(actor: Actor) -> QuerySet[ImportJob]:
    common.may_import(actor)
    jobs = ImportJob.objects.filter(kind__in=[ImportKind.CSV, ImportKind.HL7]).select_related(
        "facility"
    )
    if actor.is_system or actor.scope.kind == ScopeKind.ALL:
        return jobs
    mine = Q(created_by_id=actor.user_id) if actor.user_id is not None else Q(pk__in=[])
    if actor.facility_id is not None:
        return jobs.filter(Q(facility_id=actor.facility_id) | mine)
    if actor.group_id is not None:
        return jobs.filter(Q(facility__group_id=actor.group_id) | mine)
    return jobs.filter(mine)


def get_job_for(actor: Actor, job_id: int) -> ImportJob:
    job = jobs_visible_to(actor).filter(pk=job_id).first()
    if job is None:
        raise NotFound("导入任务")
    return job


ERROR_COLUMNS = ("行号/序号", "列/字段", "错误", "就诊号/消息控制号", "原始消息")


def errors_csv(actor: Actor, job: ImportJob) -> bytes:
    """The job's errors as a CSV an office opens in Excel (UTF-8 with BOM); audited."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(ERROR_COLUMNS)
    for e in job.errors:
        writer.writerow(
            [
                e.get("line", ""),
                e.get("column", ""),
                e.get("message", ""),
                e.get("key", ""),
                str(e.get("raw", "")).replace("\r", "\n"),
            ]
        )
    audit.record(
        actor, audit.Action.EXPORT, "import_job", str(job.pk), detail={"rows": len(job.errors)}
    )
    return ("\ufeff" + out.getvalue()).encode("utf-8")
