"""`manage.py mqtt_subscriber`: file home-device readings from the MQTT broker (docs/devices.md)."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from yigongti.chronic.mqtt import DEFAULT_CLIENT_ID, DEFAULT_PREFIX, Subscriber, broker_url


class Command(BaseCommand):
    help = "订阅 MQTT 家用设备读数并写入居民健康档案（QoS 1，持久会话，自动重连）"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", default="", help="broker URL (default: $YGT_MQTT_URL)")
        parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
        parser.add_argument("--topic-prefix", default=DEFAULT_PREFIX)
        parser.add_argument(
            "--max-seconds", type=float, default=None, help="stop after this long (tests, batches)"
        )
        parser.add_argument(
            "--batch-size", type=int, default=500, help="most messages filed in one transaction"
        )
        parser.add_argument(
            "--batch-ms",
            type=float,
            default=200,
            help="longest wait for a batch to fill after its first message (ms)",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        logging.getLogger("yigongti.chronic").setLevel(logging.INFO)
        url = opts["url"] or broker_url()
        sub = Subscriber(
            url=url,
            client_id=opts["client_id"],
            prefix=opts["topic_prefix"],
            max_batch=max(1, opts["batch_size"]),
            max_wait=max(0.0, opts["batch_ms"]) / 1000,
        )
        stop = threading.Event()
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            signal.signal(signal.SIGINT, lambda *_: stop.set())
        self.stdout.write(f"MQTT subscriber: {url} topic {opts['topic_prefix']}/+/readings")
        counts = sub.run(stop=stop, max_seconds=opts["max_seconds"])
        self.stdout.write("readings: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
