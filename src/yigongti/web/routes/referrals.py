"""Pages of referrals."""

from __future__ import annotations

from django.urls import URLPattern

NAV: tuple[tuple[str, str, str, tuple[str, ...]], ...] = ()

urlpatterns: list[URLPattern] = []
