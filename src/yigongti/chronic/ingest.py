"""Home-device readings in: one function for every channel (MQTT, HTTP, FHIR).

`ingest_reading(payload, channel=...)` takes the JSON layout of docs/devices.md and ends in
exactly one of four outcomes, so that count in = stored + duplicate + quarantined + rejected:

- stored: an Observation on the bound resident's record (`records.actions.upsert_observation`
  with Provenance(source="device", source_system="device:<serial>",
  source_id="<serial>:<UTC timestamp>"));
- duplicate: the same device and timestamp was stored before (ignored);
- quarantined: unknown, unbound or disabled device (kept in `QuarantinedReading`);
- rejected: malformed or physically impossible (kept in `RejectedReading` with the reason).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from yigongti.core.actor import Actor
from yigongti.records import rules as record_rules
from yigongti.records.actions import (
    SHANGHAI,
    ObservationInput,
    Outcome,
    Provenance,
    upsert_observation,
)
from yigongti.records.bulk import write_observations
from yigongti.records.models import Observation, Source, VersionStatus
from yigongti.residents.models import Resident

from . import rules
from .models import (
    Channel,
    Device,
    QuarantinedReading,
    QuarantineStatus,
    Registration,
    RegistrationStatus,
    RejectedReading,
)

SYSTEM = Actor.system("device-ingest")


class Status(StrEnum):
    STORED = "stored"
    DUPLICATE = "duplicate"
    QUARANTINED = "quarantined"
    REJECTED = "rejected"


@dataclass(frozen=True)
class Reading:
    serial: str
    type: str  # bp_meter / glucometer
    measured_at: datetime
    systolic: float | None = None
    diastolic: float | None = None
    pulse: float | None = None
    glucose: float | None = None
    meal: str = "fasting"

    @property
    def stamp(self) -> str:
        return self.measured_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    @property
    def source_system(self) -> str:
        return f"device:{self.serial}"

    @property
    def source_id(self) -> str:
        return f"{self.serial}:{self.stamp}"

    @property
    def kind(self) -> str:
        if self.type == "bp_meter":
            return "bp"
        return "glucose_fasting" if self.meal == "fasting" else "glucose_random"

    def measurements(self) -> rules.Measurements:
        if self.type == "bp_meter":
            return rules.Measurements(sbp=self.systolic, dbp=self.diastolic)
        return rules.Measurements(glucose=self.glucose)  # emergency limits: any glucose


@dataclass(frozen=True)
class IngestResult:
    status: Status
    reason: str = ""
    observation_id: int | None = None
    record_id: int | None = None  # the quarantine / rejected row


def _num(payload: dict[str, Any], key: str) -> float | None:
    raw = payload.get(key)
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        raise ValueError(key)
    value = float(raw)
    if not math.isfinite(value):
        raise ValueError(key)
    return value


def parse_payload(payload: object, *, fallback_serial: str = "") -> Reading | str:
    """The JSON of docs/devices.md → a Reading, or the reason it cannot be one."""
    if not isinstance(payload, dict):
        return "载荷不是 JSON 对象"
    serial = str(payload.get("serial") or fallback_serial or "").strip()
    if not serial or len(serial) > 64:
        return "缺少设备序列号 serial"
    raw_at = payload.get("measured_at")
    at = parse_datetime(raw_at) if isinstance(raw_at, str) else None
    if at is None:
        return "measured_at 缺失或不是 ISO 8601 时间"
    if timezone.is_naive(at):
        return "measured_at 须带时区（如 +08:00 或 Z）"
    try:
        sbp, dbp, pulse, glucose = (
            _num(payload, "systolic"),
            _num(payload, "diastolic"),
            _num(payload, "pulse"),
            _num(payload, "glucose"),
        )
    except (TypeError, ValueError) as exc:
        return f"{exc.args[0] if exc.args else '数值'} 须为数字"
    kind = str(payload.get("type") or ("glucometer" if glucose is not None else "bp_meter"))
    if kind not in rules.DEVICE_TYPES:
        return f"未知的设备类型：{kind}"
    meal = str(payload.get("meal") or "fasting")
    if kind == "bp_meter" and (sbp is None or dbp is None):
        return "血压计读数须含 systolic 和 diastolic"
    if kind == "glucometer" and glucose is None:
        return "血糖仪读数须含 glucose"
    if meal not in ("fasting", "random", "postprandial"):
        return f"未知的 meal：{meal}"
    return Reading(serial, kind, at, sbp, dbp, pulse, glucose, meal)


def _range_error(r: Reading) -> str:
    try:
        if r.type == "bp_meter":
            record_rules.check_vital("bp", r.systolic, r.diastolic)
            if r.pulse is not None:
                record_rules.check_vital("pulse", r.pulse)
        else:
            record_rules.check_vital("glucose_fasting", r.glucose)
    except record_rules.RuleError as exc:
        return exc.msg_zh
    if r.measured_at > timezone.now() + record_rules.CLOCK_SKEW:
        return "测量时间晚于当前时间"
    return ""


def store_observations(actor: Actor, resident: Resident, r: Reading) -> tuple[Observation, Outcome]:
    """The reading on the resident's record (and its pulse, when a BP meter sent one)."""
    items: list[tuple[str, float | None, float | None, str]] = (
        [("bp", r.systolic, r.diastolic, r.source_id)]
        if r.type == "bp_meter"
        else [(r.kind, r.glucose, None, r.source_id)]
    )
    if r.type == "bp_meter" and r.pulse is not None:
        items.append(("pulse", r.pulse, None, f"{r.source_id}:pulse"))
    first: tuple[Observation, Outcome] | None = None
    for kind, value, value2, source_id in items:
        out = upsert_observation(
            actor,
            resident,
            ObservationInput(
                kind=kind,
                value=value,
                value2=value2,
                effective_at=r.measured_at,
                device_serial=r.serial,
                provenance=Provenance(
                    source=Source.DEVICE, source_system=r.source_system, source_id=source_id
                ),
            ),
        )
        first = first or out
    assert first is not None
    return first


