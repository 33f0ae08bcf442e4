"""Synthetic chronic-disease registers, follow-up histories and home devices.

Deterministic from the seed and each resident's id. Who has hypertension or diabetes is the
same draw as the clinical history (`synth.records.conditions`: ≈27% of adults and ≈11%,
rising with age — DESIGN.md), so a registered patient's record carries the I10 / E11
diagnoses. Follow-up completion is realistic rather than perfect: about 60% of patients are
followed up to the norm (every 2–3 months, 2 weeks after an uncontrolled result), 30% two or
three times a year and 10% rarely; blood pressure is on target at about 55% of hypertension
follow-ups and fasting glucose at about 50% of diabetes follow-ups. The classification, next
due date and gap of each follow-up come from `chronic.rules`, as the action computes them.
Devices: every serial that sent home readings in the clinical history becomes a registered
blood-pressure meter bound to its resident.

Rows go in with COPY on PostgreSQL (`records.bulk.insert_rows`; `bulk_create` elsewhere),
so the 1 M-resident county's ≈200 k registers and three years of follow-ups load in minutes;
follow-up measurements are not duplicated into the
record's observations (the clinical history already holds the visits' vitals)."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from yigongti.chronic import rules
from yigongti.chronic.models import (
    Device,
    DeviceBinding,
    DeviceType,
    Followup,
    Registration,
)
from yigongti.network.models import Facility, FacilityKind
from yigongti.records.bulk import insert_rows, row_of
from yigongti.records.models import Observation
from yigongti.residents.models import Resident

from .records import conditions

SHANGHAI = ZoneInfo("Asia/Shanghai")

#: (share of patients, days between routine follow-ups (low, high))
DILIGENCE = ((0.6, (60, 88)), (0.3, (110, 180)), (0.1, (200, 400)))
CONTROLLED_P = {rules.HYPERTENSION: 0.55, rules.DIABETES: 0.5}


def _clinic_of() -> dict[int, int]:
    """village id → its clinic; township id → its centre (for villages without a clinic)."""
    out: dict[int, int] = {}
    rows = Facility.objects.filter(
        kind__in=(FacilityKind.VILLAGE_CLINIC, FacilityKind.TOWNSHIP_CENTRE)
    ).values_list("pk", "division_id", "kind")
    for pk, division_id, _kind in sorted(
        rows, key=lambda r: (r[2] != FacilityKind.VILLAGE_CLINIC, r[0])
    ):
        out.setdefault(division_id, pk)
    return out


def _measure(rng: random.Random, disease: str, controlled: bool) -> dict[str, float]:
    if disease == rules.HYPERTENSION:
        if controlled:
            sbp = rng.randint(112, 139)
            dbp = rng.randint(66, 89)
        else:
            sbp = rng.randint(140, 178)
            dbp = rng.randint(80, 108)
        return {"sbp": float(sbp), "dbp": float(min(dbp, sbp - 20))}
    glucose = round(rng.uniform(4.6, 6.9) if controlled else rng.uniform(7.0, 13.5), 1)
    return {
        "glucose": glucose,
        "sbp": float(rng.randint(115, 150)),
        "dbp": float(rng.randint(70, 92)),
    }


def _history(
    rng: random.Random,
    reg: Registration,
    start: date,
    today: date,
    facility_id: int,
) -> list[Followup]:
    roll = rng.random()
    acc = 0.0
    low, high = DILIGENCE[-1][1]
    for share, span in DILIGENCE:
        acc += share
        if roll < acc:
            low, high = span
            break
    d = rules.DISEASES[reg.disease]
    day = max(start, reg.enrolled_on) + timedelta(days=rng.randint(0, high // 2))
    prev: Followup | None = None
    out: list[Followup] = []
    while day < today:
        ok = rng.random() < CONTROLLED_P[reg.disease]
        m = _measure(rng, reg.disease, ok)
        meas = rules.Measurements(sbp=m.get("sbp"), dbp=m.get("dbp"), glucose=m.get("glucose"))
        controlled = d.controlled(meas)
        result = d.classify(
            meas,
            previous_uncontrolled=bool(prev and prev.controlled is False),
            visit_date=day,
        )
        fu = Followup(
            registration=reg,
            resident_id=reg.resident_id,
            disease=reg.disease,
            followup_date=day,
            facility_id=facility_id,
            sbp=m.get("sbp"),
            dbp=m.get("dbp"),
            glucose=m.get("glucose"),
            heart_rate=float(rng.randint(62, 92)),
            adherence=rng.choice(("regular", "regular", "regular", "intermittent", "none")),
            dorsalis_pedis="normal" if reg.disease == rules.DIABETES else "",
            controlled=controlled,
            classification=result.classification,
            reasons=list(result.reasons),
            next_due=result.next_due,
            emergency=rules.emergency_referral_reasons(reg.disease, meas),
            prev_date=prev.followup_date if prev else None,
            gap_days=(day - prev.followup_date).days if prev else None,
        )
        out.append(fu)
        prev = fu
        if result.classification == rules.Classification.CONTROLLED:
            step = rng.randint(low, high)
        else:  # the 2-week recall is kept by the diligent, late for the others
            step = rng.randint(12, 16) if low < 100 else rng.randint(30, high)
        day = day + timedelta(days=step)
    if prev is not None:
        reg.last_followup_on = prev.followup_date
        reg.last_classification = prev.classification
        reg.risk = rules.RISK_RANK[prev.classification]
        reg.next_due = prev.next_due
    return out


def load_chronic(
    *,
    seed: int,
    today: date | None = None,
    years: float = 1.0,
    chunk: int = 5_000,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Registers for every active adult with hypertension or diabetes (the records' draw),
    `years` of follow-ups before `today`, and the home devices. Returns row counts."""
    today = today or timezone.localdate()
    start = today - timedelta(days=int(365 * years))
    clinics = _clinic_of()
    counts = {"registration": 0, "followup": 0, "device": 0}
    last = 0
    while True:
        people = list(
            Resident.objects.filter(pk__gt=last, status="active")
            .order_by("pk")
            .values_list("pk", "birth_date", "village_id", "township_id")[:chunk]
        )
        if not people:
            break
        last = people[-1][0]
        regs: list[Registration] = []
        plans: list[tuple[Registration, random.Random, int]] = []
        for pk, birth, village_id, township_id in people:
            age = (today - birth).days // 365
            htn, dm = conditions(random.Random(seed * 1_000_003 + pk), age)
            rng = random.Random(seed * 7_000_003 + pk)
            facility_id = clinics.get(village_id) or clinics.get(township_id)
            if facility_id is None:
                continue
            for disease, has in ((rules.HYPERTENSION, htn), (rules.DIABETES, dm)):
                if not has:
                    continue
                years_ago = rng.randint(0, min(15, max(0, age - 30)))
                diagnosed = today - timedelta(days=365 * years_ago + rng.randint(30, 360))
                diagnosed = max(diagnosed, birth + timedelta(days=365 * 18))
                reg = Registration(
                    resident_id=pk,
                    village_id=village_id,
                    township_id=township_id,
                    disease=disease,
                    diagnosed_on=diagnosed,
                    enrolled_on=diagnosed,
                    facility_id=facility_id,
                    next_due=min(today, diagnosed + rules.SHORT_INTERVAL),
                    level=rng.choice(("1", "1", "2", "3")),
                )
                regs.append(reg)
                plans.append((reg, rng, facility_id))
        fus: list[Followup] = []
        for reg, rng, facility_id in plans:
            fus.extend(_history(rng, reg, start, today, facility_id))
        now = timezone.now()
        with transaction.atomic():
            ids = insert_rows(Registration, [row_of(r, created_at=now) for r in regs])
            for reg, pk in zip(regs, ids, strict=True):
                reg.pk = pk
            insert_rows(
                Followup,
                [row_of(fu, registration_id=fu.registration.pk, recorded_at=now) for fu in fus],
            )
        counts["registration"] += len(regs)
        counts["followup"] += len(fus)
        if progress is not None:
            progress(len(people))
    counts["device"] = _load_devices(clinics)
    return counts


