"""Reading ids from query strings and forms of pages."""

from __future__ import annotations

#: database ids are 32-bit on every table we expose (PostgreSQL integer / bigserial below this)
ID_MAX = 2**31 - 1


def id_param(value: str | None) -> int | None:
    """A positive database id from a page parameter, or None when it is empty, not a number
    or out of range (an id no row can have: `?group=10^20` must not reach the database and
    overflow there)."""
    try:
        n = int(value) if value else None
    except ValueError:
        return None
    return n if n is not None and 0 < n <= ID_MAX else None
