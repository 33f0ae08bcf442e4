"""Reading numbers from query strings and forms of pages."""

from __future__ import annotations

#: database ids are 32-bit on every table we expose (PostgreSQL integer / bigserial below this)
ID_MAX = 2**31 - 1


def int_param(value: str | None, lo: int = 1, hi: int = ID_MAX) -> int | None:
    """An integer page parameter in [lo, hi], or None when it is empty, not a number or out
    of range (`?group=10^20` must not reach the database and overflow there)."""
    try:
        n = int(value) if value else None
    except ValueError:
        return None
    return n if n is not None and lo <= n <= hi else None


def id_param(value: str | None) -> int | None:
    """A database id (positive) from a page parameter, or None."""
    return int_param(value)
