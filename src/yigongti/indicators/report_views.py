"""Pages of the indicator report (指标报告): the printable page (A4, a 打印 button, no
navigation when printed) and its Excel and PDF downloads, for the same period / level / unit
parameters. Who may: as the indicators dashboard (the commission and group administrators)."""

from __future__ import annotations

from urllib.parse import quote

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from yigongti.core.actor import Actor
from yigongti.core.errors import DomainError

from . import queries, reports
from .rules import LEVEL_LABELS

CONTENT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


def _produced_by(request: HttpRequest, actor: Actor) -> str:
    user = request.user
    name = f"{getattr(user, 'last_name', '')}{getattr(user, 'first_name', '')}".strip()
    name = name or actor.username
    who = "，".join(x for x in (actor.role_label, actor.facility_name) if x)
    return f"{name}（{who}）" if who else name


def _form(request: HttpRequest) -> dict[str, object]:
    return {
        "period_text": request.GET.get("period") or reports.default_period().code,
        "level": request.GET.get("level") or "county",
        "unit": request.GET.get("unit") or "",
        "levels": [(lv.value, LEVEL_LABELS[lv]) for lv in reports.REPORT_LEVELS],
        "groups": queries.units_of(reports.Level.GROUP),
    }


def report_page(request: HttpRequest, actor: Actor) -> HttpResponse:
    queries.check_can_view(actor, "report")
    form = _form(request)
    try:
        period, level, unit = reports.parse_params(
            str(form["period_text"]), str(form["level"]), str(form["unit"])
        )
    except DomainError as exc:
        context = {**form, "errors": exc.errors, "report": None}
        return render(request, "indicators/report.html", context, status=400)
    report = reports.build_report(
        actor, period, level, unit, produced_by=_produced_by(request, actor), fmt="html"
    )
    # inline SVG written by reportlab, which escapes every text it draws
    charts = [(c, reports.chart_svg(c, i)) for i, c in enumerate(report.charts)]
    sections = []
    for j, s in enumerate(report.sections):
        chart = reports.section_chart(s)
        svg = reports.chart_svg(chart, len(charts) + j) if chart is not None else ""
        sections.append((s, svg))
    query = f"period={period.code}&level={level.value}" + (f"&unit={unit}" if unit else "")
    context = {
        **form,
        "period_text": period.code,
        "level": level.value,
        "unit": unit or "",
        "errors": [],
        "report": report,
        "cover": reports.cover_rows(report),
        "note": reports.NOTE_MISSING,
        "comparison_rows": [
            (name, row)
            for (_, name), row in zip(
                report.comparison.groups, report.comparison.cells, strict=True
            )
        ],
        "charts": charts,
        "sections": sections,
        "query": query,
    }
    return render(request, "indicators/report.html", context)


def report_download(request: HttpRequest, actor: Actor, fmt: str) -> HttpResponse:
    if fmt not in CONTENT_TYPES:
        raise Http404("报告格式只能是 xlsx 或 pdf")
    queries.check_can_view(actor, "report")
    try:
        period, level, unit = reports.parse_params(
            request.GET.get("period"), request.GET.get("level"), request.GET.get("unit")
        )
    except DomainError as exc:
        text = "；".join(f"{e.field}：{e.msg_zh}" for e in exc.errors)
        return HttpResponse(text, status=400, content_type="text/plain; charset=utf-8")
    report = reports.build_report(
        actor, period, level, unit, produced_by=_produced_by(request, actor), fmt=fmt
    )
    body = reports.as_xlsx(report) if fmt == "xlsx" else reports.as_pdf(report)
    resp = HttpResponse(body, content_type=CONTENT_TYPES[fmt])
    resp["Content-Disposition"] = (
        f'attachment; filename="{report.ascii_name(fmt)}"; '
        f"filename*=UTF-8''{quote(report.file_name(fmt), safe='')}"
    )
    return resp
