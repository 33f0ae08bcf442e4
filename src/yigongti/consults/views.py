"""Pages of remote consultation (request with the case summary pre-filled from the record,
worklists, the consultation with each side's actions) and of expert dispatch (roster with the
per-10,000 figure, new secondment, a secondment with its sessions and trainings)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from yigongti.core.actor import Actor
from yigongti.core.errors import DomainError, Forbidden, NotFound
from yigongti.residents.queries import get_resident_for

from . import actions, queries, rules
from .models import ActivityKind, DispatchKind, TitleLevel, Urgency

PER_PAGE = 30


def _page(request: HttpRequest, items: Any) -> Any:
    return Paginator(items, PER_PAGE).get_page(request.GET.get("page"))


def _msg(exc: DomainError) -> str:
    return "；".join(e.msg_zh for e in exc.errors)


def _who(request: HttpRequest) -> str:
    """The signed-in person's name as in the top bar (family + given name), else the login."""
    user = request.user
    full = f"{getattr(user, 'last_name', '')}{getattr(user, 'first_name', '')}".strip()
    return (full or user.get_username())[:30]


def _people(user_ids: set[int]) -> dict[int, str]:
    """Display names of the people who made the steps (the step keeps the login name)."""
    users = (
        get_user_model().objects.filter(pk__in=user_ids).only("first_name", "last_name", "username")
    )
    return {u.pk: f"{u.last_name}{u.first_name}".strip() or u.get_username() for u in users}


def _apply(form: forms.Form, exc: DomainError, aliases: dict[str, str] | None = None) -> None:
    aliases = aliases or {}
    for err in exc.errors:
        name = aliases.get(err.field, err.field.split(".")[0])
        if name in form.fields and not form.errors.get(name):
            form.add_error(name, err.msg_zh)
        else:
            form.add_error(None, err.msg_zh)


# ---------------------------------------------------------------------------------------------
# consultations


class ConsultForm(forms.Form):
    resident = forms.CharField(label="居民主索引号", max_length=32)
    urgency = forms.ChoiceField(label="紧急程度", choices=Urgency.choices, initial=Urgency.ROUTINE)
    to_department = forms.ChoiceField(label="受邀医院及科室")
    wanted_specialty = forms.CharField(label="拟邀专业", required=False, max_length=64)
    wanted_title = forms.TypedChoiceField(
        label="拟邀职称", choices=TitleLevel.choices, coerce=int, initial=TitleLevel.ANY
    )
    proposed_at = forms.DateTimeField(
        label="拟会诊时间",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )
    reason = forms.CharField(label="会诊原因", widget=forms.Textarea(attrs={"rows": 2}))
    purpose = forms.CharField(label="会诊目的", widget=forms.Textarea(attrs={"rows": 2}))
    case_summary = forms.CharField(
        label="病情摘要（已从健康档案预填，可修改）", widget=forms.Textarea(attrs={"rows": 6})
    )
    consent = forms.BooleanField(label="患者（或家属）已签署远程会诊书面知情同意书", required=False)
    consent_signer = forms.CharField(label="同意书签署人", required=False, max_length=30)
    requesting_doctor = forms.CharField(label="申请医生", max_length=30)
    requesting_phone = forms.CharField(label="联系电话", required=False, max_length=20)
    client_key = forms.CharField(widget=forms.HiddenInput, required=False)


def _department_choices() -> list[tuple[str, str]]:
    out = [("", "请选择")]
    for f in queries.destinations():
        out.append((f"{f.pk}:", f"{f.name}（不指定科室）"))
        out.extend((f"{f.pk}:{d.pk}", f"{f.name} · {d.name}") for d in f.departments.all())
    return out


