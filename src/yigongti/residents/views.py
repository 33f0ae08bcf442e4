"""Pages for the master patient index: search, register, the record, health cards, scan,
duplicates and merges.

Each view takes (request, actor, ...): the web shell (`yigongti.web.shell.page`) logs the
user in, resolves the Actor, checks the permission and turns NotFound / Forbidden into the
Chinese 404 / 403 pages. Views only call `queries` (scoped reads, audited where they show a
record) and `actions` (every write)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme

from yigongti.core.actor import Actor
from yigongti.core.errors import Conflict, DomainError, NotFound
from yigongti.network.queries import villages_in

from . import actions, queries
from .models import CardKind, CardStatus, DocType, Resident, Sex

# --- helpers ---------------------------------------------------------------------------


def _htmx_partial(request: HttpRequest) -> bool:
    """An htmx request that wants a fragment (a history restore wants the whole page)."""
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def _apply_errors(form: forms.Form, exc: DomainError, aliases: dict[str, str]) -> None:
    """Put each FieldError next to its form field (Chinese message); unknown fields go to
    the form's top. A field that already carries an error keeps only that one."""
    for err in exc.errors:
        name = aliases.get(err.field, err.field)
        if name in form.fields:
            if form.errors.get(name):
                continue
            form.add_error(name, err.msg_zh)
        else:
            form.add_error(None, err.msg_zh)


def _first_message(exc: DomainError) -> str:
    return "；".join(e.msg_zh for e in exc.errors)


# --- the resident form -----------------------------------------------------------------

SEX_CHOICES = [("", "请选择"), (Sex.MALE, "男"), (Sex.FEMALE, "女"), (Sex.UNKNOWN, "未知")]
SEX_CHOICES.append((Sex.UNSPECIFIED, "未说明"))
REQUIRED_FIELDS = ("name", "sex", "birth_date", "village_code")
FIELD_ALIASES = {"village": "village_code", "household": "household_key"}


