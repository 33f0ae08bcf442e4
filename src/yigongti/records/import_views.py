"""Pages of the HIS import: the list of jobs with the upload form, and one job's page whose
progress block htmx polls every second (each poll imports the next chunk)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from yigongti.core.actor import Actor, ScopeKind
from yigongti.core.errors import DomainError
from yigongti.network.models import Facility

from .his import jobs
from .models import ImportKind, ImportStatus

ERRORS_SHOWN = 200


class UploadForm(forms.Form):
    kind = forms.ChoiceField(
        label="文件类型",
        choices=[(ImportKind.CSV, "CSV 就诊记录"), (ImportKind.HL7, "HL7 v2 ADT 消息")],
    )
    file = forms.FileField(label="文件", help_text="UTF-8 或 GBK 编码；格式见《HIS 数据导入说明》")
    facility = forms.ChoiceField(label="导入机构", required=False)
    source_system = forms.CharField(
        label="来源系统", max_length=64, required=False, help_text="默认为机构编码（CSV）"
    )


def _facility_choices(actor: Actor) -> list[tuple[str, str]]:
    qs = Facility.objects.filter(active=True).order_by("code")
    if actor.scope.kind == ScopeKind.ALL or actor.is_system:
        pass
    elif actor.facility_id is not None:
        qs = qs.filter(pk=actor.facility_id)
    elif actor.group_id is not None:
        qs = qs.filter(group_id=actor.group_id)
    else:
        qs = qs.none()
    return [
        ("", "请选择（HL7 可由 MSH-4 决定）"),
        *((f.code, f"{f.code} {f.name}") for f in qs[:500]),
    ]


def job_list(request: HttpRequest, actor: Actor) -> HttpResponse:
    """数据导入: upload a file, see the jobs."""
    form = UploadForm(request.POST or None, request.FILES or None)
    facility_field = form.fields["facility"]
    assert isinstance(facility_field, forms.ChoiceField)
    facility_field.choices = _facility_choices(actor)
    if actor.facility_id is not None:
        facility_field.initial = next((c for c, _ in facility_field.choices if c), "")
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > jobs.PAGE_LIMIT_BYTES:
            form.add_error(
                "file", "文件超过 20 MB，请用命令 manage.py import_his 导入（见导入说明）"
            )
        else:
            try:
                job = jobs.start_import(
                    actor,
                    kind=form.cleaned_data["kind"],
                    name=upload.name,
                    raw=upload.read(),
                    facility_code=form.cleaned_data["facility"] or "",
                    source_system=form.cleaned_data["source_system"] or "",
                )
            except DomainError as exc:
                for e in exc.errors:
                    form.add_error("file" if e.field in ("file", "header") else None, e.msg_zh)
            else:
                messages.success(request, f"已创建导入任务 #{job.pk}，共 {job.total} 条")
                return redirect("web:import-job", pk=job.pk)
    page = Paginator(jobs.jobs_visible_to(actor).order_by("-pk"), 20).get_page(
        request.GET.get("page")
    )
    return render(
        request, "records/imports/list.html", {"form": form, "page_obj": page, "page_query": ""}
    )


def _job_context(actor: Actor, pk: int, *, advance: bool) -> dict[str, object]:
    job = jobs.get_job_for(actor, pk)
    if advance and job.status == ImportStatus.QUEUED and job.sha256:
        job = jobs.run_chunk(actor, job.pk)
    return {
        "job": job,
        "errors": job.errors[:ERRORS_SHOWN],
        "more_errors": max(0, len(job.errors) - ERRORS_SHOWN),
        "polling": job.status in (ImportStatus.QUEUED, ImportStatus.RUNNING) and bool(job.sha256),
    }


def job_detail(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    """One job: progress (polled), counts and the error table."""
    return render(request, "records/imports/job.html", _job_context(actor, pk, advance=False))


def job_progress(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    """The block htmx polls every second; each poll imports the next chunk."""
    return render(request, "records/imports/_progress.html", _job_context(actor, pk, advance=True))


def job_errors_csv(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    job = jobs.get_job_for(actor, pk)
    response = HttpResponse(jobs.errors_csv(actor, job), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-errors.csv"'
    return response
