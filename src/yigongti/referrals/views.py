"""Pages of two-way referral: new referral (prefill `?resident=&reason=&urgency=`), the
worklists, the referral with its chain of transitions and the actions of each side, the
return note, and the out-of-county summary."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from yigongti.core.actor import Actor
from yigongti.core.errors import DomainError, Forbidden, NotFound
from yigongti.residents.queries import get_resident_for
from yigongti.scheduling import queries as sched
from yigongti.scheduling.models import Ward

from . import actions, queries, rules
from .models import Direction, Referral, State, Urgency


def _msg(exc: DomainError) -> str:
    return "；".join(e.msg_zh for e in exc.errors)


def _apply(form: forms.Form, exc: DomainError, aliases: dict[str, str] | None = None) -> None:
    aliases = aliases or {}
    for err in exc.errors:
        name = aliases.get(err.field, err.field.split(".")[0])
        if name in form.fields and not form.errors.get(name):
            form.add_error(name, err.msg_zh)
        else:
            form.add_error(None, err.msg_zh)


class ReferralForm(forms.Form):
    resident = forms.CharField(label="居民主索引号", max_length=32)
    urgency = forms.ChoiceField(label="紧急程度", choices=Urgency.choices, initial=Urgency.ROUTINE)
    family_doctor = forms.BooleanField(
        label="家庭医生转诊（接收方优先接诊、检查、住院）", required=False
    )
    out_of_county = forms.BooleanField(label="转往县外医院", required=False)
    to_department = forms.ChoiceField(label="接收医院及科室", required=False)
    destination_name = forms.CharField(label="县外接收医院", required=False, max_length=128)
    initial_impression = forms.CharField(label="初步印象", required=False, max_length=200)
    diagnosis_code = forms.CharField(label="诊断编码（ICD-10）", required=False, max_length=16)
    reason = forms.CharField(label="转诊原因/现病史", widget=forms.Textarea(attrs={"rows": 3}))
    past_history = forms.CharField(
        label="既往史", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    treatment_so_far = forms.CharField(
        label="已做治疗", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    attachments = forms.CharField(
        label="附件（健康档案记录）",
        required=False,
        help_text="如 encounter:12, report:3, observation:5，逗号分隔",
    )
    referring_doctor = forms.CharField(label="转诊医生", max_length=30)
    referring_phone = forms.CharField(label="联系电话", required=False, max_length=20)
    client_key = forms.CharField(widget=forms.HiddenInput, required=False)


def _department_choices(actor: Actor) -> list[tuple[str, str]]:
    out = [("", "请选择")]
    for f in queries.destinations(actor):
        out.extend((f"{f.pk}:{d.pk}", f"{f.name} · {d.name}") for d in f.departments.all())
    return out


def referral_new(request: HttpRequest, actor: Actor) -> HttpResponse:
    choices = _department_choices(actor)
    if request.method == "POST":
        form = ReferralForm(request.POST)
        form.fields["to_department"].choices = choices  # type: ignore[attr-defined]
        if form.is_valid():
            d = form.cleaned_data
            fac_id = dept_id = None
            if d["to_department"]:
                a, _, b = d["to_department"].partition(":")
                fac_id, dept_id = int(a), int(b)
            try:
                resident = get_resident_for(actor, d["resident"], purpose="referral")
                r = actions.do_create_referral(
                    actor,
                    resident,
                    actions.ReferralInput(
                        urgency=d["urgency"],
                        reason=d["reason"],
                        to_facility_id=fac_id,
                        to_department_id=dept_id,
                        out_of_county=d["out_of_county"],
                        destination_name=d["destination_name"],
                        family_doctor=d["family_doctor"],
                        initial_impression=d["initial_impression"],
                        diagnosis_code=d["diagnosis_code"],
                        past_history=d["past_history"],
                        treatment_so_far=d["treatment_so_far"],
                        attachments=[x.strip() for x in d["attachments"].split(",") if x.strip()],
                        referring_doctor=d["referring_doctor"],
                        referring_phone=d["referring_phone"],
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
                messages.success(request, "转诊单已提交")
                return redirect("web:referrals-detail", pk=r.pk)
    else:
        import uuid

        initial = {
            "resident": request.GET.get("resident", ""),
            "reason": request.GET.get("reason", ""),
            "urgency": request.GET.get("urgency", "")
            if request.GET.get("urgency") in Urgency.values
            else Urgency.ROUTINE,
            "referring_doctor": getattr(request.user, "first_name", "") or actor.username,
            "client_key": uuid.uuid4().hex,
        }
        form = ReferralForm(initial=initial)
        form.fields["to_department"].choices = choices  # type: ignore[attr-defined]
    return render(request, "referrals/new.html", {"form": form})


BOXES = [
    ("received", "收到的转诊"),
    ("sent", "发出的转诊"),
    ("waiting", "待响应"),
    ("overdue", "超时未响应"),
    ("followups", "回转待随访"),
]


def referral_list(request: HttpRequest, actor: Actor) -> HttpResponse:
    box = request.GET.get("box", "received")
    if box not in dict(BOXES):
        box = "received"
    rows: list[tuple[Referral, bool]]
    if box == "followups":
        rows = queries.followups_due(actor, timezone.localdate())[:200]
    else:
        if box == "sent":
            qs = queries.sent(actor)
        elif box == "waiting":
            qs = queries.waiting(actor)
        elif box == "overdue":
            qs = queries.overdue_responses(actor)
        else:  # received: what is still to handle
            qs = queries.received(actor)
        now = timezone.now()
        rows = [
            (r, r.state == State.SUBMITTED and r.respond_by is not None and r.respond_by < now)
            for r in qs[:200]
        ]
    return render(
        request,
        "referrals/list.html",
        {
            "rows": rows,
            "box": box,
            "boxes": BOXES,
            "n_overdue": queries.overdue_responses(actor).count(),
            "can_stats": actor.can("view_indicators"),
        },
    )


def referral_detail(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    r = queries.get_referral_for(actor, pk)
    sides = queries.sides_of(actor, r)
    can = {
        t: any(rules.may(r.direction, r.state, t, s) for s in sides)
        for t in ("submitted", "accepted", "declined", "cancelled", "arrived", "completed")
    }
    slots: list[dict[str, object]] = []
    wards: list[Ward] = []
    if can["accepted"] and r.direction == Direction.UP and not r.out_of_county and r.to_facility_id:
        today = timezone.localdate()
        for s in sched.schedule_board(
            today, today + timedelta(days=14), facility_id=r.to_facility_id
        ):
            for x in s.slots:
                free = x.public_free + (x.reserved_free if r.family_doctor else 0)
                if free > 0 and x.slot.starts_at > timezone.now():
                    slots.append(
                        {
                            "session": s.session,
                            "slot": x.slot,
                            "free": free,
                            "reserved_free": x.reserved_free,
                        }
                    )
        wards = list(sched.wards_of(r.to_facility_id))
    return render(
        request,
        "referrals/detail.html",
        {
            "r": r,
            "transitions": queries.transitions_of(r),
            "can": can,
            "slots": slots[:60],
            "wards": wards,
            "can_return": r.direction == Direction.UP
            and r.state in (State.ACCEPTED, State.ARRIVED, State.COMPLETED)
            and rules.RECEIVER in sides
            and not r.out_of_county,
            "overdue_followup": rules.followup_overdue(
                r.followup_due, r.followup_done_at is not None, timezone.localdate()
            ),
            "returns": r.returns.all(),
        },
    )


def referral_act(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    what = request.POST.get("do", "")
    note = request.POST.get("reason", "")

    def to_int(name: str) -> int | None:
        v = request.POST.get(name, "")
        return int(v) if v.isdigit() else None

    try:
        if what == "submit":
            actions.do_submit(actor, pk)
        elif what == "accept":
            actions.do_accept(
                actor, pk, slot_id=to_int("slot_id"), ward_id=to_int("ward_id"), note=note
            )
        elif what == "decline":
            actions.do_decline(actor, pk, note)
        elif what == "cancel":
            actions.do_cancel(actor, pk, note)
        elif what == "arrived":
            actions.do_mark_arrived(actor, pk)
        elif what == "complete":
            actions.do_complete(actor, pk, note)
        elif what == "receive":
            actions.do_receive_return(actor, pk)
        elif what == "followup":
            actions.do_record_followup(actor, pk, note)
        else:
            messages.error(request, "未知操作")
            return redirect("web:referrals-detail", pk=pk)
    except DomainError as exc:
        messages.error(request, _msg(exc))
    except Forbidden as exc:
        messages.error(request, exc.msg_zh)
    else:
        messages.success(request, "已保存")
    return redirect("web:referrals-detail", pk=pk)


class ReturnForm(forms.Form):
    return_diagnosis = forms.CharField(label="诊断", max_length=200)
    diagnosis_code = forms.CharField(label="诊断编码（ICD-10）", required=False, max_length=16)
    inpatient_no = forms.CharField(label="住院号", required=False, max_length=32)
    findings = forms.CharField(
        label="主要检查结果", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    treatment = forms.CharField(
        label="诊疗经过", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    next_steps = forms.CharField(label="下一步治疗方案", widget=forms.Textarea(attrs={"rows": 2}))
    rehab_advice = forms.CharField(
        label="康复建议", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


def referral_return(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    parent = queries.get_referral_for(actor, pk, purpose="return")
    form = ReturnForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            r = actions.do_send_return(
                actor, actions.ReturnInput(parent_id=parent.pk, **form.cleaned_data)
            )
        except DomainError as exc:
            _apply(form, exc)
        else:
            messages.success(request, "回转单已发送，接收机构需在两周内随访")
            return redirect("web:referrals-detail", pk=r.pk)
    return render(request, "referrals/return.html", {"form": form, "parent": parent})


def out_of_county(request: HttpRequest, actor: Actor) -> HttpResponse:
    today = timezone.localdate()
    days = 365 if request.GET.get("days") not in ("30", "90", "180") else int(request.GET["days"])
    summary = queries.out_of_county_summary(actor, today - timedelta(days=days), today)
    return render(request, "referrals/out_of_county.html", {"s": summary, "days": days})
