"""Pages of the HIS import (CSV, HL7 v2) and its jobs."""

from __future__ import annotations

from django.urls import URLPattern

NAV: tuple[tuple[str, str, str, tuple[str, ...]], ...] = ()

urlpatterns: list[URLPattern] = []
