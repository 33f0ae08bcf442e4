"""Pages of the 1000-point scoring (千分制考核): the scheme list, the scheme editor, the
scoring page of a scheme and period (live preview or the published snapshot, ranked, each
item with numerator, denominator, value and points, linked to the indicator drill-down), the
publish form with its confirmation, and the Excel export of a snapshot."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from yigongti.core import audit
from yigongti.core.actor import Actor
from yigongti.core.errors import DomainError
from yigongti.core.params import id_param, int_param
from yigongti.indicators import catalogue
from yigongti.indicators.catalogue import ATTRIBUTION_LABELS
from yigongti.indicators.rules import UNIT_LABELS

from . import actions, exports, queries
from .actions import ItemInput, SchemeInput
from .models import SchemeGrain, SchemeStatus
from .rules import BASIS_LABELS, RULE_LABELS, weights_sum

EXTRA_ROWS = 3
ITEM_FIELDS = ("code", "name", "weight", "rule", "basis", "full", "zero", "target")


def index(request: HttpRequest, actor: Actor) -> HttpResponse:
    schemes = list(queries.schemes_visible_to(actor))
    for s in schemes:
        s.default_period = queries.last_closed_period(s.grain)  # type: ignore[attr-defined]
        s.may_manage = queries.may_manage(actor, s.group_id)  # type: ignore[attr-defined]
    return render(
        request,
        "performance/index.html",
        {"schemes": schemes, "may_create": bool(queries.manageable_groups(actor))},
    )


# --- the editor ---------------------------------------------------------------------------------


def _catalogue_rows() -> list[dict[str, Any]]:
    return [
        {
            "code": d.code,
            "name": d.name,
            "aspect": d.aspect_label,
            "unit": UNIT_LABELS[d.unit],
            "direction": {"higher": "越高越好", "lower": "越低越好"}.get(d.direction.value, "—"),
            "attribution": ATTRIBUTION_LABELS.get(d.attribution, d.attribution),
            "target": d.target,
            "collected": d.collected,
            "qualitative": actions.is_qualitative(d),
        }
        for d in catalogue.all_defs()
    ]


def _form_rows(request: HttpRequest) -> list[dict[str, str]]:
    rows = []
    i = 0
    while f"items-{i}-code" in request.POST and i < actions.MAX_ITEMS + EXTRA_ROWS:
        row = {k: request.POST.get(f"items-{i}-{k}", "").strip() for k in ITEM_FIELDS}
        row["delete"] = "1" if request.POST.get(f"items-{i}-delete") else ""
        rows.append(row)
        i += 1
    return rows


def _item_rows(scheme_detail: dict[str, Any] | None) -> list[dict[str, str]]:
    if not scheme_detail:
        return []
    return [
        {
            "code": it["code"],
            "name": it["name"] if it["name"] != it["indicator_name"] else "",
            "weight": queries.plain(it["weight"]),
            "rule": it["rule"],
            "basis": it["basis"],
            "full": queries.plain(it["full"]),
            "zero": queries.plain(it["zero"]),
            "target": queries.plain(it["target"]),
            "delete": "",
        }
        for it in scheme_detail["items"]
    ]


def _blank() -> dict[str, str]:
    return {"code": "", "name": "", "weight": "", "rule": "linear", "basis": "facility",
            "full": "", "zero": "", "target": "", "delete": ""}  # fmt: skip


def scheme_edit(request: HttpRequest, actor: Actor, pk: int | None = None) -> HttpResponse:
    detail = queries.scheme_detail(actor, pk) if pk is not None else None
    groups = queries.manageable_groups(actor)
    readonly = detail is not None and (
        not detail["may_manage"] or detail["status"] == SchemeStatus.RETIRED
    )
    if detail is not None and request.method == "POST":
        queries.check_can_manage(actor, detail["group_id"], f"scheme:{pk}")
    elif detail is None and not groups:
        queries.check_can_manage(actor, None, "scheme:create")
    errors: dict[str, list[str]] = {}
    general: list[str] = []
    if request.method == "POST":
        fields = {k: request.POST.get(k, "").strip() for k in ("name", "facility_kind", "grain",
                                                                 "group_id", "note")}  # fmt: skip
        rows = _form_rows(request)
        kept = [i for i, r in enumerate(rows) if not r["delete"] and (r["code"] or r["weight"])]
        data = SchemeInput(
            name=fields["name"],
            facility_kind=fields["facility_kind"],
            grain=fields["grain"],
            group_id=id_param(fields["group_id"]),
            note=fields["note"],
            items=[
                ItemInput(code=rows[i]["code"], weight=rows[i]["weight"], rule=rows[i]["rule"],
                          basis=rows[i]["basis"], name=rows[i]["name"], full=rows[i]["full"],
                          zero=rows[i]["zero"], target=rows[i]["target"])
                for i in kept
            ],
        )  # fmt: skip
        try:
            if pk is None:
                scheme = actions.do_create_scheme(actor, data)
            else:
                scheme = actions.do_update_scheme(actor, pk, data)
        except DomainError as exc:
            for e in exc.errors:
                parts = e.field.split(".")
                if len(parts) == 3 and parts[0] == "items" and parts[1].isdigit():
                    key = f"items-{kept[int(parts[1])]}-{parts[2]}"
                else:
                    key = e.field
                errors.setdefault(key, []).append(e.msg_zh)
                if key in ("items", "status"):
                    general.append(e.msg_zh)
        else:
            messages.success(request, "考核方案已保存")
            return redirect("web:performance-scheme", pk=scheme.pk)
        rows = [r for r in rows if not r["delete"]]
    else:
        fields = {
            "name": detail["name"] if detail else "",
            "facility_kind": detail["facility_kind"] if detail else "township_centre",
            "grain": detail["grain"] if detail else SchemeGrain.HALF,
            "group_id": str(detail["group_id"] or "") if detail else "",
            "note": detail["note"] if detail else "",
        }
        rows = _item_rows(detail)
    extra = max(EXTRA_ROWS, int_param(request.GET.get("rows"), lo=0, hi=100) or 0)
    rows = rows + [_blank() for _ in range(min(extra, actions.MAX_ITEMS))]
    for i, r in enumerate(rows):
        r["errors"] = {k: errors.get(f"items-{i}-{k}", []) for k in ITEM_FIELDS}  # type: ignore[assignment]
    total = weights_sum(_dec(r["weight"]) for r in rows if not r["delete"] and r["code"])
    return render(
        request,
        "performance/edit.html",
        {
            "d": detail,
            "readonly": readonly,
            "fields": fields,
            "rows": rows,
            "errors": errors,
            "general": general,
            "total": total,
            "kinds": queries.KIND_LABELS.items(),
            "grains": SchemeGrain.choices,
            "groups": [("" if g is None else str(g), n) for g, n in groups],
            "rules": RULE_LABELS.items(),
            "bases": BASIS_LABELS.items(),
            "catalogue": _catalogue_rows(),
            "statuses": SchemeStatus.choices,
        },
    )


def _dec(v: str) -> Decimal:
    try:
        d = Decimal(v)
    except (InvalidOperation, TypeError):
        return Decimal(0)
    return d if d.is_finite() else Decimal(0)


def scheme_status(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    try:
        s = actions.do_set_scheme_status(actor, pk, request.POST.get("status", ""))
    except DomainError as exc:
        messages.error(request, "；".join(e.msg_zh for e in exc.errors))
    else:
        messages.success(request, f"方案状态已改为“{s.get_status_display()}”")
    return redirect("web:performance-scheme", pk=pk)


def scheme_delete(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    try:
        actions.do_delete_scheme(actor, pk)
    except DomainError as exc:
        messages.error(request, "；".join(e.msg_zh for e in exc.errors))
        return redirect("web:performance-scheme", pk=pk)
    messages.success(request, "草稿方案已删除")
    return redirect("web:performance")


# --- scores -------------------------------------------------------------------------------------


def _page(request: HttpRequest, actor: Actor, table: dict[str, Any], **extra: Any) -> HttpResponse:
    scheme = table["scheme"]
    history = queries.snapshots_of(actor, scheme["id"])
    return render(
        request,
        "performance/scores.html",
        {
            "t": table,
            "history": history,
            "may_manage": queries.may_manage(actor, scheme["group_id"]),
            **extra,
        },
    )


def scores(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    detail = queries.scheme_detail(actor, pk)
    period = request.GET.get("period") or queries.last_closed_period(detail["grain"])
    mode = request.GET.get("mode") or "published"
    try:
        p = queries.check_period(queries.get_scheme_for(actor, pk), period)
    except DomainError as exc:
        messages.error(request, "；".join(e.msg_zh for e in exc.errors))
        period = queries.last_closed_period(detail["grain"])
        p = queries.check_period(queries.get_scheme_for(actor, pk), period)
    if mode == "published":
        snap = queries.current_snapshot_id(pk, p.code)
        if snap is not None:
            return _page(request, actor, queries.get_snapshot_for(actor, snap),
                         period_ended=True)  # fmt: skip
    table = queries.preview(actor, pk, p.code)
    return _page(
        request,
        actor,
        table,
        period_ended=p.end < timezone.localdate(),
        not_published=request.GET.get("mode") != "preview",
    )


def snapshot(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    table = queries.get_snapshot_for(actor, pk)
    return _page(request, actor, table, period_ended=True)


def publish(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    period = request.POST.get("period", "")
    query = urlencode({"period": period, "mode": "preview"})
    back = f"{reverse('web:performance-scores', kwargs={'pk': pk})}?{query}"
    if request.POST.get("confirm") != "1":
        messages.error(
            request, "请勾选“确认发布”：发布后本期得分将被冻结，之后的数据变化不再影响它"
        )
        return redirect(back)
    try:
        snap = actions.do_publish(actor, pk, period, request.POST.get("reason", ""))
    except DomainError as exc:
        messages.error(request, "；".join(e.msg_zh for e in exc.errors))
        return redirect(back)
    messages.success(request, f"{snap.period_label}得分已发布并冻结")
    return redirect("web:performance-snapshot", pk=snap.pk)


def snapshot_export(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    table = queries.get_snapshot_for(actor, pk, action=audit.Action.EXPORT)
    resp = HttpResponse(
        exports.as_xlsx(table),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    resp["Content-Disposition"] = (
        f'attachment; filename="performance-{table["scheme"]["id"]}-{table["period"]}-{pk}.xlsx"'
    )
    return resp
