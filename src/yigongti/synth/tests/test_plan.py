"""The synthetic county plan: pure Python, no database."""

from __future__ import annotations

import inspect
import re
from collections import Counter, defaultdict
from datetime import date

import pytest

from yigongti.residents.rules import parse_id_number, validate_name, validate_phone
from yigongti.synth.plan import (
    COUNTY_CODE,
    SIZES,
    CountyPlan,
    ResidentSpec,
    build_plan,
    iter_residents,
)

TODAY = date(2026, 1, 1)
SEED = 20260101


def _age(birth: date, today: date = TODAY) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


@pytest.fixture(scope="module")
def tiny() -> CountyPlan:
    return build_plan(SEED, "tiny")


@pytest.fixture(scope="module")
def demo() -> CountyPlan:
    return build_plan(SEED, "demo")


@pytest.fixture(scope="module")
def demo_residents(demo: CountyPlan) -> list[ResidentSpec]:
    return list(iter_residents(demo, SEED, 20_000, today=TODAY))


# ---------------------------------------------------------------------------- the plan


def test_sizes_as_specified() -> None:
    assert SIZES["tiny"].groups == 2
    assert SIZES["tiny"].townships == 3
    assert SIZES["tiny"].villages_per_township == (2, 3)
    assert SIZES["tiny"].residents == 300
    assert SIZES["demo"].residents == 20_000
    assert SIZES["bench"].residents == 1_000_000
    assert SIZES["bench"].townships == SIZES["demo"].townships
    assert SIZES["bench"].groups == SIZES["demo"].groups


def test_build_is_deterministic() -> None:
    assert build_plan(SEED, "tiny") == build_plan(SEED, "tiny")
    assert build_plan(SEED, "demo") == build_plan(SEED, "demo")
    assert build_plan(SEED, "tiny") != build_plan(SEED + 1, "tiny")


def test_bench_tree_is_the_demo_tree() -> None:
    assert build_plan(SEED, "bench") == build_plan(SEED, "demo")


def test_unknown_size_is_refused() -> None:
    with pytest.raises(KeyError):
        build_plan(SEED, "huge")


def test_tiny_shape(tiny: CountyPlan) -> None:
    assert len(tiny.groups) == 2
    assert len(tiny.townships) == 3
    for township in tiny.townships:
        villages = [v for v in tiny.villages if v.parent_code == township.code]
        assert 2 <= len(villages) <= 3


def test_demo_shape(demo: CountyPlan) -> None:
    assert len(demo.groups) == 4
    assert len(demo.townships) == 23
    assert 400 <= len(demo.villages) <= 600
    per_township = Counter(v.parent_code for v in demo.villages)
    assert all(18 <= c <= 26 for c in per_township.values())
    kinds = Counter(f.kind for f in demo.facilities)
    assert kinds["county_hospital"] == 4
    assert kinds["township_centre"] == 23
    assert kinds["village_clinic"] == len(demo.villages)
    assert 1 <= kinds["branch"] <= 2


@pytest.mark.parametrize("size", ["tiny", "demo"])
def test_division_codes_well_formed_and_nested(size: str) -> None:
    plan = build_plan(SEED, size)
    assert plan.county.code == COUNTY_CODE == "419901"
    assert plan.county.name == "示范县"
    assert plan.county.level == "county"
    assert plan.county.parent_code is None
    codes = [d.code for d in plan.divisions]
    assert len(codes) == len(set(codes))
    township_codes = {t.code for t in plan.townships}
    for t in plan.townships:
        assert re.fullmatch(r"\d{9}", t.code)
        assert t.level == "township"
        assert t.parent_code == COUNTY_CODE
        assert t.code.startswith(COUNTY_CODE)
        assert t.name[-1] in "镇乡"
    for v in plan.villages:
        assert re.fullmatch(r"\d{12}", v.code)
        assert v.level == "village"
        assert v.parent_code in township_codes
        assert v.code.startswith(v.parent_code)
        assert v.name.endswith("村")
    # Names unique within the county (townships) and within each township (villages).
    assert len({t.name for t in plan.townships}) == len(plan.townships)
    by_township = defaultdict(list)
    for v in plan.villages:
        by_township[v.parent_code].append(v.name)
    for names in by_township.values():
        assert len(names) == len(set(names))


