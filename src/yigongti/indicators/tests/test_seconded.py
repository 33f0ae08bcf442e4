"""每万人口派驻基层的中级及以上职称医师数 (DOMAIN.md §10, 同质化) in the fact layer, on the tiny
hand-built group (conftest.py): residents a, b, e live in village 1 (township 1), c, d, f in
village 2 (township 2); six in the group's catchment."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from yigongti.consults import queries as consults_queries
from yigongti.consults.models import Secondment
from yigongti.core.actor import Actor
from yigongti.indicators import facts, queries
from yigongti.indicators.rules import Level, parse_period
from yigongti.network.models import Facility, Staff

from .conftest import YEAR_2025, Tiny

SYSTEM = Actor.system("test")


def second(t: Tiny, doctor: Staff, to: Facility, kind: str, start: date, end: date) -> Secondment:
    return Secondment.objects.create(
        staff=doctor,
        title=doctor.title,
        kind=kind,
        from_facility=t.hospital,
        to_facility=to,
        starts_on=start,
        ends_on=end,
    )


@pytest.fixture
def roster(tiny: Tiny) -> Tiny:
    t = tiny
    doc1 = Staff.objects.create(name="派驻甲", facility=t.hospital, title="主治医师")
    doc2 = Staff.objects.create(name="派驻乙", facility=t.hospital, title="副主任医师")
    doc3 = Staff.objects.create(name="派驻丙", facility=t.hospital, title="住院医师")
    # doc1: centre 1 in H1, then village clinic 1 in Q3 (counted once a period, at the later)
    second(t, doc1, t.centre1, "secondment", date(2025, 1, 1), date(2025, 6, 30))
    second(t, doc1, t.clinic1, "support", date(2025, 7, 1), date(2025, 9, 30))
    # doc2: a mobile clinic in H1 (a visit, not counted), seconded to centre 2 in Q4
    second(t, doc2, t.centre2, "mobile", date(2025, 3, 1), date(2025, 3, 2))
    second(t, doc2, t.centre2, "secondment", date(2025, 10, 1), date(2025, 12, 31))
    # doc3: a resident physician (住院医师): below intermediate title, not counted
    second(t, doc3, t.centre1, "secondment", date(2025, 1, 1), date(2025, 12, 31))
    return t


def val(t: Tiny, period: str, level: Level, unit: int | None) -> tuple[object, ...]:
    got = queries.value_of("seconded_per_10k", parse_period(period), level, unit, SYSTEM)
    return got.status, got.numerator, got.denominator, got.value


@pytest.mark.parametrize(
    ("period", "level", "unit", "expected"),
    [
        # 2025: doc1 and doc2 ÷ 6 residents × 10 000
        ("2025", Level.GROUP, "group", ("ok", 2, 6, Decimal("3333.33"))),
        # doc1's later secondment (village clinic 1) places him in village 1 / township 1
        ("2025", Level.TOWNSHIP, "t1", ("ok", 1, 3, Decimal("3333.33"))),
        ("2025", Level.VILLAGE, "v1", ("ok", 1, 3, Decimal("3333.33"))),
        ("2025", Level.TOWNSHIP, "t2", ("ok", 1, 3, Decimal("3333.33"))),
        # H1: only doc1, at centre 1 (township 1, no village); doc2's mobile clinic not counted
        ("2025H1", Level.GROUP, "group", ("ok", 1, 6, Decimal("1666.67"))),
        ("2025H1", Level.VILLAGE, "v1", ("ok", 0, 3, Decimal("0.00"))),
        ("2025Q4", Level.TOWNSHIP, "t2", ("ok", 1, 3, Decimal("3333.33"))),
        ("2025-08", Level.GROUP, "group", ("ok", 1, 6, Decimal("1666.67"))),
    ],
)
def test_seconded_per_10k_by_hand(roster, period, level, unit, expected):
    facts.rebuild_facts(YEAR_2025)
    units = {"group": roster.group.pk, "t1": roster.t1.pk, "t2": roster.t2.pk, "v1": roster.v1.pk}
    assert val(roster, period, level, units[unit]) == expected


def test_the_fact_layer_agrees_with_the_dispatch_page(roster):
    facts.rebuild_facts(YEAR_2025)
    direct = consults_queries.seconded_doctors_per_10k(
        date(2025, 1, 1), date(2025, 12, 31), area="group", area_id=roster.group.pk
    )
    assert (direct.numerator, direct.denominator) == (2, 6)
    assert val(roster, "2025", Level.GROUP, roster.group.pk)[1:3] == (2, 6)


def test_per_facility_it_does_not_apply(roster):
    facts.rebuild_facts(YEAR_2025)
    assert val(roster, "2025", Level.FACILITY, roster.centre1.pk)[0] == "not_applicable"


def test_no_roster_kept_is_missing_not_zero(tiny):
    facts.rebuild_facts(YEAR_2025)
    status, _num, den, value = val(tiny, "2025", Level.GROUP, tiny.group.pk)
    assert (status, den, value) == ("no_data", 0, None)


def test_drilldown_lists_the_doctors_by_name_without_resident_identifiers(roster):
    facts.rebuild_facts(YEAR_2025)
    d = queries.drilldown(
        SYSTEM, "seconded_per_10k", parse_period("2025"), Level.GROUP, roster.group.pk
    )
    assert d["person"] == "staff" and d["total"] == 2
    assert sorted(r["name"] for r in d["rows"]) == ["派驻乙", "派驻甲"]
    assert all(r["resident_id"] is None and r["id_number"] == "" for r in d["rows"])
    # doc1's row is his later (village clinic) secondment
    doc1 = next(r for r in d["rows"] if r["name"] == "派驻甲")
    assert "测试一村卫生室" in doc1["cells"]


def test_ending_a_secondment_early_is_picked_up_by_the_incremental_refresh(roster):
    from django.utils import timezone

    facts.rebuild_facts(YEAR_2025)
    mark = timezone.now()
    s = Secondment.objects.get(staff__name="派驻乙", kind="secondment")
    # recalled after October: still counted in Q4, but no longer in December
    Secondment.objects.filter(pk=s.pk).update(ends_on=date(2025, 10, 31), updated_at=timezone.now())
    _, months = facts.refresh_facts(since=mark)
    assert date(2025, 10, 1) in months and date(2025, 12, 1) in months
    assert val(roster, "2025-12", Level.TOWNSHIP, roster.t2.pk)[1] == 0
    assert val(roster, "2025Q4", Level.TOWNSHIP, roster.t2.pk)[1] == 1
