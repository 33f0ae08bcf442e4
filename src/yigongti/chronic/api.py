"""REST endpoints of chronic (慢性病管理)."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["慢性病管理"])
