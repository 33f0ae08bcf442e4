"""Pages of the monitoring indicators: the dashboard (指标驾驶舱) with trend and group
comparison charts (ECharts, self-hosted), the drill-down to the records counted, and the
refresh / target forms for managers."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from yigongti.core import audit
from yigongti.core.actor import Actor
from yigongti.core.errors import DomainError
from yigongti.core.params import id_param, int_param, local_next

from . import actions, catalogue, exports, queries
from .rules import LEVEL_LABELS, Grain, Level, parse_level, parse_period, period_of


def _default_period() -> str:
    today = timezone.localdate()
    return period_of(Grain.YEAR, today).code


def dashboard(request: HttpRequest, actor: Actor) -> HttpResponse:
    queries.check_can_view(actor, "dashboard")
    period_text = request.GET.get("period") or _default_period()
    level_text = request.GET.get("level") or "county"
    unit = id_param(request.GET.get("unit"))
    errors: list[str] = []
    try:
        period = parse_period(period_text)
        level = parse_level(level_text)
        if level == Level.COUNTY:
            unit = None
        queries.check_unit(level, unit)
    except DomainError as exc:
        errors = [e.msg_zh for e in exc.errors]
        period, level, unit = parse_period(_default_period()), Level.COUNTY, None
    data = queries.dashboard(period, level, unit, actor)
    code = request.GET.get("code") or "primary_visit_share"
    defn = catalogue.get(code)
    if defn is None or not defn.collected:
        code = "primary_visit_share"
    chart = {
        "code": code,
        "name": queries.get_def(code).name,
        "trend": queries.trend(code, period, level, unit, actor),
        "comparison": queries.comparison(code, period, Level.GROUP, actor),
    }
    return render(
        request,
        "indicators/dashboard.html",
        {
            "d": data,
            "errors": errors,
            "period": period,
            "level": level.value,
            "unit": unit,
            "levels": [(lv.value, LEVEL_LABELS[lv]) for lv in Level],
            "units": queries.units_of(level),
            "chart": chart,
            "may_manage": queries.may_manage(actor),
        },
    )


def export(request: HttpRequest, actor: Actor, fmt: str) -> HttpResponse:
    """The dashboard's table as CSV or Excel (same period / level / unit parameters)."""
    if fmt not in ("csv", "xlsx"):
        raise Http404("导出格式只能是 csv 或 xlsx")
    queries.check_can_view(actor, "dashboard")
    try:
        period = parse_period(request.GET.get("period") or _default_period())
        level = parse_level(request.GET.get("level") or "county")
        unit = None if level == Level.COUNTY else id_param(request.GET.get("unit"))
        queries.check_unit(level, unit)
    except DomainError as exc:
        return HttpResponse("；".join(e.msg_zh for e in exc.errors), status=400)
    data = queries.dashboard(period, level, unit, actor)
    audit.record(
        actor, audit.Action.EXPORT, "indicator_dashboard", period.code,
        detail={"level": level.value, "unit": unit, "format": fmt},
    )  # fmt: skip
    name = f"indicators-{period.code}-{level.value}{'-' + str(unit) if unit else ''}"
    if fmt == "xlsx":
        resp = HttpResponse(
            exports.as_xlsx(data),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    else:
        resp = HttpResponse(exports.as_csv(data), content_type="text/csv; charset=utf-8")
    resp["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return resp


def drilldown(request: HttpRequest, actor: Actor, code: str) -> HttpResponse:
    try:
        period = parse_period(request.GET.get("period") or _default_period())
        level = parse_level(request.GET.get("level") or "county")
    except DomainError as exc:
        messages.error(request, "；".join(e.msg_zh for e in exc.errors))
        return redirect("web:indicators-dashboard")
    unit = None if level == Level.COUNTY else id_param(request.GET.get("unit"))
    part = request.GET.get("part") or "numerator"
    data = queries.drilldown(
        actor,
        code,
        period,
        level,
        unit,
        part=part if part in ("numerator", "denominator") else "numerator",
        source=int_param(request.GET.get("source"), lo=0) or 0,
        page=int_param(request.GET.get("page")) or 1,
    )
    return render(request, "indicators/drilldown.html", {"d": data})


def refresh(request: HttpRequest, actor: Actor) -> HttpResponse:
    full = request.POST.get("full") == "1"
    out = actions.do_refresh_facts(actor, full=full)
    messages.success(request, f"指标已刷新：写入 {out['facts_written']} 条事实")
    return redirect(local_next(request.POST.get("next")) or "web:indicators-dashboard")


def target(request: HttpRequest, actor: Actor, code: str) -> HttpResponse:
    try:
        actions.do_set_target(
            actor,
            code,
            request.POST.get("target", ""),
            request.POST.get("level", ""),
            request.POST.get("note", ""),
        )
    except DomainError as exc:
        messages.error(request, "；".join(e.msg_zh for e in exc.errors))
    else:
        messages.success(request, "目标值已保存")
    return redirect(local_next(request.POST.get("next")) or "web:indicators-dashboard")
