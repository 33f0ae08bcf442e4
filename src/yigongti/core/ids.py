"""Platform identifiers."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F

from .models import Counter


def reserve_numbers(name: str, count: int = 1) -> range:
    """Reserve `count` consecutive numbers of the named sequence (safe under concurrency)."""
    with transaction.atomic():
        Counter.objects.get_or_create(name=name)
        Counter.objects.filter(name=name).update(value=F("value") + count)
        end = Counter.objects.select_for_update().get(name=name).value
    return range(end - count + 1, end + 1)


def luhn_digit(digits: str) -> str:
    """Luhn check digit, so a mistyped index number is caught before a lookup."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def luhn_ok(number: str) -> bool:
    return number.isdigit() and len(number) > 1 and luhn_digit(number[:-1]) == number[-1]
