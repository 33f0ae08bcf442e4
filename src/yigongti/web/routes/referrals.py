"""Pages of referrals (双向转诊)."""

from __future__ import annotations

from django.urls import URLPattern, path

from yigongti.accounts.rules import Perm
from yigongti.referrals import views
from yigongti.web.shell import page

GET = ("GET",)
POST = ("POST",)

NAV: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("双向转诊", "web:referrals-list", Perm.REFER, ("/referrals/",)),
)
# The commission (no `refer`) reaches the out-of-county summary at /referrals/out-of-county/;
# clinical users through the link on the referral lists.

urlpatterns: list[URLPattern] = [
    path(
        "referrals/", page(views.referral_list, perm=Perm.REFER, methods=GET), name="referrals-list"
    ),
    path("referrals/new/", page(views.referral_new, perm=Perm.REFER), name="referrals-new"),
    path(
        "referrals/out-of-county/",
        page(views.out_of_county, perm=Perm.VIEW_INDICATORS, methods=GET),
        name="referrals-out-of-county",
    ),
    path(
        "referrals/<int:pk>/",
        page(views.referral_detail, perm=Perm.REFER, methods=GET),
        name="referrals-detail",
    ),
    path(
        "referrals/<int:pk>/act/",
        page(views.referral_act, perm=Perm.REFER, methods=POST),
        name="referrals-act",
    ),
    path(
        "referrals/<int:pk>/return/",
        page(views.referral_return, perm=Perm.REFER),
        name="referrals-return",
    ),
]
