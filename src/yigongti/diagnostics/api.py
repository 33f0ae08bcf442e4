"""REST endpoints of the shared diagnosis centres (影像/心电/检验/病理中心)."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["共享诊断中心"])