def reject(channel: str, serial: str, reason: str, payload: object) -> IngestResult:
    row = RejectedReading.objects.create(
        serial=serial[:64], channel=channel, reason=reason[:300], payload=_as_json(payload)
    )
    return IngestResult(Status.REJECTED, reason, record_id=row.pk)


def ingest_reading(
    payload: object, *, channel: str = Channel.MQTT, serial: str = "", device: Device | None = None
) -> IngestResult:
    """File one reading (any channel): a batch of one. `serial` is the topic's or the
    authenticated device's serial: when given, the payload must agree with it. Never raises
    on bad data."""
    known = {device.serial: device} if device is not None else None
    return ingest_batch([payload], channel=channel, serials=[serial], devices=known)[0]


@dataclass(frozen=True)
class Undecodable:
    """A message whose bytes are not JSON (rejected, the text kept)."""

    raw: str


_DUPLICATE = "同一设备同一时间的读数已存在"


@dataclass
class _Pending:
    """A checked reading on its way to the record."""

    index: int
    reading: Reading
    device: Device
    first: int = 0  # position of its main observation in the writer's items


def ingest_batch(
    payloads: Sequence[object],
    *,
    channel: str = Channel.MQTT,
    serials: Sequence[str] | None = None,
    devices: dict[str, Device] | None = None,
) -> list[IngestResult]:
    """File many readings at once (the MQTT subscriber's batches), with the same checks and
    outcomes as one by one, in one transaction: the devices resolved with one query, the
    stored readings written through `records.bulk.write_observations` (COPY, one audit entry
    for the batch), quarantined and rejected rows with `bulk_create`, then the alerts and
    follow-ups brought forward per affected registration. `serials[i]` is the topic's or
    authenticated device's serial for payload i ("" when none). One result per payload, in
    order. Never raises on bad data; raises (nothing kept) when the database fails."""
    n = len(payloads)
    given = list(serials) if serials is not None else [""] * n
    results: list[IngestResult | None] = [None] * n
    rejects: list[tuple[int, str, str, object]] = []  # (index, serial, reason, payload)
    parsed: list[tuple[int, Reading]] = []
    for i, payload in enumerate(payloads):
        serial = given[i]
        if isinstance(payload, Undecodable):
            rejects.append((i, serial, "载荷不是合法的 JSON", {"raw": payload.raw}))
            continue
        r = parse_payload(payload, fallback_serial=serial)
        if isinstance(r, str):
            rejects.append((i, serial or _serial_of(payload), r, payload))
        elif serial and r.serial != serial:
            rejects.append((i, serial, f"载荷序列号 {r.serial} 与设备 {serial} 不符", payload))
        elif reason := _range_error(r):
            rejects.append((i, r.serial, reason, payload))
        else:
            parsed.append((i, r))
    known = dict(devices or {})
    wanted = {r.serial for _, r in parsed} - set(known)
    if wanted:
        known.update({d.serial: d for d in Device.objects.filter(serial__in=wanted)})
    quarantine: list[tuple[int, Reading, str, Device | None]] = []
    ready: list[_Pending] = []
    for i, r in parsed:
        dev = known.get(r.serial)
        if dev is None:
            quarantine.append((i, r, "unknown_device", None))
        elif dev.type != r.type:
            reason = f"设备登记类型为 {dev.type}，读数类型为 {r.type}"
            rejects.append((i, r.serial, reason, payloads[i]))
        elif not dev.active:
            quarantine.append((i, r, "inactive", dev))
        elif dev.resident_id is None:
            quarantine.append((i, r, "unbound", dev))
        else:
            ready.append(_Pending(i, r, dev))
    with transaction.atomic():
        stored = _store(ready, results)
        for p, msg in stored.failed:
            rejects.append((p.index, p.reading.serial, msg, payloads[p.index]))
        _file_quarantine(channel, quarantine, payloads, results)
        if rejects:
            rows = RejectedReading.objects.bulk_create(
                [
                    RejectedReading(
                        serial=serial[:64],
                        channel=channel,
                        reason=reason[:300],
                        payload=_as_json(payload),
                    )
                    for _, serial, reason, payload in rejects
                ]
            )
            for (i, _, reason, _), row in zip(rejects, rows, strict=True):
                results[i] = IngestResult(Status.REJECTED, reason, record_id=row.pk)
        if stored.done:
            _alerts(stored.done)
            Device.objects.filter(pk__in={p.device.pk for p, _ in stored.done}).update(
                last_seen_at=timezone.now()
            )
    assert all(r is not None for r in results)
    return [r for r in results if r is not None]


