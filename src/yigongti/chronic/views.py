"""Pages of chronic-disease management and home devices (Chinese, phone-width)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from yigongti.core.actor import Actor
from yigongti.core.errors import DomainError, NotFound
from yigongti.residents.queries import get_resident_for

from . import actions, queries, rules
from .models import (
    DeviceType,
    DiagnosisSource,
    ExitReason,
    FollowupMethod,
    ManagementLevel,
)

PAGE = 50


def _apply_errors(form: forms.Form, exc: DomainError) -> None:
    for e in exc.errors:
        name = e.field.split(".")[0]
        form.add_error(name if name in form.fields else None, e.msg_zh)


def _page(request: HttpRequest, qs: Any) -> Any:
    return Paginator(qs, PAGE).get_page(request.GET.get("page"))


def _disease_field(required: bool = True) -> forms.ChoiceField:
    choices = rules.disease_choices()
    return forms.ChoiceField(
        label="病种", choices=choices if required else [("", "全部"), *choices], required=required
    )


# --- registers -------------------------------------------------------------------------------


class EnrolForm(forms.Form):
    mpi_id = forms.CharField(label="居民主索引号", max_length=20)
    disease = _disease_field()
    diagnosed_on = forms.DateField(label="确诊日期", widget=forms.DateInput(attrs={"type": "date"}))
    diagnosis_source = forms.ChoiceField(label="确诊方式", choices=DiagnosisSource.choices)
    level = forms.ChoiceField(label="管理级别", choices=ManagementLevel.choices)
    diagnosis_note = forms.CharField(label="确诊说明", required=False, max_length=200)


def register_list(request: HttpRequest, actor: Actor) -> HttpResponse:
    disease = request.GET.get("disease", "")
    status = request.GET.get("status", "active")
    form = EnrolForm(
        request.POST or None,
        initial={"diagnosed_on": timezone.localdate(), "mpi_id": request.GET.get("mpi_id", "")},
    )
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            resident = get_resident_for(actor, d["mpi_id"], purpose="chronic_enrol")
        except NotFound:
            form.add_error("mpi_id", "居民不存在或不在您的管辖范围")
        else:
            try:
                reg = actions.do_enrol_resident(
                    actor,
                    resident,
                    actions.EnrolInput(
                        disease=d["disease"],
                        diagnosed_on=d["diagnosed_on"],
                        diagnosis_source=d["diagnosis_source"],
                        level=d["level"],
                        diagnosis_note=d["diagnosis_note"],
                    ),
                )
            except DomainError as exc:
                _apply_errors(form, exc)
            else:
                messages.success(request, "已纳入慢病管理")
                return redirect("web:chronic-registration", pk=reg.pk)
    qs = queries.registrations_visible_to(
        actor, disease=disease or None, status=status or None
    ).order_by("resident__village_id", "resident__name", "pk")
    return render(
        request,
        "chronic/register_list.html",
        {
            "page": _page(request, qs),
            "form": form,
            "disease": disease,
            "status": status,
            "diseases": rules.disease_choices(),
            "labels": rules.CLASSIFICATION_LABELS,
        },
        status=422 if form.errors else 200,
    )


class ExitForm(forms.Form):
    reason = forms.ChoiceField(label="结案原因", choices=ExitReason.choices)
    exited_on = forms.DateField(label="结案日期", widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(label="说明", required=False, max_length=200)


def registration_detail(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    reg = queries.get_registration_for(actor, pk)
    form = ExitForm(request.POST or None, initial={"exited_on": timezone.localdate()})
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            actions.do_exit_registration(actor, reg, d["reason"], on=d["exited_on"], note=d["note"])
        except DomainError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, "已结案")
            return redirect("web:chronic-registration", pk=reg.pk)
    return render(
        request,
        "chronic/registration.html",
        {
            "reg": reg,
            "disease": rules.DISEASES.get(reg.disease),
            "followups": queries.followups_of(reg)[:40],
            "form": form,
            "labels": rules.CLASSIFICATION_LABELS,
        },
        status=422 if form.errors else 200,
    )


# --- follow-up form ----------------------------------------------------------------------------


def _num(label: str, lo: float | None = None, hi: float | None = None) -> forms.FloatField:
    return forms.FloatField(
        label=label,
        required=False,
        widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"}),
    )


class FollowupForm(forms.Form):
    followup_date = forms.DateField(
        label="随访日期", widget=forms.DateInput(attrs={"type": "date"})
    )
    method = forms.ChoiceField(label="随访方式", choices=FollowupMethod.choices)
    sbp = _num("收缩压 mmHg")
    dbp = _num("舒张压 mmHg")
    glucose = _num("空腹血糖 mmol/L")
    weight = _num("体重 kg")
    height = _num("身高 cm")
    waist = _num("腰围 cm")
    heart_rate = _num("心率 次/分")
    temperature = _num("体温 ℃")
    symptoms = forms.MultipleChoiceField(
        label="症状",
        required=False,
        choices=list(rules.COMMON_SYMPTOMS.items()),
        widget=forms.CheckboxSelectMultiple,
    )
    signs = forms.MultipleChoiceField(
        label="急症征象（符合即提示紧急转诊）",
        required=False,
        choices=[],
        widget=forms.CheckboxSelectMultiple,
    )
    adherence = forms.ChoiceField(
        label="服药依从性", required=False, choices=[("", "—"), *rules.ADHERENCE_LABELS.items()]
    )
    adverse_reaction = forms.ChoiceField(
        label="药物不良反应",
        choices=[("none", "无"), ("present", "有"), ("hard", "有，难以控制")],
    )
    adverse_note = forms.CharField(label="不良反应说明", required=False, max_length=200)
    complication = forms.ChoiceField(
        label="并发症",
        choices=[("none", "无"), ("stable", "原有，稳定"), ("new_or_worse", "新发或加重")],
    )
    dorsalis_pedis = forms.ChoiceField(
        label="足背动脉搏动", required=False, choices=list(rules.DORSALIS_LABELS.items())
    )
    smoking = forms.IntegerField(label="日吸烟量（支）", required=False, min_value=0)
    drinking = forms.IntegerField(label="日饮酒量（两）", required=False, min_value=0)
    exercise = forms.IntegerField(label="运动（次/周）", required=False, min_value=0)
    salt = forms.ChoiceField(
        label="摄盐情况",
        required=False,
        choices=[("", "—"), ("light", "轻"), ("medium", "中"), ("heavy", "重")],
    )
    pregnant = forms.BooleanField(label="妊娠或哺乳期", required=False)
    notes = forms.CharField(
        label="备注/健康指导", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, disease: rules.DiseaseDef, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        signs = self.fields["signs"]
        assert isinstance(signs, forms.ChoiceField)
        signs.choices = list(disease.emergency_signs.items())
        if "dorsalis_pedis" not in disease.extra_fields:
            del self.fields["dorsalis_pedis"]


def followup_new(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    reg = queries.get_registration_for(actor, pk)
    disease = rules.DISEASES[reg.disease]
    form = FollowupForm(
        request.POST or None,
        disease=disease,
        initial={"followup_date": timezone.localdate(), "method": FollowupMethod.CLINIC},
    )
    outcome = None
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        lifestyle = {
            k: d[k]
            for k in ("smoking", "drinking", "exercise", "salt")
            if d.get(k) not in (None, "")
        }
        data = actions.FollowupInput(
            followup_date=d["followup_date"],
            method=d["method"],
            sbp=d["sbp"],
            dbp=d["dbp"],
            glucose=d["glucose"],
            weight=d["weight"],
            height=d["height"],
            waist=d["waist"],
            heart_rate=d["heart_rate"],
            temperature=d["temperature"],
            symptoms=list(d["symptoms"]),
            signs=list(d["signs"]),
            adherence=d["adherence"],
            adverse_reaction=d["adverse_reaction"],
            adverse_note=d["adverse_note"],
            complication=d["complication"],
            lifestyle=lifestyle,
            dorsalis_pedis=d.get("dorsalis_pedis") or "",
            pregnant=d["pregnant"],
            notes=d["notes"],
        )
        try:
            outcome = actions.do_record_followup(actor, reg, data)
        except DomainError as exc:
            _apply_errors(form, exc)
    return render(
        request,
        "chronic/followup_form.html",
        {"reg": reg, "disease": disease, "form": form, "outcome": outcome},
        status=422 if form.errors else (201 if outcome else 200),
    )


def _float(raw: str | None) -> float | None:
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        return None


def followup_preview(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    """What the platform will conclude from the form as typed (htmx fragment; writes nothing)."""
    reg = queries.get_registration_for(actor, pk)
    disease = rules.DISEASES[reg.disease]
    g = request.GET
    try:
        day = date.fromisoformat(g.get("followup_date", "")) if g.get("followup_date") else None
    except ValueError:
        day = None
    day = day or timezone.localdate()
    m = rules.Measurements(
        sbp=_float(g.get("sbp")),
        dbp=_float(g.get("dbp")),
        glucose=_float(g.get("glucose")),
        heart_rate=_float(g.get("heart_rate")),
        temperature=_float(g.get("temperature")),
        pregnant_or_breastfeeding=g.get("pregnant") in ("on", "true", "1"),
        signs=frozenset(g.getlist("signs")),
    )
    prev = queries.followups_of(reg).filter(followup_date__lt=day).first()
    result = disease.classify(
        m,
        previous_uncontrolled=bool(prev and prev.controlled is False),
        visit_date=day,
        adverse_reaction=g.get("adverse_reaction", "none"),
        complication=g.get("complication", "none"),
    )
    return render(
        request,
        "chronic/_preview.html",
        {"result": result, "emergency": rules.emergency_referral_reasons(reg.disease, m)},
    )


# --- worklist and screening ----------------------------------------------------------------------


def worklist(request: HttpRequest, actor: Actor) -> HttpResponse:
    disease = request.GET.get("disease", "")
    by = "township" if request.GET.get("by") == "township" else "village"
    today = timezone.localdate()
    qs = queries.worklist(actor, disease=disease or None, today=today)
    return render(
        request,
        "chronic/worklist.html",
        {
            "page": _page(request, qs),
            "today": today,
            "disease": disease,
            "diseases": rules.disease_choices(),
            "labels": rules.CLASSIFICATION_LABELS,
            "completion": queries.completion(actor, by=by, disease=disease or None),
            "by": by,
        },
    )


def screening(request: HttpRequest, actor: Actor) -> HttpResponse:
    which = request.GET.get("list", "due")
    lists = {
        "due": ("35岁以上本年度未测血压", queries.screening_due),
        "confirm": ("血压升高待确诊（非同日三次）", queries.pending_confirmation),
        "high_risk": ("高危人群半年未测血压", queries.high_risk_due),
    }
    if which not in lists:
        which = "due"
    title, fn = lists[which]
    return render(
        request,
        "chronic/screening.html",
        {
            "page": _page(request, fn(actor)),
            "which": which,
            "title": title,
            "lists": [(k, v[0]) for k, v in lists.items()],
            "confirm_days": rules.CONFIRM_DAYS,
        },
    )


# --- indicators ---------------------------------------------------------------------------------


def _period(request: HttpRequest) -> tuple[date, date]:
    today = timezone.localdate()
    try:
        start = (
            date.fromisoformat(request.GET.get("start", ""))
            if request.GET.get("start")
            else date(today.year, 1, 1)
        )
        end = date.fromisoformat(request.GET.get("end", "")) if request.GET.get("end") else today
    except ValueError:
        start, end = date(today.year, 1, 1), today
    if end < start:
        start, end = end, start
    return start, end


def indicators(request: HttpRequest, actor: Actor) -> HttpResponse:
    disease = request.GET.get("disease", rules.HYPERTENSION)
    if disease not in rules.DISEASES:
        disease = rules.HYPERTENSION
    by = request.GET.get("by", "village")
    if by not in ("village", "township", "group"):
        by = "village"
    start, end = _period(request)
    res = queries.indicators(actor, disease=disease, start=start, end=end, by=by)
    return render(
        request,
        "chronic/indicators.html",
        {"res": res, "diseases": rules.disease_choices(), "disease": disease, "by": by},
    )


def indicator_drill(request: HttpRequest, actor: Actor) -> HttpResponse:
    disease = request.GET.get("disease", rules.HYPERTENSION)
    by = request.GET.get("by", "village")
    measure = request.GET.get("measure", "norm")
    part = "denominator" if request.GET.get("part") == "denominator" else "numerator"
    unit = request.GET.get("unit", "")
    start, end = _period(request)
    if by not in ("village", "township", "group"):
        raise NotFound("指标")
    qs = queries.indicator_residents(
        actor,
        disease=disease,
        start=start,
        end=end,
        by=by,
        unit_id=int(unit) if unit.isdigit() else None,
        measure=measure,
        part=part,
    )
    return render(
        request,
        "chronic/indicator_drill.html",
        {
            "page": _page(request, qs),
            "disease": rules.DISEASES[disease],
            "measure": measure,
            "part": part,
            "start": start,
            "end": end,
            "definition": queries.definitions(disease, start, end)[measure],
        },
    )


# --- devices -------------------------------------------------------------------------------------


class DeviceForm(forms.Form):
    serial = forms.CharField(label="序列号", max_length=64)
    type = forms.ChoiceField(label="类型", choices=DeviceType.choices)
    model_name = forms.CharField(label="型号", max_length=60, required=False)
    mpi_id = forms.CharField(label="绑定居民主索引号（可稍后绑定）", max_length=20, required=False)


def devices(request: HttpRequest, actor: Actor) -> HttpResponse:
    form = DeviceForm(request.POST or None)
    secret = ""
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        resident = None
        if d["mpi_id"]:
            try:
                resident = get_resident_for(actor, d["mpi_id"], purpose="device_bind")
            except NotFound:
                form.add_error("mpi_id", "居民不存在或不在您的管辖范围")
        if not form.errors:
            try:
                dev, secret = actions.do_register_device(
                    actor, actions.DeviceInput(d["serial"], d["type"], d["model_name"])
                )
                if resident is not None:
                    actions.do_bind_device(actor, dev, resident)
            except DomainError as exc:
                _apply_errors(form, exc)
            else:
                messages.success(request, f"设备 {dev.serial} 已登记")
                form = DeviceForm()
    return render(
        request,
        "chronic/devices.html",
        {"page": _page(request, queries.devices_visible_to(actor)), "form": form, "secret": secret},
        status=422 if form.errors else 200,
    )


class BindForm(forms.Form):
    mpi_id = forms.CharField(label="居民主索引号", max_length=20, required=False)
    reason = forms.CharField(label="说明", max_length=200, required=False)
    action = forms.ChoiceField(choices=[("bind", "绑定/换绑"), ("unbind", "解绑")])


def device_detail(request: HttpRequest, actor: Actor, serial: str) -> HttpResponse:
    dev = queries.get_device_for(actor, serial)
    form = BindForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            if d["action"] == "unbind":
                actions.do_unbind_device(actor, dev, reason=d["reason"])
            else:
                resident = get_resident_for(actor, d["mpi_id"], purpose="device_bind")
                actions.do_bind_device(actor, dev, resident, reason=d["reason"])
        except NotFound:
            form.add_error("mpi_id", "居民不存在或不在您的管辖范围")
        except DomainError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, "已保存")
            return redirect("web:chronic-device", serial=dev.serial)
    return render(
        request,
        "chronic/device.html",
        {
            "dev": dev,
            "form": form,
            "history": dev.bindings.select_related("resident").order_by("-bound_at")[:50],
        },
        status=422 if form.errors else 200,
    )


def quarantine(request: HttpRequest, actor: Actor) -> HttpResponse:
    if request.method == "POST":
        pk = request.POST.get("reading", "")
        q = queries.get_quarantined_for(actor, int(pk) if pk.isdigit() else 0)
        try:
            if request.POST.get("action") == "discard":
                actions.do_discard_quarantined(actor, q)
                messages.success(request, "已丢弃")
            else:
                resident = get_resident_for(
                    actor, request.POST.get("mpi_id", ""), purpose="quarantine_assign"
                )
                actions.do_assign_quarantined(actor, q, resident)
                messages.success(request, f"读数已归入 {resident.name} 的健康档案")
        except NotFound:
            messages.error(request, "居民不存在或不在您的管辖范围")
        except DomainError as exc:
            messages.error(request, str(exc))
        return redirect("web:chronic-quarantine")
    return render(
        request,
        "chronic/quarantine.html",
        {
            "page": _page(request, queries.quarantine_visible_to(actor)),
            "rejected": queries.rejected_visible_to(actor)[:20],
        },
    )
