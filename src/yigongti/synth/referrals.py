"""Synthetic expert sessions, wards, bookings and a year of two-way referrals (deterministic).

Call after the residents are loaded:
    load_referrals(seed=seed, today=today)            # defaults: 1 year, 25 upward / 1000 / year

Rates (plausible for a county, not from DOMAIN.md): 25 upward referrals per 1000 residents a
year, 8% of them out of county, 40% flagged family-doctor, 15% emergencies; outcomes 78%
completed, 7% declined, 4% expired, 5% cancelled, the rest open; half of the completed ones
come back with a return note, 85% of whose follow-ups are recorded. Sessions: every county
department, weekdays from 4 weeks ago to 2 weeks ahead, 5 one-hour slots of 10 seats (20%
reserved). Rows are written with bulk_create in the shape the actions write them; every
referral puts one item on the resident's timeline through `records.actions.add_entry`."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta

from django.db import transaction
from django.utils import timezone

from yigongti.network.models import Department, Facility, FacilityKind, Staff
from yigongti.records.actions import add_entry
from yigongti.records.models import EntryKind, ICD10Code
from yigongti.referrals.models import Direction, Referral, State, Transition, Urgency
from yigongti.residents.models import Resident, ResidentStatus
from yigongti.scheduling.models import (
    Booking,
    BookingSource,
    BookingStatus,
    ExpertSession,
    Pool,
    Slot,
    Ward,
)
from yigongti.scheduling.rules import reserved_share

UP_PER_1000 = 25
OUT_OF_COUNTY = 0.08
FAMILY_DOCTOR = 0.40
EMERGENCY = 0.15
OUTCOMES = [("completed", 78), ("declined", 7), ("expired", 4), ("cancelled", 5), ("open", 6)]
DESTINATIONS = ["省人民医院", "市中心医院", "省肿瘤医院", "市妇幼保健院", "省儿童医院"]
#: ICD-10 chapters patients most often leave the county for (used to weight diagnoses).
LEAVE_PREFIXES = ["C", "I2", "I6", "S", "Q", "N18", "E10", "G"]
REASONS = [
    "规律服药2-3个月血压仍未达标",
    "血压≥180/110伴剧烈头痛、呕吐",
    "血糖控制不佳，出现新的靶器官损害",
    "疑似急性冠脉综合征",
    "需进一步检查明确诊断",
    "术后复查",
]


def _weighted(rng: random.Random, table: list[tuple[str, int]]) -> str:
    total = sum(w for _, w in table)
    x = rng.uniform(0, total)
    for v, w in table:
        x -= w
        if x <= 0:
            return v
    return table[-1][0]


def _at(day: date, rng: random.Random) -> datetime:
    return datetime.combine(day, time(8 + rng.randrange(9), rng.randrange(60)), tzinfo=UTC)


def load_sessions(*, seed: int, today: date) -> dict[str, int]:
    rng = random.Random(f"{seed}-sessions")
    depts = list(
        Department.objects.filter(facility__kind=FacilityKind.COUNTY_HOSPITAL).order_by("pk")
    )
    staff_by: dict[int, list[Staff]] = {}
    for st in Staff.objects.filter(department__in=depts, active=True).order_by("pk"):
        staff_by.setdefault(st.department_id or 0, []).append(st)
    tz = timezone.get_current_timezone()
    wards: list[Ward] = []
    sessions: list[ExpertSession] = []
    for d in depts:
        beds = rng.choice([20, 30, 40, 50, 60])
        wards.append(Ward(department=d, beds=beds, reserved=reserved_share(beds, 10)))
        doctors = staff_by.get(d.pk, [])[:2]
        for offset in range(-28, 15):
            day = today + timedelta(days=offset)
            if day.weekday() >= 5:
                continue
            sessions.extend(ExpertSession(department=d, doctor=doc, day=day) for doc in doctors)
    with transaction.atomic():
        Ward.objects.bulk_create(wards, ignore_conflicts=True)
        ExpertSession.objects.bulk_create(sessions, batch_size=2000)
        slots = [
            Slot(
                session=sess,
                starts_at=datetime.combine(sess.day, time(h), tzinfo=tz),
                ends_at=datetime.combine(sess.day, time(h + 1), tzinfo=tz),
                capacity=10,
                reserved=reserved_share(10, 20),
            )
            for sess in ExpertSession.objects.filter(department__in=depts).order_by("pk")
            for h in (8, 9, 10, 14, 15)
        ]
        Slot.objects.bulk_create(slots, batch_size=5000)
    return {"wards": len(wards), "sessions": len(sessions), "slots": len(slots)}


def load_referrals(
    *, seed: int, today: date, years: float = 1.0, per_1000: float = UP_PER_1000
) -> dict[str, int]:
    """Sessions and wards, then `years` of referrals ending at `today`, `per_1000` upward
    referrals per 1000 residents a year (the benchmark raises it to reach a 1 M county's
    volume with fewer residents)."""
    counts: Counter[str] = Counter(load_sessions(seed=seed, today=today))
    rng = random.Random(f"{seed}-referrals")
    people = list(
        Resident.objects.filter(status=ResidentStatus.ACTIVE)
        .order_by("pk")
        .values_list("pk", "village_id", "township_id")
    )
    if not people:
        return dict(counts)
    fac = list(Facility.objects.filter(active=True).values("pk", "kind", "division_id", "group_id"))
    clinic_of = {f["division_id"]: f["pk"] for f in fac if f["kind"] == FacilityKind.VILLAGE_CLINIC}
    centre_of = {f["division_id"]: f for f in fac if f["kind"] == FacilityKind.TOWNSHIP_CENTRE}
    leads = {f["group_id"]: f["pk"] for f in fac if f["kind"] == FacilityKind.COUNTY_HOSPITAL}
    any_lead = next(iter(leads.values()), None)
    if any_lead is None:
        return dict(counts)
    depts_of: dict[int, list[int]] = {}
    for pk, fid in Department.objects.filter(facility_id__in=leads.values()).values_list(
        "pk", "facility_id"
    ):
        depts_of.setdefault(fid, []).append(pk)
    codes = list(
        ICD10Code.objects.filter(active=True).order_by("code").values_list("code", flat=True)
    )
    leave = [c for c in codes if any(c.startswith(p) for p in LEAVE_PREFIXES)] or codes
    n = round(len(people) * per_1000 / 1000 * years)
    span = max(1, int(365 * years))
    residents = Resident.objects.in_bulk([p[0] for p in people])
    refs: list[Referral] = []
    open_pairs: set[tuple[int, int]] = set()
    plans: list[tuple[str, date, bool]] = []
    for _ in range(n):
        pk, village, township = rng.choice(people)
        centre = centre_of.get(township)
        sender = clinic_of.get(village) if rng.random() < 0.6 else None
        sender = sender or (centre["pk"] if centre else None)
        if sender is None:
            continue
        lead = leads.get(centre["group_id"], any_lead) if centre else any_lead
        out = rng.random() < OUT_OF_COUNTY
        day = today - timedelta(days=rng.randrange(span))
        outcome = _weighted(rng, OUTCOMES)
        if (today - day).days <= 2 and outcome != "cancelled":
            outcome = "open"  # the last two days' notes still wait for an answer
        if outcome == "open" and ((today - day).days > 3 or (pk, lead) in open_pairs):
            outcome = "completed"  # one open referral per person and hospital
        if outcome == "open" and not out:
            open_pairs.add((pk, lead))
        at = _at(day, rng)
        emergency = rng.random() < EMERGENCY
        r = Referral(
            direction=Direction.UP,
            resident_id=pk,
            from_facility_id=sender,
            referring_doctor="家庭医生",
            to_facility_id=None if out else lead,
            to_department_id=None if out else rng.choice(depts_of.get(lead, [None])),
            out_of_county=out,
            destination_name=rng.choice(DESTINATIONS) if out else "",
            urgency=Urgency.EMERGENCY if emergency else Urgency.ROUTINE,
            family_doctor=rng.random() < FAMILY_DOCTOR,
            diagnosis_id=(rng.choice(leave) if out else rng.choice(codes)) if codes else None,
            reason=rng.choice(REASONS),
            submitted_at=at,
            respond_by=None if out else at + timedelta(hours=2 if emergency else 48),
        )
        refs.append(r)
        plans.append((outcome, day, emergency))
    with transaction.atomic():
        Referral.objects.bulk_create(refs, batch_size=2000)
        made = refs  # bulk_create sets the primary keys (PostgreSQL, SQLite ≥ 3.35)
        lead_of_none = any_lead
        trans: list[Transition] = []
        returns: list[Referral] = []
        for r, (outcome, day, emergency) in zip(made, plans, strict=True):
            at = r.submitted_at or _at(day, rng)
            steps = [("", "draft", at), ("draft", "submitted", at)]
            if outcome == "completed":
                t1 = at + timedelta(hours=1 if emergency else rng.randrange(2, 40))
                t2 = t1 + timedelta(days=0 if emergency else rng.randrange(1, 7))
                t3 = t2 + timedelta(days=rng.randrange(1, 10))
                steps += [
                    ("submitted", "accepted", t1),
                    ("accepted", "arrived", t2),
                    ("arrived", "completed", t3),
                ]
                r.state, r.responded_at, r.arrived_at, r.completed_at = State.COMPLETED, t1, t2, t3
                if not r.out_of_county and rng.random() < 0.5:
                    sent = t3
                    done = (today - sent.date()).days > 14 and rng.random() < 0.85
                    returns.append(
                        Referral(
                            direction=Direction.DOWN,
                            state=State.COMPLETED if done else State.SUBMITTED,
                            resident_id=r.resident_id,
                            from_facility_id=r.to_facility_id or lead_of_none,
                            to_facility_id=r.from_facility_id,
                            referring_doctor="县级医生",
                            urgency=Urgency.ROUTINE,
                            reason="继续规律治疗，定期复查",
                            parent=r,
                            return_diagnosis="病情稳定",
                            next_steps="继续规律治疗，定期复查",
                            rehab_advice="低盐低脂饮食，适量运动",
                            submitted_at=sent,
                            followup_due=sent.date() + timedelta(days=14),
                            followup_done_at=sent + timedelta(days=rng.randrange(3, 14))
                            if done
                            else None,
                            completed_at=sent + timedelta(days=13) if done else None,
                        )
                    )
            elif outcome == "declined":
                t1 = at + timedelta(hours=rng.randrange(1, 40))
                steps.append(("submitted", "declined", t1))
                r.state, r.responded_at, r.decline_reason = State.DECLINED, t1, "本科室床位已满"
            elif outcome == "expired" and r.respond_by:
                steps.append(("submitted", "expired", r.respond_by))
                r.state = State.EXPIRED
            elif outcome == "cancelled":
                steps.append(("submitted", "cancelled", at + timedelta(hours=1)))
                r.state, r.cancel_reason = State.CANCELLED, "患者自行前往"
            else:
                r.state = State.SUBMITTED
            trans.extend(
                Transition(referral=r, from_state=a, to_state=b, at=t, by_name="synth")
                for a, b, t in steps
            )
        Referral.objects.bulk_update(
            made,
            [
                "state",
                "responded_at",
                "arrived_at",
                "completed_at",
                "decline_reason",
                "cancel_reason",
            ],
            batch_size=2000,
        )
        Referral.objects.bulk_create(returns, batch_size=2000)
        Transition.objects.bulk_create(trans, batch_size=5000)
        for r in made:
            add_entry(
                residents[r.resident_id],
                kind=EntryKind.REFERRAL,
                occurred_at=r.submitted_at or timezone.now(),
                object_type="referral",
                object_id=r.pk,
                title=f"上转至{r.destination_name or '县级医院'}：{State(r.state).label}",
                facility_id=r.from_facility_id,
            )
    counts.update(
        {"referrals_up": len(made), "referrals_down": len(returns), "transitions": len(trans)}
    )
    _bookings(rng, today, counts)
    return dict(counts)


def _bookings(rng: random.Random, today: date, counts: Counter[str]) -> None:
    """Fill past and coming slots to 60–90%, a few no-shows in the past."""
    people = list(
        Resident.objects.filter(status=ResidentStatus.ACTIVE).values_list("pk", flat=True)
    )
    now = timezone.now()
    bookings: list[Booking] = []
    slots = list(
        Slot.objects.filter(starts_at__date__gte=today - timedelta(days=28)).order_by("pk")
    )
    for s in slots:
        n_pub = min(s.capacity - s.reserved, int((s.capacity - s.reserved) * rng.uniform(0.5, 0.9)))
        n_res = rng.randrange(0, s.reserved + 1)
        who = rng.sample(people, min(len(people), n_pub + n_res))
        for i, pk in enumerate(who):
            pool = Pool.RESERVED if i < n_res else Pool.PUBLIC
            if s.starts_at < now:
                status = BookingStatus.NO_SHOW if rng.random() < 0.05 else BookingStatus.ATTENDED
            else:
                status = BookingStatus.BOOKED
            bookings.append(
                Booking(
                    slot=s,
                    resident_id=pk,
                    pool=pool,
                    source=BookingSource.REFERRAL
                    if pool == Pool.RESERVED
                    else BookingSource.DIRECT,
                    status=status,
                )
            )
        s.booked_reserved = min(n_res, len(who))
        s.booked_public = len(who) - s.booked_reserved
    with transaction.atomic():
        Slot.objects.bulk_update(slots, ["booked_reserved", "booked_public"], batch_size=5000)
        Booking.objects.bulk_create(bookings, batch_size=5000)
    counts["bookings"] = len(bookings)