@dataclass
class _Stored:
    done: list[tuple[_Pending, int]] = field(default_factory=list)  # (reading, resident id)
    failed: list[tuple[_Pending, str]] = field(default_factory=list)


def _observation_inputs(r: Reading) -> list[ObservationInput]:
    """BP (+ its pulse) or glucose, with the provenance `store_observations` gives them."""
    items: list[tuple[str, float | None, float | None, str]] = (
        [("bp", r.systolic, r.diastolic, r.source_id)]
        if r.type == "bp_meter"
        else [(r.kind, r.glucose, None, r.source_id)]
    )
    if r.type == "bp_meter" and r.pulse is not None:
        items.append(("pulse", r.pulse, None, f"{r.source_id}:pulse"))
    return [
        ObservationInput(
            kind=kind,
            value=value,
            value2=value2,
            effective_at=r.measured_at,
            device_serial=r.serial,
            provenance=Provenance(
                source=Source.DEVICE, source_system=r.source_system, source_id=source_id
            ),
        )
        for kind, value, value2, source_id in items
    ]


def _store(ready: list[_Pending], results: list[IngestResult | None]) -> _Stored:
    """Duplicates out (same device and time: in the batch, or stored before), the rest
    written in one go."""
    out = _Stored()
    if not ready:
        return out
    keys = {(p.reading.source_system, p.reading.source_id) for p in ready}
    stored_before = set(
        Observation.objects.filter(
            status=VersionStatus.CURRENT,
            source_system__in={k[0] for k in keys},
            source_id__in={k[1] for k in keys},
        )
        .exclude(source_id="")
        .values_list("source_system", "source_id")
    )
    fresh: list[_Pending] = []
    items: list[tuple[int, ObservationInput]] = []
    seen: set[tuple[str, str]] = set()
    for p in ready:
        key = (p.reading.source_system, p.reading.source_id)
        if key in stored_before or key in seen:
            results[p.index] = IngestResult(Status.DUPLICATE, _DUPLICATE)
            continue
        seen.add(key)
        p.first = len(items)
        assert p.device.resident_id is not None
        items += [(p.device.resident_id, o) for o in _observation_inputs(p.reading)]
        fresh.append(p)
    if not items:
        return out
    written = write_observations(SYSTEM, items, summary="家用设备上传", amend=False)
    for k, p in enumerate(fresh):
        main = written[p.first]
        end = fresh[k + 1].first if k + 1 < len(fresh) else len(written)
        error = next((w.error for w in written[p.first : end] if w.error), None)
        if error is not None:
            out.failed.append((p, error.msg_zh))
        elif main.outcome == Outcome.UNCHANGED:  # a concurrent delivery stored it first
            results[p.index] = IngestResult(Status.DUPLICATE, _DUPLICATE, main.observation_id)
        else:
            results[p.index] = IngestResult(Status.STORED, "", main.observation_id)
            assert main.resident_id is not None
            out.done.append((p, main.resident_id))
    return out


