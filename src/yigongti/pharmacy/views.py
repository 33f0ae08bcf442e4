"""Pages of pharmacy (药品库存). Views take (request, actor, ...); reads through `queries`,
writes through `actions`; a refused write shows its Chinese message and writes nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from yigongti.accounts.rules import Perm
from yigongti.core import audit
from yigongti.core.actor import Actor
from yigongti.core.errors import DomainError, Forbidden, NotFound
from yigongti.network.models import Facility
from yigongti.records.models import Prescription, VersionStatus

from . import actions, queries, rules
from .models import (
    Dispensation,
    NoteKind,
    NoteStatus,
    RequestStatus,
    ShortageStatus,
    Supplier,
)
from .scope import lead_of, manages_group

STOCK_PAGE_SIZE = 50  # items per stock page (each with its batches)
TAKE_ROWS = 100  # batches on one stock-take sheet (narrow with the search box)
PICK_ROWS = 300  # batches in the loss/return picker


def _apply_errors(form: forms.Form, exc: DomainError, aliases: dict[str, str]) -> None:
    """Each FieldError next to its form field (Chinese message); unknown paths go on top. A
    field that already carries an error keeps only that one."""
    for err in exc.errors:
        name = aliases.get(err.field, err.field)
        if name in form.fields:
            if not form.errors.get(name):
                form.add_error(name, err.msg_zh)
        else:
            form.add_error(None, err.msg_zh)


def _check(form: forms.Form) -> None:
    """A form whose own fields are invalid (a choice not offered, a value too long) is
    refused before any action runs: the errors stay next to their fields."""
    if not form.is_valid():
        raise DomainError([])


def _num(d: Decimal) -> str:
    """3.00 → "3", 2.50 → "2.5", 300 → "300"."""
    return f"{d.normalize():f}"


def _int(raw: object) -> int:
    return int(raw) if isinstance(raw, str) and raw.isdigit() else 0


def _facility_id(request: HttpRequest, actor: Actor) -> int | None:
    raw = request.GET.get("facility") or request.POST.get("facility")
    if raw and raw.isdigit():
        return int(raw)
    if actor.facility_id:
        return actor.facility_id
    first = queries.facilities_for(actor).values_list("pk", flat=True).first()
    return first


def _run(request: HttpRequest, fn: Callable[[], Any], ok: str) -> bool:
    try:
        fn()
    except DomainError as exc:
        messages.error(request, "；".join(e.msg_zh for e in exc.errors))
        return False
    except (Forbidden, NotFound) as exc:
        messages.error(request, str(exc))
        return False
    messages.success(request, ok)
    return True


def _date(raw: str | None) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def _ctx(actor: Actor, fid: int | None, **kw: Any) -> dict[str, Any]:
    is_manager = actor.group_id is not None and manages_group(actor, actor.group_id)
    facilities = list(queries.facilities_for(actor).values_list("pk", "name")[:1000])
    return {
        "facility_id": fid,
        "facilities": facilities if len(facilities) > 1 else [],
        "is_manager": is_manager,
        "can_manage": actor.can(Perm.MANAGE_STOCK),
        "can_dispense": actor.can(Perm.DISPENSE),
        **kw,
    }


def stock(request: HttpRequest, actor: Actor) -> HttpResponse:
    fid = _facility_id(request, actor)
    if fid is None:
        raise NotFound("机构")
    facility = queries.get_facility_for(actor, fid)
    q = request.GET.get("q", "").strip()
    raw_page = request.GET.get("page", "1")
    page_no = max(1, int(raw_page)) if raw_page.isdigit() else 1
    rows = queries.facility_stock(
        actor, fid, q=q, limit=STOCK_PAGE_SIZE, offset=(page_no - 1) * STOCK_PAGE_SIZE
    )
    today = timezone.localdate()
    days = rules.near_expiry_days()
    for ds in rows:
        for b in ds.batches:
            b.state = rules.expiry_state(b.expiry, today, days)  # type: ignore[attr-defined]
    return render(
        request,
        "pharmacy/stock.html",
        _ctx(
            actor,
            fid,
            facility=facility,
            rows=rows,
            q=q,
            days=days,
            page_no=page_no,
            prev_page=page_no - 1,
            has_next=len(rows) == STOCK_PAGE_SIZE,
            next_page=page_no + 1,
        ),
    )


def ledger(request: HttpRequest, actor: Actor) -> HttpResponse:
    fid = _facility_id(request, actor)
    if fid is None:
        raise NotFound("机构")
    facility = queries.get_facility_for(actor, fid)
    drug = request.GET.get("drug", "").strip()
    rows = queries.movements(actor, fid, drug_code=drug, limit=200)
    return render(
        request,
        "pharmacy/ledger.html",
        _ctx(actor, fid, facility=facility, rows=rows, drug=drug),
    )


def dispense(request: HttpRequest, actor: Actor) -> HttpResponse:
    """Undispensed prescriptions of the actor's facility, grouped by visit: dispense one
    prescription, or the whole visit (整张处方) at once, all items or none."""
    error = ""
    status = 200
    if request.method == "POST":
        enc = _int(request.POST.get("encounter_id"))
        rx = _int(request.POST.get("prescription_id"))
        try:
            if enc:
                done = actions.do_dispense_encounter(actor, enc)
                messages.success(request, f"已按整张处方发药（{len(done)} 项）")
            elif rx:
                actions.do_dispense_prescription(actor, rx)
                messages.success(request, "已发药")
            else:
                raise DomainError.single(
                    "prescription_id", "请选择要发药的处方", "Choose a prescription", "required"
                )
        except DomainError as exc:
            error = "；".join(e.msg_zh for e in exc.errors)
            status = 422
        else:
            return redirect(reverse("web:pharmacy-dispense"))
    fid = actor.facility_id or 0
    done_ids = Dispensation.objects.filter(facility_id=fid).values("prescription_id")
    pending = list(
        Prescription.objects.filter(facility_id=fid, status=VersionStatus.CURRENT)
        .exclude(pk__in=done_ids)
        .select_related("resident", "drug")
        .order_by("-prescribed_at", "encounter_id", "pk")[:100]
    )
    visits: dict[int, list[Prescription]] = {}
    for p in pending:
        visits.setdefault(p.encounter_id or 0, []).append(p)
    return render(
        request,
        "pharmacy/dispense.html",
        _ctx(actor, actor.facility_id, rows=pending, visits=list(visits.items()), error=error),
        status=status,
    )


class DeliveryForm(forms.Form):
    """A delivery note (配送单) or transfer (调拨单): sender and receiver chosen from the
    facilities the actor manages, one item."""

    kind = forms.ChoiceField(label="类型", choices=NoteKind.choices, initial=NoteKind.DISTRIBUTION)
    from_facility = forms.TypedChoiceField(label="发出机构", coerce=int, required=False)
    to_facility = forms.TypedChoiceField(label="接收机构", coerce=int, required=False)
    drug_code = forms.CharField(label="药品编码", max_length=40, required=False)
    quantity = forms.CharField(
        label="数量",
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
    )

    def __init__(self, *args: Any, facilities: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", "请选择"), *facilities]
        for name in ("from_facility", "to_facility"):
            field = self.fields[name]
            assert isinstance(field, forms.ChoiceField)
            field.choices = choices


DELIVERY_ALIASES = {
    "from_facility_id": "from_facility",
    "to_facility_id": "to_facility",
    "lines.0.drug_code": "drug_code",
    "lines.0.quantity": "quantity",
    "lines": "drug_code",
}


def deliveries(request: HttpRequest, actor: Actor) -> HttpResponse:
    is_manager = actor.group_id is not None and manages_group(actor, actor.group_id)
    choices = (
        list(queries.facilities_for(actor).values_list("pk", "name")[:2000]) if is_manager else []
    )
    lead = lead_of(actor.group_id) if is_manager and actor.group_id else None
    form = DeliveryForm(
        request.POST if request.POST.get("op") == "send" else None,
        facilities=choices,
        initial={"from_facility": lead},
    )
    status = 200
    if request.method == "POST":
        op = request.POST.get("op")
        if op == "confirm" and request.POST.get("note", "").isdigit():
            nid = int(request.POST["note"])
            _run(request, lambda: actions.do_confirm_delivery(actor, nid), "已签收入库")
            return redirect(reverse("web:pharmacy-deliveries"))
        if op == "send":
            if not is_manager:
                raise Forbidden("只有牵头医院可以发出配送或调拨单", "Only the lead hospital sends")
            form.is_valid()
            data = form.cleaned_data
            try:
                _check(form)
                note = actions.do_send_delivery(
                    actor,
                    data.get("from_facility") or 0,
                    data.get("to_facility") or 0,
                    [(data.get("drug_code", ""), data.get("quantity", ""))],
                    kind=data.get("kind") or NoteKind.DISTRIBUTION,
                )
            except DomainError as exc:
                _apply_errors(form, exc, DELIVERY_ALIASES)
                status = 422
            else:
                messages.success(request, f"配送单 #{note.pk} 已发出，在途")
                return redirect(reverse("web:pharmacy-deliveries"))
        else:
            return redirect(reverse("web:pharmacy-deliveries"))
    notes = queries.in_transit(actor)[:100]
    return render(
        request,
        "pharmacy/deliveries.html",
        _ctx(actor, actor.facility_id, notes=notes, in_transit=NoteStatus.IN_TRANSIT, form=form),
        status=status,
    )


def procurement(request: HttpRequest, actor: Actor) -> HttpResponse:
    if request.method == "POST":
        post = request.POST
        op = post.get("op")
        decide = post.get("decide", "")
        if decide:
            op, _, rid_raw = decide.partition("-")
            if rid_raw.isdigit():
                rid = int(rid_raw)
                _run(
                    request,
                    lambda: actions.do_decide_request(actor, rid, op == "approve"),
                    "已审核" if op == "approve" else "已驳回",
                )
        elif op == "request":
            _run(
                request,
                lambda: actions.do_request_purchase(
                    actor,
                    [(post.get("drug_code", ""), post.get("quantity", ""))],
                    post.get("note", ""),
                ),
                "已提交采购申请",
            )
        elif op == "order":
            ids = [int(x) for x in post.getlist("request_ids") if x.isdigit()]
            sid = post.get("supplier_id", "")
            _run(
                request,
                lambda: actions.do_place_order(actor, int(sid) if sid.isdigit() else 0, ids),
                "已生成采购订单",
            )
        elif op == "supplier":
            _run(
                request,
                lambda: actions.do_add_supplier(
                    actor,
                    post.get("name", ""),
                    post.get("licence_no", ""),
                    _date(post.get("licence_expiry")),
                ),
                "已添加供应商",
            )
        elif op == "receive" and post.get("line", "").isdigit() and post.get("order", "").isdigit():
            oid, lid = int(post["order"]), int(post["line"])
            _run(
                request,
                lambda: actions.do_receive_order(
                    actor,
                    oid,
                    [
                        (
                            lid,
                            actions.ReceiptInput(
                                "",
                                post.get("batch_no", ""),
                                _date(post.get("expiry")),
                                post.get("quantity", "0"),
                                post.get("unit_price", "0") or "0",
                            ),
                        )
                    ],
                ),
                "已入中心库",
            )
        return redirect(reverse("web:pharmacy-procurement"))
    is_manager = actor.group_id is not None and manages_group(actor, actor.group_id)
    suppliers = (
        Supplier.objects.filter(group_id=actor.group_id, active=True).order_by("name")
        if is_manager
        else []
    )
    return render(
        request,
        "pharmacy/procurement.html",
        _ctx(
            actor,
            actor.facility_id,
            requests=queries.requests_for(actor)[:100],
            orders=queries.orders_for(actor)[:50],
            suppliers=suppliers,
            submitted=RequestStatus.SUBMITTED,
            approved=RequestStatus.APPROVED,
            today=timezone.localdate(),
        ),
    )


def shortages(request: HttpRequest, actor: Actor) -> HttpResponse:
    if request.method == "POST":
        op = request.POST.get("op")
        post = request.POST
        sid = int(post["shortage"]) if post.get("shortage", "").isdigit() else 0
        if op == "register":
            _run(
                request,
                lambda: actions.do_register_shortage(
                    actor,
                    actions.ShortageInput(
                        post.get("mpi_id", ""),
                        post.get("drug_code", ""),
                        post.get("quantity", ""),
                        _date(post.get("needed_by")),
                        post.get("note", ""),
                    ),
                ),
                "已登记缺药",
            )
        elif op == "route":
            _run(request, lambda: actions.do_route_shortage(actor, sid), "已安排调拨或采购")
        elif op == "hand_over":
            _run(request, lambda: actions.do_hand_over_shortage(actor, sid), "已交付患者")
        elif op == "cancel":
            _run(
                request,
                lambda: actions.do_cancel_shortage(actor, sid, post.get("reason", "")),
                "已取消",
            )
        return redirect(reverse("web:pharmacy-shortages"))
    status = request.GET.get("status", "")
    rows = list(queries.shortages_for(actor, status=status)[:200])
    audit.record(
        actor, audit.Action.SEARCH, "shortage", "", detail={"status": status, "rows": len(rows)}
    )
    return render(
        request,
        "pharmacy/shortages.html",
        _ctx(
            actor,
            actor.facility_id,
            rows=rows,
            stats=queries.shortage_stats(actor),
            statuses=ShortageStatus.choices,
            status=status,
            can_register=actor.can(Perm.REGISTER_SHORTAGE),
        ),
    )


def alerts(request: HttpRequest, actor: Actor) -> HttpResponse:
    near = queries.near_expiry(actor, limit=300)
    low = queries.low_stock(actor, limit=300)
    sugg = queries.transfer_suggestions(actor)
    names = dict(
        Facility.objects.filter(
            pk__in={s.from_facility_id for s in sugg} | {s.to_facility_id for s in sugg}
        ).values_list("pk", "name")
    )
    return render(
        request,
        "pharmacy/alerts.html",
        _ctx(
            actor,
            actor.facility_id,
            near=near,
            low=low,
            sugg=[(s, names.get(s.from_facility_id), names.get(s.to_facility_id)) for s in sugg],
            days=rules.near_expiry_days(),
        ),
    )


# --- stock keeping: losses, returns, stock takes, minimums -----------------------------------


def _own_facility(request: HttpRequest, actor: Actor) -> Facility:
    """The facility a stock-keeping page works on (the actor's own; a group manager may pick
    a member); out of scope → NotFound. The actions check who may manage it."""
    fid = _facility_id(request, actor)
    if fid is None:
        raise NotFound("机构")
    return queries.get_facility_for(actor, fid)


ADJUST_KINDS = [("loss", "报损（过期、破损、丢失）"), ("return", "退回入库（患者退药等）")]


class AdjustForm(forms.Form):
    """A loss (报损) or a return (退回) of one batch, with its reason."""

    kind = forms.ChoiceField(label="类型", choices=ADJUST_KINDS, initial="loss")
    batch = forms.TypedChoiceField(label="批次", coerce=int, required=False)
    quantity = forms.CharField(
        label="数量",
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
    )
    reason = forms.CharField(
        label="原因", max_length=200, required=False, help_text="如：过期、破损、丢失、患者退药"
    )

    def __init__(self, *args: Any, batches: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["batch"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "请选择批次"), *batches]


ADJUST_ALIASES = {"batch_id": "batch"}


def _batch_label(b: Any) -> str:
    return (
        f"{b.drug.generic_name} {b.drug.strength} · 批号 {b.batch.batch_no} · "
        f"效期 {b.expiry:%Y-%m-%d} · 结存 {_num(b.quantity)}{b.drug.unit}"
    )


def adjust(request: HttpRequest, actor: Actor) -> HttpResponse:
    facility = _own_facility(request, actor)
    q = (request.GET.get("q") or request.POST.get("q") or "").strip()[:40]
    balances = queries.balances_at(actor, facility.pk, q=q, limit=PICK_ROWS)
    form = AdjustForm(
        request.POST or None,
        batches=[(b.batch_id, _batch_label(b)) for b in balances],
        initial={"batch": _int(request.GET.get("batch")) or None},
    )
    status = 200
    if request.method == "POST":
        form.is_valid()
        data = form.cleaned_data
        kind = data.get("kind") or "loss"
        fn = actions.do_record_loss if kind == "loss" else actions.do_record_return
        try:
            _check(form)
            mv = fn(
                actor,
                facility.pk,
                data.get("batch") or 0,
                data.get("quantity", ""),
                data.get("reason", ""),
            )
        except DomainError as exc:
            _apply_errors(form, exc, ADJUST_ALIASES)
            status = 422
        else:
            word = "报损" if kind == "loss" else "退回入库"
            messages.success(
                request, f"已{word}：{_num(abs(mv.quantity))}，结存 {_num(mv.balance_after)}"
            )
            return redirect(f"{reverse('web:pharmacy-adjust')}?facility={facility.pk}")
    return render(
        request,
        "pharmacy/adjust.html",
        _ctx(actor, facility.pk, facility=facility, form=form, q=q),
        status=status,
    )


def _count_field(batch_id: int) -> str:
    return f"count_{batch_id}"


class StockTakeForm(forms.Form):
    """One counted quantity per batch (blank = not counted on this sheet)."""

    def __init__(self, *args: Any, balances: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for b in balances:
            label = f"{b.drug.generic_name} 批号 {b.batch.batch_no} 实盘数"
            self.fields[_count_field(b.batch_id)] = forms.CharField(
                label=label,
                max_length=20,
                required=False,
                widget=forms.TextInput(
                    attrs={"inputmode": "decimal", "size": 8, "aria-label": label}
                ),
            )


def stock_take(request: HttpRequest, actor: Actor) -> HttpResponse:
    """盘点: enter counted quantities per batch; each variance to the book quantity is recorded
    as an adjustment movement and shown on the take's page."""
    facility = _own_facility(request, actor)
    q = (request.GET.get("q") or request.POST.get("q") or "").strip()[:40]
    balances = queries.balances_at(actor, facility.pk, q=q, limit=TAKE_ROWS)
    form = StockTakeForm(request.POST or None, balances=balances)
    status = 200
    if request.method == "POST":
        form.is_valid()
        counted = [
            (b.batch_id, str(form.cleaned_data.get(_count_field(b.batch_id), "")).strip())
            for b in balances
        ]
        counts = [(bid, raw) for bid, raw in counted if raw]
        aliases: dict[str, str] = {}
        for i, (bid, _) in enumerate(counts):
            aliases[f"counts.{i}.counted"] = _count_field(bid)
            aliases[f"counts.{i}.batch_id"] = _count_field(bid)
        try:
            _check(form)
            take = actions.do_stock_take(actor, facility.pk, counts)
        except DomainError as exc:
            _apply_errors(form, exc, aliases)
            status = 422
        else:
            messages.success(request, f"盘点已保存：{len(counts)} 个批次")
            return redirect(reverse("web:pharmacy-stock-take-result", args=[take.pk]))
    rows = [(b, form[_count_field(b.batch_id)]) for b in balances]
    return render(
        request,
        "pharmacy/stock_take.html",
        _ctx(actor, facility.pk, facility=facility, form=form, rows=rows, q=q, limit=TAKE_ROWS),
        status=status,
    )


