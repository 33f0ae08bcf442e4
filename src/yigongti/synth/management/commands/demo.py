from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from yigongti.accounts.rules import ROLE_LABELS
from yigongti.network.models import Division
from yigongti.performance.models import SchemeGrain
from yigongti.performance.queries import last_closed_period
from yigongti.synth.evidence import load_demo_evidence
from yigongti.synth.load import PERSONAS


class Command(BaseCommand):
    help = "Build the demo county on first run, then print the demo logins."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--address",
            default="127.0.0.1:8000",
            help="host:port the server will listen on (make run passes HOST), for the printed URL",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError("the demo county is not for production (YGT_PRODUCTION is set)")
        if not Division.objects.exists():
            self.stdout.write("building the demo county (about 20 000 residents)…")
            call_command("synth", size="demo", stdout=self.stdout)
            call_command("find_duplicates", stdout=self.stdout)
            call_command("refresh_indicators", full=True, stdout=self.stdout)  # the dashboard
            # evidence of the qualitative indicators for the last ended half-year, reviewed,
            # then example 1000-point schemes scored and published for it
            half = last_closed_period(SchemeGrain.HALF)
            self.stdout.write(f"demo evidence for {half}: {load_demo_evidence(half)} items")
            call_command("seed_performance_schemes", publish="last", stdout=self.stdout)
        labels = {"outsider_doctor": "乡村医生（另一乡镇）"}
        self.stdout.write("")
        self.stdout.write(f"Yigongti 医共体 demo — http://{options['address']}")
        self.stdout.write(f"password for every login: {settings.DEMO_PASSWORD}")
        for username in PERSONAS:
            label = labels.get(username) or ROLE_LABELS.get(username, username)
            self.stdout.write(f"  {username:<16} {label}")