@pytest.mark.parametrize("size", ["tiny", "demo"])
def test_facilities_well_formed(size: str) -> None:
    plan = build_plan(SEED, size)
    codes = [f.code for f in plan.facilities]
    assert len(codes) == len(set(codes))
    by_code = plan.facility_map()
    divisions = {d.code: d for d in plan.divisions}
    for f in plan.facilities:
        assert f.kind in {"county_hospital", "branch", "township_centre", "village_clinic"}
        assert 0 <= f.group_index < len(plan.groups)
        assert f.division_code in divisions
        if f.kind == "county_hospital":
            assert re.fullmatch(r"H\d{2}", f.code)
            assert f.supervisor_code is None
            assert divisions[f.division_code].level == "county"
        else:
            assert f.supervisor_code in by_code
            supervisor = by_code[f.supervisor_code]
            assert supervisor.group_index == f.group_index
        if f.kind == "branch":
            assert by_code[f.supervisor_code or ""].kind == "county_hospital"
            assert divisions[f.division_code].level == "township"
            assert f.name.endswith("分院")
        if f.kind == "township_centre":
            assert f.code == "T" + f.division_code
            assert by_code[f.supervisor_code or ""].kind == "county_hospital"
            assert f.name == divisions[f.division_code].name + "卫生院"
        if f.kind == "village_clinic":
            assert f.code == "V" + f.division_code
            assert f.name == divisions[f.division_code].name + "卫生室"


@pytest.mark.parametrize("size", ["tiny", "demo"])
def test_every_village_has_one_clinic_under_its_township_centre(size: str) -> None:
    plan = build_plan(SEED, size)
    by_code = plan.facility_map()
    clinics = defaultdict(list)
    for f in plan.facilities:
        if f.kind == "village_clinic":
            clinics[f.division_code].append(f)
    assert set(clinics) == {v.code for v in plan.villages}
    centre_of = {f.division_code: f for f in plan.facilities if f.kind == "township_centre"}
    assert set(centre_of) == {t.code for t in plan.townships}
    for village in plan.villages:
        (clinic,) = clinics[village.code]
        assert village.parent_code is not None
        centre = centre_of[village.parent_code]
        assert clinic.supervisor_code == centre.code
        assert by_code[clinic.supervisor_code].kind == "township_centre"
        assert clinic.group_index == centre.group_index


@pytest.mark.parametrize("size", ["tiny", "demo"])
def test_each_group_has_a_lead_county_hospital(size: str) -> None:
    plan = build_plan(SEED, size)
    by_code = plan.facility_map()
    assert [g.index for g in plan.groups] == list(range(len(plan.groups)))
    assert len({g.name for g in plan.groups}) == len(plan.groups)
    assert len({g.lead_code for g in plan.groups}) == len(plan.groups)
    for group in plan.groups:
        lead = by_code[group.lead_code]
        assert lead.kind == "county_hospital"
        assert lead.group_index == group.index
        assert group.name == lead.name + "医疗健康服务集团"
        centres = [
            f
            for f in plan.facilities
            if f.group_index == group.index and f.kind == "township_centre"
        ]
        assert centres, "every group has at least one township"
    assert by_code["H01"].name == "示范县人民医院"


def test_staff(demo: CountyPlan) -> None:
    by_code = demo.facility_map()
    keys = [s.key for s in demo.staff]
    assert len(keys) == len(set(keys))
    per_facility = Counter(s.facility_code for s in demo.staff)
    for f in demo.facilities:
        count = per_facility[f.code]
        if f.kind == "county_hospital":
            assert 10 <= count <= 13
        elif f.kind == "branch":
            assert 3 <= count <= 8
        elif f.kind == "township_centre":
            assert 4 <= count <= 6
        else:
            assert 1 <= count <= 2
    for s in demo.staff:
        assert s.facility_code in by_code
        assert s.key.startswith(s.facility_code + "-")
        assert s.sex in {"1", "2"}
        assert s.title and s.specialty and s.department
        assert validate_name(s.name) == s.name
        if by_code[s.facility_code].kind == "village_clinic":
            assert s.title == "乡村医生"
    county_departments = {s.department for s in demo.staff if s.facility_code == "H01"}
    assert {"内科", "外科", "妇产科", "儿科", "心内科", "内分泌科"} <= county_departments
    centre_departments = Counter(
        s.department for s in demo.staff if by_code[s.facility_code].kind == "township_centre"
    )
    assert centre_departments["公卫"] == 23  # one public-health physician per centre


