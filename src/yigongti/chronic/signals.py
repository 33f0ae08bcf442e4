"""Registrations follow their resident's village and township (`Registration.village`,
`.township`: the scoped worklists' columns). The residents app knows nothing of chronic
care, so the move is picked up from its save."""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from yigongti.residents.models import Resident

from .models import Registration


def follow_resident(sender: type[Resident], instance: Resident, **kwargs: Any) -> None:
    if kwargs.get("raw"):
        return
    Registration.objects.filter(resident_id=instance.pk).filter(
        ~Q(village_id=instance.village_id)
        | ~Q(township_id=instance.township_id)
        | Q(village_id__isnull=True)
        | Q(township_id__isnull=True)
    ).update(village_id=instance.village_id, township_id=instance.township_id)
