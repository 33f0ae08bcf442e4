"""Pages (filled in by the feature that owns this module)."""

from __future__ import annotations

from django.urls import URLPattern

NAV: tuple[tuple[str, str, str, tuple[str, ...]], ...] = ()

urlpatterns: list[URLPattern] = []
