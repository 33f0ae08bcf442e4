"""The MQTT subscriber: home-device readings from the broker into the record.

Topic `<prefix>/<serial>/readings` (prefix `ygt/devices`), JSON payload as in docs/devices.md,
QoS 1. The client keeps a persistent session (fixed client id, clean_session False), so the
broker queues what devices publish while the subscriber is down and delivers it on reconnect;
paho reconnects by itself when the broker goes away. A message is acknowledged only after it
has been filed (stored, duplicate, quarantined or rejected — each kept in the database): if
the database fails, the message stays unacknowledged and the broker sends it again."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlparse

import paho.mqtt.client as mqtt
from django.conf import settings
from django.db import close_old_connections, connections
from paho.mqtt.enums import CallbackAPIVersion

from .ingest import ingest_reading, reject
from .models import Channel

log = logging.getLogger(__name__)

DEFAULT_URL = "mqtt://127.0.0.1:1883"
DEFAULT_PREFIX = "ygt/devices"
DEFAULT_CLIENT_ID = "ygt-subscriber"


def broker_url() -> str:
    return os.environ.get("YGT_MQTT_URL") or getattr(settings, "MQTT_URL", "") or DEFAULT_URL


@dataclass(frozen=True)
class Broker:
    host: str
    port: int
    username: str | None
    password: str | None
    tls: bool


def parse_broker_url(url: str) -> Broker:
    """`mqtt://user:pass@host:1883` or `mqtts://host:8883`."""
    u = urlparse(url)
    tls = u.scheme in ("mqtts", "ssl")
    return Broker(
        host=u.hostname or "127.0.0.1",
        port=u.port or (8883 if tls else 1883),
        username=unquote(u.username) if u.username else None,
        password=unquote(u.password) if u.password else None,
        tls=tls,
    )


def topic_for(serial: str, prefix: str = DEFAULT_PREFIX) -> str:
    return f"{prefix}/{serial}/readings"


def serial_from_topic(topic: str, prefix: str = DEFAULT_PREFIX) -> str:
    rest = topic[len(prefix) + 1 :] if topic.startswith(prefix + "/") else ""
    parts = rest.split("/")
    return parts[0] if len(parts) == 2 and parts[1] == "readings" else ""


@dataclass
class Subscriber:
    url: str = field(default_factory=broker_url)
    client_id: str = DEFAULT_CLIENT_ID
    prefix: str = DEFAULT_PREFIX
    counts: Counter[str] = field(default_factory=Counter)
    subscribed: threading.Event = field(default_factory=threading.Event)
    connected: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
            manual_ack=True,
        )
        broker = parse_broker_url(self.url)
        self.broker = broker
        if broker.username:
            self.client.username_pw_set(broker.username, broker.password)
        if broker.tls:
            self.client.tls_set()
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    # paho callbacks (its network thread)
    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any
    ) -> None:
        if rc.is_failure:
            log.warning("MQTT connect refused: %s", rc)
            return
        log.info("MQTT connected (session present: %s)", flags.session_present)
        self.connected.set()
        client.subscribe(f"{self.prefix}/+/readings", qos=1)

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any
    ) -> None:
        self.connected.clear()
        self.subscribed.clear()
        connections.close_all()  # this (paho's) thread's database connection
        log.info("MQTT disconnected: %s", rc)

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, rcs: Any, props: Any
    ) -> None:
        self.subscribed.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            status = self.handle(msg.topic, msg.payload)
        except Exception:  # the database is away: leave it unacknowledged, it comes again
            log.exception("reading on %s not filed; left for redelivery", msg.topic)
            self.counts["error"] += 1
            close_old_connections()
            return
        self.counts[status] += 1
        client.ack(msg.mid, msg.qos)

    def handle(self, topic: str, raw: bytes) -> str:
        """File one message; returns the ingest status."""
        close_old_connections()
        serial = serial_from_topic(topic, self.prefix)
        try:
            payload: object = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raw_text = raw[:2000].decode("utf-8", "replace")
            return str(
                reject(Channel.MQTT, serial, "载荷不是合法的 JSON", {"raw": raw_text}).status
            )
        return str(ingest_reading(payload, channel=Channel.MQTT, serial=serial).status)

    def run(
        self, *, stop: threading.Event | None = None, max_seconds: float | None = None
    ) -> Counter[str]:
        """Connect (retrying while the broker is away) and file readings until `stop` is set
        or `max_seconds` have passed (for tests and batch runs); forever otherwise."""
        stop = stop or threading.Event()
        self.client.connect_async(self.broker.host, self.broker.port, keepalive=30)
        self.client.loop_start()
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        try:
            while not stop.is_set():
                if deadline is not None and time.monotonic() >= deadline:
                    break
                stop.wait(0.2)
        finally:
            self.client.disconnect()
            self.client.loop_stop()
            close_old_connections()
        return self.counts
