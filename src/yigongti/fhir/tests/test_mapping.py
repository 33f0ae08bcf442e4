"""Pure mapping rules: names, genders, dates, error locations (no database)."""

from __future__ import annotations

from datetime import date

import pytest

from yigongti.fhir.mapping import GENDER_TO_SEX, SEX_TO_GENDER, name_from_fhir, split_name
from yigongti.fhir.outcome import pydantic_location
from yigongti.fhir.search import date_range


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("张伟", ("张", "伟")),
        ("王秀英", ("王", "秀英")),
        ("欧阳娜娜", ("欧阳", "娜娜")),
        ("司马光", ("司马", "光")),
        ("诸葛亮", ("诸葛", "亮")),
        ("欧阳", ("欧", "阳")),  # a two-character name is surname + given name
        ("买买提·艾力", None),  # minority names with "·" are not split
        ("John Smith", None),
        ("张", None),
    ],
)
def test_split_name_knows_compound_surnames(name, parts):
    assert split_name(name) == parts


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        ([{"text": "李四"}], "李四"),
        ([{"family": "欧阳", "given": ["娜娜"]}], "欧阳娜娜"),
        ([{"family": "Smith", "given": ["John"]}], "John Smith"),
        ([{"use": "nickname", "text": "小李"}, {"use": "official", "text": "李明"}], "李明"),
        ([], ""),
    ],
)
def test_name_from_fhir_prefers_the_official_text(names, expected):
    assert name_from_fhir(names) == expected


def test_genders_map_both_ways_to_gb_t_2261():
    assert GENDER_TO_SEX == {"male": "1", "female": "2", "unknown": "0", "other": "9"}
    assert {SEX_TO_GENDER[s] for s in GENDER_TO_SEX.values()} == set(GENDER_TO_SEX)


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("1960", date(1960, 1, 1), date(1960, 12, 31)),
        ("1960-02", date(1960, 2, 1), date(1960, 2, 29)),
        ("1961-02", date(1961, 2, 1), date(1961, 2, 28)),
        ("1960-05-17", date(1960, 5, 17), date(1960, 5, 17)),
        ("1960-05-17T08:00:00+08:00", date(1960, 5, 17), date(1960, 5, 17)),
    ],
)
def test_date_range_covers_the_precision_given(text, start, end):
    assert date_range(text) == (start, end)


@pytest.mark.parametrize("text", ["60", "1960-13", "1960-02-30", "yesterday"])
def test_date_range_refuses_what_is_not_a_date(text):
    with pytest.raises(ValueError):
        date_range(text)


def test_pydantic_locations_become_fhir_paths():
    assert pydantic_location("Patient", ("name", 0, "given")) == "Patient.name[0].given"
    assert pydantic_location("Patient", ("resource_type",)) == "Patient.resourceType"
    assert pydantic_location("Patient", ()) == "Patient"
