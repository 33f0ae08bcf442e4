"""REST API of the 1000-point performance scoring (千分制绩效考核)."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["绩效考核"])
