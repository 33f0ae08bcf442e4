"""Pages of the monitoring indicators (监测指标), the 1000-point scoring (千分制考核) and the
decision dashboard (决策驾驶舱)."""

from __future__ import annotations

from django.urls import URLPattern

NAV: tuple[tuple[str, str, str, tuple[str, ...]], ...] = ()

urlpatterns: list[URLPattern] = []
