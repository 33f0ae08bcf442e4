"""The dashboard's numbers as a spreadsheet for the offices that file them (CSV with a BOM so
Excel reads the Chinese, and .xlsx with openpyxl): one row per catalogue entry with its
numerator, denominator, value, target and definition; not-collected entries say so (未采集),
never 0. Built from `queries.dashboard`, so the file and the page show the same figures."""

from __future__ import annotations

import csv
import io
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from yigongti.core.spreadsheets import csv_cell, xlsx_bytes

HEADER = [
    "维度", "编码", "指标", "分子", "分母", "值", "单位", "目标", "是否达标",
    "状态", "定义", "分子口径", "分母口径", "数据来源",
]  # fmt: skip
STATUS = {
    "ok": "已计算",
    "no_data": "无数据",
    "not_collected": "未采集",
    "not_applicable": "不适用",
    "qualitative": "定性评审",
}


def _met(v: bool | None) -> str:
    return "" if v is None else ("达标" if v else "未达标")


def rows(data: dict[str, Any]) -> list[list[Any]]:
    out: list[list[Any]] = []
    for aspect in data["aspects"]:
        for r in aspect["indicators"]:
            status = STATUS.get(r["status"], r["status"])
            if r.get("judgement"):
                status = f"{status}：{r['judgement']}（{r['reason']}）"
            elif r["reason"]:
                status = f"{status}：{r['reason']}"
            out.append(
                [
                    aspect["label"],
                    r["code"],
                    r["name"],
                    r["numerator"],
                    r["denominator"],
                    r["value"],
                    r["unit_label"],
                    r["target"],
                    _met(r["met"]),
                    status,
                    r["definition"],
                    r["numerator_text"],
                    r["denominator_text"],
                    r["source"],
                ]
            )
    return out


def title(data: dict[str, Any]) -> str:
    refreshed = data["refreshed_at"]
    when = f"，数据更新于 {refreshed:%Y-%m-%d %H:%M}" if refreshed else ""
    return f"监测指标 {data['period_label']} · {data['unit_name']}{when}"


def as_csv(data: dict[str, Any]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([csv_cell(title(data))])
    w.writerow(HEADER)
    for r in rows(data):
        w.writerow(["" if v is None else csv_cell(v) for v in r])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def as_xlsx(data: dict[str, Any]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "监测指标"
    ws.append([title(data)])
    ws["A1"].font = Font(bold=True, size=13)
    ws.append(HEADER)
    for cell in ws[2]:
        cell.font = Font(bold=True)
    for r in rows(data):
        ws.append(r)
    widths = [10, 26, 30, 12, 12, 10, 8, 8, 8, 24, 60, 24, 24, 24]
    for i, width in enumerate(widths):
        ws.column_dimensions[chr(ord("A") + i)].width = width
    for row in ws.iter_rows(min_row=3):
        row[10].alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = "D3"
    return xlsx_bytes(wb)
