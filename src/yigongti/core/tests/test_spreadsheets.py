"""Exports keep typed text as text: no formula injection through names users enter."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook, load_workbook

from yigongti.core.spreadsheets import csv_cell, xlsx_bytes


@pytest.mark.parametrize(
    "text", ['=HYPERLINK("http://evil.example","点我")', "+1+1", "-2+3", "@SUM(A1)", "\t=1"]
)
def test_formula_like_text_is_stored_as_text(text):
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append([text, 12.5, "乡镇卫生院"])
    back = load_workbook(io.BytesIO(xlsx_bytes(wb))).active
    assert back is not None
    assert (back["A1"].value, back["A1"].data_type) == (text, "s")
    assert (back["B1"].value, back["C1"].value) == (12.5, "乡镇卫生院")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("=1+1", "'=1+1"), ("@x", "'@x"), ("-5", "'-5"), ("测试", "测试"), (-5, -5), (None, None)],
)
def test_csv_cells_that_look_like_formulas_get_an_apostrophe(value, expected):
    assert csv_cell(value) == expected
