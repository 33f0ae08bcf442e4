"""Pages of the shared health record."""

from __future__ import annotations

from django.urls import URLPattern, path

from yigongti.accounts.rules import Perm
from yigongti.records import views as records

from ..shell import page

GET = ("GET",)
POST = ("POST",)

NAV: tuple[tuple[str, str, str, tuple[str, ...]], ...] = ()

urlpatterns: list[URLPattern] = [
    path(
        "residents/<str:mpi_id>/health/",
        page(records.health_record, perm=Perm.VIEW_RESIDENTS, methods=GET),
        name="health-record",
    ),
    path(
        "residents/<str:mpi_id>/health/encounters/new/",
        page(records.encounter_new, perm=Perm.RECORD_CLINICAL),
        name="encounter-new",
    ),
    path(
        "residents/<str:mpi_id>/health/profile/",
        page(records.profile_edit, perm=Perm.RECORD_CLINICAL),
        name="profile-edit",
    ),
    path(
        "residents/<str:mpi_id>/health/exams/new/",
        page(records.exam_new, perm=Perm.RECORD_CLINICAL),
        name="exam-new",
    ),
    path(
        "records/encounters/<int:pk>/",
        page(records.encounter_detail, perm=Perm.VIEW_RESIDENTS, methods=GET),
        name="encounter",
    ),
    path(
        "records/encounters/<int:pk>/amend/",
        page(records.encounter_amend, perm=Perm.RECORD_CLINICAL),
        name="encounter-amend",
    ),
    path(
        "records/encounters/<int:pk>/void/",
        page(records.encounter_void, perm=Perm.RECORD_CLINICAL, methods=POST),
        name="encounter-void",
    ),
    path(
        "records/codes/icd10/",
        page(records.icd_options, perm=Perm.VIEW_RESIDENTS, methods=GET),
        name="icd-options",
    ),
    path(
        "records/codes/drugs/",
        page(records.drug_options, perm=Perm.VIEW_RESIDENTS, methods=GET),
        name="drug-options",
    ),
]
