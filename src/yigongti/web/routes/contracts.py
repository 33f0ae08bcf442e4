"""Pages of contracts (家庭医生签约)."""

from __future__ import annotations

from django.urls import URLPattern, path

from yigongti.accounts.rules import Perm
from yigongti.contracts import views as contracts

from ..shell import page

GET = ("GET",)

NAV: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("家庭医生签约", "web:contracts-home", Perm.SIGN_CONTRACTS, ("/contracts/",)),
)

urlpatterns: list[URLPattern] = [
    path(
        "contracts/",
        page(contracts.home, perm=Perm.SIGN_CONTRACTS, methods=GET),
        name="contracts-home",
    ),
    path(
        "contracts/coverage/",
        page(contracts.coverage, perm=Perm.VIEW_RESIDENTS, methods=GET),
        name="contracts-coverage",
    ),
    path(
        "contracts/teams/<int:pk>/",
        page(contracts.team_page, perm=Perm.SIGN_CONTRACTS, methods=GET),
        name="contracts-team",
    ),
    path(
        "contracts/<int:pk>/",
        page(contracts.contract_page, perm=Perm.VIEW_RESIDENTS, methods=GET),
        name="contracts-contract",
    ),
    path(
        "contracts/resident/<str:mpi_id>/",
        page(contracts.resident_contract, perm=Perm.SIGN_CONTRACTS, methods=GET),
        name="contracts-resident",
    ),
    path(
        "contracts/sign/<str:mpi_id>/",
        page(contracts.sign, perm=Perm.SIGN_CONTRACTS),
        name="contracts-sign",
    ),
    path(
        "contracts/<int:pk>/renew/",
        page(contracts.renew, perm=Perm.SIGN_CONTRACTS),
        name="contracts-renew",
    ),
    path(
        "contracts/<int:pk>/change-team/",
        page(contracts.change_team, perm=Perm.SIGN_CONTRACTS),
        name="contracts-change",
    ),
    path(
        "contracts/<int:pk>/terminate/",
        page(contracts.terminate, perm=Perm.SIGN_CONTRACTS),
        name="contracts-terminate",
    ),
    path(
        "contracts/admin/",
        page(contracts.admin_home, perm=Perm.MANAGE_TEAMS, methods=GET),
        name="contracts-admin",
    ),
    path(
        "contracts/admin/teams/new/",
        page(contracts.team_edit, perm=Perm.MANAGE_TEAMS),
        name="contracts-team-new",
    ),
    path(
        "contracts/admin/teams/<int:pk>/",
        page(contracts.team_edit, perm=Perm.MANAGE_TEAMS),
        name="contracts-team-edit",
    ),
    path(
        "contracts/admin/packages/new/",
        page(contracts.package_edit, perm=Perm.MANAGE_TEAMS),
        name="contracts-package-new",
    ),
    path(
        "contracts/admin/packages/<int:pk>/",
        page(contracts.package_edit, perm=Perm.MANAGE_TEAMS),
        name="contracts-package",
    ),
]
