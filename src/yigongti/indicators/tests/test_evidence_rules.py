"""Pure rules of the evidence items: judgement → fraction, comments, file types by their
bytes, the status of a cell, periods."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from yigongti.core.errors import DomainError
from yigongti.indicators.evidence import (
    CellItem,
    cell_status,
    clean_file_name,
    comment_required,
    detect_kind,
    file_errors,
    fraction_of,
    parse_evidence_period,
    size_text,
)

from .evidence_fixtures import docx, jpeg, ole2, pdf, png, xlsx


@pytest.mark.parametrize(
    ("judgement", "fraction", "needs_comment"),
    [
        ("met", Decimal("1"), False),
        ("mostly", Decimal("0.5"), True),
        ("not_met", Decimal("0"), True),
        ("returned", None, True),
    ],
)
def test_judgement_gives_fraction_and_comment_rule(judgement, fraction, needs_comment):
    assert fraction_of(judgement) == fraction
    assert comment_required(judgement) is needs_comment


def test_unknown_judgement_has_no_fraction():
    with pytest.raises(ValueError, match="unknown judgement"):
        fraction_of("excellent")


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (pdf(), "pdf"),
        (jpeg(), "jpeg"),
        (png(), "png"),
        (docx(), "docx"),
        (xlsx(), "xlsx"),
        (ole2(), "ole2"),
        (b"MZ\x90\x00 windows program", None),
        (b"PK\x03\x04 not really a zip", None),
        (b"", None),
    ],
)
def test_kind_is_read_from_the_bytes(data, kind):
    assert detect_kind(data) == kind


MAX = 100_000


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("纪要.pdf", pdf(), None),
        ("照片.JPG", jpeg(), None),
        ("照片.jpeg", jpeg(), None),
        ("截图.png", png(), None),
        ("制度.docx", docx(), None),
        ("台账.xlsx", xlsx(), None),
        ("旧制度.doc", ole2(), None),
        ("旧台账.xls", ole2(), None),
        ("病毒.exe", b"MZ\x90", "file_type"),
        ("无扩展名", pdf(), "file_type"),
        ("假的.pdf", png(), "file_content"),  # a PNG renamed to .pdf
        ("假的.docx", xlsx(), "file_content"),  # a workbook renamed to .docx
        ("假的.png", b"just text", "file_content"),
        ("空.pdf", b"", "empty"),
        ("大.pdf", pdf() + b"x" * MAX, "too_large"),
        ("", pdf(), "required"),
    ],
)
def test_file_errors_name_the_problem(name, data, code):
    errs = file_errors(name, len(data), data if len(data) <= MAX else None, MAX, "files.0")
    if code is None:
        assert errs == []
    else:
        assert [e.code for e in errs] == [code]
        assert errs[0].field == "files.0"
        if name:
            assert name in errs[0].msg_zh


def test_exactly_the_limit_is_allowed_one_byte_more_is_not():
    data = pdf()
    assert file_errors("a.pdf", len(data), data, len(data)) == []
    assert file_errors("a.pdf", len(data), data, len(data) - 1)[0].code == "too_large"


def test_too_big_message_says_both_sizes():
    e = file_errors("大.pdf", 11 * 1024 * 1024, None, 10 * 1024 * 1024)[0]
    assert "11 MB" in e.msg_zh and "10 MB" in e.msg_zh


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("纪要.pdf", "纪要.pdf"),
        ("C:\\Users\\王\\桌面\\纪要.pdf", "纪要.pdf"),
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("a\x00b\nc.pdf", "abc.pdf"),
        ("  空格.pdf  ", "空格.pdf"),
        ("长" * 300 + ".docx", "长" * 195 + ".docx"),
    ],
)
def test_file_names_keep_only_the_name(raw, clean):
    assert clean_file_name(raw) == clean


@pytest.mark.parametrize(
    ("n", "text"), [(10, "10 字节"), (2048, "2 KB"), (1536, "1.5 KB"), (10 * 1024 * 1024, "10 MB")]
)
def test_size_text(n, text):
    assert size_text(n) == text


def _at(day: int) -> datetime:
    return datetime(2026, 7, day, tzinfo=UTC)


MET = CellItem("reviewed", "met", Decimal(1), _at(3), "张")
NOT_MET_LATER = CellItem("reviewed", "not_met", Decimal(0), _at(9), "李")
PENDING = CellItem("submitted", "", None, None)
RETURNED = CellItem("returned", "returned", None, _at(5), "王")


@pytest.mark.parametrize(
    ("items", "status", "decisive"),
    [
        ([], "none", None),
        ([PENDING], "pending", None),
        ([RETURNED], "returned", RETURNED),
        ([RETURNED, PENDING], "pending", None),
        ([MET], "met", MET),
        ([MET, PENDING], "met", MET),
        ([MET, NOT_MET_LATER], "not_met", NOT_MET_LATER),  # the latest review is in force
        ([NOT_MET_LATER, MET, RETURNED], "not_met", NOT_MET_LATER),
    ],
)
def test_cell_status(items, status, decisive):
    assert cell_status(items) == (status, decisive)


@pytest.mark.parametrize(
    ("text", "code"), [("2026", "2026"), ("2026H1", "2026H1"), ("2026h2", "2026H2")]
)
def test_evidence_periods_are_years_or_halves(text, code):
    assert parse_evidence_period(text).code == code


@pytest.mark.parametrize("text", ["2026Q3", "2026-07", "", "去年", "1999"])
def test_other_periods_are_refused_naming_the_field(text):
    with pytest.raises(DomainError) as exc:
        parse_evidence_period(text)
    assert exc.value.errors[0].field == "period"
