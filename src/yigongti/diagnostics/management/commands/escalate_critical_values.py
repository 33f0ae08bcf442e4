"""Escalate critical values left unacknowledged beyond their centre's limits (run every few
minutes from cron or a scheduler)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from yigongti.diagnostics.actions import escalate_critical_values


class Command(BaseCommand):
    help = "危急值超时未确认时逐级升级（申请机构负责人 → 医共体管理员）"

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"escalated {escalate_critical_values()} critical values")
