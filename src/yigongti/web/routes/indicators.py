"""Pages of the monitoring indicators (监测指标), the 1000-point scoring (千分制考核) and the
decision dashboard (决策驾驶舱)."""

from __future__ import annotations

from django.urls import URLPattern, path

from yigongti.accounts.rules import Perm
from yigongti.indicators import views
from yigongti.web.shell import page

GET = ("GET",)
POST = ("POST",)

# Gated by VIEW_INDICATORS; the views refuse roles other than the commission and group
# administrators (clinicians see their own rates in the chronic and contracts pages).
NAV: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("监测指标", "web:indicators-dashboard", Perm.MANAGE_INDICATORS, ("/indicators/",)),
)

urlpatterns: list[URLPattern] = [
    path(
        "indicators/",
        page(views.dashboard, perm=Perm.VIEW_INDICATORS, methods=GET),
        name="indicators-dashboard",
    ),
    path(
        "indicators/export.<str:fmt>",
        page(views.export, perm=Perm.VIEW_INDICATORS, methods=GET),
        name="indicators-export",
    ),
    path(
        "indicators/<str:code>/records/",
        page(views.drilldown, perm=Perm.VIEW_INDICATORS, methods=GET),
        name="indicators-drilldown",
    ),
    path(
        "indicators/refresh/",
        page(views.refresh, perm=Perm.MANAGE_INDICATORS, methods=POST),
        name="indicators-refresh",
    ),
    path(
        "indicators/<str:code>/target/",
        page(views.target, perm=Perm.MANAGE_INDICATORS, methods=POST),
        name="indicators-target",
    ),
]