def _load_devices(clinics: dict[int, int]) -> int:
    """Every serial of the history's home readings: a bound blood-pressure meter."""
    pairs = (
        Observation.objects.exclude(device_serial="")
        .values_list(
            "device_serial", "resident_id", "resident__village_id", "resident__township_id"
        )
        .distinct()
        .order_by("device_serial")
    )
    known = set(Device.objects.values_list("serial", flat=True))
    now = timezone.now()
    bound_at = datetime.combine(
        timezone.localdate() - timedelta(days=400), time(9), tzinfo=SHANGHAI
    )
    devices: list[Device] = []
    residents: list[int] = []
    for serial, resident_id, village_id, township_id in pairs:
        facility_id = clinics.get(village_id) or clinics.get(township_id)
        if serial in known or facility_id is None:
            continue
        known.add(serial)
        devices.append(
            Device(
                serial=serial,
                type=DeviceType.BP_METER,
                model_name="模拟血压计",
                resident_id=resident_id,
                bound_at=bound_at,
                facility_id=facility_id,
                last_seen_at=now,
            )
        )
        residents.append(resident_id)
    with transaction.atomic():
        Device.objects.bulk_create(devices, batch_size=2_000)
        saved = dict(
            Device.objects.filter(serial__in=[d.serial for d in devices]).values_list(
                "serial", "pk"
            )
        )
        DeviceBinding.objects.bulk_create(
            [
                DeviceBinding(
                    device_id=saved[d.serial], resident_id=r, bound_at=bound_at, reason="模拟数据"
                )
                for d, r in zip(devices, residents, strict=True)
            ],
            batch_size=2_000,
        )
    return len(devices)
