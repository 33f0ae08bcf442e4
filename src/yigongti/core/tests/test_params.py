"""Numbers from page parameters: bad or out-of-range values are None, never a database error."""

from __future__ import annotations

import pytest

from yigongti.core.params import ID_MAX, id_param, int_param


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("12", 12), ("", None), (None, None), ("abc", None), ("0", None), ("-3", None),
     (str(ID_MAX), ID_MAX), (str(ID_MAX + 1), None), ("1" + "0" * 20, None)],
)  # fmt: skip
def test_ids(raw, expected):
    assert id_param(raw) == expected


def test_counts_may_be_zero_and_have_their_own_bounds():
    assert int_param("0", lo=0) == 0
    assert int_param("101", lo=0, hi=100) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("/indicators/?period=2026", "/indicators/?period=2026"), ("https://evil.example/", None),
     ("//evil.example/x", None), ("/\\evil.example", None), ("javascript:alert(1)", None),
     ("", None), (None, None)],
)  # fmt: skip
def test_only_local_paths_are_followed_after_a_form(raw, expected):
    from yigongti.core.params import local_next

    assert local_next(raw) == expected
