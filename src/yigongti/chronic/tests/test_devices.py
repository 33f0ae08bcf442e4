"""Home devices: registry, binding history, ingestion (HTTP and the shared function)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from yigongti.chronic.actions import (
    DeviceInput,
    do_assign_quarantined,
    do_bind_device,
    do_register_device,
    do_unbind_device,
)
from yigongti.chronic.ingest import Status, ingest_reading
from yigongti.chronic.models import DeviceBinding, QuarantinedReading, RejectedReading
from yigongti.core.errors import Conflict, DomainError, Forbidden
from yigongti.records.models import Observation

from .helpers import enrol, residents_of


def _at(minutes_ago: int = 5) -> str:
    return (timezone.now() - timedelta(minutes=minutes_ago)).isoformat()


def _bp(
    serial: str, sbp: float = 150, dbp: float = 95, at: str | None = None, **more: object
) -> dict:
    return {
        "serial": serial,
        "type": "bp_meter",
        "measured_at": at or _at(),
        "systolic": sbp,
        "diastolic": dbp,
        "pulse": 72,
        **more,
    }


def test_register_bind_rebind_unbind_keeps_history(actor):
    doc = actor("village_doctor")
    a, b = residents_of(doc, 2)
    dev, secret = do_register_device(doc, DeviceInput(serial="BP-T-001", type="bp_meter"))
    assert len(secret) > 20 and dev.secret_hash != secret
    with pytest.raises(Conflict):
        do_register_device(doc, DeviceInput(serial="BP-T-001", type="bp_meter"))
    with pytest.raises(DomainError) as exc:
        do_register_device(doc, DeviceInput(serial="a/b", type="toaster"))
    assert {e.field for e in exc.value.errors} == {"serial", "type"}
    do_bind_device(doc, dev, a)
    do_bind_device(doc, dev, b, reason="换给老伴")
    hist = list(DeviceBinding.objects.filter(device=dev).order_by("pk"))
    assert [h.resident_id for h in hist] == [a.pk, b.pk]
    assert hist[0].unbound_at is not None and hist[1].unbound_at is None
    do_unbind_device(doc, dev)
    dev.refresh_from_db()
    assert dev.resident_id is None
    assert DeviceBinding.objects.filter(device=dev, unbound_at=None).count() == 0


def test_outsider_cannot_bind_to_a_resident_outside_their_area(actor):
    doc, out = actor("village_doctor"), actor("outsider_doctor")
    (a,) = residents_of(doc)
    dev, _ = do_register_device(out, DeviceInput(serial="BP-T-OUT", type="bp_meter"))
    with pytest.raises(Forbidden):
        do_bind_device(out, dev, a)
    with pytest.raises(Forbidden):
        do_register_device(actor("pharmacist"), DeviceInput(serial="X1", type="bp_meter"))


def test_ingest_stores_ignores_duplicates_quarantines_and_rejects(actor):
    doc = actor("village_doctor")
    (a,) = residents_of(doc)
    dev, _ = do_register_device(doc, DeviceInput(serial="BP-T-002", type="bp_meter"))
    at = _at()
    # unbound → quarantine, kept
    r0 = ingest_reading(_bp("BP-T-002", at=at))
    assert r0.status == Status.QUARANTINED and r0.reason == "unbound"
    do_bind_device(doc, dev, a)
    r1 = ingest_reading(_bp("BP-T-002", at=at))
    assert r1.status == Status.STORED
    obs = Observation.objects.get(pk=r1.observation_id)
    assert (obs.source, obs.source_system, obs.device_serial) == (
        "device",
        "device:BP-T-002",
        "BP-T-002",
    )
    assert obs.source_id.startswith("BP-T-002:")
    assert Observation.objects.filter(resident=a, kind="pulse", source="device").count() == 1
    # the same device and time again (even re-sent with other numbers) is ignored
    assert ingest_reading(_bp("BP-T-002", at=at)).status == Status.DUPLICATE
    assert ingest_reading(_bp("BP-T-002", sbp=151, at=at)).status == Status.DUPLICATE
    assert Observation.objects.filter(resident=a, kind="bp", source="device").count() == 1
    # unknown device → quarantine
    assert ingest_reading(_bp("NOPE-1")).status == Status.QUARANTINED
    # out of physical range, malformed → rejected with a reason, kept
    bad = ingest_reading(_bp("BP-T-002", sbp=400))
    assert bad.status == Status.REJECTED and "收缩压" in bad.reason
    assert ingest_reading({"serial": "BP-T-002", "systolic": 120}).status == Status.REJECTED
    assert (
        ingest_reading(_bp("BP-T-002", at="2020-01-01T08:00:00")).status == Status.REJECTED
    )  # no tz
    assert RejectedReading.objects.filter(serial="BP-T-002").count() == 3
    assert QuarantinedReading.objects.filter(serial="NOPE-1", status="pending").count() == 1


def test_glucometer_and_type_mismatch(actor):
    doc = actor("village_doctor")
    (a,) = residents_of(doc)
    dev, _ = do_register_device(doc, DeviceInput(serial="GL-T-1", type="glucometer"))
    do_bind_device(doc, dev, a)
    ok = ingest_reading(
        {
            "serial": "GL-T-1",
            "type": "glucometer",
            "measured_at": _at(),
            "glucose": 6.1,
            "meal": "fasting",
        }
    )
    assert ok.status == Status.STORED
    assert Observation.objects.get(pk=ok.observation_id).kind == "glucose_fasting"
    assert ingest_reading(_bp("GL-T-1")).status == Status.REJECTED


def test_abnormal_home_reading_alerts_and_repeated_uncontrolled_brings_followup_forward(actor):
    doc = actor("village_doctor")
    (a,) = residents_of(doc)
    reg = enrol(doc, a)
    reg.next_due = timezone.localdate() + timedelta(days=80)
    reg.save()
    dev, _ = do_register_device(doc, DeviceInput(serial="BP-T-003", type="bp_meter"))
    do_bind_device(doc, dev, a)
    ingest_reading(_bp("BP-T-003", 150, 92, at=_at(60)))
    reg.refresh_from_db()
    assert reg.next_due == timezone.localdate() + timedelta(days=80)  # once is not repeated
    ingest_reading(_bp("BP-T-003", 152, 94, at=_at(30)))
    reg.refresh_from_db()
    assert reg.next_due <= timezone.localdate() + timedelta(days=14)
    ingest_reading(_bp("BP-T-003", 185, 100, at=_at(10)))
    reg.refresh_from_db()
    assert "180" in reg.alert


def test_quarantined_reading_can_be_assigned_once(actor):
    doc = actor("village_doctor")
    (a,) = residents_of(doc)
    res = ingest_reading(_bp("LOST-9"))
    q = QuarantinedReading.objects.get(pk=res.record_id)
    do_assign_quarantined(doc, q, a)
    q.refresh_from_db()
    assert q.status == "assigned" and q.resident_id == a.pk
    assert Observation.objects.filter(resident=a, source_system="device:LOST-9").exists()
    with pytest.raises(Conflict):
        do_assign_quarantined(doc, q, a)
    with pytest.raises(Forbidden):
        do_assign_quarantined(actor("outsider_doctor"), QuarantinedReading.objects.get(pk=q.pk), a)


def test_http_ingestion_authenticates_the_device(actor, api_as, client):
    doc = actor("village_doctor")
    (a,) = residents_of(doc)
    dev, secret = do_register_device(doc, DeviceInput(serial="BP-H-1", type="bp_meter"))
    url = "/api/v1/devices/readings"
    body = _bp("BP-H-1")
    r = client.post(
        url,
        body,
        content_type="application/json",
        headers={"X-Device-Serial": "BP-H-1", "X-Device-Secret": "wrong"},
    )
    assert r.status_code == 401
    hdr = {"X-Device-Serial": "BP-H-1", "X-Device-Secret": secret}
    r = client.post(url, body, content_type="application/json", headers=hdr)
    assert r.status_code == 202 and r.json()["status"] == "quarantined"
    do_bind_device(doc, dev, a)
    body2 = _bp("BP-H-1", at=_at(2))
    r = client.post(url, body2, content_type="application/json", headers=hdr)
    assert r.status_code == 201, r.content
    r = client.post(url, body2, content_type="application/json", headers=hdr)
    assert r.status_code == 200 and r.json()["status"] == "duplicate"
    r = client.post(url, _bp("BP-H-1", sbp=10), content_type="application/json", headers=hdr)
    assert r.status_code == 422 and r.json()["status"] == "rejected"
    # another device's serial in the body is refused
    r = client.post(url, _bp("OTHER"), content_type="application/json", headers=hdr)
    assert r.status_code == 422


def test_device_api_bind_and_list(actor, api_as):
    doc = actor("village_doctor")
    (a,) = residents_of(doc)
    api = api_as("village_doctor")
    r = api.post(
        "/api/v1/devices", {"serial": "BP-A-1", "type": "bp_meter"}, content_type="application/json"
    )
    assert r.status_code == 201 and r.json()["secret"]
    r = api.post(
        "/api/v1/devices/BP-A-1/bind", {"mpi_id": a.mpi_id}, content_type="application/json"
    )
    assert r.status_code == 200 and r.json()["mpi_id"] == a.mpi_id
    out = api_as("outsider_doctor")
    assert out.post("/api/v1/devices/BP-A-1/unbind").status_code == 404
    assert "BP-A-1" not in [d["serial"] for d in out.get("/api/v1/devices").json()]


def test_random_glucose_raises_emergency_alert_but_does_not_count_as_uncontrolled(actor):
    doc = actor("village_doctor")
    (a,) = residents_of(doc)
    reg = enrol(doc, a, "diabetes")
    reg.next_due = timezone.localdate() + timedelta(days=60)
    reg.save()
    dev, _ = do_register_device(doc, DeviceInput(serial="GL-T-9", type="glucometer"))
    do_bind_device(doc, dev, a)
    for minutes in (50, 40):
        g = {"serial": "GL-T-9", "measured_at": _at(minutes), "glucose": 9.5, "meal": "random"}
        assert ingest_reading(g).status == Status.STORED
    reg.refresh_from_db()
    assert reg.next_due == timezone.localdate() + timedelta(days=60) and not reg.alert
    g = {"serial": "GL-T-9", "measured_at": _at(5), "glucose": 17.0, "meal": "postprandial"}
    ingest_reading(g)
    reg.refresh_from_db()
    assert "16.7" in reg.alert
