"""Pages of the shared diagnosis centres (共享诊断中心: 影像, 心电, 检验, 病理)."""

from __future__ import annotations

from django.urls import URLPattern, path

from yigongti.accounts.rules import Perm
from yigongti.diagnostics import views
from yigongti.web.shell import page

GET = ("GET",)
POST = ("POST",)

NAV: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("诊断中心", "web:diagnostics-list", Perm.CONSULT, ("/diagnostics/",)),
    ("阅片队列", "web:diagnostics-queue", Perm.READ_STUDIES, ("/diagnostics/queue/",)),
    ("诊断质量", "web:diagnostics-quality", Perm.READ_STUDIES, ("/diagnostics/quality/",)),
)
# The commission (view_indicators, no read_studies) reaches the quality page at
# /diagnostics/quality/ directly.

urlpatterns: list[URLPattern] = [
    path(
        "diagnostics/",
        page(views.study_list, perm=Perm.CONSULT, methods=GET),
        name="diagnostics-list",
    ),
    path("diagnostics/new/", page(views.study_new, perm=Perm.CONSULT), name="diagnostics-new"),
    path(
        "diagnostics/queue/",
        page(views.reading_queue, perm=Perm.READ_STUDIES, methods=GET),
        name="diagnostics-queue",
    ),
    path(
        "diagnostics/quality/",
        page(views.quality, perm=Perm.VIEW_INDICATORS, methods=GET),
        name="diagnostics-quality",
    ),
    path(
        "diagnostics/<int:pk>/",
        page(views.study_detail, methods=GET),
        name="diagnostics-detail",
    ),
    path(
        "diagnostics/<int:pk>/act/",
        page(views.study_act, methods=POST),
        name="diagnostics-act",
    ),
]
