"""`manage.py check_stock`: prove every stock balance equals the sum of its ledger movements.
Exits non-zero when one does not."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from yigongti.pharmacy.queries import check_stock


class Command(BaseCommand):
    help = "核对库存：每个结存等于其出入库流水之和"

    def handle(self, *args: Any, **options: Any) -> None:
        n, bad = check_stock()
        for m in bad[:50]:
            self.stderr.write(
                f"facility={m.facility_id} batch={m.batch_id} balance={m.balance} ledger={m.ledger}"
            )
        if bad:
            raise CommandError(f"{len(bad)} of {n} balances do not match the ledger")
        self.stdout.write(f"OK: {n} balances match the ledger")