class ResidentForm(forms.Form):
    """Only parses what the browser sends; every rule (and its Chinese message) comes from
    `actions.validate_resident_input`, the same as the API."""

    name = forms.CharField(label="姓名", max_length=60, required=False)
    sex = forms.ChoiceField(label="性别", choices=SEX_CHOICES, required=False)
    birth_date = forms.DateField(
        label="出生日期",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": "出生日期格式应为 年-月-日，如 1960-05-17"},
    )
    doc_type = forms.ChoiceField(label="证件类型", choices=DocType.choices, required=False)
    doc_number = forms.CharField(
        label="证件号码",
        max_length=40,
        required=False,
        help_text="居民身份证为18位；暂无证件时留空",
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "text"}),
    )
    phone = forms.CharField(
        label="联系电话",
        max_length=30,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
    )
    village_code = forms.ChoiceField(label="所属村", required=False)
    address = forms.CharField(label="现住址", max_length=220, required=False)
    household_key = forms.CharField(
        label="家庭户编号",
        max_length=40,
        required=False,
        help_text="同一户的成员填写相同编号，可留空",
    )
    confirm_new_person = forms.BooleanField(
        label="确认新建：我已核对，这是另一位居民", required=False
    )

    def __init__(self, *args: Any, actor: Actor, with_confirm: bool = True, **kwargs: Any):
        super().__init__(*args, **kwargs)
        villages = (
            villages_in(actor.scope.division_ids, actor.scope.kind)
            .select_related("parent")
            .order_by("parent__code", "code")
        )
        grouped: dict[str, list[tuple[str, str]]] = {}
        for v in villages:
            grouped.setdefault(v.parent.name if v.parent else "", []).append((v.code, v.name))
        choices: list[Any] = [("", "请选择")]
        choices += list(grouped.items())
        field = self.fields["village_code"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = choices
        codes = [code for items in grouped.values() for code, _ in items]
        if len(codes) == 1 and not self.is_bound:
            self.initial.setdefault("village_code", codes[0])
        if not with_confirm:
            del self.fields["confirm_new_person"]
        for name in REQUIRED_FIELDS:
            setattr(self.fields[name], "show_required", True)  # noqa: B010

    def resident_input(self) -> actions.ResidentInput:
        data = getattr(self, "cleaned_data", {})
        return actions.ResidentInput(
            name=data.get("name", ""),
            sex=data.get("sex", ""),
            birth_date=data.get("birth_date"),
            doc_type=data.get("doc_type") or DocType.ID_CARD,
            doc_number=data.get("doc_number", ""),
            phone=data.get("phone", ""),
            village_code=data.get("village_code", ""),
            address=data.get("address", ""),
            household_key=data.get("household_key", ""),
        )


def register(request: HttpRequest, actor: Actor) -> HttpResponse:
    form = ResidentForm(request.POST or None, actor=actor)
    existing: dict[str, Any] | None = None
    existing_visible = False
    ask_confirm = False
    if request.method == "POST":
        form.is_valid()
        try:
            resident = actions.do_register_resident(
                actor,
                form.resident_input(),
                confirm_new_person=bool(form.cleaned_data.get("confirm_new_person")),
            )
        except DomainError as exc:
            _apply_errors(form, exc, FIELD_ALIASES)
            if isinstance(exc, Conflict):
                pointer = exc.extra.get("existing")
                existing = pointer if isinstance(pointer, dict) else None
                if existing:
                    existing_visible = (
                        queries.residents_visible_to(actor)
                        .filter(mpi_id=existing.get("mpi_id"))
                        .exists()
                    )
                ask_confirm = any(e.code == "possible_duplicate" for e in exc.errors)
        else:
            messages.success(request, f"已为 {resident.name} 建档，主索引号 {resident.mpi_id}。")
            return redirect("web:resident", mpi_id=resident.mpi_id)
    return render(
        request,
        "residents/form.html",
        {
            "form": form,
            "mode": "new",
            "existing": existing,
            "existing_visible": existing_visible,
            "ask_confirm": ask_confirm or bool(form.data.get("confirm_new_person")),
        },
    )


def edit(request: HttpRequest, actor: Actor, mpi_id: str) -> HttpResponse:
    resident = queries.get_resident_for(actor, mpi_id, purpose="edit")
    if resident.mpi_id != mpi_id:
        return redirect("web:resident-edit", mpi_id=resident.mpi_id)
    current = asdict(actions.input_from(resident))
    form = ResidentForm(request.POST or None, actor=actor, with_confirm=False, initial=current)
    existing: dict[str, Any] | None = None
    if request.method == "POST":
        form.is_valid()
        entered = asdict(form.resident_input())
        changes = {k: v for k, v in entered.items() if k in actions.EDITABLE}
        try:
            actions.do_update_resident(actor, resident, changes)
        except DomainError as exc:
            _apply_errors(form, exc, FIELD_ALIASES)
            pointer = exc.extra.get("existing")
            existing = pointer if isinstance(pointer, dict) else None
        else:
            messages.success(request, "档案已保存。")
            return redirect("web:resident", mpi_id=resident.mpi_id)
    return render(
        request,
        "residents/form.html",
        {"form": form, "mode": "edit", "resident": resident, "existing": existing},
    )


# --- search ----------------------------------------------------------------------------


def search(request: HttpRequest, actor: Actor) -> HttpResponse:
    q = request.GET.get("q", "")[:200]
    result = queries.search_residents(actor, q) if q.strip() else None
    ctx = {"q": q, "result": result, "limit": queries.SEARCH_LIMIT}
    if _htmx_partial(request):
        response = render(request, "residents/_results.html", ctx)
    else:
        response = render(request, "residents/search.html", ctx)
    patch_vary_headers(response, ("HX-Request",))
    return response


# --- the record ------------------------------------------------------------------------


class AttachCardForm(forms.Form):
    card_id = forms.CharField(
        label="外部卡号",
        max_length=80,
        required=False,
        help_text="省级或国家平台签发的64位十六进制卡号",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    kind = forms.ChoiceField(label="卡类型", choices=CardKind.choices, initial=CardKind.FORMAL)
    issuing_org = forms.CharField(label="签发机构", max_length=100, required=False)


def _record_page(
    request: HttpRequest,
    actor: Actor,
    resident: Resident,
    *,
    requested: str,
    attach_form: AttachCardForm | None = None,
    status: int = 200,
) -> HttpResponse:
    members: list[Resident] = []
    if resident.household_id:
        members = list(
            queries.residents_visible_to(actor)
            .filter(household_id=resident.household_id)
            .exclude(pk=resident.pk)
            .order_by("birth_date")
        )
    ids = queries.identity_ids(resident)
    merged_numbers = list(
        queries.residents_visible_to(actor, include_merged=True)
        .filter(pk__in=ids)
        .exclude(pk=resident.pk)
        .values_list("mpi_id", flat=True)
    )
    return render(
        request,
        "residents/record.html",
        {
            "r": resident,
            "requested": requested,
            "members": members,
            "cards": list(queries.cards_of(resident)),
            "merges": list(queries.merges_of(resident)),
            "merged_numbers": merged_numbers,
            "attach_form": attach_form or AttachCardForm(),
            "can_edit": actor.can("edit_resident"),
            "can_manage_cards": actor.can("manage_cards"),
            "card_normal": CardStatus.NORMAL,
        },
        status=status,
    )


def record(request: HttpRequest, actor: Actor, mpi_id: str) -> HttpResponse:
    resident = queries.get_resident_for(actor, mpi_id)
    return _record_page(request, actor, resident, requested=mpi_id)


def dynamic_qr(request: HttpRequest, actor: Actor, mpi_id: str) -> HttpResponse:
    """A short-lived signed QR for one of the resident's cards (htmx fragment, or a page)."""
    resident = queries.get_resident_for(actor, mpi_id, purpose="qr")
    card_id = str(request.POST.get("card_id", "")).strip().upper()
    card = queries.cards_of(resident).filter(card_id=card_id).first()
    ctx: dict[str, Any] = {"r": resident, "card": card}
    if card is None:
        ctx["error"] = "未找到该电子健康卡"
    elif card.status != CardStatus.NORMAL:
        ctx["error"] = "该卡已挂失或暂停，不能生成动态码"
    else:
        text, valid_until = actions.dynamic_qr(card)
        ctx.update(text=text, valid_until=valid_until)
    template = "residents/_dynamic_qr.html" if _htmx_partial(request) else "residents/qr.html"
    return render(request, template, ctx)


def attach_card(request: HttpRequest, actor: Actor, mpi_id: str) -> HttpResponse:
    resident = queries.get_resident_for(actor, mpi_id, purpose="attach_card")
    form = AttachCardForm(request.POST)
    form.is_valid()
    data = getattr(form, "cleaned_data", {})
    try:
        actions.do_attach_external_card(
            actor,
            resident,
            data.get("card_id", ""),
            kind=data.get("kind") or CardKind.FORMAL,
            issuing_org=data.get("issuing_org", ""),
        )
    except DomainError as exc:
        _apply_errors(form, exc, {})
        return _record_page(
            request, actor, resident, requested=mpi_id, attach_form=form, status=422
        )
    messages.success(request, "外部电子健康卡已绑定。")
    return redirect("web:resident", mpi_id=resident.mpi_id)


def card_status(request: HttpRequest, actor: Actor, mpi_id: str, card_id: str) -> HttpResponse:
    resident = queries.get_resident_for(actor, mpi_id, purpose="card_status")
    card = queries.cards_of(resident).filter(card_id=card_id.strip().upper()).first()
    if card is None:
        raise NotFound("电子健康卡")
    new_status = str(request.POST.get("status", ""))
    try:
        actions.do_set_card_status(
            actor, card, new_status, str(request.POST.get("reason", ""))[:200]
        )
    except DomainError as exc:
        messages.error(request, _first_message(exc))
    else:
        label = "恢复正常" if new_status == CardStatus.NORMAL else "挂失/暂停"
        messages.success(request, f"电子健康卡已{label}。")
    return redirect("web:resident", mpi_id=resident.mpi_id)


# --- scan ------------------------------------------------------------------------------


def scan(request: HttpRequest, actor: Actor) -> HttpResponse:
    """Paste or scan a health-card QR text: open the record, or say why not."""
    text = str(request.POST.get("qr", "")).strip() if request.method == "POST" else ""
    error = ""
    if request.method == "POST":
        if not text:
            error = "请扫描或粘贴电子健康卡二维码内容"
        else:
            try:
                resident = queries.resolve_qr_for(actor, text[:300])
            except DomainError as exc:
                error = _first_message(exc)
            except NotFound:
                error = "该卡对应的居民不在您的管辖范围内，或档案不存在"
            else:
                return redirect("web:resident", mpi_id=resident.mpi_id)
    return render(
        request,
        "residents/scan.html",
        {"text": text, "error": error},
        status=422 if error else 200,
    )


# --- duplicates and merges -------------------------------------------------------------

DUPLICATES_PAGE_SIZE = 10


def duplicates(request: HttpRequest, actor: Actor) -> HttpResponse:
    candidates = queries.duplicates_visible_to(actor).order_by("-score", "pk")
    page_obj = Paginator(candidates, DUPLICATES_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "residents/duplicates.html",
        {
            "page_obj": page_obj,
            "page_query": "",
            "merges": list(queries.merges_visible_to(actor)[:30]),
        },
    )


def merge(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    candidate = queries.duplicates_visible_to(actor).filter(pk=pk).first()
    if candidate is None:
        raise NotFound("疑似重复记录")
    keep = request.POST.get("survivor")
    if keep not in ("first", "second"):
        messages.error(request, "请选择保留哪一份档案")
        return redirect("web:duplicates")
    survivor, merged = candidate.first, candidate.second
    if keep == "second":
        survivor, merged = merged, survivor
    try:
        actions.do_merge_residents(
            actor, survivor, merged, reason=str(request.POST.get("reason", ""))[:200]
        )
    except DomainError as exc:
        messages.error(request, _first_message(exc))
    else:
        messages.success(
            request,
            f"已将 {merged.name}（{merged.mpi_id}）合并到 {survivor.name}（{survivor.mpi_id}）。",
        )
    return redirect("web:duplicates")


def dismiss(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    candidate = queries.duplicates_visible_to(actor).filter(pk=pk).first()
    if candidate is None:
        raise NotFound("疑似重复记录")
    actions.do_dismiss_duplicate(actor, candidate)
    messages.success(
        request, f"已标记 {candidate.first.name} 与 {candidate.second.name} 不是同一人。"
    )
    return redirect("web:duplicates")


def undo_merge(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    record_ = queries.merges_visible_to(actor).filter(pk=pk).first()
    if record_ is None:
        raise NotFound("合并记录")
    try:
        actions.do_undo_merge(actor, record_)
    except DomainError as exc:
        messages.error(request, _first_message(exc))
    else:
        messages.success(request, f"已撤销合并：{record_.merged.mpi_id} 重新成为独立档案。")
    back = str(request.POST.get("next", ""))
    if back and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        return redirect(back)
    return redirect(reverse("web:duplicates"))
