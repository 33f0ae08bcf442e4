"""REST endpoints of pharmacy (药品耗材)."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["药品耗材"])
