"""The MQTT subscriber: home-device readings from the broker into the record.

Topic `<prefix>/<serial>/readings` (prefix `ygt/devices`), JSON payload as in docs/devices.md,
QoS 1. The client keeps a persistent session (fixed client id, clean_session False), so the
broker queues what devices publish while the subscriber is down and delivers it on reconnect;
paho reconnects by itself when the broker goes away. Messages are filed in batches (one
transaction each, `ingest.ingest_batch`) and a message is acknowledged only after its batch
has been committed (stored, duplicate, quarantined or rejected — each kept in the database):
if the database fails or the process dies first, the message stays unacknowledged and the
broker sends it again."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlparse

import paho.mqtt.client as mqtt
from django.conf import settings
from django.db import close_old_connections
from paho.mqtt.enums import CallbackAPIVersion

from .ingest import Undecodable, ingest_batch
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


@dataclass(frozen=True, slots=True)
class _Message:
    generation: int  # the connection it came on: acknowledged on that one only
    mid: int
    qos: int
    topic: str
    payload: bytes


@dataclass
class Subscriber:
    """Messages are collected by paho's network thread and filed by the thread that calls
    `run`, in batches: up to `max_batch` messages, or what came within `max_wait` seconds of
    the first, or what came before a pause of `idle` seconds (the broker holds back further
    QoS 1 messages while too many are unacknowledged: Mosquitto's `max_inflight_messages`,
    20 by default), whichever is first. A batch is filed with one `ingest_batch` call (one
    transaction) and only then acknowledged."""

    url: str = field(default_factory=broker_url)
    client_id: str = DEFAULT_CLIENT_ID
    prefix: str = DEFAULT_PREFIX
    max_batch: int = 500
    max_wait: float = 0.2
    idle: float = 0.005
    counts: Counter[str] = field(default_factory=Counter)
    subscribed: threading.Event = field(default_factory=threading.Event)
    connected: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._inbox: deque[_Message] = deque()
        self._lock = threading.Lock()
        self._arrived = threading.Event()
        self._generation = 0
        self.batches = 0  # batches filed (counts / batches = the mean batch size)
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
        with self._lock:
            # Messages of the previous connection that were not acknowledged come again on
            # this one: drop the copies not yet filed.
            self._generation += 1
            self._inbox.clear()
        self.connected.set()
        client.subscribe(f"{self.prefix}/+/readings", qos=1)

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any
    ) -> None:
        self.connected.clear()
        self.subscribed.clear()
        log.info("MQTT disconnected: %s", rc)

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, rcs: Any, props: Any
    ) -> None:
        self.subscribed.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self._inbox.append(
                _Message(self._generation, msg.mid, msg.qos, msg.topic, bytes(msg.payload))
            )
        self._arrived.set()

    # the filing thread
    def _take(self, wait: float) -> list[_Message]:
        """The next batch (empty when nothing came within `wait` seconds)."""
        if not self._arrived.wait(wait):
            return []
        start = time.monotonic()
        while True:
            with self._lock:
                size = len(self._inbox)
            if size == 0 or size >= self.max_batch or time.monotonic() - start >= self.max_wait:
                break
            self._arrived.clear()
            if not self._arrived.wait(self.idle):
                break  # a pause: the broker waits for our acknowledgements
        with self._lock:
            batch = [self._inbox.popleft() for _ in range(min(self.max_batch, len(self._inbox)))]
            if not self._inbox:
                self._arrived.clear()
        return batch

    def _file(self, batch: list[_Message]) -> None:
        """Ingest a batch in one transaction, then acknowledge it. If that fails (the
        database is away), each message is tried alone so that one bad message cannot hold
        the others back; what still fails is left unacknowledged and comes again."""
        close_old_connections()
        try:
            statuses = self.handle_batch([(m.topic, m.payload) for m in batch])
        except Exception:
            log.exception("batch of %d readings not filed; filing one by one", len(batch))
            close_old_connections()
            if len(batch) == 1:
                self.counts["error"] += 1
                return
            for m in batch:
                self._file([m])
            return
        self.batches += 1
        for m, status in zip(batch, statuses, strict=True):
            self.counts[status] += 1
            if m.generation == self._generation and self.connected.is_set():
                self.client.ack(m.mid, m.qos)

    def handle_batch(self, messages: list[tuple[str, bytes]]) -> list[str]:
        """File (topic, raw payload) messages in one transaction; their ingest statuses."""
        payloads: list[object] = []
        serials: list[str] = []
        for topic, raw in messages:
            serials.append(serial_from_topic(topic, self.prefix))
            try:
                payloads.append(json.loads(raw.decode("utf-8")))
            except (UnicodeDecodeError, json.JSONDecodeError):
                payloads.append(Undecodable(raw[:2000].decode("utf-8", "replace")))
        results = ingest_batch(payloads, channel=Channel.MQTT, serials=serials)
        return [str(r.status) for r in results]

    def handle(self, topic: str, raw: bytes) -> str:
        """File one message; returns the ingest status."""
        close_old_connections()
        return self.handle_batch([(topic, raw)])[0]

    def run(
        self, *, stop: threading.Event | None = None, max_seconds: float | None = None
    ) -> Counter[str]:
        """Connect (retrying while the broker is away) and file readings until `stop` is set
        or `max_seconds` have passed (for tests and batch runs); forever otherwise. Filing
        happens on the calling thread."""
        stop = stop or threading.Event()
        self.client.connect_async(self.broker.host, self.broker.port, keepalive=30)
        self.client.loop_start()
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        try:
            while not stop.is_set():
                if deadline is not None and time.monotonic() >= deadline:
                    break
                batch = self._take(0.2)
                if batch:
                    self._file(batch)
        finally:
            self.client.disconnect()
            self.client.loop_stop()
            close_old_connections()
        return self.counts
