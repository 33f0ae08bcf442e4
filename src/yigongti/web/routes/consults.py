"""Pages of remote consultation (远程会诊) and expert dispatch (专家下沉)."""

from __future__ import annotations

from django.urls import URLPattern, path

from yigongti.accounts.rules import Perm
from yigongti.consults import views
from yigongti.web.shell import page

GET = ("GET",)
POST = ("POST",)

NAV: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("远程会诊", "web:consults-list", Perm.CONSULT, ("/consults/",)),
    ("专家下沉", "web:dispatch-list", Perm.MANAGE_DISPATCH, ("/dispatch/",)),
)

urlpatterns: list[URLPattern] = [
    path(
        "consults/", page(views.consult_list, perm=Perm.CONSULT, methods=GET), name="consults-list"
    ),
    path("consults/new/", page(views.consult_new, perm=Perm.CONSULT), name="consults-new"),
    path(
        "consults/<int:pk>/",
        page(views.consult_detail, perm=Perm.CONSULT, methods=GET),
        name="consults-detail",
    ),
    path(
        "consults/<int:pk>/act/",
        page(views.consult_act, perm=Perm.CONSULT, methods=POST),
        name="consults-act",
    ),
    path(
        "dispatch/",
        page(views.dispatch_list, perm=Perm.MANAGE_DISPATCH, methods=GET),
        name="dispatch-list",
    ),
    path("dispatch/new/", page(views.dispatch_new, perm=Perm.MANAGE_DISPATCH), name="dispatch-new"),
    path(
        "dispatch/<int:pk>/",
        page(views.dispatch_detail, perm=Perm.MANAGE_DISPATCH),
        name="dispatch-detail",
    ),
]