def consult_new(request: HttpRequest, actor: Actor) -> HttpResponse:
    choices = _department_choices()
    if request.method == "POST":
        form = ConsultForm(request.POST)
        form.fields["to_department"].choices = choices  # type: ignore[attr-defined]
        if form.is_valid():
            d = form.cleaned_data
            a, _, b = d["to_department"].partition(":")
            try:
                resident = get_resident_for(actor, d["resident"], purpose="consultation")
                c = actions.do_request_consultation(
                    actor,
                    resident,
                    actions.ConsultInput(
                        to_facility_id=int(a) if a.isdigit() else None,
                        to_department_id=int(b) if b.isdigit() else None,
                        urgency=d["urgency"],
                        consent=d["consent"],
                        consent_signer=d["consent_signer"],
                        reason=d["reason"],
                        purpose=d["purpose"],
                        case_summary=d["case_summary"],
                        wanted_specialty=d["wanted_specialty"],
                        wanted_title=d["wanted_title"],
                        proposed_at=d["proposed_at"],
                        requesting_doctor=d["requesting_doctor"],
                        requesting_phone=d["requesting_phone"],
                        client_key=d["client_key"],
                    ),
                )
            except NotFound:
                form.add_error("resident", "居民档案不存在或不在您的服务范围")
            except DomainError as exc:
                _apply(
                    form,
                    exc,
                    {"to_facility_id": "to_department", "to_department_id": "to_department"},
                )
            else:
                messages.success(request, "会诊申请已提交")
                return redirect("web:consults-detail", pk=c.pk)
    else:
        mpi = request.GET.get("resident", "").strip()
        summary = ""
        if mpi:
            try:
                summary = queries.case_summary_for(
                    get_resident_for(actor, mpi, purpose="consultation")
                )
            except NotFound:
                messages.error(request, "居民档案不存在或不在您的服务范围")
                mpi = ""
        form = ConsultForm(
            initial={
                "resident": mpi,
                "case_summary": summary,
                "reason": request.GET.get("reason", ""),
                "requesting_doctor": _who(request),
                "client_key": uuid.uuid4().hex,
            }
        )
        form.fields["to_department"].choices = choices  # type: ignore[attr-defined]
    return render(request, "consults/new.html", {"form": form})


BOXES = [
    ("inbox", "收到的会诊"),
    ("sent", "发出的会诊"),
    ("decide", "待记录处理决定"),
    ("overdue", "超时"),
]


def consult_list(request: HttpRequest, actor: Actor) -> HttpResponse:
    # a hospital that is consulted starts on what it received; a township centre or village
    # clinic (which only asks) on what it sent; the group administrator on the overdue list
    if actor.facility_id is None:
        default = "overdue"
    elif queries.destinations().filter(pk=actor.facility_id).exists():
        default = "inbox"
    else:
        default = "sent"
    box = request.GET.get("box", default)
    if box not in dict(BOXES):
        box = default
    if box == "sent":
        qs = queries.sent(actor)
    elif box == "overdue":
        qs = queries.overdue(actor)
    elif box == "decide":
        qs = queries.awaiting_decision(actor)
    else:
        qs = queries.inbox(actor)
    page_obj = _page(request, qs)
    now = timezone.now()
    rows = [(c, rules.overdue(c.state, c.arrange_by, c.finish_by, now)) for c in page_obj]
    return render(
        request,
        "consults/list.html",
        {
            "rows": rows,
            "page_obj": page_obj,
            "page_query": f"box={box}&",
            "box": box,
            "boxes": BOXES,
            "n_overdue": queries.overdue(actor).count(),
            "can_request": actor.facility_id is not None,
        },
    )


