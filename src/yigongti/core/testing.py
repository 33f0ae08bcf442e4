"""Helpers for tests of races (used by every app's tests/test_concurrency.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connection


def run_together(n: int, fn: Callable[[int], Any]) -> list[Any]:
    """Start n threads that call fn(i) at the same moment; return results or exceptions.
    Needs `pytest.mark.django_db(transaction=True)`; each thread has its own connection."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def worker(i: int) -> None:
        try:
            barrier.wait()
            results[i] = fn(i)
        except Exception as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results
