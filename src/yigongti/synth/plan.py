"""The synthetic county, as plain data: divisions, groups, facilities, staff, groupings and
a stream of residents. Pure Python, no Django, no database.

Everything is a function of ``(seed, size)`` (and ``today`` for residents): each part draws
from its own ``random.Random`` seeded with a string derived from the seed, never from the
global generator or the clock, so the same arguments always give the same county.

The residents are a generator because the benchmark county has a million of them; the
per-row work is kept small (precomputed tables, bisect on cumulative weights, a cache of
``date`` objects).
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date
from itertools import accumulate

from yigongti.residents.rules import make_id_number

COUNTY_CODE = "419901"
COUNTY_NAME = "示范县"
DEFAULT_SEED = 20260101


# --------------------------------------------------------------------------------------------
# Data classes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SizeSpec:
    groups: int
    townships: int
    villages_per_township: tuple[int, int]  # inclusive range
    residents: int


SIZES: dict[str, SizeSpec] = {
    "tiny": SizeSpec(groups=2, townships=3, villages_per_township=(2, 3), residents=300),
    "demo": SizeSpec(groups=4, townships=23, villages_per_township=(18, 26), residents=20_000),
    "bench": SizeSpec(groups=4, townships=23, villages_per_township=(18, 26), residents=1_000_000),
}


@dataclass(frozen=True)
class Division:
    code: str
    name: str
    level: str  # "county" | "township" | "village"
    parent_code: str | None


@dataclass(frozen=True)
class FacilitySpec:
    code: str
    name: str
    kind: str  # "county_hospital" | "branch" | "township_centre" | "village_clinic"
    group_index: int
    division_code: str
    supervisor_code: str | None


@dataclass(frozen=True)
class GroupSpec:
    index: int
    name: str
    lead_code: str


@dataclass(frozen=True)
class StaffSpec:
    key: str
    name: str
    sex: str  # "1" male, "2" female (GB/T 2261.1)
    facility_code: str
    title: str
    specialty: str
    department: str


@dataclass(frozen=True)
class GroupingSpec:
    name: str
    kind: str  # "alliance" | "grid"
    lead_code: str
    member_codes: tuple[str, ...]


@dataclass(frozen=True)
class CountyPlan:
    county: Division
    townships: list[Division]
    villages: list[Division]
    groups: list[GroupSpec]
    facilities: list[FacilitySpec]
    staff: list[StaffSpec]
    groupings: list[GroupingSpec]

    @property
    def divisions(self) -> list[Division]:
        """County, townships and villages, parents before children."""
        return [self.county, *self.townships, *self.villages]

    def facility_map(self) -> dict[str, FacilitySpec]:
        return {f.code: f for f in self.facilities}


@dataclass(frozen=True, slots=True)
class ResidentSpec:
    index: int
    name: str
    sex: str  # "1" male, "2" female
    birth_date: date
    doc_type: str  # "id_card" | "birth_certificate" | "none" | "passport"
    doc_number: str
    phone: str
    village_code: str
    household_key: str
    address: str


# --------------------------------------------------------------------------------------------
# Name tables
# --------------------------------------------------------------------------------------------

# Surnames with approximate national frequencies (per mille, rounded; census-style order),
# including a few compound and rare ones and the polyphonic 曾 / 单 / 仇 / 解 / 查.
_SURNAME_TABLE = """
王 71  李 70  张 67  刘 51  陈 46  杨 32  黄 25  赵 22  吴 21  周 20
徐 17  孙 15  马 15  朱 14  胡 13  郭 13  何 12  林 12  高 11  罗 11
郑 11  梁 11  谢 10  宋 9  唐 8  许 8  韩 8  冯 8  邓 8  曹 7
彭 7  曾 7  肖 7  田 7  董 6  袁 6  潘 6  于 6  蒋 6  蔡 6
余 5  杜 5  叶 5  程 5  苏 5  魏 5  吕 5  丁 5  任 5  沈 4
姚 4  卢 4  姜 4  崔 4  钟 4  谭 4  陆 4  汪 4  范 4  金 3
石 3  廖 3  贾 3  夏 3  韦 3  付 3  方 3  白 3  邹 3  孟 3
熊 2  秦 2  邱 2  江 2  尹 2  薛 2  闫 2  段 2  雷 2  侯 2
龙 1.5  史 1.5  陶 1.2  黎 1.1  贺 1.0  顾 0.9  毛 0.9  郝 0.8  龚 0.8  邵 0.8
万 0.7  钱 0.7  严 0.7  牛 0.6  单 0.3  仇 0.1  解 0.1  查 0.1  欧阳 0.2  司马 0.04
诸葛 0.04  上官 0.04  令狐 0.03
"""
_SURNAME_WEIGHTS: tuple[tuple[str, float], ...] = tuple(
    (name, float(weight))
    for name, weight in zip(_SURNAME_TABLE.split()[::2], _SURNAME_TABLE.split()[1::2], strict=True)
)
SURNAMES: tuple[str, ...] = tuple(s for s, _ in _SURNAME_WEIGHTS)
_SURNAME_CUM: tuple[float, ...] = tuple(accumulate(w for _, w in _SURNAME_WEIGHTS))

# Given-name characters by birth cohort and sex. A character repeated in a string is more
# likely to be drawn. Each entry: (single-character share, singles, first chars, second chars).
_NameTable = tuple[float, str, str, str]
_COHORT_NAMES: dict[tuple[int, str], _NameTable] = {
    # born before 1960
    (0, "1"): (
        0.08,
        "福贵山林成军明华强海",
        "建国德志保长永振学文春金玉树富进满天",
        "国华明林军民才山成福贵生忠义田堂章发贤海",
    ),
    (0, "2"): (
        0.06,
        "英兰珍芳梅华荣琴",
        "秀秀秀桂桂玉玉凤淑素兰翠春金美月爱",
        "英英英兰兰珍珍芳梅华荣琴云香花莲娥娟霞",
    ),
    # 1960-1984
    (1, "1"): (
        0.25,
        "伟伟伟伟伟勇勇军军强强磊杰涛斌超明刚平辉鹏华飞鑫波亮",
        "建建志海国红晓永春立新振俊文卫东",
        "军华伟平强明峰刚东林勇杰波斌辉",
    ),
    (1, "2"): (
        0.22,
        "丽丽芳芳娜敏静燕艳红霞玲梅琳萍娟倩",
        "秀丽红晓海春艳玉桂美彩小",
        "霞丽梅红燕芳玲萍英琴娟华云",
    ),
    # 1985-2004
    (2, "1"): (
        0.15,
        "浩磊鹏超杰帅鑫宇洋涛伟龙凯",
        "浩子俊宇梓博晨家嘉一天志佳鹏",
        "然轩宇杰博涛辰豪鹏阳航泽凯文睿",
    ),
    (2, "2"): (
        0.14,
        "婷静雪佳倩颖琪璐丹悦",
        "佳欣雨梦思子诗晓心雅梓可",
        "怡涵琪瑶悦婷萱雪彤颖璐琳妍",
    ),
    # 2005 and later
    (3, "1"): (0.06, "浩宇轩睿辰", "子梓浩宇俊一沐奕皓若", "轩辰宸睿泽涵航铭然阳哲熙"),
    (3, "2"): (0.06, "萱琪彤悦", "梓欣诗雨可语一思若依", "涵萱琪彤怡汐诺瑶悦然桐"),
}


def _cohort(birth_year: int) -> int:
    if birth_year < 1960:
        return 0
    if birth_year < 1985:
        return 1
    if birth_year < 2005:
        return 2
    return 3


def _pick_surname(rng: random.Random) -> str:
    return SURNAMES[bisect_right(_SURNAME_CUM, rng.random() * _SURNAME_CUM[-1])]


def _given_name(rng: random.Random, cohort: int, sex: str) -> str:
    single_share, singles, firsts, seconds = _COHORT_NAMES[cohort, sex]
    rand = rng.random
    if rand() < single_share:
        return singles[int(rand() * len(singles))]
    first = firsts[int(rand() * len(firsts))]
    second = seconds[int(rand() * len(seconds))]
    if first == second:
        return first
    return first + second


# --------------------------------------------------------------------------------------------
# Place-name tables
# --------------------------------------------------------------------------------------------

_TOWN_FIRST = "青白黑红金龙凤马石柳杨桃梅松东西南北大小新高长双三五平安太永兴古"
_TOWN_SECOND = "石河山湾桥坪沟岭泉水田店集口塘林峰溪坡岗寨营庙铺台"
_VILLAGE_SURNAMES = "王李张刘陈杨赵吴周徐孙马朱胡郭何高罗郑梁宋韩冯曹彭田董袁于蒋杜程魏吕丁任"
_VILLAGE_SURNAME_SUFFIX = "庄湾营寨沟岗楼店集洼屯"
_VILLAGE_PLACE_PREFIX = "东西南北前后上下大小新老"
_VILLAGE_PLACE_SUFFIX = "湾庄坪岗河沟寨营楼洼桥岭"
_VILLAGE_TREE = "桃杏柳槐杨枣梨松竹榆"
_VILLAGE_TREE_SUFFIX = "园林树沟"
_MODERN_STEMS = "新民红星团结光明胜利和平幸福联合建设前进先锋东风永安太平新华兴隆"
_VILLAGE_MODERN = tuple(_MODERN_STEMS[i : i + 2] for i in range(0, len(_MODERN_STEMS), 2))


def _village_name(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.30:
        stem = rng.choice(_VILLAGE_SURNAMES) + "家" + rng.choice(_VILLAGE_SURNAME_SUFFIX)
    elif r < 0.55:
        stem = rng.choice(_VILLAGE_SURNAMES) + rng.choice(_VILLAGE_SURNAME_SUFFIX)
    elif r < 0.78:
        stem = rng.choice(_VILLAGE_PLACE_PREFIX) + rng.choice(_VILLAGE_PLACE_SUFFIX)
    elif r < 0.90:
        stem = rng.choice(_VILLAGE_TREE) + rng.choice(_VILLAGE_TREE_SUFFIX)
    else:
        stem = rng.choice(_VILLAGE_MODERN)
    return stem + "村"


def _township_stems(rng: random.Random, count: int) -> list[str]:
    stems = ["城关"]  # the township holding the county seat
    seen = set(stems)
    while len(stems) < count:
        a, b = rng.choice(_TOWN_FIRST), rng.choice(_TOWN_SECOND)
        stem = a + b
        if a != b and stem not in seen:
            seen.add(stem)
            stems.append(stem)
    return stems[:count]


# --------------------------------------------------------------------------------------------
# Facilities and staff tables
# --------------------------------------------------------------------------------------------

_HOSPITAL_NAMES = (
    "示范县人民医院",
    "示范县中医院",
    "示范县第二人民医院",
    "示范县妇幼保健院",
    "示范县第三人民医院",
    "示范县中心医院",
)

# (department, specialty, titles to draw from, female share)
_Post = tuple[str, str, tuple[str, ...], float]
_DOCTOR_TITLES = ("主任医师", "副主任医师", "副主任医师", "主治医师", "主治医师", "医师")
_NURSE_TITLES = ("主管护师", "护师", "护师", "护士")
_COUNTY_POSTS: tuple[_Post, ...] = (
    ("内科", "内科", _DOCTOR_TITLES, 0.4),
    ("外科", "普通外科", _DOCTOR_TITLES, 0.15),
    ("妇产科", "妇产科", _DOCTOR_TITLES, 0.9),
    ("儿科", "儿科", _DOCTOR_TITLES, 0.6),
    ("心内科", "心血管内科", _DOCTOR_TITLES, 0.35),
    ("内分泌科", "内分泌", _DOCTOR_TITLES, 0.5),
    ("影像科", "医学影像", _DOCTOR_TITLES, 0.3),
    ("检验科", "医学检验", ("主任技师", "副主任技师", "主管技师", "技师"), 0.6),
    ("药剂科", "药学", ("主任药师", "主管药师", "药师"), 0.6),
)
_COUNTY_EXTRA_POSTS: tuple[_Post, ...] = (
    ("内科", "护理", _NURSE_TITLES, 0.95),
    ("外科", "护理", _NURSE_TITLES, 0.95),
    ("心内科", "心血管内科", _DOCTOR_TITLES, 0.35),
    ("内分泌科", "内分泌", _DOCTOR_TITLES, 0.5),
)
_BRANCH_POSTS: tuple[_Post, ...] = (
    ("内科", "内科", _DOCTOR_TITLES, 0.4),
    ("外科", "普通外科", _DOCTOR_TITLES, 0.15),
    ("全科", "全科医学", _DOCTOR_TITLES, 0.4),
    ("护理", "护理", _NURSE_TITLES, 0.95),
    ("药房", "药学", ("主管药师", "药师"), 0.6),
)
_GP_TITLES = ("副主任医师", "主治医师", "主治医师", "医师", "医师")
_TOWNSHIP_POSTS: tuple[_Post, ...] = (
    ("全科", "全科医学", _GP_TITLES, 0.35),
    ("公卫", "公共卫生", ("主治医师", "医师", "医师"), 0.5),
    ("护理", "护理", _NURSE_TITLES, 0.95),
    ("药房", "药学", ("主管药师", "药师", "药士"), 0.6),
)
_TOWNSHIP_EXTRA_POSTS: tuple[_Post, ...] = (
    ("全科", "全科医学", _GP_TITLES, 0.35),
    ("护理", "护理", _NURSE_TITLES, 0.95),
)
_VILLAGE_POST: _Post = ("村卫生室", "全科", ("乡村医生",), 0.2)


def _staff_name(rng: random.Random, sex: str, birth_year: int, taken: set[str]) -> str:
    while True:
        name = _pick_surname(rng) + _given_name(rng, _cohort(birth_year), sex)
        if name not in taken:
            taken.add(name)
            return name


def _make_staff(
    rng: random.Random, facility_code: str, posts: Sequence[_Post], taken: set[str]
) -> list[StaffSpec]:
    out = []
    for j, (department, specialty, titles, female_share) in enumerate(posts, start=1):
        sex = "2" if rng.random() < female_share else "1"
        title = rng.choice(titles)
        senior = title.startswith(("主任", "副主任"))
        birth_year = rng.randint(1962, 1980) if senior else rng.randint(1965, 1998)
        if title == "乡村医生":
            birth_year = rng.randint(1955, 1990)
        out.append(
            StaffSpec(
                key=f"{facility_code}-{j:02d}",
                name=_staff_name(rng, sex, birth_year, taken),
                sex=sex,
                facility_code=facility_code,
                title=title,
                specialty=specialty,
                department=department,
            )
        )
    return out


# --------------------------------------------------------------------------------------------
# The county plan
# --------------------------------------------------------------------------------------------


def _split_blocks(items: Sequence[Division], parts: int) -> list[list[Division]]:
    """Contiguous blocks, sizes differing by at most one, larger blocks first."""
    base, extra = divmod(len(items), parts)
    out, start = [], 0
    for i in range(parts):
        size = base + (1 if i < extra else 0)
        out.append(list(items[start : start + size]))
        start += size
    return out


def build_plan(seed: int = DEFAULT_SEED, size: str = "demo") -> CountyPlan:
    """The county tree, groups, facilities, staff and groupings for ``(seed, size)``."""
    spec = SIZES[size]
    if not 1 <= spec.groups <= len(_HOSPITAL_NAMES):
        raise ValueError(f"groups must be 1..{len(_HOSPITAL_NAMES)}")
    place_rng = random.Random(f"{seed}:places")
    staff_rng = random.Random(f"{seed}:staff")

    county = Division(code=COUNTY_CODE, name=COUNTY_NAME, level="county", parent_code=None)

    # Townships: about 60% towns (镇, codes 1xx) and the rest 乡 (codes 2xx), as in GB/T 2260.
    stems = _township_stems(place_rng, spec.townships)
    n_towns = max(1, round(spec.townships * 0.6))
    townships: list[Division] = []
    for i, stem in enumerate(stems):
        if i < n_towns:
            code, suffix = f"{COUNTY_CODE}{101 + i:03d}", "镇"
        else:
            code, suffix = f"{COUNTY_CODE}{201 + i - n_towns:03d}", "乡"
        townships.append(Division(code, stem + suffix, "township", COUNTY_CODE))

    # Villages: village committees take codes 2xx under their township.
    villages: list[Division] = []
    villages_of: dict[str, list[Division]] = {}
    lo, hi = spec.villages_per_township
    for township in townships:
        count = place_rng.randint(lo, hi)
        names: list[str] = []
        while len(names) < count:
            name = _village_name(place_rng)
            if name not in names:
                names.append(name)
        own = [
            Division(f"{township.code}{201 + k:03d}", name, "village", township.code)
            for k, name in enumerate(names)
        ]
        villages_of[township.code] = own
        villages.extend(own)

    # Groups: one lead county hospital each; townships in contiguous blocks.
    groups: list[GroupSpec] = []
    facilities: list[FacilitySpec] = []
    hospitals: list[FacilitySpec] = []
    for g in range(spec.groups):
        hospital = FacilitySpec(
            code=f"H{g + 1:02d}",
            name=_HOSPITAL_NAMES[g],
            kind="county_hospital",
            group_index=g,
            division_code=COUNTY_CODE,
            supervisor_code=None,
        )
        hospitals.append(hospital)
        groups.append(GroupSpec(g, f"{hospital.name}医疗健康服务集团", hospital.code))
    facilities.extend(hospitals)

    blocks = _split_blocks(townships, spec.groups)
    # Branches (分院): in up to two groups that cover several townships, in the township of
    # the block farthest from the county seat (its last one).
    branches: list[FacilitySpec] = []
    for g, block in enumerate(blocks):
        if len(block) >= 2 and len(branches) < 2:
            where = block[-1]
            branches.append(
                FacilitySpec(
                    code=f"B{len(branches) + 1:02d}",
                    name=f"{hospitals[g].name}{where.name[:-1]}分院",
                    kind="branch",
                    group_index=g,
                    division_code=where.code,
                    supervisor_code=hospitals[g].code,
                )
            )
    facilities.extend(branches)

    centres: list[FacilitySpec] = []
    clinics: list[FacilitySpec] = []
    group_of_township: dict[str, int] = {}
    for g, block in enumerate(blocks):
        for township in block:
            group_of_township[township.code] = g
            centre = FacilitySpec(
                code=f"T{township.code}",
                name=f"{township.name}卫生院",
                kind="township_centre",
                group_index=g,
                division_code=township.code,
                supervisor_code=hospitals[g].code,
            )
            centres.append(centre)
            clinics.extend(
                FacilitySpec(
                    code=f"V{village.code}",
                    name=f"{village.name}卫生室",
                    kind="village_clinic",
                    group_index=g,
                    division_code=village.code,
                    supervisor_code=centre.code,
                )
                for village in villages_of[township.code]
            )
    facilities.extend(centres)
    facilities.extend(clinics)

    # Staff.
    staff: list[StaffSpec] = []
    taken: set[str] = set()
    for hospital in hospitals:
        extra = staff_rng.randint(1, 3)
        posts = _COUNTY_POSTS + _COUNTY_EXTRA_POSTS[:extra]
        staff.extend(_make_staff(staff_rng, hospital.code, posts, taken))
    for branch in branches:
        staff.extend(_make_staff(staff_rng, branch.code, _BRANCH_POSTS, taken))
    for centre in centres:
        extra = staff_rng.randint(0, 2)
        posts = _TOWNSHIP_POSTS + _TOWNSHIP_EXTRA_POSTS[:extra]
        staff.extend(_make_staff(staff_rng, centre.code, posts, taken))
    for clinic in clinics:
        count = 1 if staff_rng.random() < 0.6 else 2
        staff.extend(_make_staff(staff_rng, clinic.code, (_VILLAGE_POST,) * count, taken))

    # Groupings that cut across the groups.
    # Alliances: the people's hospital leads chest pain; the second people's hospital (or
    # the first) leads stroke with the other county hospitals; the TCM hospital leads TCM
    # and the maternal and child health hospital leads maternal and child health.
    centre_codes = tuple(c.code for c in centres)
    stroke_lead = hospitals[2] if len(hospitals) > 2 else hospitals[0]
    groupings = [
        GroupingSpec("示范县胸痛专科联盟", "alliance", hospitals[0].code, centre_codes),
        GroupingSpec(
            "示范县卒中专科联盟",
            "alliance",
            stroke_lead.code,
            (*(h.code for h in hospitals if h is not stroke_lead), *centre_codes),
        ),
    ]
    if len(hospitals) > 1:
        groupings.append(
            GroupingSpec("示范县中医专科联盟", "alliance", hospitals[1].code, centre_codes)
        )
    if len(hospitals) > 3:
        groupings.append(
            GroupingSpec("示范县妇幼健康专科联盟", "alliance", hospitals[3].code, centre_codes)
        )
    # Grids (分片包段): townships dealt round-robin to the county hospitals, so a grid crosses
    # the group boundaries; members are the village clinics of the grid's townships.
    clinics_of_township: dict[str, list[str]] = {}
    for clinic in clinics:
        clinics_of_township.setdefault(clinic.division_code[:9], []).append(clinic.code)
    for h, hospital in enumerate(hospitals):
        members = tuple(
            code
            for t, township in enumerate(townships)
            if t % len(hospitals) == h
            for code in clinics_of_township[township.code]
        )
        if members:
            groupings.append(
                GroupingSpec(f"{hospital.name}包片网格", "grid", hospital.code, members)
            )

    return CountyPlan(
        county=county,
        townships=townships,
        villages=villages,
        groups=groups,
        facilities=facilities,
        staff=staff,
        groupings=groupings,
    )


# --------------------------------------------------------------------------------------------
# Residents
# --------------------------------------------------------------------------------------------

# County codes of other provinces, for residents born elsewhere (mostly married-in wives).
_OTHER_ADDRESS_CODES = (
    "341221", "420982", "510722", "370883", "130181", "320830", "430524", "360121",
    "140106", "610125",
)  # fmt: skip

# Mobile prefixes (3 digits); repeated entries are more common.
_PHONE_PREFIXES = tuple(
    [f"13{d}" for d in range(10)] * 3
    + [f"15{d}" for d in (0, 1, 2, 3, 5, 6, 7, 8, 9)] * 2
    + [f"18{d}" for d in range(10)] * 2
    + ["173", "176", "177", "178", "166", "147", "191", "198", "199"]
)
_PHONE_MULT = 61_803_399  # coprime to 10**8: k -> k*M mod 10**8 is a permutation

# Household types: (weight, key). Weights are tuned so that the population has the
# rural shape: many 50-70 year-olds, few young adults (away for work), 65+ near 19%.
_HOUSEHOLD_TYPES: tuple[tuple[float, str], ...] = (
    (0.07, "single_elder"),
    (0.09, "elder_couple"),
    (0.12, "left_behind"),
    (0.23, "three_gen"),
    (0.32, "nuclear"),
    (0.12, "empty_nest"),
    (0.05, "single_adult"),
)
_HH_KEYS = tuple(k for _, k in _HOUSEHOLD_TYPES)
_HH_CUM = tuple(accumulate(w for w, _ in _HOUSEHOLD_TYPES))

# Member: (age in years, sex, surname, born outside the county)
_Member = tuple[int, str, str, bool]


def _household(rng: random.Random) -> list[_Member]:
    """Ages, sexes and surnames of one household, head first."""
    rand = rng.random
    kind = _HH_KEYS[bisect_right(_HH_CUM, rand() * _HH_CUM[-1])]
    family = _pick_surname(rng)
    members: list[_Member] = []

    def span(lo: int, hi: int) -> int:
        return lo + int(rand() * (hi - lo + 1))

    def spouse_of(husband_age: int) -> _Member:
        age = max(18, husband_age - span(-2, 6))
        return (age, "2", _pick_surname(rng), rand() < 0.08)

    def children(mother_age: int, count: int, surname: str, max_age: int = 40) -> None:
        for _ in range(count):
            age = mother_age - span(20, 38)
            if 0 <= age <= max_age:
                sex = "1" if rand() < 0.52 else "2"
                child_surname = surname if rand() < 0.93 else _pick_surname(rng)
                members.append((age, sex, child_surname, False))

    def couple(lo: int, hi: int) -> int:
        husband = span(lo, hi)
        members.append((husband, "1", family, rand() < 0.01))
        wife = spouse_of(husband)
        members.append(wife)
        return wife[0]

    if kind == "single_elder":
        age = span(62, 95)
        sex = "2" if rand() < 0.62 else "1"
        members.append((age, sex, family if sex == "1" else _pick_surname(rng), rand() < 0.03))
    elif kind == "elder_couple":
        couple(60, 90)
    elif kind == "left_behind":
        if rand() < 0.8:
            grandma = couple(52, 76)
        else:
            grandma = span(52, 80)
            members.append((grandma, "2", _pick_surname(rng), rand() < 0.03))
        parent_age = grandma - span(21, 30)
        children(parent_age, 1 if rand() < 0.4 else 2, family, max_age=15)
    elif kind == "three_gen":
        if rand() < 0.6:
            couple(52, 82)
        else:
            members.append((span(56, 90), "2", _pick_surname(rng), rand() < 0.03))
        grandparent = members[-1][0]
        son = max(20, grandparent - span(22, 32))
        members.append((son, "1", family, False))
        if rand() < 0.85:
            daughter_in_law = spouse_of(son)
            members.append(daughter_in_law)
            mother = daughter_in_law[0]
        else:
            mother = son - 2
        children(mother, 1 if rand() < 0.45 else 2, family, max_age=20)
    elif kind == "nuclear":
        mother = couple(24, 56)
        r = rand()
        children(mother, 1 if r < 0.3 else (2 if r < 0.85 else 3), family, max_age=30)
    elif kind == "empty_nest":
        mother = couple(45, 66)
        if rand() < 0.35:
            children(mother, 1, family, max_age=35)
    else:  # single_adult: mostly unmarried men
        sex = "1" if rand() < 0.75 else "2"
        members.append((span(22, 60), sex, family, rand() < 0.03))
    return members[:6]


def _largest_remainder(weights: Sequence[float], total: int) -> list[int]:
    s = sum(weights)
    raw = [w * total / s for w in weights]
    counts = [int(x) for x in raw]
    order = sorted(range(len(raw)), key=lambda i: (counts[i] - raw[i], i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def iter_residents(plan: CountyPlan, seed: int, n: int, *, today: date) -> Iterator[ResidentSpec]:
    """Yield ``n`` residents, village by village and household by household.

    Deterministic in ``(plan, seed, n, today)``. Every ``id_card`` number is a valid, unique
    身份证号 whose birth date and sex agree with the resident's.
    """
    rng = random.Random(f"{seed}:residents")
    rand = rng.random
    today_ord = today.toordinal()
    township_names = {t.code: t.name for t in plan.townships}

    # Village populations vary around the mean.
    weights = [0.5 + rand() * 1.1 for _ in plan.villages]
    quotas = _largest_remainder(weights, n) if plan.villages else []

    date_cache: dict[int, date] = {}
    # (address code, birth ordinal, sex) -> how many numbers were issued
    id_counters: dict[tuple[str, int, str], int] = {}
    seq_offset = int(rand() * 500)
    phone_offset = int(rand() * 10**8)
    phone_count = 0
    cert_count = int(rand() * 10**6)
    passport_count = int(rand() * 10**6)
    n_prefixes = len(_PHONE_PREFIXES)
    index = 0

    for village, quota in zip(plan.villages, quotas, strict=True):
        if quota == 0:
            continue
        address_prefix = f"{COUNTY_NAME}{township_names[village.parent_code or '']}{village.name}"
        vcode = village.code
        house = 0
        remaining = quota
        while remaining > 0:
            members = _household(rng)
            if len(members) > remaining:
                members = members[:remaining]
            remaining -= len(members)
            house += 1
            household_key = f"{vcode}-{house:04d}"
            address = f"{address_prefix}{house}号"

            # Phones: most adults own one; children and some elderly use the household's.
            owned: list[str] = []
            for age, _sex, _surname, _elsewhere in members:
                if 18 <= age < 65:
                    p = 0.95
                elif 12 <= age < 18:
                    p = 0.4
                elif 65 <= age < 80:
                    p = 0.55
                elif age >= 80:
                    p = 0.25
                else:
                    p = 0.0
                if rand() < p:
                    suffix = (phone_count * _PHONE_MULT + phone_offset) % 100_000_000
                    phone_count += 1
                    owned.append(_PHONE_PREFIXES[int(rand() * n_prefixes)] + f"{suffix:08d}")
                else:
                    owned.append("")
            contact = next((p for p in owned if p), "")

            for (age, sex, surname, elsewhere), own_phone in zip(members, owned, strict=True):
                birth_ord = today_ord - int(age * 365.2425) - int(rand() * 365)
                if birth_ord > today_ord:
                    birth_ord = today_ord
                birth = date_cache.get(birth_ord)
                if birth is None:
                    birth = date_cache[birth_ord] = date.fromordinal(birth_ord)
                name = surname + _given_name(rng, _cohort(birth.year), sex)

                if own_phone:
                    phone = own_phone
                elif age < 18 or rand() < 0.7:
                    phone = contact
                else:
                    phone = ""

                doc_type = "id_card"
                if age == 0:
                    r = rand()
                    if r < 0.45:
                        doc_type = "birth_certificate"
                    elif r < 0.52:
                        doc_type = "none"
                elif 18 <= age < 60 and rand() < 0.0005:
                    doc_type = "passport"

                if doc_type == "id_card":
                    address_code = (
                        _OTHER_ADDRESS_CODES[int(rand() * len(_OTHER_ADDRESS_CODES))]
                        if elsewhere
                        else COUNTY_CODE
                    )
                    while True:
                        key = (address_code, birth_ord, sex)
                        k = id_counters.get(key, 0)
                        if k < 499:
                            break
                        birth_ord -= 1  # this day is full for this sex: use the day before
                        if birth_ord not in date_cache:
                            date_cache[birth_ord] = date.fromordinal(birth_ord)
                        birth = date_cache[birth_ord]
                    id_counters[key] = k + 1
                    # k -> distinct slot in 0..498 (7 is coprime to 499), spread per day.
                    slot = (k * 7 + seq_offset + birth_ord) % 499
                    sequence = 2 * slot + 1 if sex == "1" else 2 * slot + 2
                    doc_number = make_id_number(address_code, birth, sequence)
                elif doc_type == "birth_certificate":
                    cert_count += 1
                    doc_number = f"Q41{(cert_count * 7_919) % 10_000_000:07d}"
                elif doc_type == "passport":
                    passport_count += 1
                    doc_number = f"E{(passport_count * 7_919 + 10_000_000) % 100_000_000:08d}"
                else:
                    doc_number = ""

                yield ResidentSpec(
                    index,
                    name,
                    sex,
                    birth,
                    doc_type,
                    doc_number,
                    phone,
                    vcode,
                    household_key,
                    address,
                )
                index += 1


# --------------------------------------------------------------------------------------------
# Second registrations (the duplicates a real master index collects)
# --------------------------------------------------------------------------------------------

#: Characters commonly typed for one another in given names (same reading, another hanzi).
_HOMOPHONES = dict(zip("伟华明英军芳丽强平红玲兰秀", "玮桦铭瑛君方莉墙萍宏龄岚绣", strict=True))
TWIN_EVERY = 400  # about 0.25% of residents were registered a second time


def duplicate_twin(spec: ResidentSpec, seed: int) -> ResidentSpec | None:
    """For about one resident in TWIN_EVERY, the record a second facility made of the same
    person: the given name sometimes typed with a homophone, no document, a new or no phone.
    Deterministic in (spec.index, seed)."""
    if spec.index % TWIN_EVERY != TWIN_EVERY // 2 or not spec.doc_number:
        return None
    rng = random.Random(f"{seed}:twin:{spec.index}")
    name = spec.name
    last = name[-1]
    if last in _HOMOPHONES and rng.random() < 0.7:
        name = name[:-1] + _HOMOPHONES[last]
    phone = "" if rng.random() < 0.3 else f"1{rng.choice('3589')}{rng.randrange(10**9):09d}"
    return replace(
        spec,
        index=-spec.index,
        name=name,
        doc_type="none",
        doc_number="",
        phone=phone,
        household_key=spec.household_key,
    )
