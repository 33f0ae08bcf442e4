"""Pages of the shared diagnosis centres (共享诊断中心: 影像, 心电, 检验, 病理)."""

from __future__ import annotations

from django.urls import URLPattern

NAV: tuple[tuple[str, str, str, tuple[str, ...]], ...] = ()

urlpatterns: list[URLPattern] = []
