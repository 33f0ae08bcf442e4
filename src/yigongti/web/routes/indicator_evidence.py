"""Pages of the qualitative indicators' evidence items (紧密型指标佐证材料).

The routes carry no permission gate of their own: every view asks `indicators.evidence`,
which lets group administrators and the health commission in and refuses everyone else with
a `denied` audit entry (403)."""

from __future__ import annotations

from django.urls import URLPattern, path

from yigongti.accounts.rules import Perm
from yigongti.indicators import evidence_views as views
from yigongti.web.shell import page

GET = ("GET",)
POST = ("POST",)

NAV: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    (
        "佐证材料",
        "web:indicator-evidence-list",
        Perm.MANAGE_INDICATORS,
        ("/indicators/evidence/",),
    ),
)

urlpatterns: list[URLPattern] = [
    path(
        "indicators/evidence/",
        page(views.evidence_list, methods=GET),
        name="indicator-evidence-list",
    ),
    path("indicators/evidence/new/", page(views.evidence_new), name="indicator-evidence-new"),
    path(
        "indicators/evidence/<int:pk>/",
        page(views.evidence_detail, methods=GET),
        name="indicator-evidence-detail",
    ),
    path(
        "indicators/evidence/<int:pk>/files/",
        page(views.evidence_files, methods=POST),
        name="indicator-evidence-files",
    ),
    path(
        "indicators/evidence/<int:pk>/files/<int:file_id>/",
        page(views.evidence_download, methods=GET),
        name="indicator-evidence-file",
    ),
    path(
        "indicators/evidence/<int:pk>/files/<int:file_id>/remove/",
        page(views.evidence_file_remove, methods=POST),
        name="indicator-evidence-file-remove",
    ),
    path(
        "indicators/evidence/<int:pk>/edit/",
        page(views.evidence_edit, methods=POST),
        name="indicator-evidence-edit",
    ),
    path(
        "indicators/evidence/<int:pk>/submit/",
        page(views.evidence_submit, methods=POST),
        name="indicator-evidence-submit",
    ),
    path(
        "indicators/evidence/<int:pk>/review/",
        page(views.evidence_review, methods=POST),
        name="indicator-evidence-review",
    ),
]
