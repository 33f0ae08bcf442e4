"""Batch ingestion (the MQTT subscriber's path): the same outcomes as one by one, per payload
and in order, with count in = stored + duplicate + quarantined + rejected; one observation
per (device, time) whichever path brought it; alerts as for single readings; and the
records layer's batch writer (`records.bulk.write_observations`)."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from yigongti.chronic.actions import DeviceInput, do_bind_device, do_register_device
from yigongti.chronic.ingest import Status, Undecodable, ingest_batch, ingest_reading
from yigongti.chronic.models import Device, QuarantinedReading, RejectedReading
from yigongti.core.actor import Actor
from yigongti.core.errors import Forbidden
from yigongti.core.models import AuditEntry
from yigongti.records.actions import ObservationInput, Outcome, Provenance, upsert_observation
from yigongti.records.bulk import write_observations
from yigongti.records.models import Entry, Observation

from .helpers import enrol, residents_of


def _at(minutes_ago: int = 5) -> str:
    return (timezone.now() - timedelta(minutes=minutes_ago)).isoformat()


def _bp(serial: str, sbp: float = 132, dbp: float = 84, at: str | None = None) -> dict:
    return {
        "serial": serial,
        "type": "bp_meter",
        "measured_at": at or _at(),
        "systolic": sbp,
        "diastolic": dbp,
        "pulse": 70,
    }


def _device(doc, serial: str, resident=None, type: str = "bp_meter") -> Device:
    dev, _ = do_register_device(doc, DeviceInput(serial=serial, type=type))
    if resident is not None:
        do_bind_device(doc, dev, resident)
    return dev


def test_a_mixed_batch_gives_each_payload_its_outcome_in_order(actor):
    doc = actor("village_doctor")
    a, b = residents_of(doc, 2)
    _device(doc, "BB-1", a)
    _device(doc, "BB-2", b)
    _device(doc, "BB-FREE")  # registered, not bound
    _device(doc, "GB-1", a, type="glucometer")
    earlier = _at(60)
    assert ingest_reading(_bp("BB-1", at=earlier)).status == Status.STORED
    same = _at(10)
    unknown_at = _at(9)
    batch: list[object] = [
        _bp("BB-1", at=same),  # 0 stored
        _bp("BB-1", sbp=140, at=same),  # 1 duplicate within the batch
        _bp("BB-1", at=earlier),  # 2 duplicate of an earlier row
        _bp("NOPE-B", at=unknown_at),  # 3 quarantined: unknown device
        _bp("NOPE-B", at=unknown_at),  # 4 duplicate of 3 (already in the quarantine)
        _bp("BB-FREE"),  # 5 quarantined: unbound
        _bp("BB-2", sbp=400),  # 6 rejected: out of range
        {"serial": "BB-2", "systolic": 120},  # 7 rejected: no time, no diastolic
        Undecodable("not json"),  # 8 rejected: not JSON
        _bp("GB-1"),  # 9 rejected: a BP reading from a glucometer
        _bp("BB-2", at="2026-01-01T08:00:00"),  # 10 rejected: no time zone
        _bp("BB-2", at=_at(3)),  # 11 stored
        {"serial": "GB-1", "measured_at": _at(4), "glucose": 6.0},  # 12 stored (glucose)
        _bp("BB-2", at=_at(2)),  # 13 rejected: the topic says BB-1
        "a string",  # 14 rejected: not an object
    ]
    serials = [""] * len(batch)
    serials[13] = "BB-1"
    before_q, before_r = QuarantinedReading.objects.count(), RejectedReading.objects.count()
    res = ingest_batch(batch, serials=serials)
    assert [r.status for r in res] == [
        Status.STORED,
        Status.DUPLICATE,
        Status.DUPLICATE,
        Status.QUARANTINED,
        Status.DUPLICATE,
        Status.QUARANTINED,
        Status.REJECTED,
        Status.REJECTED,
        Status.REJECTED,
        Status.REJECTED,
        Status.REJECTED,
        Status.STORED,
        Status.STORED,
        Status.REJECTED,
        Status.REJECTED,
    ]
    assert (res[3].reason, res[5].reason) == ("unknown_device", "unbound")
    assert "收缩压" in res[6].reason and "JSON" in res[8].reason and "时区" in res[10].reason
    assert "glucometer" in res[9].reason and "不符" in res[13].reason
    assert res[4].record_id == res[3].record_id
    # count in = stored + duplicate + quarantined + rejected, and each kept where it says
    by = {s: sum(1 for r in res if r.status == s) for s in Status}
    assert sum(by.values()) == len(batch)
    assert QuarantinedReading.objects.count() - before_q == by[Status.QUARANTINED] == 2
    assert RejectedReading.objects.count() - before_r == by[Status.REJECTED] == 7
    stored = [Observation.objects.get(pk=r.observation_id) for r in res if r.status == "stored"]
    assert [(o.kind, o.resident_id) for o in stored] == [
        ("bp", a.pk),
        ("bp", b.pk),
        ("glucose_fasting", a.pk),
    ]
    assert stored[0].value == 132 and stored[0].source_system == "device:BB-1"
    assert Observation.objects.filter(source_system="device:BB-1", kind="bp").count() == 2
    assert Observation.objects.filter(source_system="device:BB-1", kind="pulse").count() == 2
    # each stored observation is on the timeline
    assert (
        Entry.objects.filter(
            object_type="observation", object_id__in=[o.pk for o in stored]
        ).count()
        == 3
    )
    assert Device.objects.get(serial="BB-2").last_seen_at is not None


def test_a_reading_sent_singly_then_in_a_batch_and_back_is_stored_once(actor):
    doc = actor("village_doctor")
    (a,) = residents_of(doc)
    _device(doc, "BB-S", a)
    one, two = _bp("BB-S", at=_at(30)), _bp("BB-S", at=_at(20))
    assert ingest_reading(one).status == Status.STORED
    res = ingest_batch([one, two, two])
    assert [r.status for r in res] == [Status.DUPLICATE, Status.STORED, Status.DUPLICATE]
    assert ingest_reading(two).status == Status.DUPLICATE
    # the same (device, second) with a different offset is the same reading
    utc = datetime.fromisoformat(str(two["measured_at"])).astimezone(UTC)
    assert ingest_batch([{**two, "measured_at": utc.isoformat()}])[0].status == Status.DUPLICATE
    assert Observation.objects.filter(source_system="device:BB-S", kind="bp").count() == 2
    assert Observation.objects.filter(source_system="device:BB-S", kind="pulse").count() == 2


def test_abnormal_readings_in_a_batch_alert_and_bring_the_followup_forward(actor):
    doc = actor("village_doctor")
    a, b, c = residents_of(doc, 3)
    regs = [enrol(doc, r) for r in (a, b, c)]
    far = timezone.localdate() + timedelta(days=80)
    for reg in regs:
        reg.next_due = far
        reg.alert = ""
        reg.save()
    for i, r in enumerate((a, b, c)):
        _device(doc, f"BB-A{i}", r)
    res = ingest_batch(
        [
            _bp("BB-A0", 150, 92, at=_at(60)),  # a: two uncontrolled → forward
            _bp("BB-A0", 152, 94, at=_at(30)),
            _bp("BB-A1", 185, 100, at=_at(10)),  # b: SBP ≥ 180 → alert
            _bp("BB-A2", 150, 92, at=_at(10)),  # c: once is not repeated
        ]
    )
    assert all(r.status == Status.STORED for r in res)
    for reg in regs:
        reg.refresh_from_db()
    assert regs[0].next_due <= timezone.localdate() + timedelta(days=14)
    assert regs[0].alert == "家庭监测多次未达标，随访已提前"
    assert "180" in regs[1].alert and regs[1].next_due == far
    assert regs[2].next_due == far and not regs[2].alert


def test_write_observations_is_idempotent_with_upsert_observation_and_audits_once(actor):
    doc = actor("village_doctor")
    a, b = residents_of(doc, 2)
    system = Actor.system("test")
    at = timezone.now() - timedelta(hours=1)

    def inp(value: float, sid: str) -> ObservationInput:
        return ObservationInput(
            kind="pulse",
            value=value,
            effective_at=at,
            device_serial="X",
            provenance=Provenance("device", "device:X", sid),
        )

    single, _ = upsert_observation(system, a, inp(70, "X:1"))
    audits = AuditEntry.objects.count()
    out = write_observations(
        system,
        [
            (a.pk, inp(70, "X:1")),  # the same as the single write: unchanged
            (a.pk, inp(72, "X:2")),  # new
            (b.pk, inp(999, "X:3")),  # impossible pulse: not written
            (a.pk, inp(72, "X:2")),  # again in the batch: unchanged
        ],
    )
    assert [w.outcome for w in out] == [
        Outcome.UNCHANGED,
        Outcome.CREATED,
        None,
        Outcome.UNCHANGED,
    ]
    assert out[0].observation_id == single.pk and out[3].observation_id == out[1].observation_id
    assert out[2].error is not None and out[2].error.code
    assert AuditEntry.objects.count() == audits + 1
    assert Entry.objects.filter(object_type="observation", object_id=out[1].observation_id).exists()
    # other content under the same identity amends (the old version stays, amended) …
    (w,) = write_observations(system, [(a.pk, inp(75, "X:2"))])
    assert w.outcome == Outcome.UPDATED
    assert Observation.objects.get(pk=out[1].observation_id).status == "amended"
    # … unless the caller keeps the first version (the device rule)
    (w,) = write_observations(system, [(a.pk, inp(80, "X:2"))], amend=False)
    assert w.outcome == Outcome.UNCHANGED
    assert Observation.objects.filter(source_id="X:2", status="current").get().value == 75
    # a user writes only for residents in scope, and needs the permission
    out = write_observations(actor("outsider_doctor"), [(a.pk, inp(70, "X:9"))])
    assert out[0].outcome is None and out[0].error.code == "out_of_scope"
    with pytest.raises(Forbidden):
        write_observations(actor("pharmacist"), [(a.pk, inp(70, "X:9"))])
    assert not Observation.objects.filter(source_id="X:9").exists()


# --- the subscriber: acknowledged only after the batch is committed --------------------


def _publish(prefix: str, messages: list[tuple[str, bytes]]) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from yigongti.chronic.mqtt import topic_for

    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}")
    pub.connect("127.0.0.1", 1883)
    pub.loop_start()
    try:
        for serial, payload in messages:
            pub.publish(topic_for(serial, prefix), payload, qos=1).wait_for_publish(timeout=10)
    finally:
        pub.disconnect()
        pub.loop_stop()


def _broker_up() -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", 1883), timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not _broker_up(), reason="no MQTT broker on 127.0.0.1:1883")
def test_a_batch_that_fails_is_not_acknowledged_and_comes_again(actor, monkeypatch):
    import time

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from yigongti.chronic import mqtt as sub_mod

    doc = actor("village_doctor")
    (a,) = residents_of(doc)
    run = uuid.uuid4().hex[:8]
    prefix, serial, client_id = f"ygt-test-{run}/devices", f"BBM-{run}", f"ygt-test-fail-{run}"
    _device(doc, serial, a)
    real = sub_mod.ingest_batch

    def broken(*args, **kwargs):
        raise RuntimeError("database away")

    monkeypatch.setattr(sub_mod, "ingest_batch", broken)
    sub = sub_mod.Subscriber(url="mqtt://127.0.0.1:1883", client_id=client_id, prefix=prefix)
    stop = threading.Event()
    t = threading.Thread(target=sub.run, kwargs={"stop": stop, "max_seconds": 30}, daemon=True)
    t.start()
    assert sub.subscribed.wait(10)
    msgs = [(serial, json.dumps(_bp(serial, at=_at(m))).encode()) for m in (40, 30, 20)]
    _publish(prefix, msgs)
    end = time.monotonic() + 15
    while sub.counts["error"] < 3 and time.monotonic() < end:
        time.sleep(0.05)
    stop.set()
    t.join(15)
    assert sub.counts["error"] >= 3 and not sub.counts["stored"]
    bp = Observation.objects.filter(source_system=f"device:{serial}", kind="bp")
    assert bp.count() == 0
    # the process "comes back" with the same session: the broker sends them again
    monkeypatch.setattr(sub_mod, "ingest_batch", real)
    sub2 = sub_mod.Subscriber(url="mqtt://127.0.0.1:1883", client_id=client_id, prefix=prefix)
    stop2 = threading.Event()
    t2 = threading.Thread(target=sub2.run, kwargs={"stop": stop2, "max_seconds": 30}, daemon=True)
    t2.start()
    try:
        end = time.monotonic() + 15
        while bp.count() < 3 and time.monotonic() < end:
            time.sleep(0.1)
        assert bp.count() == 3, sub2.counts
    finally:
        stop2.set()
        t2.join(15)
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    c.connect("127.0.0.1", 1883)
    c.disconnect()


@pytest.mark.django_db(transaction=True)
def test_the_same_reading_in_batches_filed_at_once_is_stored_once(actor):
    from yigongti.core.testing import run_together

    doc = actor("village_doctor")
    (a,) = residents_of(doc)
    _device(doc, "BB-RACE", a)
    same = _bp("BB-RACE", at=_at(15))
    results = run_together(
        3, lambda i: ingest_batch([same, _bp("BB-RACE", at=_at(20 + i))])[0].status
    )
    assert sorted(results) == [Status.DUPLICATE, Status.DUPLICATE, Status.STORED], results
    assert Observation.objects.filter(source_system="device:BB-RACE", kind="bp").count() == 4
    assert Observation.objects.filter(source_system="device:BB-RACE", kind="pulse").count() == 4
