"""Builders for the chronic tests."""

from __future__ import annotations

from datetime import date

from django.utils import timezone

from yigongti.chronic.actions import EnrolInput, do_enrol_resident
from yigongti.chronic.models import Registration
from yigongti.core.actor import Actor
from yigongti.residents.models import Resident
from yigongti.residents.queries import residents_visible_to


def residents_of(
    actor: Actor, n: int = 1, *, min_age: int = 40, sex: str | None = None
) -> list[Resident]:
    today = timezone.localdate()
    cutoff = today.replace(year=today.year - min_age)
    qs = residents_visible_to(actor).filter(birth_date__lte=cutoff)
    if sex:
        qs = qs.filter(sex=sex)
    rows = list(qs.order_by("pk")[:n])
    assert len(rows) == n, f"not enough residents for {actor.username}"
    return rows


def enrol(
    actor: Actor, resident: Resident, disease: str = "hypertension", *, on: date | None = None
) -> Registration:
    day = on or timezone.localdate().replace(year=timezone.localdate().year - 1, month=1, day=2)
    return do_enrol_resident(
        actor, resident, EnrolInput(disease=disease, diagnosed_on=day, enrolled_on=day)
    )
