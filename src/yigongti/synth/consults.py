"""Synthetic remote consultations and expert dispatch (deterministic from the seed).

Call after the residents and staff are loaded:
    load_consults(seed=seed, today=today)       # defaults: 1 year, 3 consultations / 1000 / year

Rates (plausible for a county, not from DOMAIN.md): 3 remote consultations per 1000 residents
a year (a county of 1 M residents: about 3,000), 10% emergencies, asked by township centres
(70%) and village clinics (30%) of the resident's township to the lead hospital of its group;
outcomes 80% closed with a decision and a rating, 6% declined, 3% cancelled, 4% answered and
not yet closed, the rest open when recent; about 8% of opinions come after the finish limit.
Dispatch: every township centre gets a long-term secondment (长期派驻, 6 months) each half
year and a short-term support doctor (短期帮扶, 1–3 months) once a year; every group sends a
mobile team (巡回医疗, 3 days) to one of its village clinics each month. A 20-township county
so has a few dozen seconded doctors a year. Seconded doctors hold 3 clinic sessions a week
(long-term) or 2 (short-term) with 8–30 patients, a teaching round every two weeks and a
training a month; mobile teams hold a mobile clinic each day. Rows are written with
bulk_create in the shape the actions write them; each consultation puts one item on the
resident's timeline through `records.actions.add_entry`."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta

from django.db import transaction

from yigongti.consults import rules
from yigongti.consults.models import (
    ActivityKind,
    Consultation,
    DispatchActivity,
    DispatchKind,
    Secondment,
    State,
    Step,
    Urgency,
)
from yigongti.network.models import Department, Facility, FacilityKind, Staff
from yigongti.records.actions import add_entry
from yigongti.records.models import EntryKind
from yigongti.residents.models import Resident, ResidentStatus

PER_1000 = 3.0
EMERGENCY = 0.10
OUTCOMES = [("closed", 80), ("declined", 6), ("cancelled", 3), ("answered", 4), ("open", 7)]
LATE_OPINION = 0.08
REASONS = [
    ("血压控制不佳，联合用药后仍未达标", "排查继发性高血压，调整降压方案"),
    ("血糖波动大，反复低血糖", "调整降糖方案"),
    ("胸闷气短加重，心电图异常", "判断是否需要上转"),
    ("影像提示肺部结节", "明确结节性质及随访方案"),
    ("慢性咳嗽3个月", "明确诊断，指导用药"),
    ("老年患者多病共存，多重用药", "优化用药方案"),
    ("皮疹反复发作", "明确诊断"),
]
DECISIONS = [
    "采纳会诊意见，调整用药后随访",
    "按会诊建议上转县医院",
    "继续本院治疗，两周后复诊",
    "完善检查后再评估",
]
TOPICS = ["高血压规范化管理", "糖尿病胰岛素使用", "胸痛早期识别", "心电图判读", "合理用药"]


def _weighted(rng: random.Random, table: list[tuple[str, int]]) -> str:
    total = sum(w for _, w in table)
    x = rng.uniform(0, total)
    for v, w in table:
        x -= w
        if x <= 0:
            return v
    return table[-1][0]


def _at(day: date, rng: random.Random) -> datetime:
    # 08:00–17:59 Shanghai is 00:00–09:59 UTC
    return datetime.combine(day, time(rng.randrange(10), rng.randrange(60)), tzinfo=UTC)


def load_consults(
    *, seed: int, today: date, years: float = 1.0, per_1000: float = PER_1000
) -> dict[str, int]:
    """`years` of consultations and dispatch ending at `today`; `per_1000` consultations per
    1000 residents a year (tests and benchmarks raise it)."""
    counts: Counter[str] = Counter()
    counts.update(_load_dispatch(seed=seed, today=today, years=years))
    counts.update(_load_consultations(seed=seed, today=today, years=years, per_1000=per_1000))
    return dict(counts)


def _load_consultations(*, seed: int, today: date, years: float, per_1000: float) -> dict[str, int]:
    rng = random.Random(f"{seed}-consults")
    people = list(
        Resident.objects.filter(status=ResidentStatus.ACTIVE)
        .order_by("pk")
        .values_list("pk", "township_id")
    )
    fac = list(
        Facility.objects.filter(active=True)
        .order_by("pk")
        .values("pk", "kind", "division_id", "division__parent_id", "group_id")
    )
    centre_of = {f["division_id"]: f for f in fac if f["kind"] == FacilityKind.TOWNSHIP_CENTRE}
    clinics_of: dict[int, list[int]] = {}
    for f in fac:
        if f["kind"] == FacilityKind.VILLAGE_CLINIC and f["division__parent_id"]:
            clinics_of.setdefault(f["division__parent_id"], []).append(f["pk"])
    leads = {f["group_id"]: f["pk"] for f in fac if f["kind"] == FacilityKind.COUNTY_HOSPITAL}
    any_lead = next(iter(leads.values()), None)
    if not people or any_lead is None:
        return {}
    depts: dict[int, list[tuple[int, str]]] = {}
    for pk, fid, name in Department.objects.filter(facility_id__in=leads.values()).values_list(
        "pk", "facility_id", "name"
    ):
        depts.setdefault(fid, []).append((pk, name))
    experts: dict[int, list[tuple[int, str, str]]] = {}  # department → (staff, name, title)
    for pk, dept, name, title in Staff.objects.filter(
        facility_id__in=leads.values(), active=True, department__isnull=False
    ).values_list("pk", "department_id", "name", "title"):
        if rules.title_level(title) >= 1:
            experts.setdefault(dept, []).append((pk, name, title))
    n = round(len(people) * per_1000 / 1000 * years)
    span = max(1, int(365 * years))
    made: list[Consultation] = []
    plans: list[str] = []
    for _ in range(n):
        pk, township = rng.choice(people)
        centre = centre_of.get(township)
        if centre is None:
            continue
        sender = centre["pk"]
        if rng.random() < 0.3 and clinics_of.get(township):
            sender = rng.choice(clinics_of[township])
        lead = leads.get(centre["group_id"], any_lead)
        choices = [d for d in depts.get(lead, []) if experts.get(d[0])]
        if not choices:
            continue
        dept, dept_name = rng.choice(choices)
        day = today - timedelta(days=rng.randrange(span))
        at = _at(day, rng)
        emergency = rng.random() < EMERGENCY
        reason, purpose = rng.choice(REASONS)
        outcome = _weighted(rng, OUTCOMES)
        if (today - day).days <= 2 and outcome != "cancelled":
            outcome = "open"  # the last two days' requests still wait for the hospital
        if outcome == "open" and (today - day).days > 4:
            outcome = "closed"
        c = Consultation(
            state=State.SUBMITTED,
            urgency=Urgency.EMERGENCY if emergency else Urgency.ROUTINE,
            resident_id=pk,
            from_facility_id=sender,
            requesting_doctor="家庭医生",
            consent=True,
            consent_signer="患者本人" if rng.random() < 0.8 else "患者家属",
            reason=reason,
            purpose=purpose,
            case_summary=f"{reason}。",
            to_facility_id=lead,
            to_department_id=dept,
            wanted_specialty=dept_name,
            wanted_title=rng.choice([0, 0, 1, 1, 2]),
            proposed_at=at + timedelta(hours=4 if emergency else 24),
            arrange_by=rules.arrange_by(at, emergency, rules.ARRANGE_HOURS, rules.EMERGENCY_HOURS),
            finish_by=rules.finish_by(
                at, emergency, rules.FINISH_WORKING_DAYS, rules.EMERGENCY_HOURS
            ),
            submitted_at=at,
        )
        if outcome in ("closed", "answered") or (outcome == "open" and rng.random() < 0.5):
            pool = [e for e in experts[dept] if rules.title_level(e[2]) >= c.wanted_title]
            if not pool:
                c.wanted_title = 0
                pool = experts[dept]
            staff, name, title = rng.choice(pool)
            c.expert_id, c.expert_name, c.expert_title = staff, name, title
        made.append(c)
        plans.append(outcome)
    now = datetime.combine(today, time(10), tzinfo=UTC)
    steps: list[Step] = []
    with transaction.atomic():
        Consultation.objects.bulk_create(made, batch_size=2000)
        for c, outcome in zip(made, plans, strict=True):
            at = c.submitted_at
            trail = [("", "submitted", at, "")]
            if outcome == "declined":
                t1 = at + timedelta(hours=rng.randrange(1, 30))
                c.state, c.responded_at, c.decline_reason = State.DECLINED, t1, "本科室近期无法安排"
                trail.append(("submitted", "declined", t1, c.decline_reason))
            elif outcome == "cancelled":
                t1 = at + timedelta(hours=2)
                c.state, c.cancel_reason = State.CANCELLED, "患者已自行就诊"
                trail.append(("submitted", "cancelled", t1, c.cancel_reason))
            elif c.expert_id:
                emergency = c.urgency == Urgency.EMERGENCY
                t1 = at + timedelta(hours=rng.randrange(1, 6 if emergency else 40))
                c.state, c.responded_at, c.scheduled_at = (
                    State.ACCEPTED,
                    t1,
                    t1 + timedelta(hours=2),
                )
                trail.append(("submitted", "accepted", t1, c.expert_name))
                if outcome in ("closed", "answered"):
                    t2 = t1 + timedelta(hours=rng.randrange(2, 8 if emergency else 50))
                    if rng.random() < LATE_OPINION:
                        t2 = c.finish_by + timedelta(hours=rng.randrange(1, 30))
                    c.state, c.answered_at = State.ANSWERED, t2
                    c.opinion = f"结合病史，建议：{c.purpose}。"
                    trail.append(("accepted", "answered", t2, ""))
                    if outcome == "closed":
                        t3 = t2 + timedelta(hours=rng.randrange(1, 72))
                        c.state, c.closed_at = State.CLOSED, t3
                        c.final_decision = rng.choice(DECISIONS)
                        c.rating = rng.choice([5, 5, 5, 4, 4, 3])
                        trail.append(("answered", "closed", t3, c.final_decision))
            trail = [s for s in trail if s[2] <= now]  # nothing in the future
            _undo_after(c, trail[-1][1])
            steps.extend(
                Step(consultation=c, from_state=a, to_state=b, at=t, by_name="synth", note=note)
                for a, b, t, note in trail
            )
            c.state = trail[-1][1]
        Consultation.objects.bulk_update(
            made,
            [
                "state",
                "responded_at",
                "answered_at",
                "closed_at",
                "scheduled_at",
                "decline_reason",
                "cancel_reason",
                "opinion",
                "final_decision",
                "rating",
                "expert_id",
                "expert_name",
                "expert_title",
            ],
            batch_size=2000,
        )
        Step.objects.bulk_create(steps, batch_size=5000)
        residents = Resident.objects.in_bulk([c.resident_id for c in made])
        for c in made:
            add_entry(
                residents[c.resident_id],
                kind=EntryKind.CONSULT,
                occurred_at=c.submitted_at,
                object_type="consultation",
                object_id=c.pk,
                title=f"远程会诊·{c.wanted_specialty}：{State(c.state).label}",
                summary=c.reason,
                facility_id=c.from_facility_id,
            )
    return {"consultations": len(made), "consult_steps": len(steps)}


def _undo_after(c: Consultation, state: str) -> None:
    """Clear what a consultation cut back to `state` (its later steps were in the future)."""
    if state == State.SUBMITTED:
        c.expert_id, c.expert_name, c.expert_title = None, "", ""
        c.responded_at = c.scheduled_at = None
    if state in (State.SUBMITTED, State.ACCEPTED):
        c.answered_at, c.opinion = None, ""
    if state in (State.SUBMITTED, State.ACCEPTED, State.ANSWERED):
        c.closed_at, c.final_decision, c.rating = None, "", None


def _load_dispatch(*, seed: int, today: date, years: float) -> dict[str, int]:
    rng = random.Random(f"{seed}-dispatch")
    fac = list(
        Facility.objects.filter(active=True)
        .order_by("pk")
        .values("pk", "kind", "group_id", "supervisor_id")
    )
    centres = [f for f in fac if f["kind"] == FacilityKind.TOWNSHIP_CENTRE]
    clinics: dict[int, list[int]] = {}
    for f in fac:
        if f["kind"] == FacilityKind.VILLAGE_CLINIC and f["group_id"]:
            clinics.setdefault(f["group_id"], []).append(f["pk"])
    doctors: dict[int, list[tuple[int, int, str]]] = {}  # group → (staff, facility, title)
    for pk, fid, gid, title in (
        Staff.objects.filter(facility__kind=FacilityKind.COUNTY_HOSPITAL, active=True)
        .order_by("pk")
        .values_list("pk", "facility_id", "facility__group_id", "title")
    ):
        if title in rules.PHYSICIAN_TITLES:
            doctors.setdefault(gid, []).append((pk, fid, title))
    start = today - timedelta(days=int(365 * years))
    busy: dict[int, list[tuple[date, date]]] = {}
    rows: list[Secondment] = []

    def pick(group: int | None, a: date, b: date) -> tuple[int, int, str] | None:
        pool = doctors.get(group or 0) or [d for ds in doctors.values() for d in ds]
        for _ in range(20):
            d = rng.choice(pool) if pool else None
            if d is None:
                return None
            if all(b < x or a > y for x, y in busy.get(d[0], [])):
                busy.setdefault(d[0], []).append((a, b))
                return d
        return None

    def add(kind: str, group: int | None, to: int, a: date, b: date) -> None:
        d = pick(group, a, b)
        if d is not None and d[1] != to:
            rows.append(
                Secondment(
                    staff_id=d[0],
                    title=d[2],
                    kind=kind,
                    from_facility_id=d[1],
                    to_facility_id=to,
                    starts_on=a,
                    ends_on=b,
                )
            )

    for c in centres:
        a = start
        while a <= today:  # a long-term secondment each half year
            add(DispatchKind.SECONDMENT, c["group_id"], c["pk"], a, a + timedelta(days=181))
            a += timedelta(days=182)
        first = start + timedelta(days=rng.randrange(0, 300))
        if first <= today:  # short-term support once a year
            add(
                DispatchKind.SUPPORT,
                c["group_id"],
                c["pk"],
                first,
                first + timedelta(days=rng.choice([30, 60, 90])),
            )
    for group, pks in sorted(clinics.items()):
        m = start
        while m <= today:  # a mobile team each month
            d = m + timedelta(days=rng.randrange(0, 25))
            if d <= today:
                add(DispatchKind.MOBILE, group, rng.choice(pks), d, d + timedelta(days=2))
            m += timedelta(days=30)
    acts: list[DispatchActivity] = []
    with transaction.atomic():
        Secondment.objects.bulk_create(rows, batch_size=2000)
        for s in rows:
            day = s.starts_on
            last = min(s.ends_on, today)
            n = 0
            while day <= last:
                wd = day.weekday()
                if s.kind == DispatchKind.MOBILE:
                    acts.append(_act(s, ActivityKind.MOBILE_CLINIC, day, rng.randrange(25, 80), 0))
                elif wd < 5:
                    sessions = (0, 2, 4) if s.kind == DispatchKind.SECONDMENT else (1, 3)
                    if wd in sessions:
                        acts.append(_act(s, ActivityKind.CLINIC, day, rng.randrange(8, 31), 0))
                    if wd == 3 and n % 2 == 0:
                        acts.append(
                            _act(s, ActivityKind.TEACHING_ROUND, day, 0, rng.randrange(5, 16))
                        )
                    if wd == 1 and day.day <= 7:
                        acts.append(
                            _act(
                                s,
                                ActivityKind.TRAINING,
                                day,
                                0,
                                rng.randrange(15, 41),
                                rng.choice(TOPICS),
                            )
                        )
                if wd == 6:
                    n += 1
                day += timedelta(days=1)
        DispatchActivity.objects.bulk_create(acts, batch_size=5000)
    return {"secondments": len(rows), "dispatch_activities": len(acts)}


def _act(
    s: Secondment, kind: str, day: date, patients: int, attendees: int, topic: str = ""
) -> DispatchActivity:
    return DispatchActivity(
        secondment=s,
        kind=kind,
        facility_id=s.to_facility_id,
        day=day,
        patients_seen=patients,
        attendees=attendees,
        topic=topic,
    )
