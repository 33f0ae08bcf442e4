from datetime import UTC, datetime, timedelta

import pytest

from yigongti.scheduling import rules


@pytest.mark.parametrize(
    ("total", "pct", "expected"),
    [
        (10, 20, 2),
        (5, 20, 1),
        (4, 20, 1),
        (2, 20, 0),
        (0, 20, 0),
        (30, 10, 3),
        (3, 100, 3),
        (8, 0, 0),
    ],
)
def test_reserved_share(total, pct, expected):
    assert rules.reserved_share(total, pct) == expected


def test_release_due():
    start = datetime(2026, 5, 10, 8, tzinfo=UTC)
    assert not rules.release_due(start, start - timedelta(hours=49), 48)
    assert rules.release_due(start, start - timedelta(hours=48), 48)
    assert rules.release_due(start, start - timedelta(hours=1), 48)


@pytest.mark.parametrize(
    ("n", "limit", "out"), [(2, 3, False), (3, 3, True), (5, 3, True), (9, 0, False)]
)
def test_blacklisted(n, limit, out):
    assert rules.blacklisted(n, limit) is out
