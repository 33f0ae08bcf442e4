"""Pages of the shared health record: the resident's record with its timeline, recording and
correcting a visit, the basic information, the yearly health check, code look-ups."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from yigongti.core.actor import Actor
from yigongti.core.errors import DomainError
from yigongti.residents.queries import get_resident_for

from . import actions, queries, rules
from .models import Encounter, EncounterKind, EntryKind, ExamKind

# ---------------------------------------------------------------------------------------------
# The record and its timeline

HEADLINE_KINDS = ["bp", "glucose_fasting", "weight", "bmi", "waist"]


class TimelineForm(forms.Form):
    kind = forms.MultipleChoiceField(
        label="类型", choices=EntryKind.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    facility = forms.TypedChoiceField(label="机构", coerce=int, required=False, empty_value=None)
    date_from = forms.DateField(
        label="起", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label="止", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    history = forms.BooleanField(label="显示已更正/作废", required=False)


def health_record(request: HttpRequest, actor: Actor, mpi_id: str) -> HttpResponse:
    """健康档案: basic information, latest measurements and the timeline (newest first).
    With `cursor` and HX-Request it answers only the next page of rows."""
    r = get_resident_for(actor, mpi_id, purpose="health_record")
    form = TimelineForm(request.GET or None)
    facility_field = form.fields["facility"]
    assert isinstance(facility_field, forms.ChoiceField)
    facility_field.choices = [("", "全部机构"), *queries.timeline_facilities(r)]
    flt = queries.TimelineFilter()
    if form.is_bound and form.is_valid():
        d = form.cleaned_data
        flt = queries.TimelineFilter(
            kinds=tuple(d["kind"]),
            facility_id=d["facility"],
            date_from=d["date_from"],
            date_to=d["date_to"],
            include_history=d["history"],
        )
    page = queries.timeline(r, flt, cursor=request.GET.get("cursor", ""))
    params = request.GET.copy()
    params.pop("cursor", None)
    ctx: dict[str, Any] = {
        "r": r,
        "page": page,
        "more_query": params.urlencode(),
    }
    if request.headers.get("HX-Request") and request.GET.get("cursor"):
        return render(request, "records/_timeline_rows.html", ctx)
    ctx.update(
        form=form,
        profile=queries.current_profile(r),
        latest=[
            (rules.VITALS[k].name, o)
            for k, o in queries.latest_observations(r, HEADLINE_KINDS).items()
        ],
        diagnoses=queries.diagnoses_of(r)[:12],
        can_record=actor.can("record_clinical"),
    )
    return render(request, "records/health_record.html", ctx)


# ---------------------------------------------------------------------------------------------
# Recording a visit

DIAGNOSIS_ROWS = 4
RX_ROWS = 4
FREQ_CHOICES = [("", "—")] + [(k, f"{k}（{v[0]}）") for k, v in rules.FREQUENCIES.items()]
ROUTE_CHOICES = [(k, v) for k, v in rules.ROUTES.items()]


def _lookup_attrs(datalist: str, url: str) -> dict[str, str]:
    """A text box whose suggestions (a shared <datalist>) are fetched by htmx as one types:
    code, Chinese name or pinyin initials."""
    return {
        "list": datalist,
        "autocomplete": "off",
        "hx-get": url,
        "hx-trigger": "input changed delay:300ms",
        "hx-target": f"#{datalist}",
        "placeholder": "编码/名称/拼音首字母",
    }


class MeasurementFields(forms.Form):
    """The measurement boxes a visit and a health check share (read by `vitals_from`)."""

    sbp = forms.FloatField(label="收缩压 mmHg", required=False)
    dbp = forms.FloatField(label="舒张压 mmHg", required=False)
    pulse = forms.FloatField(label="心率 次/分", required=False)
    temperature = forms.FloatField(label="体温 ℃", required=False)
    height = forms.FloatField(label="身高 cm", required=False)
    weight = forms.FloatField(label="体重 kg", required=False)
    waist = forms.FloatField(label="腰围 cm", required=False)
    glucose_fasting = forms.FloatField(label="空腹血糖 mmol/L", required=False)


class EncounterForm(MeasurementFields):
    kind = forms.ChoiceField(label="就诊类型", choices=EncounterKind.choices, initial="outpatient")
    started_at = forms.DateTimeField(
        label="就诊时间",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="留空为现在",
    )
    complaint = forms.CharField(label="主诉", max_length=500, required=False)
    present_illness = forms.CharField(
        label="现病史", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    notes = forms.CharField(
        label="处理意见", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    reason = forms.CharField(label="更正原因", max_length=200, required=False)

    def __init__(self, *args: Any, amending: bool = False, **kwargs: Any):
        super().__init__(*args, **kwargs)
        for i in range(DIAGNOSIS_ROWS):
            self.fields[f"dx_{i}"] = forms.CharField(
                label=f"诊断{i + 1}（ICD-10）" if i else "主要诊断（ICD-10）",
                required=False,
                widget=forms.TextInput(attrs=_lookup_attrs("icd-options", "/records/codes/icd10/")),
            )
        for i in range(RX_ROWS):
            self.fields[f"rx_{i}_drug"] = forms.CharField(
                label="药品",
                required=False,
                widget=forms.TextInput(
                    attrs=_lookup_attrs("drug-options", "/records/codes/drugs/")
                ),
            )
            self.fields[f"rx_{i}_dose"] = forms.DecimalField(label="单次剂量", required=False)
            self.fields[f"rx_{i}_unit"] = forms.CharField(
                label="单位", required=False, widget=forms.TextInput(attrs={"size": 3})
            )
            self.fields[f"rx_{i}_freq"] = forms.ChoiceField(
                label="频次", choices=FREQ_CHOICES, required=False
            )
            self.fields[f"rx_{i}_route"] = forms.ChoiceField(
                label="用法", choices=ROUTE_CHOICES, initial="po", required=False
            )
            self.fields[f"rx_{i}_days"] = forms.IntegerField(label="天数", required=False)
            self.fields[f"rx_{i}_qty"] = forms.DecimalField(label="总量", required=False)
        if amending:
            self.fields["reason"].required = True
        else:
            del self.fields["reason"]

    def diagnosis_fields(self) -> list[forms.BoundField]:
        return [self[f"dx_{i}"] for i in range(DIAGNOSIS_ROWS)]

    def rx_rows(self) -> list[list[forms.BoundField]]:
        names = ("drug", "dose", "unit", "freq", "route", "days", "qty")
        return [[self[f"rx_{i}_{n}"] for n in names] for i in range(RX_ROWS)]

    def to_input(self) -> actions.EncounterInput:
        d = self.cleaned_data
        started = d.get("started_at")
        vitals = vitals_from(d)
        diagnoses = [
            actions.DiagnosisInput(_code_of(d[f"dx_{i}"]))
            for i in range(DIAGNOSIS_ROWS)
            if d.get(f"dx_{i}")
        ]
        prescriptions = [
            actions.PrescriptionInput(
                drug_code=_code_of(d[f"rx_{i}_drug"]),
                dose=d.get(f"rx_{i}_dose") or "",
                frequency=d.get(f"rx_{i}_freq") or "",
                days=d.get(f"rx_{i}_days") or 0,
                dose_unit=d.get(f"rx_{i}_unit") or "",
                route=d.get(f"rx_{i}_route") or "",
                quantity=d.get(f"rx_{i}_qty"),
            )
            for i in range(RX_ROWS)
            if d.get(f"rx_{i}_drug")
        ]
        return actions.EncounterInput(
            kind=d["kind"],
            started_at=timezone.make_aware(started)
            if started and timezone.is_naive(started)
            else started,
            complaint=d.get("complaint", ""),
            present_illness=d.get("present_illness", ""),
            notes=d.get("notes", ""),
            diagnoses=diagnoses,
            vitals=vitals,
            prescriptions=prescriptions,
        )


SINGLE_VITALS = (
    "pulse",
    "respiration",
    "temperature",
    "height",
    "weight",
    "waist",
    "glucose_fasting",
)


def vitals_from(d: dict[str, Any]) -> list[actions.VitalInput]:
    """The measurement boxes of a form (sbp/dbp make one blood pressure) as inputs."""
    vitals: list[actions.VitalInput] = []
    if d.get("sbp") is not None or d.get("dbp") is not None:
        vitals.append(actions.VitalInput("bp", d.get("sbp"), d.get("dbp")))
    vitals.extend(actions.VitalInput(k, d[k]) for k in SINGLE_VITALS if d.get(k) is not None)
    return vitals


def _code_of(text: str) -> str:
    """The datalist puts "I10 特发性高血压" into the box: keep the code."""
    return text.strip().split(" ", 1)[0]


# Action field paths → form fields, so that errors land next to the right input.
def _form_field(path: str) -> str | None:
    parts = path.split(".")
    if parts[0] == "vitals":
        return {"systolic": "sbp", "diastolic": "dbp"}.get(parts[-1], parts[-1])
    if parts[0] == "diagnoses" and len(parts) > 1:
        return f"dx_{parts[1]}"
    if parts[0] == "prescriptions" and len(parts) > 2:
        col = {
            "drug_code": "drug",
            "dose": "dose",
            "frequency": "freq",
            "route": "route",
            "days": "days",
            "quantity": "qty",
        }.get(parts[2], "drug")
        return f"rx_{parts[1]}_{col}"
    return parts[0]


def _apply_errors(form: forms.Form, exc: DomainError) -> None:
    for e in exc.errors:
        name = _form_field(e.field)
        form.add_error(name if name in form.fields else None, e.msg_zh)


def _vital_initial(enc: Encounter) -> dict[str, Any]:
    diagnoses, vitals, rx = queries.encounter_parts(enc)
    init: dict[str, Any] = {
        "kind": enc.kind,
        "started_at": timezone.localtime(enc.started_at),
        "complaint": enc.complaint,
        "present_illness": enc.present_illness,
        "notes": enc.notes,
    }
    for o in vitals:
        if o.kind == "bp":
            init["sbp"], init["dbp"] = o.value, o.value2
        elif o.kind != "bmi":
            init[o.kind] = o.value
    for i, dx in enumerate(diagnoses[:DIAGNOSIS_ROWS]):
        init[f"dx_{i}"] = dx.code_id
    for i, p in enumerate(rx[:RX_ROWS]):
        init.update(
            {
                f"rx_{i}_drug": p.drug_id,
                f"rx_{i}_dose": p.dose,
                f"rx_{i}_unit": p.dose_unit,
                f"rx_{i}_freq": p.frequency,
                f"rx_{i}_route": p.route,
                f"rx_{i}_days": p.days,
                f"rx_{i}_qty": p.quantity,
            }
        )
    return init


def encounter_new(request: HttpRequest, actor: Actor, mpi_id: str) -> HttpResponse:
    r = get_resident_for(actor, mpi_id, purpose="record")
    form = EncounterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            enc = actions.do_record_encounter(actor, r, form.to_input())
        except DomainError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, "就诊记录已保存")
            return redirect("web:encounter", pk=enc.pk)
    return render(
        request,
        "records/encounter_form.html",
        {"r": r, "form": form, "mode": "new"},
        status=422 if form.errors else 200,
    )


def encounter_detail(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    enc = queries.get_encounter_for(actor, pk)
    diagnoses, vitals, rx = queries.encounter_parts(enc)
    return render(
        request,
        "records/encounter.html",
        {
            "enc": enc,
            "r": enc.resident,
            "diagnoses": diagnoses,
            "vitals": vitals,
            "prescriptions": rx,
            "versions": queries.versions_of(enc),
            "can_amend": enc.is_current
            and actor.can("record_clinical")
            and enc.facility_id == actor.facility_id,
            "frequencies": rules.FREQUENCIES,
            "routes": rules.ROUTES,
        },
    )


def encounter_amend(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    enc = queries.get_encounter_for(actor, pk)
    form = EncounterForm(request.POST or None, amending=True, initial=_vital_initial(enc))
    if request.method == "POST" and form.is_valid():
        try:
            new = actions.do_amend_encounter(
                actor, enc, form.to_input(), form.cleaned_data["reason"]
            )
        except DomainError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, "已更正，原记录保留在历史版本中")
            return redirect("web:encounter", pk=new.pk)
    return render(
        request,
        "records/encounter_form.html",
        {"r": enc.resident, "form": form, "mode": "amend", "enc": enc},
        status=422 if form.errors else 200,
    )


def encounter_void(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    enc = queries.get_encounter_for(actor, pk)
    try:
        actions.do_void(actor, enc, request.POST.get("reason", ""))
    except DomainError as exc:
        messages.error(request, exc.errors[0].msg_zh)
    else:
        messages.success(request, "已作废，记录保留在历史版本中")
    return redirect("web:encounter", pk=enc.pk)


# ---------------------------------------------------------------------------------------------
# Basic information (个人基本信息)


def _lines(text: str) -> list[str]:
    return [
        t.strip() for t in text.replace("，", "\n").replace(",", "\n").splitlines() if t.strip()
    ]


class ProfileForm(forms.Form):
    blood_type = forms.ChoiceField(
        label="血型",
        required=False,
        choices=[("", "不详"), ("A", "A"), ("B", "B"), ("O", "O"), ("AB", "AB")],
    )
    rh_negative = forms.NullBooleanField(
        label="Rh阴性",
        required=False,
        widget=forms.Select(choices=[("unknown", "不详"), ("false", "否"), ("true", "是")]),
    )
    past_history = forms.CharField(
        label="既往史",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="每行一条：疾病名称 [ICD-10编码] [确诊年份]，如：高血压 I10 2015",
    )
    family_history = forms.CharField(
        label="家族史",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="每行一条：关系 疾病，如：父亲 糖尿病",
    )
    allergies = forms.CharField(
        label="药物过敏史", required=False, help_text="逗号分隔，如：青霉素，磺胺"
    )
    disabilities = forms.CharField(label="残疾情况", required=False, help_text="逗号分隔；无则留空")
    smoking = forms.ChoiceField(
        label="吸烟",
        required=False,
        choices=[("", "不详"), ("never", "从不"), ("former", "已戒"), ("current", "吸烟")],
    )
    drinking = forms.ChoiceField(
        label="饮酒",
        required=False,
        choices=[
            ("", "不详"),
            ("never", "从不"),
            ("sometimes", "偶尔"),
            ("often", "经常"),
            ("daily", "每天"),
        ],
    )
    exercise = forms.ChoiceField(
        label="体育锻炼",
        required=False,
        choices=[
            ("", "不详"),
            ("daily", "每天"),
            ("weekly", "每周一次以上"),
            ("sometimes", "偶尔"),
            ("never", "不锻炼"),
        ],
    )
    note = forms.CharField(label="修改说明", required=False, max_length=200)


def _past_history(text: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        item: dict[str, Any] = {"condition": parts[0]}
        for p in parts[1:]:
            if p.isdigit() and len(p) == 4:
                item["year"] = int(p)
            else:
                item["icd"] = p.upper()
        out.append(item)
    return out


def _family_history(text: str) -> list[dict[str, Any]]:
    out = []
    for line in text.splitlines():
        parts = line.split(maxsplit=1)
        if len(parts) == 2:
            out.append({"relation": parts[0], "condition": parts[1]})
        elif parts:
            out.append({"relation": "", "condition": parts[0]})
    return out


def profile_edit(request: HttpRequest, actor: Actor, mpi_id: str) -> HttpResponse:
    r = get_resident_for(actor, mpi_id, purpose="profile")
    current = queries.current_profile(r)
    initial: dict[str, Any] = {}
    if current is not None:
        initial = {
            "blood_type": current.blood_type,
            "rh_negative": current.rh_negative,
            "past_history": "\n".join(
                " ".join(
                    str(x)
                    for x in (h.get("condition", ""), h.get("icd", ""), h.get("year", ""))
                    if x
                )
                for h in current.past_history
            ),
            "family_history": "\n".join(
                f"{h.get('relation', '')} {h.get('condition', '')}".strip()
                for h in current.family_history
            ),
            "allergies": "，".join(current.allergies),
            "disabilities": "，".join(current.disabilities),
            **{k: current.lifestyle.get(k, "") for k in ("smoking", "drinking", "exercise")},
        }
    form = ProfileForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        data = actions.ProfileInput(
            blood_type=d["blood_type"],
            rh_negative=d["rh_negative"],
            past_history=_past_history(d["past_history"]),
            family_history=_family_history(d["family_history"]),
            allergies=_lines(d["allergies"]),
            disabilities=_lines(d["disabilities"]),
            lifestyle={k: d[k] for k in ("smoking", "drinking", "exercise") if d[k]},
            note=d["note"],
        )
        try:
            actions.do_update_profile(actor, r, data)
        except DomainError as exc:
            for e in exc.errors:
                form.add_error(
                    e.field.split(".")[0] if e.field.split(".")[0] in form.fields else None,
                    e.msg_zh,
                )
        else:
            messages.success(request, "基本信息已保存")
            return redirect("web:health-record", mpi_id=r.mpi_id)
    return render(
        request,
        "records/profile_form.html",
        {"r": r, "form": form, "history": list(queries.profile_history(r)[:10])},
        status=422 if form.errors else 200,
    )


# ---------------------------------------------------------------------------------------------
# Health examination (老年人健康体检, DOMAIN.md §5)

EXAM_FINDINGS = (
    ("self_care", "生活自理能力评估", ("可自理", "轻度依赖", "中度依赖", "不能自理")),
    ("skin", "皮肤", ("正常", "异常")),
    ("lymph_nodes", "淋巴结", ("未触及", "异常")),
    ("heart", "心脏", ("正常", "异常")),
    ("lungs", "肺", ("正常", "异常")),
    ("abdomen", "腹部", ("正常", "异常")),
    ("vision", "视力（粗测）", ("正常", "下降")),
    ("hearing", "听力（粗测）", ("正常", "下降")),
    ("motor", "运动功能", ("正常", "异常")),
    ("blood_routine", "血常规", ("正常", "异常", "未查")),
    ("urine_routine", "尿常规", ("正常", "异常", "未查")),
    ("liver_function", "肝功能", ("正常", "异常", "未查")),
    ("kidney_function", "肾功能", ("正常", "异常", "未查")),
    ("lipids", "血脂", ("正常", "异常", "未查")),
    ("ecg", "心电图", ("正常", "异常", "未查")),
    ("ultrasound", "腹部B超", ("正常", "异常", "未查")),
)


class ExamForm(MeasurementFields):
    kind = forms.ChoiceField(label="体检类型", choices=ExamKind.choices)
    exam_date = forms.DateField(label="体检日期", widget=forms.DateInput(attrs={"type": "date"}))
    pulse = forms.FloatField(label="脉率 次/分", required=False)  # the exam form's own term
    respiration = forms.FloatField(label="呼吸 次/分", required=False)
    conclusion = forms.CharField(
        label="健康评价", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    guidance = forms.CharField(
        label="健康指导",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="如：纳入高血压/糖尿病管理、异常结果转诊、预约下次体检",
    )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        for key, label, choices in EXAM_FINDINGS:
            self.fields[f"f_{key}"] = forms.ChoiceField(
                label=label, required=False, choices=[("", "—"), *((c, c) for c in choices)]
            )

    def finding_fields(self) -> list[forms.BoundField]:
        return [self[f"f_{key}"] for key, _, _ in EXAM_FINDINGS]


def exam_new(request: HttpRequest, actor: Actor, mpi_id: str) -> HttpResponse:
    r = get_resident_for(actor, mpi_id, purpose="record")
    form = ExamForm(
        request.POST or None, initial={"exam_date": timezone.localdate(), "kind": ExamKind.ELDERLY}
    )
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        vitals = vitals_from(d)
        data = actions.ExamInput(
            kind=d["kind"],
            exam_date=d["exam_date"],
            vitals=vitals,
            findings={key: d[f"f_{key}"] for key, _, _ in EXAM_FINDINGS if d.get(f"f_{key}")},
            conclusion=d["conclusion"],
            guidance=d["guidance"],
        )
        try:
            actions.upsert_exam(actor, r, data)
        except DomainError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, "体检记录已保存")
            return redirect("web:health-record", mpi_id=r.mpi_id)
    return render(
        request,
        "records/exam_form.html",
        {"r": r, "form": form},
        status=422 if form.errors else 200,
    )


# ---------------------------------------------------------------------------------------------
# Code look-ups for the forms' datalists (htmx)


def _typed(request: HttpRequest) -> str:
    """What was typed: `q`, or the value of whichever box sent the request (htmx sends the
    input under its own name)."""
    typed = request.GET.get("q") or next(
        (v for v in request.GET.dict().values() if isinstance(v, str) and v.strip()), ""
    )
    return str(typed)


def icd_options(request: HttpRequest, actor: Actor) -> HttpResponse:
    rows = [(c.code, c.name) for c in queries.search_icd(_typed(request), 15)]
    return render(request, "records/_options.html", {"rows": rows})


def drug_options(request: HttpRequest, actor: Actor) -> HttpResponse:
    rows = [
        (d.code, f"{d.generic_name} {d.strength}")
        for d in queries.search_drugs(_typed(request), 15)
    ]
    return render(request, "records/_options.html", {"rows": rows})
