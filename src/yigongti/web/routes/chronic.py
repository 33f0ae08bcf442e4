"""Pages of chronic-disease management (慢病管理) and home devices (家用设备)."""

from __future__ import annotations

from django.urls import URLPattern, path

from yigongti.accounts.rules import Perm
from yigongti.chronic import views as chronic

from ..shell import page

GET = ("GET",)

NAV: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("慢病随访", "web:chronic-worklist", Perm.MANAGE_CHRONIC, ("/chronic/",)),
    ("慢病指标", "web:chronic-indicators", Perm.VIEW_INDICATORS, ("/chronic/indicators/",)),
    ("家用设备", "web:chronic-devices", Perm.MANAGE_DEVICES, ("/devices/",)),
)

urlpatterns: list[URLPattern] = [
    path(
        "chronic/",
        page(chronic.worklist, perm=Perm.MANAGE_CHRONIC, methods=GET),
        name="chronic-worklist",
    ),
    path(
        "chronic/registers/",
        page(chronic.register_list, perm=Perm.MANAGE_CHRONIC),
        name="chronic-registers",
    ),
    path(
        "chronic/registers/<int:pk>/",
        page(chronic.registration_detail, perm=Perm.MANAGE_CHRONIC),
        name="chronic-registration",
    ),
    path(
        "chronic/registers/<int:pk>/followups/new/",
        page(chronic.followup_new, perm=Perm.MANAGE_CHRONIC),
        name="chronic-followup-new",
    ),
    path(
        "chronic/registers/<int:pk>/followups/preview/",
        page(chronic.followup_preview, perm=Perm.MANAGE_CHRONIC, methods=GET),
        name="chronic-followup-preview",
    ),
    path(
        "chronic/screening/",
        page(chronic.screening, perm=Perm.MANAGE_CHRONIC, methods=GET),
        name="chronic-screening",
    ),
    path(
        "chronic/indicators/",
        page(chronic.indicators, perm=Perm.VIEW_INDICATORS, methods=GET),
        name="chronic-indicators",
    ),
    path(
        "chronic/indicators/residents/",
        page(chronic.indicator_drill, perm=Perm.VIEW_INDICATORS, methods=GET),
        name="chronic-indicator-drill",
    ),
    path(
        "devices/",
        page(chronic.devices, perm=Perm.MANAGE_DEVICES),
        name="chronic-devices",
    ),
    path(
        "devices/quarantine/",
        page(chronic.quarantine, perm=Perm.MANAGE_DEVICES),
        name="chronic-quarantine",
    ),
    path(
        "devices/<str:serial>/",
        page(chronic.device_detail, perm=Perm.MANAGE_DEVICES),
        name="chronic-device",
    ),
]
