from __future__ import annotations

from datetime import date


def age_on(birth_date: date, today: date) -> int:
    """Full years of age on `today` (a birthday on 29 February counts on 1 March)."""
    return (
        today.year
        - birth_date.year
        - ((today.month, today.day) < (birth_date.month, birth_date.day))
    )
