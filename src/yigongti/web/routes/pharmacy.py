"""Pages of pharmacy (药品库存)."""

from __future__ import annotations

from django.urls import URLPattern, path

from yigongti.accounts.rules import Perm
from yigongti.pharmacy import views
from yigongti.web.shell import page

NAV: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("药品库存", "web:pharmacy-stock", Perm.VIEW_STOCK, ("/pharmacy/",)),
)

urlpatterns: list[URLPattern] = [
    path(
        "pharmacy/",
        page(views.stock, perm=Perm.VIEW_STOCK, methods=("GET",)),
        name="pharmacy-stock",
    ),
    path(
        "pharmacy/movements/",
        page(views.ledger, perm=Perm.VIEW_STOCK, methods=("GET",)),
        name="pharmacy-movements",
    ),
    path("pharmacy/adjust/", page(views.adjust, perm=Perm.MANAGE_STOCK), name="pharmacy-adjust"),
    path(
        "pharmacy/stock-take/",
        page(views.stock_take, perm=Perm.MANAGE_STOCK),
        name="pharmacy-stock-take",
    ),
    path(
        "pharmacy/stock-take/<int:take_id>/",
        page(views.stock_take_result, perm=Perm.MANAGE_STOCK, methods=("GET",)),
        name="pharmacy-stock-take-result",
    ),
    path(
        "pharmacy/minimums/",
        page(views.minimums, perm=Perm.MANAGE_STOCK),
        name="pharmacy-minimums",
    ),
    path("pharmacy/dispense/", page(views.dispense, perm=Perm.DISPENSE), name="pharmacy-dispense"),
    path(
        "pharmacy/deliveries/",
        page(views.deliveries, perm=Perm.VIEW_STOCK),
        name="pharmacy-deliveries",
    ),
    path(
        "pharmacy/procurement/",
        page(views.procurement, perm=Perm.VIEW_STOCK),
        name="pharmacy-procurement",
    ),
    path(
        "pharmacy/shortages/",
        page(views.shortages, perm=Perm.VIEW_STOCK),
        name="pharmacy-shortages",
    ),
    path(
        "pharmacy/shortages/<int:shortage_id>/",
        page(views.shortage, perm=Perm.VIEW_STOCK),
        name="pharmacy-shortage",
    ),
    path(
        "pharmacy/alerts/",
        page(views.alerts, perm=Perm.VIEW_STOCK, methods=("GET",)),
        name="pharmacy-alerts",
    ),
]
