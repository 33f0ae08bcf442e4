"""Synthetic shared diagnosis centres and a year of their work (deterministic).

Call after the residents are loaded:
    load_diagnostics(seed=seed, today=today)   # defaults: 1 year, rates below per 1000 a year

Centres: one of each kind (影像, 心电, 检验, 病理) at every group's lead hospital, serving the
group, each with two report templates. Requests come from the township centre or village
clinic of the resident's home, to the centres of that facility's group.

Rates (plausible for a county, not from DOMAIN.md): per 1000 residents a year, ECG 20, imaging
25, lab 12, pathology 1.5 — about 58 000 readings a year at 1 M residents. 10% 急诊, 20% 加急.
Critical values on 2% of ECG and lab reports, 1% of imaging and pathology; 85% acknowledged in
time, the rest late (escalated), 97% resolved. 2% of requests are cancelled; studies of the
last 12 hours are partly still in the queue. A 10% sample of reports is reviewed, with the
consistency rate rising over the period from 40% to 90% and the imaging grade-A film rate from
30% to 70% (DOMAIN.md §7: "imaging diagnosis consistency rate 40% → 90%, grade-A film rate
30% → 70%"). Rows are written with bulk_create in batches; each reported study puts one item
on the resident's timeline through `records.actions.add_entry` (`timeline=False` skips it)."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta

from django.db import transaction

from yigongti.diagnostics.models import (
    Centre,
    CentreKind,
    CriticalValue,
    QualityReview,
    Report,
    ReportTemplate,
    Study,
    StudyState,
    Urgency,
)
from yigongti.network.models import Facility, FacilityKind, Staff
from yigongti.records.actions import add_entry
from yigongti.records.models import EntryKind
from yigongti.residents.models import Resident, ResidentStatus

BATCH = 5000
PER_1000 = {"ecg": 20.0, "imaging": 25.0, "lab": 12.0, "pathology": 1.5}
CRITICAL = {"ecg": 0.02, "imaging": 0.01, "lab": 0.02, "pathology": 0.01}
URGENCY = [(int(Urgency.STAT), 10), (int(Urgency.URGENT), 20), (int(Urgency.ROUTINE), 70)]
CANCELLED = 0.02
REVIEW_SAMPLE = 0.10
CONSISTENCY = (0.40, 0.90)  # start → end of the period
GRADE_A = (0.30, 0.70)
ACK_IN_TIME = 0.85
RESOLVED = 0.97

LABELS = {"imaging": "影像", "ecg": "心电", "lab": "检验", "pathology": "病理"}
EXAMS: dict[str, list[tuple[str, str, str]]] = {
    "ecg": [("ECG12", "常规12导联心电图", ""), ("ECG-HOLTER", "24小时动态心电图", "")],
    "imaging": [
        ("DR-CHEST", "胸部正位片（DR）", "胸部"),
        ("DR-LSPINE", "腰椎正侧位片（DR）", "腰椎"),
        ("CT-HEAD", "头颅CT平扫", "头颅"),
        ("CT-CHEST", "胸部CT平扫", "胸部"),
        ("US-ABD", "腹部B超", "腹部"),
    ],
    "lab": [
        ("CBC", "血常规", ""),
        ("LFT", "肝功能", ""),
        ("RFT", "肾功能", ""),
        ("HBA1C", "糖化血红蛋白", ""),
        ("LIPID", "血脂四项", ""),
    ],
    "pathology": [("HP-BIOPSY", "活检组织病理", "胃"), ("CYTO-TCT", "宫颈液基细胞学", "宫颈")],
}
NORMAL = {
    "ecg": ("窦性心律，心率72次/分，各导联ST-T未见异常", "正常心电图"),
    "imaging": ("所见结构未见明显异常", "未见明显异常"),
    "lab": ("各项指标在参考范围内", "未见异常"),
    "pathology": ("送检组织呈慢性炎症改变", "慢性炎症"),
}
CRITICAL_ITEMS = {
    "ecg": ["ST段抬高，疑急性心肌梗死", "室性心动过速", "三度房室传导阻滞"],
    "imaging": ["张力性气胸", "急性颅内出血", "主动脉夹层可能"],
    "lab": ["血钾 6.8 mmol/L", "血糖 1.9 mmol/L", "血红蛋白 52 g/L"],
    "pathology": ["恶性肿瘤（需尽快处理）"],
}


def _weighted(rng: random.Random, table: list[tuple[int, int]]) -> int:
    total = sum(w for _, w in table)
    x = rng.uniform(0, total)
    for v, w in table:
        x -= w
        if x <= 0:
            return v
    return table[-1][0]


def load_centres() -> list[Centre]:
    """One centre of each kind at every group's lead hospital (idempotent)."""
    leads = list(
        Facility.objects.filter(kind=FacilityKind.COUNTY_HOSPITAL, group__isnull=False)
        .filter(led_groups__isnull=False)
        .distinct()
        .order_by("pk")
    ) or list(Facility.objects.filter(kind=FacilityKind.COUNTY_HOSPITAL).order_by("pk")[:1])
    out: list[Centre] = []
    for f in leads:
        for kind, label in CentreKind.choices:
            c, made = Centre.objects.get_or_create(
                facility=f, kind=kind, defaults={"name": f"{f.name}{label}诊断中心"}
            )
            if made:
                normal = NORMAL[kind]
                ReportTemplate.objects.bulk_create(
                    [
                        ReportTemplate(
                            centre=c, name=f"{label}正常", findings=normal[0], impression=normal[1]
                        ),
                        ReportTemplate(
                            centre=c,
                            name=f"{label}异常（待补充）",
                            findings="所见：\n",
                            impression="诊断意见：\n",
                        ),
                    ]
                )
            out.append(c)
    return out


