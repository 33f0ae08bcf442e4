"""Pages of the qualitative indicators' evidence items (佐证材料): the list per period and group
with the status of the three 紧密型 indicators, the new-item form with file upload, the item
with its attachments (download), the review form for the commission and the review history."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import content_disposition_header

from yigongti.core.actor import Actor
from yigongti.core.errors import DomainError
from yigongti.core.params import id_param, int_param

from . import evidence
from .models import EvidenceState, Judgement
from .rules import Grain, period_of

PER_PAGE = 30
ACCEPT = ",".join(f".{ext}" for ext in evidence.FILE_TYPES)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class EvidenceForm(forms.Form):
    """Every field optional here: the action checks them and names the field in Chinese."""

    code = forms.ChoiceField(label="指标", required=False)
    group = forms.ChoiceField(label="医共体", required=False)
    period = forms.CharField(
        label="统计期",
        required=False,
        help_text="年度如 2026，半年度如 2026H1（上半年）、2026H2（下半年）",
    )
    title = forms.CharField(label="标题", required=False)
    description = forms.CharField(
        label="工作开展情况",
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="简述做了什么、何时、由谁负责，附件为会议纪要、制度文件、台账等",
    )
    files = forms.FileField(  # type: ignore[assignment]  # the form's `files` attribute
        label="附件",
        required=False,
        widget=MultipleFileInput(attrs={"accept": ACCEPT}),
        help_text=f"可多选；支持 {evidence.ALLOWED_TEXT}，单个文件不超过 "
        f"{evidence.size_text(evidence.DEFAULT_MAX_BYTES)}",
    )
    client_key = forms.CharField(widget=forms.HiddenInput, required=False)


def _default_period() -> str:
    return period_of(Grain.YEAR, timezone.localdate()).code


def _apply(form: forms.Form, exc: DomainError) -> None:
    for err in exc.errors:
        name = err.field.split(".")[0]
        if name in form.fields:
            form.add_error(name, err.msg_zh)
        else:
            form.add_error(None, err.msg_zh)


def _code_choices() -> list[tuple[str, str]]:
    return [("", "请选择")] + [(d.code, d.name) for d in evidence.qualitative_defs()]


def _names() -> dict[str, str]:
    return {d.code: d.name for d in evidence.qualitative_defs()}


# --- list ---------------------------------------------------------------------------------------


def evidence_list(request: HttpRequest, actor: Actor) -> HttpResponse:
    evidence.check_can_view(actor, "list")
    errors: list[str] = []
    period_text = request.GET.get("period") or _default_period()
    try:
        period = evidence.parse_evidence_period(period_text)
    except DomainError as exc:
        errors = [e.msg_zh for e in exc.errors]
        period = evidence.parse_evidence_period(_default_period())
    groups = evidence.groups_for(actor)
    group_id = id_param(request.GET.get("group"))
    if group_id is not None and group_id not in {g for g, _ in groups}:
        errors.append("所选医共体不在您的查看范围")
        group_id = None
    code = request.GET.get("code", "")
    if code and code not in _names():
        code = ""
    state = request.GET.get("state", "")
    if state and state not in EvidenceState.values:
        state = ""
    status = evidence.evidence_status_for(actor, period, group_id)
    qs = evidence.list_evidence(actor, period=period, group_id=group_id, code=code, state=state)
    page_obj = Paginator(qs, PER_PAGE).get_page(request.GET.get("page"))
    names = _names()
    matrix: list[dict[str, Any]] = []
    for gid, gname in groups if group_id is None else [g for g in groups if g[0] == group_id]:
        cells = [s for s in status if s["group_id"] == gid]
        matrix.append({"group_id": gid, "group_name": gname, "cells": cells})
    query = f"period={period.code}&group={group_id or ''}&code={code}&state={state}&"
    return render(
        request,
        "indicators/evidence_list.html",
        {
            "errors": errors,
            "period": period,
            "period_text": period_text if errors else period.code,
            "groups": groups,
            "group_id": group_id,
            "code": code,
            "state": state,
            "codes": list(names.items()),
            "states": EvidenceState.choices,
            "matrix": matrix,
            "defs": evidence.qualitative_defs(),
            "page_obj": page_obj,
            "page_query": query,
            "names": names,
            "may_create": evidence.is_submitter(actor),
            "is_reviewer": evidence.is_reviewer(actor),
        },
    )


# --- new ----------------------------------------------------------------------------------------


def evidence_new(request: HttpRequest, actor: Actor) -> HttpResponse:
    evidence.check_can_submit(actor, "create")  # audits a refusal and raises Forbidden
    group_choices = [(str(g), n) for g, n in evidence.groups_for(actor)]
    if request.method == "POST":
        form = EvidenceForm(request.POST, request.FILES)
        form.fields["code"].choices = _code_choices()  # type: ignore[attr-defined]
        form.fields["group"].choices = [("", "请选择"), *group_choices]  # type: ignore[attr-defined]
        try:
            uploads = evidence.uploads_from(request.FILES.getlist("files"))
            item = evidence.do_create_evidence(
                actor,
                code=request.POST.get("code", ""),
                group_id=id_param(request.POST.get("group")),
                period=request.POST.get("period", ""),
                title=request.POST.get("title", ""),
                description=request.POST.get("description", ""),
                files=uploads,
                submit=request.POST.get("do") == "submit",
                client_key=request.POST.get("client_key", ""),
            )
        except DomainError as exc:
            form = EvidenceForm(request.POST)  # files are not kept: they must be chosen again
            form.fields["code"].choices = _code_choices()  # type: ignore[attr-defined]
            form.fields["group"].choices = [("", "请选择"), *group_choices]  # type: ignore[attr-defined]
            form.is_valid()
            _apply(form, exc)
        else:
            if item.state == EvidenceState.SUBMITTED:
                messages.success(request, "佐证材料已提交，等待卫健委评审")
            else:
                messages.success(request, "佐证材料已保存为草稿，补充完整后请提交评审")
            return redirect("web:indicator-evidence-detail", pk=item.pk)
    else:
        code = request.GET.get("code", "")
        form = EvidenceForm(
            initial={
                "code": code if code in _names() else "",
                "group": str(actor.group_id or ""),
                "period": request.GET.get("period") or _default_period(),
                "client_key": uuid.uuid4().hex,
            }
        )
        form.fields["code"].choices = _code_choices()  # type: ignore[attr-defined]
        form.fields["group"].choices = group_choices  # type: ignore[attr-defined]
    return render(
        request,
        "indicators/evidence_new.html",
        {"form": form, "max_text": evidence.size_text(evidence.max_bytes())},
    )


# --- detail and its forms -----------------------------------------------------------------------


def evidence_detail(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    return _detail(request, actor, pk)


def _detail(
    request: HttpRequest,
    actor: Actor,
    pk: int,
    *,
    errors: dict[str, list[str]] | None = None,
    status: int = 200,
) -> HttpResponse:
    item = evidence.get_evidence_for(actor, pk)
    files = list(evidence.attachments_of(item))
    reviews = list(evidence.reviews_of(item))
    for r in reviews:
        r.who = evidence.display_name(r.reviewer)  # type: ignore[attr-defined]
    own = actor.user_id in (
        {item.created_by_id, item.submitted_by_id} | {f.uploaded_by_id for f in files}
    )
    can_edit = evidence.is_submitter(actor) and item.state in evidence.EDITABLE
    can_review = evidence.is_reviewer(actor) and item.state in evidence.REVIEWABLE and not own
    names = evidence.user_names([item.created_by_id, item.submitted_by_id])
    return render(
        request,
        "indicators/evidence_detail.html",
        {
            "item": item,
            "name": _names().get(item.code, item.code),
            "files": files,
            "reviews": reviews,
            "current": reviews[-1] if reviews else None,
            "can_edit": can_edit,
            "can_review": can_review,
            "own": own and evidence.is_reviewer(actor),
            "created_by": names.get(item.created_by_id, ""),
            "submitted_by": names.get(item.submitted_by_id or 0, ""),
            "errors": errors or {},
            "posted": request.POST if errors else {},
            "judgements": Judgement.choices,
            "accept": ACCEPT,
            "max_text": evidence.size_text(evidence.max_bytes()),
        },
        status=status,
    )


def _errors(exc: DomainError) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for e in exc.errors:
        out.setdefault(e.field.split(".")[0] or "__all__", []).append(e.msg_zh)
    return out


def evidence_files(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    try:
        uploads = evidence.uploads_from(request.FILES.getlist("files"))
        rows = evidence.do_add_attachments(actor, pk, uploads)
    except DomainError as exc:
        return _detail(request, actor, pk, errors=_errors(exc), status=exc.status)
    messages.success(request, f"已上传 {len(rows)} 个附件")
    return redirect("web:indicator-evidence-detail", pk=pk)


def evidence_file_remove(request: HttpRequest, actor: Actor, pk: int, file_id: int) -> HttpResponse:
    try:
        name = evidence.do_remove_attachment(actor, pk, file_id)
    except DomainError as exc:
        return _detail(request, actor, pk, errors=_errors(exc), status=exc.status)
    messages.success(request, f"已删除附件“{name}”")
    return redirect("web:indicator-evidence-detail", pk=pk)


def evidence_edit(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    try:
        evidence.do_update_evidence(
            actor,
            pk,
            title=request.POST.get("title", ""),
            description=request.POST.get("description", ""),
        )
    except DomainError as exc:
        return _detail(request, actor, pk, errors=_errors(exc), status=exc.status)
    messages.success(request, "已保存")
    return redirect("web:indicator-evidence-detail", pk=pk)


def evidence_submit(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    try:
        evidence.do_submit_evidence(actor, pk)
    except DomainError as exc:
        return _detail(request, actor, pk, errors=_errors(exc), status=exc.status)
    messages.success(request, "已提交，等待卫健委评审")
    return redirect("web:indicator-evidence-detail", pk=pk)


def evidence_review(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    try:
        review = evidence.do_review_evidence(
            actor,
            pk,
            judgement=request.POST.get("judgement", ""),
            comment=request.POST.get("comment", ""),
            seen_reviews=int_param(request.POST.get("seen_reviews"), lo=0),
        )
    except DomainError as exc:
        return _detail(request, actor, pk, errors=_errors(exc), status=exc.status)
    messages.success(request, f"评审结论已保存：{review.get_judgement_display()}")
    return redirect("web:indicator-evidence-detail", pk=pk)


def evidence_download(request: HttpRequest, actor: Actor, pk: int, file_id: int) -> HttpResponse:
    att = evidence.get_attachment_for_download(actor, pk, file_id)
    resp = HttpResponse(bytes(att.data), content_type=att.content_type)
    resp["Content-Disposition"] = content_disposition_header(True, att.name) or "attachment"
    resp["Content-Length"] = str(att.size)
    resp["X-Content-Type-Options"] = "nosniff"
    resp["Cache-Control"] = "private, no-store"
    return resp
