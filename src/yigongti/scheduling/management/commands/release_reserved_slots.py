"""Release unused family-doctor reserved seats to the public pool when their time comes."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from yigongti.scheduling.actions import release_reserved_slots


class Command(BaseCommand):
    help = "把到期未用的家庭医生转诊预留号释放为普通号"

    def handle(self, *args: Any, **options: Any) -> None:
        n = release_reserved_slots()
        self.stdout.write(f"released {n} slots")
