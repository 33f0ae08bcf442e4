"""A tiny hand-built medical group (one county hospital, two township centres, one village
clinic, a dozen residents) added to the persona county, with activity in 2025 whose
indicator values the tests compute by hand."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import count
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from yigongti.chronic.models import Followup, Registration
from yigongti.consults.models import Consultation
from yigongti.contracts.models import Contract, ServicePackage, Team
from yigongti.diagnostics.models import Centre, Study
from yigongti.network.models import Division, Facility, MedicalGroup
from yigongti.records.models import Encounter
from yigongti.referrals.models import Referral
from yigongti.residents.models import Resident

SH = ZoneInfo("Asia/Shanghai")
_seq = count(1)


def at(y: int, m: int, d: int, h: int = 10, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=SH)


@dataclass
class Tiny:
    group: MedicalGroup
    hospital: Facility
    centre1: Facility
    centre2: Facility
    clinic1: Facility
    t1: Division
    t2: Division
    v1: Division
    v2: Division
    people: dict[str, Resident] = field(default_factory=dict)
    regs: dict[str, Registration] = field(default_factory=dict)


def make_resident(t: Tiny, key: str, village: Division, born: date) -> Resident:
    n = next(_seq)
    r = Resident.objects.create(
        mpi_id=f"T{n:08d}",
        name=f"测试{key}",
        sex="1",
        birth_date=born,
        doc_type="id_card",
        doc_number=f"9999991990010{n:05d}",
        village=village,
        township_id=village.parent_id or 0,
    )
    t.people[key] = r
    return r


def encounter(r: Resident, fac: Facility, kind: str, when: datetime, **kw: Any) -> Encounter:
    return Encounter.objects.create(resident=r, facility=fac, kind=kind, started_at=when, **kw)


def referral(
    r: Resident, src: Facility, direction: str, when: datetime | None, state: str, **kw: Any
) -> Referral:
    if kw.get("out_of_county"):
        kw.setdefault("destination_name", "市第一人民医院")
    return Referral.objects.create(
        resident=r,
        from_facility=src,
        direction=direction,
        state=state,
        submitted_at=when,
        urgency="routine",
        reason="测试",
        referring_doctor="测试医生",
        **kw,
    )


def study(
    r: Resident,
    centre: Centre,
    src: Facility,
    requested: datetime,
    reported: datetime | None,
    state: str,
    kind: str = "imaging",
) -> Study:
    return Study.objects.create(
        centre=centre,
        kind=kind,
        resident=r,
        requesting_facility=src,
        requesting_doctor="测试医生",
        exam_code="T-01",
        exam_name="测试检查",
        requested_at=requested,
        claimed_at=reported,
        reported_at=reported,
        state=state,
    )


def consult(
    r: Resident,
    src: Facility,
    dst: Facility,
    submitted: datetime,
    answered: datetime | None,
    state: str,
) -> Consultation:
    return Consultation.objects.create(
        resident=r,
        from_facility=src,
        to_facility=dst,
        state=state,
        urgency="routine",
        requesting_doctor="测试医生",
        consent=True,
        consent_signer="本人",
        reason="测试",
        purpose="测试",
        case_summary="测试",
        arrange_by=submitted,
        finish_by=submitted,
        submitted_at=submitted,
        answered_at=answered,
    )


def registration(
    t: Tiny, key: str, r: Resident, fac: Facility, disease: str = "hypertension", **kw: Any
) -> Registration:
    reg = Registration.objects.create(
        resident=r,
        disease=disease,
        diagnosed_on=date(2024, 1, 5),
        enrolled_on=date(2024, 1, 5),
        facility=fac,
        next_due=date(2026, 1, 1),
        **kw,
    )
    t.regs[key] = reg
    return reg


def followups(reg: Registration, days: list[tuple[date, bool]]) -> None:
    prev: date | None = None
    for d, ok in days:
        Followup.objects.create(
            registration=reg,
            resident_id=reg.resident_id,
            disease=reg.disease,
            followup_date=d,
            facility=reg.facility,
            controlled=ok,
            classification="controlled" if ok else "uncontrolled",
            next_due=d,
            prev_date=prev,
            gap_days=(d - prev).days if prev else None,
        )
        prev = d


@pytest.fixture(autouse=True)
def _long_history(settings: Any) -> None:
    """The tiny group's activity is dated 2025: keep it inside the refresh window whatever
    the day the tests run."""
    settings.YGT = {**settings.YGT, "INDICATOR_HISTORY_MONTHS": 1200}


@pytest.fixture
def tiny(county: Any) -> Tiny:
    county_div = Division.objects.get(level="county")
    t1 = Division.objects.create(
        code="999901001", name="测试一镇", level="township", parent=county_div
    )
    t2 = Division.objects.create(
        code="999901002", name="测试二镇", level="township", parent=county_div
    )
    v1 = Division.objects.create(code="999901001001", name="测试一村", level="village", parent=t1)
    v2 = Division.objects.create(code="999901002001", name="测试二村", level="village", parent=t2)
    g = MedicalGroup.objects.create(code="TG", name="测试医共体", county=county_div)
    h = Facility.objects.create(
        code="TH", name="测试县医院", kind="county_hospital", group=g, division=county_div
    )
    c1 = Facility.objects.create(
        code="TC1", name="测试一镇卫生院", kind="township_centre", group=g, division=t1
    )
    c2 = Facility.objects.create(
        code="TC2", name="测试二镇卫生院", kind="township_centre", group=g, division=t2
    )
    vc1 = Facility.objects.create(
        code="TV1", name="测试一村卫生室", kind="village_clinic", group=g, division=v1
    )
    g.lead = h
    g.save()
    t = Tiny(g, h, c1, c2, vc1, t1, t2, v1, v2)

    young = date(1995, 6, 1)
    a = make_resident(t, "a", v1, young)  # HTN, norm + controlled, hospitalised
    b = make_resident(t, "b", v1, young)  # HTN, 2 follow-ups, controlled
    c = make_resident(t, "c", v2, young)  # HTN, no follow-up
    d = make_resident(t, "d", v2, young)  # HTN, exited mid-2025
    e = make_resident(t, "e", v1, date(1950, 3, 1))  # 65+, contracted
    f = make_resident(t, "f", v2, young)  # ordinary

    # --- encounters (2025) -------------------------------------------------------------------
    # county hospital: outpatient 2 in March, 1 on 1 April 00:10 (Shanghai), 1 in May,
    # 1 emergency in May, 2 inpatient in March (one of them a)
    encounter(f, h, "outpatient", at(2025, 3, 3))
    encounter(f, h, "outpatient", at(2025, 3, 20))
    encounter(f, h, "outpatient", at(2025, 4, 1, 0, 10))
    encounter(f, h, "outpatient", at(2025, 5, 6))
    encounter(f, h, "emergency", at(2025, 5, 7))
    encounter(a, h, "inpatient", at(2025, 3, 11))
    encounter(f, h, "inpatient", at(2025, 3, 12))
    # township centre 1: 4 outpatient in March (one at 23:30 on the 31st), 1 inpatient in May
    for day in (2, 9, 16):
        encounter(b, c1, "outpatient", at(2025, 3, day))
    encounter(b, c1, "outpatient", at(2025, 3, 31, 23, 30))
    encounter(c, c1, "inpatient", at(2025, 5, 20))
    # village clinic 1: 2 outpatient in May; a home visit (not a visit to the clinic)
    encounter(e, vc1, "outpatient", at(2025, 5, 2))
    encounter(e, vc1, "outpatient", at(2025, 5, 3))
    encounter(e, vc1, "home_visit", at(2025, 5, 4))
    # township centre 2: one visit amended (old version not counted), one voided
    old = encounter(c, c2, "outpatient", at(2025, 5, 8), status="amended")
    encounter(c, c2, "outpatient", at(2025, 5, 8), replaces=old)
    encounter(c, c2, "outpatient", at(2025, 5, 9), status="entered_in_error")
    # a visit in 2024 (another year)
    encounter(f, c2, "outpatient", at(2024, 12, 30))

    # --- referrals -----------------------------------------------------------------------------
    referral(a, c1, "up", at(2025, 3, 5), "completed", to_facility=h)
    referral(b, c1, "up", at(2025, 3, 25), "accepted", to_facility=h)
    referral(c, c1, "up", None, "draft", to_facility=h)
    referral(f, c1, "up", at(2025, 3, 26), "cancelled", to_facility=h)
    referral(e, vc1, "up", at(2025, 5, 14), "submitted", out_of_county=True)
    referral(a, h, "down", at(2025, 5, 15), "completed", to_facility=c1)

    # --- remote consultations --------------------------------------------------------------------
    consult(a, c1, h, at(2025, 3, 10, 8), at(2025, 3, 11, 8), "closed")  # 24 h
    consult(e, vc1, h, at(2025, 5, 1, 10), at(2025, 5, 1, 16), "answered")  # 6 h
    consult(b, c1, h, at(2025, 5, 20), None, "accepted")  # no opinion yet
    consult(c, c2, h, at(2025, 5, 2, 8), at(2025, 5, 2, 12), "cancelled")  # left out

    # --- shared diagnosis centres (imaging and ECG reports count) ---------------------------
    img = Centre.objects.create(name="测试影像中心", kind="imaging", facility=h)
    lab = Centre.objects.create(name="测试检验中心", kind="lab", facility=h)
    study(a, img, c1, at(2025, 4, 1), at(2025, 4, 2), "reported")  # counted
    study(e, img, vc1, at(2025, 6, 9), at(2025, 6, 10), "reviewed", kind="ecg")  # counted
    study(b, lab, c1, at(2025, 4, 2), at(2025, 4, 3), "reported", kind="lab")  # lab: not
    study(c, img, c1, at(2025, 7, 1), None, "cancelled")  # cancelled: not
    study(f, img, c1, at(2025, 12, 30), None, "requested")  # not reported yet: not

    # --- chronic ------------------------------------------------------------------------------
    ra = registration(t, "a", a, c1)
    followups(ra, [(date(2025, 2, 10), False), (date(2025, 5, 10), True),
                   (date(2025, 8, 10), True), (date(2025, 11, 10), True)])  # fmt: skip
    rb = registration(t, "b", b, c1)
    followups(rb, [(date(2025, 4, 1), False), (date(2025, 6, 1), True)])
    registration(t, "c", c, c2)
    registration(t, "d", d, c2, status="exited", exited_on=date(2025, 6, 30), exit_reason="moved")

    # --- contracts ----------------------------------------------------------------------------
    team = Team.objects.create(name="测试团队", facility=c1, level="township")
    pkg = ServicePackage.objects.create(code="TBASIC", name="测试基础包", kind="basic")
    Contract.objects.create(
        resident=e, team=team, package=pkg, status="active",
        start_date=date(2025, 7, 1), end_date=date(2026, 6, 30),
        consent_method="paper", consent_at=at(2025, 7, 1), signer_name="测试",
    )  # fmt: skip
    Contract.objects.create(
        resident=a, team=team, package=pkg, status="expired",
        start_date=date(2025, 1, 1), end_date=date(2025, 6, 30),
        consent_method="paper", consent_at=at(2025, 1, 1), signer_name="测试",
    )  # fmt: skip
    return t


YEAR_2025 = [date(2025, m, 1) for m in range(1, 13)]
