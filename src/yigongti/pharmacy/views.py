"""Pages of pharmacy (药品库存). Views take (request, actor, ...); reads through `queries`,
writes through `actions`; a refused write shows its Chinese message and writes nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

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
from .models import Dispensation, NoteStatus, RequestStatus, ShortageStatus, Supplier
from .scope import manages_group

STOCK_PAGE_SIZE = 50  # items per stock page (each with its batches)


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
    if request.method == "POST":
        raw = request.POST.get("prescription_id", "")
        if raw.isdigit():
            _run(request, lambda: actions.do_dispense_prescription(actor, int(raw)), "已发药")
        return redirect(reverse("web:pharmacy-dispense"))
    fid = actor.facility_id or 0
    done = Dispensation.objects.filter(facility_id=fid).values("prescription_id")
    pending = (
        Prescription.objects.filter(facility_id=fid, status=VersionStatus.CURRENT)
        .exclude(pk__in=done)
        .select_related("resident", "drug")
        .order_by("-prescribed_at")[:50]
    )
    return render(request, "pharmacy/dispense.html", _ctx(actor, actor.facility_id, rows=pending))


def deliveries(request: HttpRequest, actor: Actor) -> HttpResponse:
    if request.method == "POST":
        op = request.POST.get("op")
        if op == "confirm" and request.POST.get("note", "").isdigit():
            nid = int(request.POST["note"])
            _run(request, lambda: actions.do_confirm_delivery(actor, nid), "已签收入库")
        elif op == "send":
            src, dst = request.POST.get("from_facility", ""), request.POST.get("to_facility", "")
            _run(
                request,
                lambda: actions.do_send_delivery(
                    actor,
                    int(src) if src.isdigit() else 0,
                    int(dst) if dst.isdigit() else 0,
                    [(request.POST.get("drug_code", ""), request.POST.get("quantity", ""))],
                    kind=request.POST.get("kind", "distribution"),
                ),
                "已发出，在途",
            )
        return redirect(reverse("web:pharmacy-deliveries"))
    notes = queries.in_transit(actor)[:100]
    return render(
        request,
        "pharmacy/deliveries.html",
        _ctx(actor, actor.facility_id, notes=notes, in_transit=NoteStatus.IN_TRANSIT),
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
