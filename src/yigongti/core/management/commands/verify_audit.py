from typing import Any

from django.core.management.base import BaseCommand, CommandError

from yigongti.core.audit import verify_chain


class Command(BaseCommand):
    help = "Verify the audit log's hash chain (exit 1 at the first broken entry)."

    def handle(self, *args: Any, **options: Any) -> None:
        report = verify_chain()
        if not report.ok:
            raise CommandError(
                f"audit chain BROKEN at entry {report.first_bad_seq}: {report.problem} "
                f"({report.checked} entries read)"
            )
        self.stdout.write(self.style.SUCCESS(f"audit chain OK: {report.checked} entries"))
