from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from yigongti.residents.linkage import find_duplicates


class Command(BaseCommand):
    help = "Scan the master index for records that may be the same person (疑似重复档案)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--threshold", type=int, default=None, help="score 0-100 from which a pair is listed"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        n = find_duplicates(threshold=options["threshold"])
        self.stdout.write(self.style.SUCCESS(f"{n} possible duplicate pairs offered for review"))
