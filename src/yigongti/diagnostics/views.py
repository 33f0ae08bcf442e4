"""Pages of the shared diagnosis centres: the requester's list and critical values to
acknowledge, the request form (with the mutual-recognition warning), the centre's reading
queue, a study with the actions of each side, and the quality figures."""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from yigongti.core.actor import Actor
from yigongti.core.errors import DomainError, Forbidden, NotFound
from yigongti.residents.queries import get_resident_for

from . import actions, queries, rules
from .models import CentreKind, FilmGrade, StudyState, Urgency


def _msg(exc: DomainError) -> str:
    return "；".join(e.msg_zh for e in exc.errors)


def _who(request: HttpRequest) -> str:
    """The signed-in person's name as shown in the top bar (family + given name), so reports,
    acknowledgements and reviews carry a name rather than the login."""
    user = request.user
    full = f"{getattr(user, 'last_name', '')}{getattr(user, 'first_name', '')}".strip()
    return (full or user.get_username())[:30]


def _prior_visible(actor: Actor, prior_id: int | None) -> bool:
    """The earlier study of a mutual-recognition notice is often another facility's: link to it
    only when this actor may open it (else the page points to the resident's health record,
    where the report is filed)."""
    return prior_id is not None and queries.studies_visible_to(actor).filter(pk=prior_id).exists()


def _apply(form: forms.Form, exc: DomainError) -> None:
    for err in exc.errors:
        name = err.field.split(".")[0]
        if name in form.fields and not form.errors.get(name):
            form.add_error(name, err.msg_zh)
        else:
            form.add_error(None, err.msg_zh)


# ---------------------------------------------------------------------------------------------
# requester


def study_list(request: HttpRequest, actor: Actor) -> HttpResponse:
    state = request.GET.get("state", "")
    if state not in StudyState.values:
        state = ""
    pager = Paginator(queries.requested_by_facility(actor, state=state), 30)
    page_obj = pager.get_page(request.GET.get("page"))
    critical = list(queries.critical_worklist(actor)[:50])
    return render(
        request,
        "diagnostics/list.html",
        {
            "page_obj": page_obj,
            "page_query": f"state={state}&" if state else "",
            "state": state,
            "states": StudyState.choices,
            "critical": critical,
            "now": timezone.now(),
            "can_read": actor.can("read_studies"),
        },
    )


