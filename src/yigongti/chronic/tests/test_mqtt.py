"""The MQTT subscriber against the real Mosquitto at 127.0.0.1:1883 (also in CI)."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from datetime import timedelta

import paho.mqtt.client as mqtt
import pytest
from django.core.management import call_command
from django.utils import timezone
from paho.mqtt.enums import CallbackAPIVersion

from yigongti.chronic.actions import DeviceInput, do_bind_device, do_register_device
from yigongti.chronic.models import QuarantinedReading, RejectedReading
from yigongti.chronic.mqtt import Subscriber, parse_broker_url, serial_from_topic, topic_for
from yigongti.records.models import Observation

from .helpers import residents_of

pytestmark = pytest.mark.django_db(transaction=True)

URL = "mqtt://127.0.0.1:1883"


def _broker_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 1883), timeout=1):
            return True
    except OSError:
        return False


requires_broker = pytest.mark.skipif(not _broker_up(), reason="no MQTT broker on 127.0.0.1:1883")


def _publish(prefix: str, messages: list[tuple[str, bytes]]) -> None:
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}")
    pub.connect("127.0.0.1", 1883)
    pub.loop_start()
    try:
        for serial, payload in messages:
            info = pub.publish(topic_for(serial, prefix), payload, qos=1)
            info.wait_for_publish(timeout=10)
            assert info.is_published()
    finally:
        pub.disconnect()
        pub.loop_stop()


def _reading(serial: str, minutes_ago: int, sbp: float = 132) -> bytes:
    at = (timezone.now() - timedelta(minutes=minutes_ago)).isoformat()
    return json.dumps(
        {
            "serial": serial,
            "type": "bp_meter",
            "measured_at": at,
            "systolic": sbp,
            "diastolic": 84,
            "pulse": 70,
        }
    ).encode()


def _start(sub: Subscriber) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    t = threading.Thread(target=sub.run, kwargs={"stop": stop, "max_seconds": 60}, daemon=True)
    t.start()
    assert sub.subscribed.wait(10), "subscriber did not subscribe"
    return t, stop


def _wait_for(cond, timeout: float = 15) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.1)
    return cond()


def test_topic_and_url_parsing():
    assert serial_from_topic("ygt/devices/BP-1/readings") == "BP-1"
    assert serial_from_topic("ygt/devices/BP-1/other") == ""
    b = parse_broker_url("mqtts://u:p%40ss@broker.example:8884")
    assert (b.host, b.port, b.username, b.password, b.tls) == (
        "broker.example",
        8884,
        "u",
        "p@ss",
        True,
    )
    assert parse_broker_url("mqtt://127.0.0.1").port == 1883


@requires_broker
def test_subscriber_stores_ignores_duplicates_and_quarantines(actor):
    doc = actor("village_doctor")
    (a,) = residents_of(doc)
    run = uuid.uuid4().hex[:8]
    prefix = f"ygt-test-{run}/devices"
    serial = f"BPM-{run}"
    dev, _ = do_register_device(doc, DeviceInput(serial=serial, type="bp_meter"))
    do_bind_device(doc, dev, a)
    sub = Subscriber(url=URL, client_id=f"ygt-test-sub-{run}", prefix=prefix)
    t, stop = _start(sub)
    try:
        first = _reading(serial, 10)
        _publish(
            prefix,
            [
                (serial, first),
                (serial, first),  # duplicate: same device, same time
                (serial, _reading(serial, 5, sbp=128)),
                (f"UNKNOWN-{run}", _reading(f"UNKNOWN-{run}", 5)),
                (serial, _reading(serial, 3, sbp=999)),  # out of range
                (serial, b"not json"),
            ],
        )
        assert _wait_for(lambda: sum(sub.counts.values()) >= 6), sub.counts
    finally:
        stop.set()
        t.join(15)
    assert (
        Observation.objects.filter(resident=a, kind="bp", source_system=f"device:{serial}").count()
        == 2
    )
    assert sub.counts["stored"] == 2 and sub.counts["duplicate"] == 1
    assert QuarantinedReading.objects.filter(serial=f"UNKNOWN-{run}").count() == 1
    assert RejectedReading.objects.filter(serial=serial).count() == 2


@requires_broker
def test_messages_published_while_the_subscriber_is_down_arrive_after_restart(actor):
    doc = actor("village_doctor")
    (a,) = residents_of(doc)
    run = uuid.uuid4().hex[:8]
    prefix = f"ygt-test-{run}/devices"
    serial = f"BPR-{run}"
    client_id = f"ygt-test-persist-{run}"
    dev, _ = do_register_device(doc, DeviceInput(serial=serial, type="bp_meter"))
    do_bind_device(doc, dev, a)
    # first run: the persistent session and its subscription are created
    sub = Subscriber(url=URL, client_id=client_id, prefix=prefix)
    t, stop = _start(sub)
    stop.set()
    t.join(15)
    # the subscriber is down: devices keep publishing with QoS 1
    _publish(prefix, [(serial, _reading(serial, m)) for m in (30, 20, 10)])
    # restart with the same client id: the broker delivers what it queued
    sub2 = Subscriber(url=URL, client_id=client_id, prefix=prefix)
    t2, stop2 = _start(sub2)
    try:
        assert _wait_for(
            lambda: (
                Observation.objects.filter(source_system=f"device:{serial}", kind="bp").count() == 3
            )
        )
    finally:
        stop2.set()
        t2.join(15)
    # clean the session up on the broker
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    c.connect("127.0.0.1", 1883)
    c.disconnect()


@requires_broker
def test_management_command_runs_for_a_bounded_time():
    run = uuid.uuid4().hex[:8]
    out = _Capture()
    call_command(
        "mqtt_subscriber",
        url=URL,
        client_id=f"ygt-test-cmd-{run}",
        topic_prefix=f"ygt-test-{run}/devices",
        max_seconds=1.5,
        stdout=out,
    )
    assert "MQTT subscriber" in out.text


class _Capture:
    def __init__(self) -> None:
        self.text = ""

    def write(self, s: str) -> None:
        self.text += s

    def flush(self) -> None:
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _own_broker(tmp_path, port: int):
    import shutil
    import subprocess

    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\nuser root\n"
        f"persistence_location {tmp_path}/\n"
    )
    proc = subprocess.Popen(
        [exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    end = time.monotonic() + 10
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    pytest.skip("could not start a private mosquitto")


def _has_mosquitto() -> bool:
    import os
    import shutil

    return bool(shutil.which("mosquitto") or os.path.exists("/usr/sbin/mosquitto"))


@pytest.mark.skipif(not _has_mosquitto(), reason="mosquitto binary not installed")
def test_broker_going_away_and_coming_back_loses_nothing(actor, tmp_path):
    """A private broker (persistence on) is stopped and started again under the running
    subscriber: it reconnects by itself, and what was published before and after arrives."""
    doc = actor("village_doctor")
    (a,) = residents_of(doc)
    run = uuid.uuid4().hex[:8]
    prefix = f"ygt-test-{run}/devices"
    serial = f"BPB-{run}"
    dev, _ = do_register_device(doc, DeviceInput(serial=serial, type="bp_meter"))
    do_bind_device(doc, dev, a)
    port = _free_port()
    url = f"mqtt://127.0.0.1:{port}"
    broker = _own_broker(tmp_path, port)
    sub = Subscriber(url=url, client_id=f"ygt-test-bounce-{run}", prefix=prefix)
    stop = threading.Event()
    t = threading.Thread(target=sub.run, kwargs={"stop": stop, "max_seconds": 90}, daemon=True)
    t.start()
    try:
        assert sub.subscribed.wait(10)

        def publish(minutes: list[int]) -> None:
            pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}")
            pub.connect("127.0.0.1", port)
            pub.loop_start()
            for m in minutes:
                pub.publish(topic_for(serial, prefix), _reading(serial, m), qos=1).wait_for_publish(
                    10
                )
            pub.disconnect()
            pub.loop_stop()

        publish([50])
        stored = Observation.objects.filter(source_system=f"device:{serial}", kind="bp")
        assert _wait_for(lambda: stored.count() == 1)
        broker.terminate()
        broker.wait(10)
        assert _wait_for(lambda: not sub.connected.is_set(), 10)
        broker = _own_broker(tmp_path, port)  # the broker comes back, same persistence file
        publish([40, 30])  # the subscriber may not be back yet: its session queues these
        assert _wait_for(lambda: stored.count() == 3, 30), (stored.count(), sub.counts)
        assert sub.connected.is_set()
    finally:
        stop.set()
        t.join(15)
        broker.terminate()
        broker.wait(10)
