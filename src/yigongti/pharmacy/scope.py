"""Whose stock an actor sees and manages.

- a facility's staff: their own facility;
- the group administrator, and staff of the group's lead hospital who may procure (the lead
  hospital's pharmacist): every member of the group;
- the commission and the system: everything (the commission read-only: it has no write
  permission)."""

from __future__ import annotations

from functools import lru_cache

from yigongti.accounts.rules import Perm, Role
from yigongti.core.actor import Actor, ScopeKind
from yigongti.network.models import Facility, MedicalGroup


@lru_cache(maxsize=256)
def _lead_of(group_id: int) -> int | None:
    return MedicalGroup.objects.filter(pk=group_id).values_list("lead_id", flat=True).first()


def lead_of(group_id: int) -> int | None:
    return _lead_of(group_id)


def group_of(facility_id: int) -> int | None:
    return Facility.objects.filter(pk=facility_id).values_list("group_id", flat=True).first()


def manages_group(actor: Actor, group_id: int | None) -> bool:
    """The lead hospital acting for the group: approve, order, distribute, move stock between
    members."""
    if group_id is None:
        return False
    if actor.is_system:
        return True
    if not actor.can(Perm.PROCURE) or actor.group_id != group_id:
        return False
    if actor.role == Role.GROUP_ADMIN:
        return True
    return actor.facility_id is not None and actor.facility_id == lead_of(group_id)


def stock_facility_ids(actor: Actor) -> set[int] | None:
    """None means every facility."""
    if actor.is_system or (actor.can(Perm.VIEW_STOCK) and actor.scope.kind == ScopeKind.ALL):
        return None
    if not actor.can(Perm.VIEW_STOCK):
        return set()
    if actor.group_id is not None and manages_group(actor, actor.group_id):
        return set(Facility.objects.filter(group_id=actor.group_id).values_list("pk", flat=True))
    return {actor.facility_id} if actor.facility_id else set()


def may_view(actor: Actor, facility_id: int) -> bool:
    ids = stock_facility_ids(actor)
    return ids is None or facility_id in ids


def may_manage(actor: Actor, facility_id: int) -> bool:
    if actor.is_system:
        return True
    if not actor.can(Perm.MANAGE_STOCK):
        return False
    return facility_id == actor.facility_id or manages_group(actor, group_of(facility_id))
