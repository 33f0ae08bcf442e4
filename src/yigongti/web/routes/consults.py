"""Pages of remote consultation (远程会诊), shared diagnosis centres (共享诊断中心) and expert
dispatch (专家下沉)."""

from __future__ import annotations

from django.urls import URLPattern

NAV: tuple[tuple[str, str, str, tuple[str, ...]], ...] = ()

urlpatterns: list[URLPattern] = []
