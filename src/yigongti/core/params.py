"""Reading numbers and return addresses from query strings and forms of pages."""

from __future__ import annotations

from django.utils.http import url_has_allowed_host_and_scheme

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


def local_next(value: str | None) -> str | None:
    """A `next` address to go back to after a form, only when it is a path on this site
    (`/indicators/?period=2026`); anything else (`https://evil.example/`, `//evil.example`,
    `javascript:`) is None, so the caller falls back to its own page: no open redirect."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return None
    return value if url_has_allowed_host_and_scheme(value, allowed_hosts=None) else None
