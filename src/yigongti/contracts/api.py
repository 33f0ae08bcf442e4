"""REST endpoints of contracts (家庭医生签约)."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["家庭医生签约"])
