"""Plausibility and prescription rules (records/rules.py), table-driven with the edges."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from yigongti.records import rules


@pytest.mark.parametrize(
    ("kind", "value", "value2", "ok", "field"),
    [
        ("bp", 120, 80, True, None),
        ("bp", 250, 201, False, "diastolic"),
        ("bp", 300, 199, True, None),  # both at/inside their edges
        ("bp", 50, 20, True, None),
        ("bp", 49, 30, False, "systolic"),
        ("bp", 999, 5, False, "systolic"),  # the example
        ("bp", 140, 19, False, "diastolic"),
        ("bp", 120, 120, False, "diastolic"),
        ("bp", "abc", 80, False, "systolic"),
        ("bp", 120, None, False, "diastolic"),
        ("pulse", 400, None, False, "pulse"),  # the example
        ("pulse", 250, None, True, None),
        ("pulse", 20, None, True, None),
        ("pulse", 19, None, False, "pulse"),
        ("glucose_fasting", 0, None, False, "glucose_fasting"),  # the example
        ("glucose_fasting", 1.0, None, True, None),
        ("glucose_fasting", 3.9, None, True, None),
        ("glucose_fasting", 60, None, True, None),
        ("glucose_fasting", 60.1, None, False, "glucose_fasting"),
        ("temperature", 36.5, None, True, None),
        ("temperature", 45.1, None, False, "temperature"),
        ("height", 250, None, True, None),
        ("weight", 0.4, None, False, "weight"),
        ("waist", 85, None, True, None),
        ("hba1c", 6.5, None, True, None),
        ("temperature", float("nan"), None, False, "temperature"),
        ("pressure", 1, None, False, "kind"),
    ],
)
def test_vital_ranges(kind, value, value2, ok, field):
    if ok:
        assert rules.check_vital(kind, value, value2)[0] == float(value)
    else:
        with pytest.raises(rules.RuleError) as exc:
            rules.check_vital(kind, value, value2)
        assert exc.value.field == field


def test_codes_follow_design_md():
    assert rules.VITALS["bp"].code == "85354-9" and rules.VITALS["bp"].unit == "mm[Hg]"
    assert (rules.SBP_CODE, rules.DBP_CODE) == ("8480-6", "8462-4")
    assert rules.VITALS["glucose_fasting"].code == "14771-0"
    assert rules.VITALS["glucose_fasting"].unit == "mmol/L"


@pytest.mark.parametrize(
    ("weight", "height", "bmi"), [(70, 170, 24.2), (60, 160, 23.4), (90, 175, 29.4)]
)
def test_bmi(weight, height, bmi):
    assert rules.bmi(weight, height) == bmi


NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
BIRTH = date(1960, 5, 17)
BIRTH_START = datetime(1960, 5, 16, 16, tzinfo=UTC)  # 00:00 in Beijing


@pytest.mark.parametrize(
    ("when", "code"),
    [
        (NOW, None),
        (NOW + rules.CLOCK_SKEW, None),  # a clock a little ahead is tolerated
        (NOW + rules.CLOCK_SKEW + timedelta(seconds=1), "in_future"),
        (NOW + timedelta(days=1), "in_future"),
        (BIRTH_START, None),  # the day of birth counts
        (BIRTH_START - timedelta(seconds=1), "before_birth"),
    ],
)
def test_clinical_time(when, code):
    if code is None:
        rules.check_clinical_time(
            "started_at", when, now=NOW, birth_date=BIRTH, birth_day_start=BIRTH_START
        )
    else:
        with pytest.raises(rules.RuleError) as exc:
            rules.check_clinical_time(
                "started_at", when, now=NOW, birth_date=BIRTH, birth_day_start=BIRTH_START
            )
        assert (exc.value.code, exc.value.field) == (code, "started_at")


@pytest.mark.parametrize(
    ("dose", "freq", "days", "total"),
    [
        (Decimal(1), "tid", 7, Decimal(21)),
        (Decimal(2), "bid", 28, Decimal(112)),
        (Decimal("0.5"), "qd", 3, Decimal(2)),  # half tablets round up to whole ones
        (Decimal(1), "qw", 28, Decimal(4)),
        (Decimal(1), "prn", 5, None),  # as needed: the total must be given
        (Decimal(1), "st", 1, None),
    ],
)
def test_total_quantity(dose, freq, days, total):
    assert rules.total_quantity(dose, freq, days) == total


@pytest.mark.parametrize(
    ("check", "value", "ok"),
    [
        (rules.check_days, 1, True),
        (rules.check_days, 84, True),
        (rules.check_days, 85, False),
        (rules.check_days, 0, False),
        (rules.check_days, "x", False),
        (rules.check_dose, "0", False),
        (rules.check_dose, "-1", False),
        (rules.check_dose, "0.25", True),
        (rules.check_dose, "abc", False),
        (rules.check_frequency, "TID", True),
        (rules.check_frequency, "thrice", False),
        (rules.check_route, "po", True),
        (rules.check_route, "", True),
        (rules.check_route, "xx", False),
    ],
)
def test_prescription_checks(check, value, ok):
    if ok:
        check(value)
    else:
        with pytest.raises(rules.RuleError):
            check(value)


@pytest.mark.parametrize(
    ("raw", "encoding", "code"),
    [
        ("编码,名称\nI10,高血压\n".encode(), "utf-8", None),
        ("\ufeff编码,名称\n".encode(), "utf-8", None),  # Excel's UTF-8 with BOM
        ("编码,名称\nI10,高血压\n".encode("gbk"), "gb18030", None),
        (b"code,name\nI10,x\n", "utf-8", None),
        ("编码\n".encode() + "血压\n".encode("gbk"), None, "mixed_encoding"),
        (b"code\n\xff\xfe\xff\n", None, "bad_encoding"),
    ],
)
def test_decode_upload(raw, encoding, code):
    if code is None:
        decoded = rules.decode_upload(raw)
        assert decoded.encoding == encoding
        assert "\ufeff" not in decoded.text
    else:
        with pytest.raises(rules.RuleError) as exc:
            rules.decode_upload(raw)
        assert exc.value.code == code and exc.value.field == "file"


@pytest.mark.parametrize(
    ("text", "initials"),
    [("高血压", "gxy"), ("2型糖尿病不伴有并发症", "2xtnbbbybfz"), ("盐酸二甲双胍片", "ysejsgp")],
)
def test_initials(text, initials):
    assert rules.initials_of(text) == initials


def test_bulk_import_digest_matches_the_actions_digest():
    """A resource sent once by POST and once in an NDJSON file must be one resource."""
    from yigongti.records import actions, bulk

    data = actions.ObservationInput(
        kind="bp",
        value=150,
        value2=95,
        effective_at=datetime(2026, 5, 1, 8, tzinfo=UTC),
        device_serial="BP1",
        provenance=actions.Provenance("fhir", "HIS", "X1"),
    )
    assert bulk.digest_of(data) == actions.digest(data)
    data.value = 151
    assert bulk.digest_of(data) == actions.digest(data)
