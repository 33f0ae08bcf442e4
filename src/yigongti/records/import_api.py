"""REST endpoints of the HIS import (CSV files, HL7 v2 messages, import jobs).

Small files run to the end inside the upload request (201); bigger ones are queued (202)
and each `GET /his/jobs/{id}` moves them on by one chunk, like the job page's poll does."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Field, File, Form, Query, Router, Schema, Status, UploadedFile

from yigongti.core.api import ErrorOut, actor_of

from .his import jobs
from .models import ImportJob, ImportKind, ImportStatus

router = Router(tags=["数据导入"])

ERRORS: dict[int, type[Schema]] = {403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
#: Files with at most this many rows/messages are imported inside the upload request.
INLINE_ROWS = 2000
HL7_CONTENT_TYPE = "application/hl7-v2; charset=utf-8"


class JobError(Schema):
    line: int = Field(..., description="CSV 行号，或 HL7 文件中的消息序号")
    column: str = Field(..., description="CSV 列名，或 HL7 字段（如 PID-3）")
    message: str = Field(..., description="错误说明（中文）")
    key: str = Field("", description="就诊号（CSV）或 MSH-10 消息控制号（HL7）")
    raw: str = Field("", description="未能导入的 HL7 原始消息")


class JobOut(Schema):
    id: int
    kind: str
    name: str
    status: str
    status_label: str
    facility: str
    source_system: str
    sha256: str
    total: int
    processed: int
    percent: int
    created: int
    updated: int
    unchanged: int
    failed: int
    message: str
    started_at: datetime
    finished_at: datetime | None
    errors: list[JobError] = Field(default_factory=list, description="逐行错误（列表接口不返回）")


class JobList(Schema):
    count: int
    jobs: list[JobOut]


def job_out(job: ImportJob, *, with_errors: bool = True) -> JobOut:
    errors: list[dict[str, Any]] = job.errors if with_errors else []
    return JobOut(
        id=job.pk,
        kind=job.kind,
        name=job.name,
        status=job.status,
        status_label=job.get_status_display(),
        facility=job.facility.code if job.facility else "",
        source_system=job.source_system,
        sha256=job.sha256,
        total=job.total,
        processed=job.processed,
        percent=job.percent,
        created=job.created,
        updated=job.updated,
        unchanged=job.unchanged,
        failed=job.failed,
        message=job.message,
        started_at=job.started_at,
        finished_at=job.finished_at,
        errors=[JobError(**{k: e.get(k, "") for k in JobError.model_fields}) for e in errors],
    )


def _upload(
    request: HttpRequest, kind: str, file: UploadedFile, facility: str, source_system: str
) -> Status[JobOut]:
    actor = actor_of(request)
    job = jobs.start_import(
        actor,
        kind=kind,
        name=file.name or kind,
        raw=file.read(),
        facility_code=facility,
        source_system=source_system,
    )
    if job.total <= INLINE_ROWS:
        job = jobs.run_to_end(actor, job.pk)
        return Status(201, job_out(job))
    return Status(202, job_out(job))


@router.post(
    "/his/csv",
    response={201: JobOut, 202: JobOut, **ERRORS},
    summary="Import a CSV file of encounters with diagnoses (docs/his-import.md)",
)
def import_csv(
    request: HttpRequest,
    file: File[UploadedFile],
    facility: str = Form("", description="机构编码；默认为本人所在机构（医共体管理员须填写）"),
    source_system: str = Form("", description="来源系统标识；默认为机构编码"),
) -> Status[JobOut]:
    return _upload(request, ImportKind.CSV, file, facility, source_system)


@router.post(
    "/his/hl7/file",
    response={201: JobOut, 202: JobOut, **ERRORS},
    summary="Import a file of HL7 v2 ADT messages (MLLP framed or blank-line separated)",
)
def import_hl7_file(
    request: HttpRequest,
    file: File[UploadedFile],
    facility: str = Form("", description="MSH-4 不是平台机构编码时使用的机构"),
) -> Status[JobOut]:
    return _upload(request, ImportKind.HL7, file, facility, "")


class Hl7Query(Schema):
    facility: str = Field("", description="MSH-4 不是平台机构编码时使用的机构编码")


@router.post(
    "/his/hl7",
    response={200: None, 401: ErrorOut, 403: ErrorOut, 422: ErrorOut},
    summary="Send HL7 v2 ADT^A01/A04/A08 message(s) as the body; the answer is the ACK text",
    openapi_extra={
        "requestBody": {"content": {"application/hl7-v2": {"schema": {"type": "string"}}}}
    },
)
def receive_hl7(request: HttpRequest, q: Query[Hl7Query]) -> HttpResponse:
    actor = actor_of(request)
    text = jobs.decode_text(request.body)
    results = jobs.receive_messages(actor, text, q.facility)
    return HttpResponse("\r\n".join(r.ack for r in results) + "\r", content_type=HL7_CONTENT_TYPE)


class JobsQuery(Schema):
    status: str = Field("", description="queued / running / done / failed")
    limit: int = Field(20, ge=1, le=100)
    offset: int = Field(0, ge=0)


@router.get("/his/jobs", response={200: JobList, 403: ErrorOut}, summary="Import jobs you may see")
def list_jobs(request: HttpRequest, q: Query[JobsQuery]) -> JobList:
    qs = jobs.jobs_visible_to(actor_of(request))
    if q.status in ImportStatus.values:
        qs = qs.filter(status=q.status)
    return JobList(
        count=qs.count(),
        jobs=[
            job_out(j, with_errors=False) for j in qs.order_by("-pk")[q.offset : q.offset + q.limit]
        ],
    )


@router.get(
    "/his/jobs/{job_id}",
    response={200: JobOut, 403: ErrorOut, 404: ErrorOut},
    summary="One import job with progress and per-row errors (moves a queued job on a chunk)",
)
def get_job(request: HttpRequest, job_id: int) -> JobOut:
    actor = actor_of(request)
    job = jobs.get_job_for(actor, job_id)
    if job.status == ImportStatus.QUEUED and job.sha256:
        job = jobs.run_chunk(actor, job.pk)
    return job_out(job)


@router.get(
    "/his/jobs/{job_id}/errors.csv",
    response={200: None, 403: ErrorOut, 404: ErrorOut},
    summary="The job's errors as CSV (UTF-8 with BOM, opens in Excel)",
)
def job_errors_csv(request: HttpRequest, job_id: int) -> HttpResponse:
    actor = actor_of(request)
    job = jobs.get_job_for(actor, job_id)
    response = HttpResponse(jobs.errors_csv(actor, job), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-errors.csv"'
    return response