def load_diagnostics(
    *,
    seed: int,
    today: date,
    years: float = 1.0,
    scale: float = 1.0,
    timeline: bool = True,
) -> dict[str, int]:
    """Centres and `years` of studies ending at `today`, at `scale` × the rates above."""
    counts: Counter[str] = Counter()
    centres = load_centres()
    counts["centres"] = len(centres)
    by_group_kind = {(c.facility.group_id, c.kind): c for c in centres}
    any_of_kind = {c.kind: c for c in centres}
    rng = random.Random(f"{seed}-diagnostics")
    people = list(
        Resident.objects.filter(status=ResidentStatus.ACTIVE)
        .order_by("pk")
        .values_list("pk", "village_id", "township_id")
    )
    if not people or not centres:
        return dict(counts)
    fac = list(Facility.objects.filter(active=True).values("pk", "kind", "division_id", "group_id"))
    clinic_of = {f["division_id"]: f for f in fac if f["kind"] == FacilityKind.VILLAGE_CLINIC}
    centre_of = {f["division_id"]: f for f in fac if f["kind"] == FacilityKind.TOWNSHIP_CENTRE}
    readers: dict[int, list[str]] = {}
    for fid, name in (
        Staff.objects.filter(facility_id__in={c.facility_id for c in centres}, active=True)
        .order_by("pk")
        .values_list("facility_id", "name")
    ):
        readers.setdefault(fid, []).append(name)
    span = max(1, int(365 * years))
    end = datetime.combine(today, time(0), tzinfo=UTC)  # 08:00 in Beijing on `today`
    start = end - timedelta(days=span)
    period = (end - start).total_seconds()

    def progress(at: datetime) -> float:
        return min(1.0, max(0.0, (at - start).total_seconds() / period))

    studies: list[Study] = []
    for kind, per in PER_1000.items():
        n = round(len(people) * per * scale / 1000 * years)
        for _ in range(n):
            pk, village, township = rng.choice(people)
            requester = clinic_of.get(village) if rng.random() < 0.3 else None
            requester = requester or centre_of.get(township)
            if requester is None:
                continue
            centre = by_group_kind.get((requester["group_id"], kind)) or any_of_kind[kind]
            code, name, part = rng.choice(EXAMS[kind])
            at = start + timedelta(seconds=rng.uniform(0, period - 3600))
            at = at.replace(microsecond=0)
            studies.append(
                Study(
                    centre=centre,
                    kind=kind,
                    resident_id=pk,
                    requesting_facility_id=requester["pk"],
                    requesting_doctor="乡镇医生",
                    exam_code=code,
                    exam_name=name,
                    body_part=part,
                    urgency=_weighted(rng, URGENCY),
                    clinical_info="",
                    requested_at=at,
                )
            )
    studies.sort(key=lambda s: s.requested_at)
    recent = end - timedelta(hours=12)
    reports: list[Report] = []
    criticals: list[CriticalValue] = []
    reviews: list[QualityReview] = []
    for s in studies:
        c = s.centre
        if rng.random() < CANCELLED:
            s.state, s.cancelled_at, s.cancel_reason = (
                StudyState.CANCELLED,
                s.requested_at + timedelta(hours=1),
                "患者未检查",
            )
            continue
        turnaround = timedelta(
            minutes=rng.randrange(10, 40)
            if s.urgency == Urgency.STAT
            else rng.randrange(30, 60 * (4 if s.urgency == Urgency.URGENT else 24))
        )
        claimed = s.requested_at + turnaround * 0.6
        reported = s.requested_at + turnaround
        if reported > recent:  # still open: in the queue, some claimed
            if rng.random() < 0.3:
                s.state, s.claimed_at = StudyState.CLAIMED, claimed
            continue
        s.state, s.claimed_at, s.reported_at = StudyState.REPORTED, claimed, reported
        reader = rng.choice(readers.get(c.facility_id, ["县级医生"]))
        critical = rng.random() < CRITICAL[s.kind]
        item = rng.choice(CRITICAL_ITEMS[s.kind]) if critical else ""
        findings, impression = NORMAL[s.kind]
        reports.append(
            Report(
                study=s,
                findings=findings if not critical else f"{findings}；{item}",
                impression=impression if not critical else item,
                critical=critical,
                critical_text=item,
                reader_name=reader,
                signed_at=reported,
            )
        )
        if critical:
            due = reported + timedelta(minutes=c.ack_minutes)
            in_time = rng.random() < ACK_IN_TIME
            ack = reported + timedelta(
                minutes=rng.randrange(2, c.ack_minutes)
                if in_time
                else rng.randrange(c.ack_minutes + 1, c.ack_minutes + 2 * c.escalate_minutes)
            )
            late = (ack - due).total_seconds() / 60
            level = 0 if in_time else (1 if late <= c.escalate_minutes else 2)
            resolved = ack + timedelta(minutes=rng.randrange(5, 120))
            done = rng.random() < RESOLVED and resolved < end
            criticals.append(
                CriticalValue(
                    study=s,
                    resident_id=s.resident_id,
                    requesting_facility_id=s.requesting_facility_id,
                    item=item,
                    flagged_at=reported,
                    flagged_by_name=reader,
                    ack_due_at=due,
                    acknowledged_at=ack if ack < end else None,
                    acknowledged_by_name="乡镇医生" if ack < end else "",
                    resolved_at=resolved if done and ack < end else None,
                    resolved_by_name="乡镇医生" if done and ack < end else "",
                    action_taken="已通知患者并转县医院" if done and ack < end else "",
                    escalation_level=level,
                    escalated_at=due
                    + timedelta(minutes=1 + (c.escalate_minutes if level == 2 else 0))
                    if level
                    else None,
                )
            )
        if rng.random() < REVIEW_SAMPLE:
            rev_at = min(reported + timedelta(days=rng.randrange(1, 7)), end - timedelta(hours=1))
            if rev_at <= reported:
                continue
            p = progress(rev_at)
            consistent = rng.random() < CONSISTENCY[0] + (CONSISTENCY[1] - CONSISTENCY[0]) * p
            grade = ""
            if s.kind == CentreKind.IMAGING:
                a = GRADE_A[0] + (GRADE_A[1] - GRADE_A[0]) * p
                x = rng.random()
                grade = "A" if x < a else ("B" if x < a + (1 - a) * 0.75 else "C")
            s.state, s.reviewed_at = StudyState.REVIEWED, rev_at
            reviews.append(
                QualityReview(
                    study=s,
                    centre=c,
                    requesting_facility_id=s.requesting_facility_id,
                    reviewer_name="质控医生",
                    reviewed_at=rev_at,
                    consistent=consistent,
                    film_grade=grade,
                )
            )
    with transaction.atomic():
        Study.objects.bulk_create(studies, batch_size=BATCH)
        for r in reports:
            r.study_id = r.study.pk
        for cv in criticals:
            cv.study_id = cv.study.pk
        for q in reviews:
            q.study_id = q.study.pk
        Report.objects.bulk_create(reports, batch_size=BATCH)
        CriticalValue.objects.bulk_create(criticals, batch_size=BATCH)
        QualityReview.objects.bulk_create(reviews, batch_size=BATCH)
        if timeline:
            residents = Resident.objects.in_bulk(
                list({s.resident_id for s in studies if s.reported_at})
            )
            for s in studies:
                if s.reported_at is None:
                    continue
                add_entry(
                    residents[s.resident_id],
                    kind=EntryKind.REPORT,
                    occurred_at=s.reported_at,
                    object_type="study",
                    object_id=s.pk,
                    title=f"{LABELS[s.kind]}报告 · {s.exam_name}",
                    summary=NORMAL[s.kind][1],
                    facility_id=s.centre.facility_id,
                )
    state_counts = Counter(s.state for s in studies)
    counts.update(
        {
            "studies": len(studies),
            "reports": len(reports),
            "critical_values": len(criticals),
            "reviews": len(reviews),
            "open": state_counts[StudyState.REQUESTED] + state_counts[StudyState.CLAIMED],
        }
    )
    return dict(counts)
