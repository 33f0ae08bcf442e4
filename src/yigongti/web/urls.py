"""Every server-rendered page. Views of the domain apps take (request, actor, ...) and are
wrapped here by `page()`, which handles login, the actor, permissions and 403/404."""

from __future__ import annotations

from django.contrib.auth.views import LogoutView
from django.urls import path

from yigongti.accounts.rules import Perm
from yigongti.network import views as network
from yigongti.residents import views as residents

from . import views
from .routes import (
    chronic,
    consults,
    contracts,
    diagnostics,
    imports,
    indicator_evidence,
    indicator_reports,
    indicators,
    performance,
    pharmacy,
    records,
    referrals,
    scheduling,
)
from .shell import page

APP_ROUTES = (
    records,
    chronic,
    contracts,
    referrals,
    scheduling,
    consults,
    diagnostics,
    pharmacy,
    indicators,
    indicator_reports,
    indicator_evidence,
    performance,
    imports,
)

app_name = "web"

POST = ("POST",)

urlpatterns = [
    path("login/", views.Login.as_view(), name="login"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("", page(views.home, methods=("GET",)), name="home"),
    # residents
    path(
        "residents/",
        page(residents.search, perm=Perm.VIEW_RESIDENTS, methods=("GET",)),
        name="resident-search",
    ),
    path(
        "residents/new/",
        page(residents.register, perm=Perm.REGISTER_RESIDENT),
        name="resident-new",
    ),
    path(
        "residents/duplicates/",
        page(residents.duplicates, perm=Perm.MERGE_RESIDENTS, methods=("GET",)),
        name="duplicates",
    ),
    path(
        "residents/duplicates/<int:pk>/merge/",
        page(residents.merge, perm=Perm.MERGE_RESIDENTS, methods=POST),
        name="duplicate-merge",
    ),
    path(
        "residents/duplicates/<int:pk>/dismiss/",
        page(residents.dismiss, perm=Perm.MERGE_RESIDENTS, methods=POST),
        name="duplicate-dismiss",
    ),
    path(
        "residents/merges/<int:pk>/undo/",
        page(residents.undo_merge, perm=Perm.MERGE_RESIDENTS, methods=POST),
        name="merge-undo",
    ),
    path(
        "residents/<str:mpi_id>/",
        page(residents.record, perm=Perm.VIEW_RESIDENTS, methods=("GET",)),
        name="resident",
    ),
    path(
        "residents/<str:mpi_id>/edit/",
        page(residents.edit, perm=Perm.EDIT_RESIDENT),
        name="resident-edit",
    ),
    path(
        "residents/<str:mpi_id>/dynamic-qr/",
        page(residents.dynamic_qr, perm=Perm.VIEW_RESIDENTS, methods=POST),
        name="resident-dynamic-qr",
    ),
    path(
        "residents/<str:mpi_id>/cards/",
        page(residents.attach_card, perm=Perm.MANAGE_CARDS, methods=POST),
        name="resident-attach-card",
    ),
    path(
        "residents/<str:mpi_id>/cards/<str:card_id>/status/",
        page(residents.card_status, perm=Perm.MANAGE_CARDS, methods=POST),
        name="card-status",
    ),
    path("cards/scan/", page(residents.scan, perm=Perm.VIEW_RESIDENTS), name="card-scan"),
    # network
    path(
        "network/",
        page(network.overview, perm=Perm.VIEW_NETWORK, methods=("GET",)),
        name="network",
    ),
    path(
        "network/groups/<str:code>/",
        page(network.group_tree, perm=Perm.VIEW_NETWORK, methods=("GET",)),
        name="network-group",
    ),
    path(
        "network/groupings/",
        page(network.groupings, perm=Perm.VIEW_NETWORK, methods=("GET",)),
        name="network-groupings",
    ),
    path(
        "network/facilities/new/",
        page(network.facility_edit, perm=Perm.MANAGE_NETWORK),
        name="facility-new",
    ),
    path(
        "network/facilities/<str:code>/",
        page(network.facility_detail, perm=Perm.VIEW_NETWORK, methods=("GET",)),
        name="facility",
    ),
    path(
        "network/facilities/<str:code>/edit/",
        page(network.facility_edit, perm=Perm.MANAGE_NETWORK),
        name="facility-edit",
    ),
    path(
        "network/facilities/<str:code>/departments/new/",
        page(network.department_new, perm=Perm.MANAGE_NETWORK),
        name="department-new",
    ),
    path(
        "network/facilities/<str:code>/staff/new/",
        page(network.staff_new, perm=Perm.MANAGE_NETWORK),
        name="staff-new",
    ),
    # audit
    path("audit/", page(views.audit_log, perm=Perm.VIEW_AUDIT, methods=("GET",)), name="audit"),
    path(
        "audit/verify/",
        page(views.verify_audit, perm=Perm.VIEW_AUDIT, methods=POST),
        name="audit-verify",
    ),
]
for _routes in APP_ROUTES:
    urlpatterns += _routes.urlpatterns