def stock_take_result(request: HttpRequest, actor: Actor, take_id: int) -> HttpResponse:
    take = queries.get_stock_take_for(actor, take_id)
    facility = queries.get_facility_for(actor, take.facility_id)
    lines = list(queries.stock_take_lines(take))
    return render(
        request,
        "pharmacy/stock_take_result.html",
        _ctx(
            actor,
            facility.pk,
            facility=facility,
            take=take,
            lines=lines,
            differ=sum(1 for ln in lines if ln.variance),
        ),
    )


class MinimumForm(forms.Form):
    drug_code = forms.CharField(label="药品编码", max_length=40, required=False)
    minimum = forms.CharField(
        label="库存下限",
        max_length=20,
        required=False,
        help_text="按发药单位计；0 表示不预警",
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
    )


def minimums(request: HttpRequest, actor: Actor) -> HttpResponse:
    """库存下限 per item at a facility; below it the item is on the low-stock alert."""
    facility = _own_facility(request, actor)
    rows = queries.minimums_at(actor, facility.pk)
    drug = request.GET.get("drug", "")[:40]
    current = next((_num(m.minimum) for m in rows if m.drug_id == drug), "")
    form = MinimumForm(request.POST or None, initial={"drug_code": drug, "minimum": current})
    status = 200
    if request.method == "POST":
        form.is_valid()
        data = form.cleaned_data
        try:
            _check(form)
            row = actions.do_set_minimum(
                actor, facility.pk, data.get("drug_code", ""), data.get("minimum", "")
            )
        except DomainError as exc:
            _apply_errors(form, exc, {})
            status = 422
        else:
            messages.success(request, f"已设置 {row.drug_id} 的库存下限为 {_num(row.minimum)}")
            return redirect(f"{reverse('web:pharmacy-minimums')}?facility={facility.pk}")
    return render(
        request,
        "pharmacy/minimums.html",
        _ctx(
            actor,
            facility.pk,
            facility=facility,
            form=form,
            rows=rows,
        ),
        status=status,
    )


