"""REST endpoints of the indicator catalogue, values, scoring and reports."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["监测指标与绩效考核"])
