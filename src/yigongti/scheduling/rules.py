"""Pure rules of scheduling. The numbers themselves are configurable (`QuotaPolicy`); these
functions only say how they apply (DOMAIN.md §4)."""

from __future__ import annotations

from datetime import datetime, timedelta


def reserved_share(total: int, pct: int) -> int:
    """Seats (or beds) of `total` kept for family-doctor referrals: `pct` percent, rounded half
    up. DOMAIN.md §4: "one county reports 20% of expert slots and 10% of beds (configurable)"."""
    if total <= 0 or pct <= 0:
        return 0
    return min(total, (total * pct + 50) // 100)


def release_due(starts_at: datetime, now: datetime, hours_ahead: int) -> bool:
    """Unused reserved seats go back to the public pool `hours_ahead` before the slot starts
    (DOMAIN.md §4: "Unused reserved slots are released back to the public pool ahead of time")."""
    return starts_at - timedelta(hours=hours_ahead) <= now


def blacklisted(no_shows_in_window: int, limit: int) -> bool:
    """After `limit` no-shows within the window a resident may not book directly."""
    return limit > 0 and no_shows_in_window >= limit
