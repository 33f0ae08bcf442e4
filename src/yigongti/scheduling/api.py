"""REST endpoints of scheduling (预约与号源)."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["预约与号源"])