class StudyForm(forms.Form):
    resident = forms.CharField(label="居民主索引号", max_length=32)
    centre_id = forms.TypedChoiceField(label="诊断中心", coerce=int)
    exam_code = forms.CharField(label="项目编码", max_length=40)
    exam_name = forms.CharField(label="检查项目", max_length=120)
    body_part = forms.CharField(label="检查部位（影像必填）", required=False, max_length=60)
    urgency = forms.TypedChoiceField(
        label="紧急程度", choices=Urgency.choices, coerce=int, initial=Urgency.ROUTINE
    )
    clinical_info = forms.CharField(
        label="临床信息", required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    requesting_doctor = forms.CharField(label="申请医生", max_length=30)
    still_needed_reason = forms.CharField(
        label="仍需检查的理由（结果互认提示后填写）", required=False, max_length=200
    )
    client_key = forms.CharField(widget=forms.HiddenInput, required=False)


def study_new(request: HttpRequest, actor: Actor) -> HttpResponse:
    choices = [
        (c.pk, f"{c.name}（{c.get_kind_display()}·{c.facility.name}）")
        for c in queries.requester_centres(actor)
    ]
    warning = None
    person = None
    if request.method == "POST":
        form = StudyForm(request.POST)
        form.fields["centre_id"].choices = choices  # type: ignore[attr-defined]
        if form.is_valid():
            d = form.cleaned_data
            try:
                resident = get_resident_for(actor, d["resident"], purpose="diagnostics")
                person = resident
                res = actions.do_request_study(
                    actor,
                    resident,
                    actions.StudyInput(
                        centre_id=d["centre_id"],
                        exam_code=d["exam_code"],
                        exam_name=d["exam_name"],
                        body_part=d["body_part"],
                        urgency=d["urgency"],
                        clinical_info=d["clinical_info"],
                        requesting_doctor=d["requesting_doctor"],
                        still_needed_reason=d["still_needed_reason"],
                        client_key=d["client_key"],
                    ),
                )
            except NotFound:
                form.add_error("resident", "居民档案不存在或不在您的服务范围")
            except DomainError as exc:
                _apply(form, exc)
            else:
                if res.study is not None:
                    messages.success(request, "诊断申请已提交")
                    return redirect("web:diagnostics-detail", pk=res.study.pk)
                warning = res.warning
    else:
        mpi = request.GET.get("resident", "").strip()
        if mpi:
            try:
                person = get_resident_for(actor, mpi, purpose="diagnostics")
            except NotFound:
                messages.error(request, "居民档案不存在或不在您的服务范围")
                mpi = ""
        form = StudyForm(
            initial={
                "resident": mpi,
                "requesting_doctor": _who(request),
                "client_key": uuid.uuid4().hex,
            }
        )
        form.fields["centre_id"].choices = choices  # type: ignore[attr-defined]
    return render(
        request,
        "diagnostics/new.html",
        {
            "form": form,
            "warning": warning,
            "person": person,
            "prior_visible": warning is not None and _prior_visible(actor, warning.prior.pk),
            "no_centre": not choices,
        },
    )


# ---------------------------------------------------------------------------------------------
# reader


def reading_queue(request: HttpRequest, actor: Actor) -> HttpResponse:
    centres = list(queries.reader_centres(actor))
    raw = request.GET.get("centre", "")
    centre = next((c for c in centres if str(c.pk) == raw), centres[0] if centres else None)
    after = queries.Cursor.decode(request.GET.get("after", ""))
    rows = queries.reading_queue(actor, centre.pk, after=after) if centre else []
    nxt = None
    if len(rows) == queries.QUEUE_PAGE:
        last = rows[-1]
        nxt = queries.Cursor(last.urgency, last.requested_at, last.pk).encode()
    return render(
        request,
        "diagnostics/queue.html",
        {
            "centres": centres,
            "centre": centre,
            "rows": rows,
            "next": nxt,
            "first_page": after is None,
            "now": timezone.now(),
        },
    )


def _clinical(actor: Actor) -> None:
    if not (actor.can("consult") or actor.can("read_studies")):
        raise Forbidden()


def study_detail(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    _clinical(actor)
    return _detail(request, actor, pk)


def _detail(
    request: HttpRequest,
    actor: Actor,
    pk: int,
    *,
    failed: str = "",
    errors: dict[str, str] | None = None,
) -> HttpResponse:
    """The study page; after a refused action (`failed`), with what was typed kept in that
    form and the Chinese messages next to the fields they name."""
    s = queries.get_study_for(actor, pk)
    sides = queries.sides_of(actor, s)
    can = {t: any(rules.may(s.state, t, side) for side in sides) for t in StudyState.values}
    current = queries.current_report(s)
    cv = getattr(s, "critical_value", None)
    template = None
    tid = request.GET.get("template", "")
    templates = list(queries.templates_of(s.centre_id)) if rules.READER in sides else []
    if failed in ("report", "amend"):
        tid = request.POST.get("template_id", "")
    if tid.isdigit():
        template = next((t for t in templates if t.pk == int(tid)), None)
    return render(
        request,
        "diagnostics/detail.html",
        {
            "s": s,
            "can": can,
            "current": current,
            "reports": list(queries.reports_of(s)),
            "cv": cv,
            "review": getattr(s, "review", None),
            "is_requester": rules.REQUESTER in sides,
            "is_reviewer": rules.REVIEWER in sides,
            "may_ack": cv is not None
            and (
                actor.facility_id == cv.requesting_facility_id
                or (actor.facility_id is None and cv.escalation_level >= rules.MAX_LEVEL)
            ),
            "templates": templates,
            "template": template,
            "grades": FilmGrade.choices,
            "imaging": s.kind == CentreKind.IMAGING,
            "level_label": rules.LEVEL_LABELS.get(cv.escalation_level, "") if cv else "",
            "failed": failed,
            "errors": errors or {},
            "posted": request.POST if failed else {},
            "is_reader": rules.READER in sides or rules.REVIEWER in sides,
            # the reader who signed the current report does not review it (the action refuses)
            "may_review": can[StudyState.REVIEWED]
            and not (current is not None and current.reader_id == actor.user_id),
            "prior_visible": _prior_visible(actor, s.prior_study_id),
            "now": timezone.now(),
        },
    )


def study_act(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    _clinical(actor)
    what = request.POST.get("do", "")
    p = request.POST

    def report_input() -> actions.ReportInput:
        t = p.get("template_id", "")
        return actions.ReportInput(
            findings=p.get("findings", ""),
            impression=p.get("impression", ""),
            critical=p.get("critical") == "on",
            critical_text=p.get("critical_text", ""),
            template_id=int(t) if t.isdigit() else None,
            amend_reason=p.get("amend_reason", ""),
            reader_name=_who(request),
        )

    try:
        if what == "claim":
            actions.do_claim_study(actor, pk)
        elif what == "release":
            actions.do_release_study(actor, pk)
        elif what == "report":
            actions.do_report_study(actor, pk, report_input())
        elif what == "amend":
            actions.do_amend_report(actor, pk, report_input())
        elif what == "cancel":
            actions.do_cancel_study(actor, pk, p.get("reason", ""))
        elif what == "review":
            actions.do_review_study(
                actor,
                pk,
                consistent=p.get("consistent") == "yes",
                film_grade=p.get("film_grade", ""),
                note=p.get("note", ""),
                reviewer_name=_who(request),
            )
        elif what in ("ack", "resolve"):
            cv_id = p.get("cv", "")
            if not cv_id.isdigit():
                raise NotFound("危急值")
            if what == "ack":
                actions.do_acknowledge_critical(actor, int(cv_id), name=_who(request))
            else:
                actions.do_resolve_critical(
                    actor, int(cv_id), p.get("action_taken", ""), name=_who(request)
                )
        else:
            messages.error(request, "未知操作")
            return redirect("web:diagnostics-detail", pk=pk)
    except DomainError as exc:
        if what in KEEP_INPUT:
            errors = {e.field: e.msg_zh for e in exc.errors}
            return _detail(request, actor, pk, failed=what, errors=errors)
        messages.error(request, _msg(exc))
    except Forbidden as exc:
        messages.error(request, exc.msg_zh)
    else:
        messages.success(request, DONE.get(what, "已保存"))
    return redirect("web:diagnostics-detail", pk=pk)


# actions whose form carries typed text: on a refusal the page is shown again with it kept
KEEP_INPUT = ("report", "amend", "review", "cancel", "resolve")


DONE = {
    "claim": "已领取，请书写报告",
    "release": "已退回队列",
    "report": "报告已签发",
    "amend": "报告已更正",
    "cancel": "申请已撤销",
    "review": "质控评价已保存",
    "ack": "已确认收到危急值，请登记处置措施",
    "resolve": "危急值处置已登记",
}


# ---------------------------------------------------------------------------------------------
# administrator


def quality(request: HttpRequest, actor: Actor) -> HttpResponse:
    today = timezone.localdate()
    raw = request.GET.get("days", "365")
    days = int(raw) if raw in ("30", "90", "180", "365") else 365
    tz = timezone.get_current_timezone()
    until = datetime.combine(today + timedelta(days=1), time.min, tzinfo=tz)
    since = until - timedelta(days=days)
    return render(
        request,
        "diagnostics/quality.html",
        {
            "days": days,
            "periods": [(30, "近30天"), (90, "近90天"), (180, "近180天"), (365, "近一年")],
            "since": since,
            "until": until,
            "by_centre": queries.quality_rates(actor, since, until, by="centre"),
            "by_facility": queries.quality_rates(actor, since, until, by="facility"),
            "trend": queries.quality_trend(actor, since, until),
            "loop": queries.critical_loop_summary(actor, since, until),
        },
    )
