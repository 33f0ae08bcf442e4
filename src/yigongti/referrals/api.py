"""REST endpoints of referrals (双向转诊)."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["双向转诊"])
