from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from yigongti.network.models import Division
from yigongti.synth.chronic import load_chronic
from yigongti.synth.consults import load_consults
from yigongti.synth.contracts import load_contracts
from yigongti.synth.diagnostics import load_diagnostics
from yigongti.synth.load import build_county
from yigongti.synth.pharmacy import load_pharmacy
from yigongti.synth.plan import DEFAULT_SEED, SIZES
from yigongti.synth.records import load_records
from yigongti.synth.referrals import load_referrals


class Command(BaseCommand):
    help = "Build a deterministic synthetic county (tiny / demo / bench) into an empty database."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--size", choices=sorted(SIZES), default="demo")
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
        parser.add_argument(
            "--residents", type=int, default=None, help="override the size's resident count"
        )
        parser.add_argument(
            "--clinical-years",
            type=float,
            default=1.0,
            help="years of synthetic clinical history (visits, vitals, prescriptions); 0 = none",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError("refusing to load synthetic data with YGT_PRODUCTION set")
        if Division.objects.exists():
            raise CommandError("the database already holds a county; use a fresh database")
        if not settings.DEMO_PASSWORD:
            raise CommandError("set YGT_DEMO_PASSWORD for the demo logins")
        n = options["residents"] or SIZES[options["size"]].residents
        start = time.perf_counter()
        with Progress(
            "[bold]合成县[/]",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            disable=not self.stdout.isatty(),
        ) as bar:
            task = bar.add_task("residents", total=n)
            build_county(
                size=options["size"],
                seed=options["seed"],
                residents=n,
                password=settings.DEMO_PASSWORD,
                progress=lambda k: bar.advance(task, k),
            )
            counts: dict[str, int] = {}
            if options["clinical_years"] > 0:
                history = bar.add_task("clinical history", total=n)
                seed, today = options["seed"], timezone.localdate()
                counts = load_records(
                    seed=seed,
                    today=today,
                    years=options["clinical_years"],
                    progress=lambda k: bar.advance(history, k),
                )
                # Chronic registers read the visits' diagnoses and home meters; contracts
                # read the registers: keep this order.
                counts.update(load_chronic(seed=seed, today=today, years=options["clinical_years"]))
                counts["contracts"] = load_contracts(seed=seed, today=today)
                counts.update(
                    load_referrals(seed=seed, today=today, years=options["clinical_years"])
                )
                years = options["clinical_years"]
                counts.update(load_consults(seed=seed, today=today, years=years))
                counts.update(load_diagnostics(seed=seed, today=today, years=years))
                if options["size"] != "tiny":
                    counts.update(load_pharmacy(seed=seed, today=today, catalogue=300))
        self.stdout.write(
            self.style.SUCCESS(
                f"synthetic county ({options['size']}, seed {options['seed']}): {n} residents "
                f"in {time.perf_counter() - start:.1f} s"
                + (
                    f"; {counts['encounter']} visits, {counts['observation']} measurements, "
                    f"{counts['prescription']} prescriptions"
                    if counts
                    else ""
                )
            )
        )
