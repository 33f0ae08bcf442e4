"""Spreadsheet exports that county offices open in Excel or WPS: text that users typed (a
scheme's name, a facility's, an item's) must stay text. A cell starting with `=`, `+`, `-`,
`@`, a tab or a carriage return is read as a formula by spreadsheet programs (CSV/formula
injection, e.g. `=HYPERLINK(...)`): the workbook writer keeps such values as strings, the CSV
writer quotes them with a leading apostrophe."""

from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def xlsx_bytes(wb: Workbook) -> bytes:
    """The workbook as bytes, every cell that openpyxl took for a formula written as text
    (our exports write values only; charts reference cells, not formulas)."""
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    cell.data_type = "s"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def csv_cell(value: Any) -> Any:
    """A CSV value a spreadsheet will not evaluate: text starting like a formula gets a
    leading apostrophe; numbers and other values stay as they are."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value
