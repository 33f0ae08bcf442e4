"""Builders shared by the records tests (and the care apps' tests that need a record)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from yigongti.core.actor import Actor
from yigongti.records.actions import (
    DiagnosisInput,
    EncounterInput,
    PrescriptionInput,
    VitalInput,
)
from yigongti.residents.models import Resident
from yigongti.residents.queries import residents_visible_to


def resident_of(actor: Actor, *, min_age: int = 40) -> Resident:
    """A resident in the actor's area, old enough to have a clinical history."""
    cutoff = timezone.localdate().replace(year=timezone.localdate().year - min_age)
    r = residents_visible_to(actor).filter(birth_date__lte=cutoff).order_by("pk").first()
    assert r is not None, f"no resident of {actor.username}"
    return r


def visit(
    *,
    at: datetime | None = None,
    sbp: float = 150,
    dbp: float = 95,
    codes: tuple[str, ...] = ("I10",),
    drugs: tuple[str, ...] = ("YP0002",),
    **over: object,
) -> EncounterInput:
    data = EncounterInput(
        started_at=at or timezone.now() - timedelta(hours=1),
        complaint="头晕三天",
        diagnoses=[DiagnosisInput(c) for c in codes],
        vitals=[VitalInput("bp", sbp, dbp), VitalInput("pulse", 78)],
        prescriptions=[PrescriptionInput(d, 1, "qd", 28) for d in drugs],
    )
    for k, v in over.items():
        setattr(data, k, v)
    return data