def consult_detail(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    return _detail(request, actor, pk)


def _detail(
    request: HttpRequest,
    actor: Actor,
    pk: int,
    *,
    failed: str = "",
    errors: dict[str, str] | None = None,
) -> HttpResponse:
    """The consultation page; after a refused step (`failed`), with what was typed kept in
    that form and the Chinese messages next to the fields they name."""
    c = queries.get_consultation_for(actor, pk)
    sides = queries.sides_of(actor, c)
    can = {
        t: any(rules.may(c.state, t, s) for s in sides)
        for t in ("accepted", "declined", "answered", "closed", "cancelled")
    }
    experts = (
        queries.experts_at(c.to_facility_id, level=c.wanted_title, department_id=c.to_department_id)
        if can["accepted"]
        else []
    )
    steps = list(queries.steps_of(c))
    names = _people({t.by_id for t in steps if t.by_id is not None})
    for t in steps:
        t.who = names.get(t.by_id, t.by_name) if t.by_id is not None else t.by_name  # type: ignore[attr-defined]
    return render(
        request,
        "consults/detail.html",
        {
            "c": c,
            "steps": steps,
            "is_requester": rules.REQUESTER in sides,
            "failed": failed,
            "errors": errors or {},
            "posted": request.POST if failed else {},
            "can": can,
            "experts": experts,
            "late": rules.overdue(c.state, c.arrange_by, c.finish_by, timezone.now()),
            "ratings": range(5, 0, -1),
        },
    )


def consult_act(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    what = request.POST.get("do", "")
    text = request.POST.get("reason", "")

    def to_int(name: str) -> int | None:
        v = request.POST.get(name, "")
        return int(v) if v.isdigit() else None

    try:
        if what == "accept":
            when = forms.DateTimeField(
                required=False, input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]
            )
            try:
                scheduled = when.clean(request.POST.get("scheduled_at", ""))
            except forms.ValidationError:
                raise DomainError.single(
                    "scheduled_at", "会诊时间格式不正确", "Bad datetime", "invalid"
                ) from None
            actions.do_accept_consultation(
                actor, pk, scheduled_at=scheduled, expert_id=to_int("expert_id"), note=text
            )
        elif what == "decline":
            actions.do_decline_consultation(actor, pk, text)
        elif what == "opinion":
            actions.do_give_opinion(
                actor, pk, request.POST.get("opinion", ""), request.POST.get("advice", "")
            )
        elif what == "close":
            actions.do_close_consultation(
                actor,
                pk,
                final_decision=request.POST.get("final_decision", ""),
                rating=to_int("rating"),
                rating_note=request.POST.get("rating_note", ""),
            )
        elif what == "cancel":
            actions.do_cancel_consultation(actor, pk, text)
        else:
            messages.error(request, "未知操作")
            return redirect("web:consults-detail", pk=pk)
    except DomainError as exc:
        if what in DONE:
            # shown again with what was typed (an opinion or decision is not retyped)
            errors = {e.field: e.msg_zh for e in exc.errors}
            return _detail(request, actor, pk, failed=what, errors=errors)
        messages.error(request, _msg(exc))
    except Forbidden as exc:
        messages.error(request, exc.msg_zh)
    else:
        messages.success(request, DONE[what])
    return redirect("web:consults-detail", pk=pk)


DONE = {
    "accept": "已受理并安排会诊",
    "decline": "已拒绝该会诊申请",
    "opinion": "会诊意见已提交，等待申请方记录处理决定",
    "close": "已记录处理决定并评价，会诊结案",
    "cancel": "会诊申请已撤销",
}


# ---------------------------------------------------------------------------------------------
# dispatch


def _period(request: HttpRequest) -> tuple[date, date]:
    today = timezone.localdate()
    try:
        until = (
            date.fromisoformat(request.GET.get("until", "")) if request.GET.get("until") else today
        )
        since = (
            date.fromisoformat(request.GET["since"])
            if request.GET.get("since")
            else until - timedelta(days=364)
        )
    except ValueError:
        until, since = today, today - timedelta(days=364)
    if since > until:
        since, until = until, since
    return since, until


def dispatch_list(request: HttpRequest, actor: Actor) -> HttpResponse:
    since, until = _period(request)
    current = request.GET.get("all") != "1"
    qs = queries.roster(actor, on=timezone.localdate() if current else None)
    page_obj = _page(request, qs)
    figure = None
    if actor.group_id is not None:
        figure = queries.seconded_doctors_per_10k(
            since, until, area="group", area_id=actor.group_id
        )
    return render(
        request,
        "consults/dispatch_list.html",
        {
            "page_obj": page_obj,
            "page_query": "all=1&" if not current else "",
            "current": current,
            "figure": figure,
            "totals": queries.dispatch_totals(actor, since, until),
            "since": since,
            "until": until,
        },
    )


class SecondmentForm(forms.Form):
    staff = forms.ChoiceField(label="下沉医生")
    to_facility = forms.ChoiceField(label="派驻机构")
    kind = forms.ChoiceField(label="类型", choices=DispatchKind.choices)
    starts_on = forms.DateField(label="开始日期", widget=forms.DateInput(attrs={"type": "date"}))
    ends_on = forms.DateField(label="结束日期", widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(label="说明", required=False, max_length=200)


def dispatch_new(request: HttpRequest, actor: Actor) -> HttpResponse:
    staff = [("", "请选择")] + [
        (
            str(s.pk),
            f"{s.facility.name} · {s.department.name if s.department else ''} · "
            f"{s.name}（{s.title or '职称未登记'}）",
        )
        for s in queries.candidate_staff(actor)[:500]
    ]
    places = [("", "请选择")] + [
        (str(f.pk), f"{f.name}（{f.get_kind_display()}）")
        for f in queries.primary_facilities(actor)
    ]
    form = SecondmentForm(request.POST or None)
    form.fields["staff"].choices = staff  # type: ignore[attr-defined]
    form.fields["to_facility"].choices = places  # type: ignore[attr-defined]
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            s = actions.do_add_secondment(
                actor,
                actions.SecondmentInput(
                    staff_id=int(d["staff"]) if d["staff"] else None,
                    to_facility_id=int(d["to_facility"]) if d["to_facility"] else None,
                    kind=d["kind"],
                    starts_on=d["starts_on"],
                    ends_on=d["ends_on"],
                    note=d["note"],
                ),
            )
        except DomainError as exc:
            _apply(form, exc, {"staff_id": "staff", "to_facility_id": "to_facility"})
        else:
            messages.success(request, "已登记")
            return redirect("web:dispatch-detail", pk=s.pk)
    return render(request, "consults/dispatch_new.html", {"form": form})


class ActivityForm(forms.Form):
    kind = forms.ChoiceField(label="类型", choices=ActivityKind.choices)
    day = forms.DateField(label="日期", widget=forms.DateInput(attrs={"type": "date"}))
    patients_seen = forms.IntegerField(label="接诊人次", required=False, min_value=0)
    attendees = forms.IntegerField(label="参加人数", required=False, min_value=0)
    topic = forms.CharField(label="主题/内容", required=False, max_length=200)


def dispatch_detail(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    s = queries.get_secondment_for(actor, pk)
    form = ActivityForm(
        request.POST if request.POST.get("do") == "activity" else None,
        initial={"day": min(timezone.localdate(), s.ends_on)},
    )
    if request.method == "POST":
        if request.POST.get("do") == "end":
            try:
                ends = date.fromisoformat(request.POST.get("ends_on", ""))
            except ValueError:
                messages.error(request, "请填写结束日期")
            else:
                try:
                    actions.do_end_secondment(actor, pk, ends)
                except DomainError as exc:
                    messages.error(request, _msg(exc))
                else:
                    messages.success(request, "已更新结束日期")
            return redirect("web:dispatch-detail", pk=pk)
        if form.is_valid():
            d = form.cleaned_data
            try:
                actions.do_record_activity(
                    actor,
                    pk,
                    actions.ActivityInput(
                        kind=d["kind"],
                        day=d["day"],
                        patients_seen=d["patients_seen"] or 0,
                        attendees=d["attendees"] or 0,
                        topic=d["topic"],
                    ),
                )
            except DomainError as exc:
                _apply(form, exc)
            else:
                messages.success(request, "已登记")
                return redirect("web:dispatch-detail", pk=pk)
    page_obj = _page(request, queries.activities_of(s))
    return render(
        request,
        "consults/dispatch_detail.html",
        {"s": s, "form": form, "page_obj": page_obj, "page_query": ""},
    )
