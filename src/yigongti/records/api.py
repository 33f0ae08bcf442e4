"""REST endpoints of the health record."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["健康档案"])
