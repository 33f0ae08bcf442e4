"""Mark submitted referrals that passed their response time as expired."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from yigongti.referrals.actions import expire_overdue


class Command(BaseCommand):
    help = "将超过响应时限的转诊单标记为超时"

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"expired {expire_overdue()} referrals")
