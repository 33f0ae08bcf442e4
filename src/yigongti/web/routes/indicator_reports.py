"""Pages of the half-yearly and yearly indicator report (指标报告): the printable page and its
Excel / PDF downloads. No navigation entry of its own: the indicators dashboard links to it."""

from __future__ import annotations

from django.urls import URLPattern, path

from yigongti.accounts.rules import Perm
from yigongti.indicators import report_views
from yigongti.web.shell import page

GET = ("GET",)

NAV: tuple[tuple[str, str, str, tuple[str, ...]], ...] = ()

urlpatterns: list[URLPattern] = [
    path(
        "indicators/report/",
        page(report_views.report_page, perm=Perm.VIEW_INDICATORS, methods=GET),
        name="indicators-report",
    ),
    path(
        "indicators/report/report.<str:fmt>",
        page(report_views.report_download, perm=Perm.VIEW_INDICATORS, methods=GET),
        name="indicators-report-download",
    ),
]
