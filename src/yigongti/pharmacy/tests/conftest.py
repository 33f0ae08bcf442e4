"""Helpers for pharmacy tests: stock a facility, write a prescription."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from yigongti.core.actor import Actor
from yigongti.pharmacy.actions import ReceiptInput, do_receive_stock
from yigongti.pharmacy.models import StockMovement
from yigongti.records.actions import EncounterInput, PrescriptionInput, do_record_encounter
from yigongti.records.models import Prescription
from yigongti.residents.models import Resident
from yigongti.residents.queries import residents_visible_to

DRUG = "YP0030"  # 玻璃酸钠滴眼液 5ml, unit 支
_batch_no = itertools.count(1)

SYSTEM = Actor.system("test")


def stock(facility_id: int, qty: object, *, days: int = 400, drug: str = DRUG) -> StockMovement:
    """Receive a fresh batch of `qty` at the facility (as the platform)."""
    return do_receive_stock(
        SYSTEM,
        facility_id,
        ReceiptInput(
            drug_code=drug,
            batch_no=f"T{next(_batch_no):05d}-{timezone.now().timestamp():.0f}",
            expiry=timezone.localdate() + timedelta(days=days),
            quantity=Decimal(str(qty)),
        ),
    )


def resident_for(actor: Actor, index: int = 0) -> Resident:
    return residents_visible_to(actor).order_by("pk")[index]


def prescribe(doctor: Actor, resident: Resident, qty: object = 2, drug: str = DRUG) -> Prescription:
    enc = do_record_encounter(
        doctor,
        resident,
        EncounterInput(
            prescriptions=[
                PrescriptionInput(
                    drug_code=drug,
                    dose="1",
                    dose_unit="滴",
                    frequency="tid",
                    days=7,
                    route="eye",
                    quantity=Decimal(str(qty)),
                )
            ]
        ),
    )
    return Prescription.objects.get(encounter=enc)


@pytest.fixture
def today() -> date:
    return timezone.localdate()


@pytest.fixture
def rx(actor: Callable[[str], Actor]) -> Callable[..., Prescription]:
    def make(qty: object = 2, index: int = 0, drug: str = DRUG) -> Prescription:
        doctor = actor("township_doctor")
        return prescribe(doctor, resident_for(doctor, index), qty, drug)

    return make
