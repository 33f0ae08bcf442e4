"""Table-driven tests of the contract rules (DOMAIN.md §4; pro-rata definition in
docs/contracts.md)."""

from __future__ import annotations

from datetime import date

import pytest

from yigongti.contracts import rules


@pytest.mark.parametrize(
    ("start", "end", "ok"),
    [
        # DOMAIN.md §4: "Term: in principle at least one year"
        (date(2026, 1, 1), date(2026, 12, 31), True),  # exactly one year
        (date(2026, 1, 1), date(2026, 12, 30), False),  # one day short
        (date(2026, 3, 1), date(2027, 2, 28), True),
        (date(2024, 2, 29), date(2025, 2, 27), True),  # leap day: 28 Feb is the anniversary
        (date(2024, 2, 29), date(2025, 2, 26), False),
        (date(2026, 1, 1), date(2028, 12, 31), True),
    ],
)
def test_term_must_be_at_least_one_year(start: date, end: date, ok: bool) -> None:
    if ok:
        rules.check_term(start, end)
    else:
        with pytest.raises(rules.RuleError) as exc:
            rules.check_term(start, end)
        assert exc.value.field == "end_date"


@pytest.mark.parametrize(
    ("today", "year_start", "year_end"),
    [
        (date(2026, 1, 1), date(2026, 1, 1), date(2026, 12, 31)),
        (date(2026, 12, 31), date(2026, 1, 1), date(2026, 12, 31)),
        (date(2027, 1, 1), date(2027, 1, 1), date(2027, 12, 31)),  # second year of a 3-year term
        (date(2025, 6, 1), date(2026, 1, 1), date(2026, 12, 31)),  # before the start: year 1
        (date(2030, 5, 1), date(2028, 1, 1), date(2028, 12, 31)),  # after the end: the last year
    ],
)
def test_contract_year(today: date, year_start: date, year_end: date) -> None:
    y = rules.contract_year(date(2026, 1, 1), date(2028, 12, 31), today)
    assert (y.start, y.end) == (year_start, year_end)


YEAR = rules.ContractYear(date(2026, 1, 1), date(2026, 12, 31))  # 365 days


@pytest.mark.parametrize(
    ("promised", "today", "due"),
    [
        (4, date(2025, 12, 31), 0),  # before the year
        (4, date(2026, 1, 1), 0),  # first day: nothing due yet
        (4, date(2026, 3, 31), 0),  # 90/365 of the year: 4×90//365 = 0
        (4, date(2026, 4, 2), 1),  # 92 days: 4×92 = 368 ≥ 365 → the first one is due
        (4, date(2026, 7, 2), 2),
        (4, date(2026, 12, 30), 3),
        (4, date(2026, 12, 31), 4),  # last day: everything promised
        (1, date(2026, 12, 30), 0),  # the annual check is due by the end of the year
        (1, date(2026, 12, 31), 1),
        (2, date(2026, 7, 2), 1),
    ],
)
def test_due_so_far_is_pro_rata_rounded_down(promised: int, today: date, due: int) -> None:
    assert rules.due_so_far(promised, YEAR, today) == due


@pytest.mark.parametrize(
    ("promised", "delivered", "today", "overdue"),
    [
        (4, 0, date(2026, 7, 2), 2),
        (4, 1, date(2026, 7, 2), 1),
        (4, 3, date(2026, 7, 2), 0),  # ahead of schedule is not negative
        (4, 9, date(2026, 12, 31), 0),
    ],
)
def test_overdue(promised: int, delivered: int, today: date, overdue: int) -> None:
    assert rules.overdue(promised, delivered, YEAR, today) == overdue


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ("x", "services"),
        ([{"service": "massage", "count": 1}], "services.0.service"),
        ([{"service": "home_visit", "count": 0}], "services.0.count"),
        ([{"service": "home_visit", "count": "a"}], "services.0.count"),
        ([{"service": "home_visit", "count": 1}, {"service": "home_visit", "count": 2}],
         "services.1.service"),
    ],
)  # fmt: skip
def test_bad_services_name_the_field(raw: object, field: str) -> None:
    with pytest.raises(rules.RuleError) as exc:
        rules.parse_services(raw)
    assert exc.value.field == field


@pytest.mark.parametrize(
    ("birth", "groups"),
    [
        # DOMAIN.md §4: people 65+, children 0–6
        (date(1961, 11, 23), {"elderly"}),  # 65 today
        (date(1961, 11, 24), set()),  # 65 tomorrow
        (date(2019, 11, 24), {"child"}),  # 6 years old, 7 tomorrow
        (date(2019, 11, 23), set()),  # 7 today
        (date(2026, 1, 1), {"child"}),
    ],
)
def test_age_groups(birth: date, groups: set[str]) -> None:
    today = date(2026, 11, 23)
    assert rules.age_groups(birth, today) == groups
    assert (birth <= rules.elderly_born_on_or_before(today)) == ("elderly" in groups)
    assert (birth > rules.child_born_after(today)) == ("child" in groups)


@pytest.mark.parametrize(
    ("codes", "groups"),
    [
        (["I10"], {"hypertension"}),
        (["I11.9", "E11.9"], {"hypertension", "diabetes"}),
        (["I20.9"], set()),  # angina is not hypertension
        (["F20.9"], {"mental"}),
        (["F32.9"], set()),  # depression is not a severe mental illness of the register
        (["A15.0"], {"tuberculosis"}),
        (["Z34.9"], {"pregnant"}),
        (["O24.4"], {"pregnant"}),
    ],
)
def test_groups_of_codes(codes: list[str], groups: set[str]) -> None:
    assert rules.groups_of_codes(codes) == groups