@pytest.mark.parametrize("size", ["tiny", "demo"])
def test_groupings(size: str) -> None:
    plan = build_plan(SEED, size)
    by_code = plan.facility_map()
    kinds = Counter(g.kind for g in plan.groupings)
    assert kinds["alliance"] >= 2
    assert kinds["grid"] >= 1
    assert len({g.name for g in plan.groupings}) == len(plan.groupings)
    for grouping in plan.groupings:
        assert grouping.kind in {"alliance", "grid"}
        assert by_code[grouping.lead_code].kind == "county_hospital"
        assert grouping.member_codes
        assert len(set(grouping.member_codes)) == len(grouping.member_codes)
        assert all(code in by_code for code in grouping.member_codes)
        assert grouping.lead_code not in grouping.member_codes
        if grouping.kind == "grid":
            assert all(by_code[c].kind == "village_clinic" for c in grouping.member_codes)
    chest = next(g for g in plan.groupings if g.name == "示范县胸痛专科联盟")
    centres = {f.code for f in plan.facilities if f.kind == "township_centre"}
    assert set(chest.member_codes) == centres
    # Grids together cover every village clinic exactly once.
    gridded = [c for g in plan.groupings if g.kind == "grid" for c in g.member_codes]
    assert sorted(gridded) == sorted(f.code for f in plan.facilities if f.kind == "village_clinic")


# ---------------------------------------------------------------------------- residents


def test_iter_residents_is_a_generator(tiny: CountyPlan) -> None:
    stream = iter_residents(tiny, SEED, 10, today=TODAY)
    assert inspect.isgenerator(stream)
    assert isinstance(next(stream), ResidentSpec)


def test_residents_deterministic(tiny: CountyPlan) -> None:
    n = SIZES["tiny"].residents
    first = list(iter_residents(tiny, SEED, n, today=TODAY))
    assert first == list(iter_residents(build_plan(SEED, "tiny"), SEED, n, today=TODAY))
    assert first != list(iter_residents(tiny, SEED + 1, n, today=TODAY))
    assert len(first) == n
    assert [r.index for r in first] == list(range(n))
    assert {r.village_code for r in first} <= {v.code for v in tiny.villages}


def test_zero_residents(tiny: CountyPlan) -> None:
    assert list(iter_residents(tiny, SEED, 0, today=TODAY)) == []


def test_id_numbers_valid_unique_and_agree(demo_residents: list[ResidentSpec]) -> None:
    numbers = [r.doc_number for r in demo_residents if r.doc_type == "id_card"]
    assert len(numbers) == len(set(numbers))
    assert len(numbers) > 0.97 * len(demo_residents)
    elsewhere = 0
    for r in demo_residents:
        if r.doc_type != "id_card":
            continue
        parsed = parse_id_number(r.doc_number, today=TODAY)
        assert parsed.number == r.doc_number
        assert parsed.sex == r.sex
        assert parsed.birth_date == r.birth_date
        if parsed.address_code != COUNTY_CODE:
            elsewhere += 1
            assert not parsed.address_code.startswith("41")
    assert 0 < elsewhere < 0.1 * len(numbers)


