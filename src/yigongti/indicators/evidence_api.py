"""REST API of the qualitative indicators' evidence items (佐证材料)."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["监测指标"])