def _file_quarantine(
    channel: str,
    quarantine: list[tuple[int, Reading, str, Device | None]],
    payloads: Sequence[object],
    results: list[IngestResult | None],
) -> None:
    """Unknown, unbound or disabled devices: kept once per (serial, time) while pending."""
    if not quarantine:
        return
    pending = {
        (serial, at): pk
        for pk, serial, at in QuarantinedReading.objects.filter(
            serial__in={r.serial for _, r, _, _ in quarantine},
            measured_at__in={r.measured_at for _, r, _, _ in quarantine},
            status=QuarantineStatus.PENDING,
        ).values_list("pk", "serial", "measured_at")
    }
    new: list[tuple[int, Reading, str, Device | None]] = []
    again: list[tuple[int, tuple[str, datetime]]] = []
    firsts: set[tuple[str, datetime]] = set()
    for item in quarantine:
        i, r, _, _ = item
        key = (r.serial, r.measured_at)
        if key in pending:
            results[i] = IngestResult(Status.DUPLICATE, "已在待认领列表", record_id=pending[key])
        elif key in firsts:
            again.append((i, key))
        else:
            firsts.add(key)
            new.append(item)
    rows = QuarantinedReading.objects.bulk_create(
        [
            QuarantinedReading(
                serial=r.serial,
                device=dev,
                channel=channel,
                reason=reason,
                measured_at=r.measured_at,
                payload=payloads[i],
            )
            for i, r, reason, dev in new
        ]
    )
    for (i, r, reason, _), row in zip(new, rows, strict=True):
        results[i] = IngestResult(Status.QUARANTINED, reason, record_id=row.pk)
        pending[(r.serial, r.measured_at)] = row.pk
    for i, key in again:
        results[i] = IngestResult(Status.DUPLICATE, "已在待认领列表", record_id=pending[key])