# --- one shortage registration ---------------------------------------------------------------


class CancelShortageForm(forms.Form):
    reason = forms.CharField(label="取消原因", max_length=200, required=False)


def shortage(request: HttpRequest, actor: Actor, shortage_id: int) -> HttpResponse:
    """One 缺药登记 (the read is audited); its facility's staff may cancel it with a reason."""
    sh = queries.get_shortage_for(actor, shortage_id)
    form = CancelShortageForm(request.POST or None)
    status = 200
    if request.method == "POST":
        form.is_valid()
        try:
            _check(form)
            actions.do_cancel_shortage(actor, sh.pk, form.cleaned_data.get("reason", ""))
        except DomainError as exc:
            _apply_errors(form, exc, {})
            status = 422
        else:
            messages.success(request, f"缺药登记 #{sh.pk} 已取消")
            return redirect(reverse("web:pharmacy-shortages"))
    can_cancel = (
        actor.can(Perm.REGISTER_SHORTAGE)
        and sh.facility_id == actor.facility_id
        and sh.status
        in (ShortageStatus.REGISTERED, ShortageStatus.SOURCING, ShortageStatus.ARRIVED)
    )
    return render(
        request,
        "pharmacy/shortage.html",
        _ctx(actor, actor.facility_id, sh=sh, form=form, can_cancel=can_cancel),
        status=status,
    )
