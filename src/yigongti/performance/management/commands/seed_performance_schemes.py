"""`manage.py seed_performance_schemes [--publish 2026H1|last]`: the example 1000-point schemes."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from yigongti.performance.defaults import default_schemes


class Command(BaseCommand):
    help = "创建示例千分制考核方案（每类机构一个，1000 分）；可选发布一个考核期的得分"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--publish", default=None, help="同时发布该考核期，如 2026H1；last 为最近结束的半年"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        schemes = default_schemes(publish=options["publish"])
        for s in schemes:
            self.stdout.write(f"{s.name}：{s.get_status_display()}")
