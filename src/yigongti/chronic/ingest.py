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
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from yigongti.core.actor import Actor
from yigongti.core.errors import DomainError
from yigongti.records import rules as record_rules
from yigongti.records.actions import ObservationInput, Outcome, Provenance, upsert_observation
from yigongti.records.models import Observation, Source, VersionStatus
from yigongti.residents.models import Resident

from . import rules
from .actions import home_reading_alert
from .models import Channel, Device, QuarantinedReading, QuarantineStatus, RejectedReading

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
        serial=serial[:64],
        channel=channel,
        reason=reason[:300],
        payload=payload if isinstance(payload, dict | list) else {"raw": str(payload)[:2000]},
    )
    return IngestResult(Status.REJECTED, reason, record_id=row.pk)


def _quarantine(
    channel: str, r: Reading, reason: str, payload: dict[str, Any], device: Device | None
) -> IngestResult:
    existing = QuarantinedReading.objects.filter(
        serial=r.serial, measured_at=r.measured_at, status=QuarantineStatus.PENDING
    ).first()
    if existing is not None:
        return IngestResult(Status.DUPLICATE, "已在待认领列表", record_id=existing.pk)
    row = QuarantinedReading.objects.create(
        serial=r.serial,
        device=device,
        channel=channel,
        reason=reason,
        measured_at=r.measured_at,
        payload=payload,
    )
    return IngestResult(Status.QUARANTINED, reason, record_id=row.pk)


def ingest_reading(
    payload: object, *, channel: str = Channel.MQTT, serial: str = "", device: Device | None = None
) -> IngestResult:
    """File one reading (any channel). `serial` is the topic's or the authenticated device's
    serial: when given, the payload must agree with it. Never raises on bad data."""
    parsed = parse_payload(payload, fallback_serial=serial)
    if isinstance(parsed, str):
        return reject(channel, serial or _serial_of(payload), parsed, payload)
    if serial and parsed.serial != serial:
        return reject(channel, serial, f"载荷序列号 {parsed.serial} 与设备 {serial} 不符", payload)
    assert isinstance(payload, dict)
    reason = _range_error(parsed)
    if reason:
        return reject(channel, parsed.serial, reason, payload)
    dev = device or Device.objects.filter(serial=parsed.serial).first()
    if dev is None:
        return _quarantine(channel, parsed, "unknown_device", payload, None)
    if dev.type != parsed.type:
        return reject(
            channel, parsed.serial, f"设备登记类型为 {dev.type}，读数类型为 {parsed.type}", payload
        )
    if not dev.active:
        return _quarantine(channel, parsed, "inactive", payload, dev)
    if dev.resident_id is None:
        return _quarantine(channel, parsed, "unbound", payload, dev)
    if Observation.objects.filter(
        source_system=parsed.source_system,
        source_id=parsed.source_id,
        status=VersionStatus.CURRENT,
    ).exists():
        return IngestResult(Status.DUPLICATE, "同一设备同一时间的读数已存在")
    resident = Resident.objects.get(pk=dev.resident_id)
    try:
        with transaction.atomic():
            obs, outcome = store_observations(SYSTEM, resident, parsed)
            if outcome == Outcome.UNCHANGED:  # a concurrent delivery stored it first
                return IngestResult(Status.DUPLICATE, "同一设备同一时间的读数已存在", obs.pk)
            home_reading_alert(
                obs.resident_id,
                parsed.kind,
                parsed.measurements(),
                timezone.localdate(parsed.measured_at),
            )
            Device.objects.filter(pk=dev.pk).update(last_seen_at=timezone.now())
    except DomainError as exc:
        return reject(channel, parsed.serial, str(exc), payload)
    return IngestResult(Status.STORED, "", obs.pk)


def _serial_of(payload: object) -> str:
    return str(payload.get("serial") or "")[:64] if isinstance(payload, dict) else ""
