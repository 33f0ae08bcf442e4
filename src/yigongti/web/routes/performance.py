"""Pages of the 1000-point performance scoring (千分制绩效考核)."""

from __future__ import annotations

from django.urls import URLPattern, path

from yigongti.accounts.rules import Perm
from yigongti.performance import views
from yigongti.web.shell import page

GET = ("GET",)
POST = ("POST",)

# Like the indicators dashboard: shown to the commission and group administrators; the views
# refuse other roles (clinicians hold VIEW_INDICATORS for their own pages, not for scores).
NAV: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("千分制考核", "web:performance", Perm.MANAGE_INDICATORS, ("/performance/",)),
)

urlpatterns: list[URLPattern] = [
    path("performance/", page(views.index, perm=Perm.VIEW_INDICATORS, methods=GET),
         name="performance"),
    path("performance/schemes/new/", page(views.scheme_edit, perm=Perm.MANAGE_INDICATORS),
         name="performance-scheme-new"),
    path("performance/schemes/<int:pk>/", page(views.scheme_edit, perm=Perm.VIEW_INDICATORS),
         name="performance-scheme"),
    path("performance/schemes/<int:pk>/status/",
         page(views.scheme_status, perm=Perm.MANAGE_INDICATORS, methods=POST),
         name="performance-scheme-status"),
    path("performance/schemes/<int:pk>/delete/",
         page(views.scheme_delete, perm=Perm.MANAGE_INDICATORS, methods=POST),
         name="performance-scheme-delete"),
    path("performance/schemes/<int:pk>/scores/",
         page(views.scores, perm=Perm.VIEW_INDICATORS, methods=GET),
         name="performance-scores"),
    path("performance/schemes/<int:pk>/publish/",
         page(views.publish, perm=Perm.MANAGE_INDICATORS, methods=POST),
         name="performance-publish"),
    path("performance/snapshots/<int:pk>/",
         page(views.snapshot, perm=Perm.VIEW_INDICATORS, methods=GET),
         name="performance-snapshot"),
    path("performance/snapshots/<int:pk>/export.xlsx",
         page(views.snapshot_export, perm=Perm.VIEW_INDICATORS, methods=GET),
         name="performance-snapshot-export"),
]  # fmt: skip
