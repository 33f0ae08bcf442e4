"""A published snapshot as an Excel workbook (openpyxl) for the offices that file it:
sheet 1 the ranking (one row per facility, its points per item), sheet 2 every item of every
facility with numerator, denominator, value, points, status and reason (missing is written
as missing, never 0), sheet 3 the frozen scheme with each indicator's definition."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from yigongti.core.spreadsheets import xlsx_bytes

RULE_NOTE = (
    "千分制得分 = 得分 ÷ 可得分 × 1000；未采集、无数据、不适用、未评审的考核项不计分，"
    "也不计入可得分；同分同名次。"
)


def title(table: dict[str, Any]) -> str:
    s = table["snapshot"]
    when = timezone.localtime(s["published_at"]).strftime("%Y-%m-%d %H:%M") if s else ""
    head = f"{table['scheme']['name']} · {table['period_label']}"
    if s:
        head += f" · {s['published_by']} 发布于 {when}"
        if s["status"] != "current":
            head += "（已被重新发布替代）"
    return head


def _num(v: Any) -> Any:
    return None if v is None else float(v)


def _header(ws: Worksheet, text: str, header: list[str]) -> None:
    ws.append([text])
    ws["A1"].font = Font(bold=True, size=13)
    ws.append([RULE_NOTE])
    ws.append(header)
    for cell in ws[3]:
        cell.font = Font(bold=True)


def _widths(ws: Worksheet, widths: list[int]) -> None:
    for i, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = w


def as_xlsx(table: dict[str, Any]) -> bytes:
    wb = Workbook()
    ranking = wb.active
    assert ranking is not None
    ranking.title = "得分排名"
    items = table["items"]
    _header(
        ranking,
        title(table),
        ["排名", "机构编码", "机构", "所属医共体", "得分", "可得分", "千分制得分", "缺失项数"]
        + [f"{it['name']}（{it['weight']}分）" for it in items],
    )
    for f in table["facilities"]:
        ranking.append(
            [f["rank"], f["code"], f["name"], f["group_name"], _num(f["earned"]),
             _num(f["available"]), _num(f["normalised"]), f["missing"]]
            + [_num(r["points"]) if r["points"] is not None else r["status_label"]
               for r in f["rows"]]
        )  # fmt: skip
    _widths(ranking, [6, 12, 24, 20, 10, 10, 12, 10] + [16] * len(items))
    ranking.freeze_panes = "D4"

    detail = wb.create_sheet("考核项明细")
    _header(
        detail,
        title(table),
        ["机构", "指标编码", "考核项", "取值层级", "分子", "分母", "值", "单位", "目标值",
         "分值", "得分", "状态", "原因"],
    )  # fmt: skip
    for f in table["facilities"]:
        for r in f["rows"]:
            detail.append(
                [f["name"], r["code"], r["name"], r["level"], _num(r["numerator"]),
                 _num(r["denominator"]), _num(r["value"]), r["unit_label"], _num(r["target"]),
                 _num(r["weight"]), _num(r["points"]), r["status_label"], r["reason"]]
            )  # fmt: skip
    _widths(detail, [24, 26, 28, 10, 10, 10, 10, 8, 8, 8, 8, 10, 40])
    detail.freeze_panes = "C4"

    scheme = wb.create_sheet("考核方案")
    _header(
        scheme,
        title(table),
        ["指标编码", "考核项", "分值", "计分规则", "规则说明", "取值口径", "定义", "分子口径",
         "分母口径"],
    )  # fmt: skip
    for it in items:
        scheme.append(
            [it["code"], it["name"], _num(it["weight"]), it["rule_label"], it["rule_text"],
             it["basis_label"], it["definition"], it["numerator_text"], it["denominator_text"]]
        )  # fmt: skip
    _widths(scheme, [26, 28, 8, 10, 30, 10, 60, 24, 24])
    for row in scheme.iter_rows(min_row=4):
        row[6].alignment = Alignment(wrap_text=True, vertical="top")
    return xlsx_bytes(wb)
