"""REST endpoints of remote consultation, shared diagnosis centres and expert dispatch."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["远程会诊与共享诊断中心"])
