"""Pages of scheduling (专家号源与床位)."""

from __future__ import annotations

from django.urls import URLPattern, path

from yigongti.accounts.rules import Perm
from yigongti.scheduling import views
from yigongti.web.shell import page

GET = ("GET",)
POST = ("POST",)

NAV: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("专家号源", "web:scheduling-board", Perm.BOOK, ("/scheduling/",)),
)

urlpatterns: list[URLPattern] = [
    path("scheduling/", page(views.board, perm=Perm.BOOK, methods=GET), name="scheduling-board"),
    path(
        "scheduling/book/", page(views.book, perm=Perm.BOOK, methods=POST), name="scheduling-book"
    ),
    path(
        "scheduling/bookings/",
        page(views.bookings, perm=Perm.BOOK, methods=GET),
        name="scheduling-bookings",
    ),
    path(
        "scheduling/bookings/<int:pk>/act/",
        page(views.booking_act, perm=Perm.BOOK, methods=POST),
        name="scheduling-booking-act",
    ),
    path("scheduling/beds/", page(views.beds, perm=Perm.BOOK), name="scheduling-beds"),
    path(
        "scheduling/publish/",
        page(views.publish, perm=Perm.MANAGE_SCHEDULES),
        name="scheduling-publish",
    ),
]