def test_other_documents(demo_residents: list[ResidentSpec]) -> None:
    doc_types = Counter(r.doc_type for r in demo_residents)
    assert set(doc_types) <= {"id_card", "birth_certificate", "none", "passport"}
    assert doc_types["birth_certificate"] > 0
    assert doc_types["none"] > 0
    assert 0 < doc_types["passport"] < 30
    certs = [r.doc_number for r in demo_residents if r.doc_type == "birth_certificate"]
    assert len(certs) == len(set(certs))
    for r in demo_residents:
        if r.doc_type in {"birth_certificate", "none"}:
            assert _age(r.birth_date) == 0
        if r.doc_type == "birth_certificate":
            assert re.fullmatch(r"Q\d{9}", r.doc_number)
        elif r.doc_type == "none":
            assert r.doc_number == ""
        elif r.doc_type == "passport":
            assert re.fullmatch(r"E\d{8}", r.doc_number)


def test_age_pyramid(demo_residents: list[ResidentSpec]) -> None:
    ages = [_age(r.birth_date) for r in demo_residents]
    assert all(0 <= a <= 105 for a in ages)
    assert all(r.birth_date <= TODAY for r in demo_residents)
    n = len(ages)
    assert 0.14 <= sum(a >= 65 for a in ages) / n <= 0.24
    assert 0.10 <= sum(a < 15 for a in ages) / n <= 0.25
    assert any(a == 0 for a in ages)
    # Rural shape: more people aged 50-59 than 20-29 (young adults away for work).
    assert sum(50 <= a < 60 for a in ages) > sum(20 <= a < 30 for a in ages)
    assert 0.45 <= sum(r.sex == "1" for r in demo_residents) / n <= 0.55


def test_households(demo_residents: list[ResidentSpec]) -> None:
    households: dict[str, list[ResidentSpec]] = defaultdict(list)
    for r in demo_residents:
        households[r.household_key].append(r)
    sizes = [len(m) for m in households.values()]
    assert all(1 <= s <= 6 for s in sizes)
    assert 2.5 <= len(demo_residents) / len(households) <= 3.5
    shared_surname = 0
    for key, members in households.items():
        assert key.startswith(members[0].village_code + "-")
        assert len({m.village_code for m in members}) == 1
        assert len({m.address for m in members}) == 1
        assert members[0].address.startswith("示范县")
        assert members[0].address.endswith("号")
        if len(members) > 1:
            surnames = Counter(m.name[0] for m in members)
            if surnames.most_common(1)[0][1] >= 2:
                shared_surname += 1
    multi = sum(s > 1 for s in sizes)
    assert shared_surname > 0.6 * multi


def test_names(demo_residents: list[ResidentSpec]) -> None:
    names = Counter(r.name for r in demo_residents)
    assert "张伟" in names
    assert names.most_common(1)[0][1] > 1  # common names repeat
    for name in names:
        assert 2 <= len(name) <= 4
        assert validate_name(name) == name
    surnames = Counter(r.name[0] for r in demo_residents)
    assert len(surnames) >= 60
    assert {"王", "李", "张"} <= {s for s, _ in surnames.most_common(5)}


def test_phones(demo_residents: list[ResidentSpec]) -> None:
    for r in demo_residents:
        if r.phone:
            assert re.fullmatch(r"1[3-9]\d{9}", r.phone)
            assert validate_phone(r.phone) == r.phone
    adults = [r for r in demo_residents if 18 <= _age(r.birth_date) < 65]
    assert sum(bool(r.phone) for r in adults) / len(adults) > 0.9
    # Phones of different households never collide; within a household they may be shared.
    owners: dict[str, set[str]] = defaultdict(set)
    for r in demo_residents:
        if r.phone:
            owners[r.phone].add(r.household_key)
    assert all(len(keys) == 1 for keys in owners.values())
    adult_phones = {(r.household_key, r.phone) for r in demo_residents if _age(r.birth_date) >= 18}
    babies = [r for r in demo_residents if _age(r.birth_date) < 6 and r.phone]
    assert babies, "young children carry a guardian's phone"
    for baby in babies:
        assert (baby.household_key, baby.phone) in adult_phones


def test_demo_residents_generate(demo: CountyPlan) -> None:
    count = sum(1 for _ in iter_residents(demo, SEED + 7, 20_000, today=date(2025, 6, 30)))
    assert count == 20_000
