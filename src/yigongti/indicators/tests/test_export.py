"""The dashboard's numbers as CSV and Excel: the same figures as the page, not-collected
entries marked 未采集 (never 0), refused to clinicians and the outsider, audited."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from yigongti.core.models import AuditEntry
from yigongti.indicators import facts

from .conftest import YEAR_2025

pytestmark = pytest.mark.django_db


@pytest.fixture
def refreshed(tiny):
    facts.rebuild_facts(YEAR_2025)
    return tiny


def _by_code(rows: list[list[object]]) -> dict[str, list[object]]:
    return {str(r[1]): r for r in rows}


def test_excel_and_csv_carry_the_hand_computed_group_figures(client_as, refreshed):
    c = client_as("commission")
    params = {"period": "2025", "level": "group", "unit": refreshed.group.pk}
    x = c.get("/indicators/export.xlsx", params)
    assert x.status_code == 200
    assert x["Content-Disposition"].endswith('.xlsx"')
    ws = load_workbook(io.BytesIO(x.content)).active
    table = [list(r) for r in ws.iter_rows(min_row=3, values_only=True)]
    got = _by_code(table)
    # primary-care share of outpatient visits: 7 of 12 (DOMAIN.md §10), 58.33 %
    # — the same hand-computed figures as test_values
    share = got["primary_visit_share"]
    assert (share[3], share[4], share[5]) == (7, 12, 58.33)
    assert got["remote_consults"][3] == 2
    assert str(got["fund_in_county_share"][9]).startswith("未采集")
    assert got["fund_in_county_share"][3] is None  # not collected is not 0
    assert "测试医共体" in str(ws["A1"].value) and "2025" in str(ws["A1"].value)

    text = c.get("/indicators/export.csv", params).content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[1][:4] == ["维度", "编码", "指标", "分子"]
    by = _by_code(rows[2:])
    assert by["primary_visit_share"][3:6] == ["7", "12", "58.33"]
    assert by["fund_in_county_share"][3] == ""
    assert (
        AuditEntry.objects.filter(action="export", object_type="indicator_dashboard").count() == 2
    )


@pytest.mark.parametrize("who", ["village_doctor", "outsider_doctor", "pharmacist"])
def test_clinicians_and_outsiders_cannot_export(client_as, refreshed, who):
    assert client_as(who).get("/indicators/export.xlsx").status_code == 403


def test_bad_parameters_are_named_and_unknown_formats_are_404(client_as, refreshed):
    c = client_as("commission")
    bad = c.get("/indicators/export.csv", {"period": "2025Q9"})
    assert bad.status_code == 400 and "统计期" in bad.content.decode()
    assert c.get("/indicators/export.pdf").status_code == 404
