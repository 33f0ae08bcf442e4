"""`manage.py refresh_indicators [--full] [--since ISO]`: refresh the indicator fact layer.
Run it from a scheduler (e.g. hourly, and nightly with --full if wanted)."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from yigongti.indicators import facts


class Command(BaseCommand):
    help = "刷新监测指标事实表（默认增量；--full 全量重建）"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--full", action="store_true", help="全量重建")
        parser.add_argument("--since", help="增量起点（ISO 时间，默认上次成功刷新）")

    def handle(self, *args: Any, **opts: Any) -> None:
        t0 = time.monotonic()
        if opts["full"]:
            n = facts.rebuild_facts()
            self.stdout.write(f"全量重建：写入 {n} 条事实，用时 {time.monotonic() - t0:.1f} 秒")
            return
        since = None
        if opts["since"]:
            since = parse_datetime(opts["since"])
            if since is None:
                raise CommandError("--since 应为 ISO 时间，如 2026-07-01T00:00:00+08:00")
            if timezone.is_naive(since):
                since = timezone.make_aware(since)
        n, months = facts.refresh_facts(since)
        self.stdout.write(
            f"增量刷新：重算 {len(months)} 个月，写入 {n} 条事实，"
            f"用时 {time.monotonic() - t0:.1f} 秒"
        )
