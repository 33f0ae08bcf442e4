"""Pages of the HIS import (CSV, HL7 v2) and its jobs."""

from __future__ import annotations

from django.urls import URLPattern, path

from yigongti.accounts.rules import Perm
from yigongti.records import import_views as imports

from ..shell import page

GET = ("GET",)

NAV: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("数据导入", "web:import-jobs", Perm.IMPORT_RECORDS, ("/imports/",)),
)

urlpatterns: list[URLPattern] = [
    path("imports/", page(imports.job_list, perm=Perm.IMPORT_RECORDS), name="import-jobs"),
    path(
        "imports/<int:pk>/",
        page(imports.job_detail, perm=Perm.IMPORT_RECORDS, methods=GET),
        name="import-job",
    ),
    path(
        "imports/<int:pk>/progress/",
        page(imports.job_progress, perm=Perm.IMPORT_RECORDS, methods=GET),
        name="import-job-progress",
    ),
    path(
        "imports/<int:pk>/errors.csv",
        page(imports.job_errors_csv, perm=Perm.IMPORT_RECORDS, methods=GET),
        name="import-job-errors",
    ),
]
