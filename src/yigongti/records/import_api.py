"""REST endpoints of the HIS import (CSV files, HL7 v2 messages, import jobs)."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["数据导入"])