def _alerts(done: list[tuple[_Pending, int]]) -> None:
    """`actions.home_reading_alert` for a batch: the abnormal or uncontrolled readings'
    registrations locked and read with one query, the recent uncontrolled home readings
    counted from one query, each changed registration saved once."""
    hits: list[tuple[Reading, int, str, tuple[str, ...], bool]] = []
    for p, resident_id in done:
        r = p.reading
        disease = rules.HYPERTENSION if r.kind == "bp" else rules.DIABETES
        m = r.measurements()
        reasons = tuple(rules.emergency_referral_reasons(disease, m))
        uncontrolled = r.kind != "glucose_random" and rules.DISEASES[disease].controlled(m) is False
        if reasons or uncontrolled:
            hits.append((r, resident_id, disease, reasons, uncontrolled))
    if not hits:
        return
    regs = {
        (reg.resident_id, reg.disease): reg
        for reg in Registration.objects.select_for_update()
        .filter(
            resident_id__in={h[1] for h in hits},
            disease__in={h[2] for h in hits},
            status=RegistrationStatus.ACTIVE,
        )
        .order_by("pk")
    }
    hits = [h for h in hits if (h[1], h[2]) in regs]

    def settled(h: tuple[Reading, int, str, tuple[str, ...], bool]) -> bool:
        """Already alerted and due within two weeks of this reading: counting the recent
        uncontrolled readings could change nothing (the state only moves that way)."""
        reg = regs[(h[1], h[2])]
        day = timezone.localdate(h[0].measured_at)
        return bool(reg.alert) and reg.next_due <= day + rules.SHORT_INTERVAL

    hits = [
        (r, rid, d, reasons, unc and not settled((r, rid, d, reasons, unc)))
        for r, rid, d, reasons, unc in hits
    ]
    counted = [h for h in hits if h[4]]
    recent: dict[tuple[int, str], list[datetime]] = {}
    if counted:
        since = min(timezone.localdate(h[0].measured_at) for h in counted) - rules.HOME_WINDOW
        kinds = {h[0].kind for h in counted}
        raised = Q(value__gte=rules.BP_SBP_TARGET) | Q(value2__gte=rules.BP_DBP_TARGET)
        off_target = (Q(kind="bp") & raised) | (~Q(kind="bp") & Q(value__gte=rules.GLUCOSE_TARGET))
        for rid, kind, at in (
            Observation.objects.filter(
                resident_id__in={h[1] for h in counted},
                kind__in=kinds,
                source=Source.DEVICE,
                status=VersionStatus.CURRENT,
                effective_at__gte=_day_start(since),
            )
            .filter(off_target)
            .values_list("resident_id", "kind", "effective_at")
        ):
            recent.setdefault((rid, kind), []).append(at)
    changed: dict[int, tuple[Registration, list[str]]] = {}
    now = timezone.now()
    for r, resident_id, disease, reasons, uncontrolled in hits:
        reg = regs[(resident_id, disease)]
        fields = changed.setdefault(reg.pk, (reg, []))[1]
        if reasons:
            reg.alert = ("家庭监测：" + "、".join(reasons))[:200]
            reg.alert_at = now
            reg.risk = max(reg.risk, rules.RISK_RANK[rules.Classification.REFER] + 2)
            fields += ["alert", "alert_at", "risk"]
        if uncontrolled:
            day = timezone.localdate(r.measured_at)
            start = _day_start(day - rules.HOME_WINDOW)
            count = sum(1 for at in recent.get((resident_id, r.kind), []) if at >= start)
            if count >= rules.HOME_UNCONTROLLED_REPEAT:
                forward = day + rules.SHORT_INTERVAL
                if reg.next_due > forward:
                    reg.next_due = forward
                    fields.append("next_due")
                if not reg.alert:
                    reg.alert = "家庭监测多次未达标，随访已提前"
                    reg.alert_at = now
                    fields += ["alert", "alert_at"]
    for reg, fields in changed.values():
        if fields:
            reg.save(update_fields=list(dict.fromkeys(fields)))


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=SHANGHAI)


def _as_json(payload: object) -> object:
    return payload if isinstance(payload, dict | list) else {"raw": str(payload)[:2000]}


def _serial_of(payload: object) -> str:
    return str(payload.get("serial") or "")[:64] if isinstance(payload, dict) else ""
