"""Building the request's Actor: role, facility and the data scope of DESIGN.md."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http import HttpRequest

from yigongti.core.actor import Actor, Scope, ScopeKind
from yigongti.core.middleware import client_ip
from yigongti.network.models import Facility, FacilityKind, MedicalGroup
from yigongti.network.queries import catchment_township_ids

from .models import Account
from .rules import ROLE_LABELS, ROLE_PERMISSIONS, Role


def scope_for(account: Account) -> Scope:
    """Whose residents an account may see:
    - commission and system administrator: the whole county (every read audited);
    - group administrator: the group's catchment (townships of its member centres);
    - a village clinic's staff: their village; a township centre's: their township;
    - a county hospital's or branch's staff: their group's catchment.
    Referral, booking and consultation links widen a county doctor's view in later apps."""
    role = account.role
    if role in (Role.COMMISSION, Role.SYSADMIN):
        return Scope(ScopeKind.ALL)
    if role == Role.GROUP_ADMIN:
        if account.group_id is None:
            return Scope.none()
        return Scope(ScopeKind.TOWNSHIPS, frozenset(catchment_township_ids(account.group_id)))
    staff = account.staff
    if staff is None:
        return Scope.none()
    facility: Facility = staff.facility
    if facility.kind == FacilityKind.VILLAGE_CLINIC:
        return Scope(ScopeKind.VILLAGES, frozenset({facility.division_id}))
    if facility.kind == FacilityKind.TOWNSHIP_CENTRE:
        return Scope(ScopeKind.TOWNSHIPS, frozenset({facility.division_id}))
    if facility.group_id is not None:
        return Scope(ScopeKind.TOWNSHIPS, frozenset(catchment_township_ids(facility.group_id)))
    return Scope.none()


def actor_for(user: AbstractBaseUser | AnonymousUser, *, ip: str = "") -> Actor | None:
    if not user.is_authenticated:
        return None
    account = (
        Account.objects.select_related("staff__facility", "group").filter(user_id=user.pk).first()
    )
    if account is None:
        return None
    facility = account.staff.facility if account.staff else None
    group_id: int | None = account.group_id or (facility.group_id if facility else None)
    return Actor(
        user_id=user.pk,
        username=user.get_username(),
        role=account.role,
        role_label=ROLE_LABELS.get(account.role, account.role),
        facility_id=facility.pk if facility else None,
        facility_name=facility.name if facility else _group_name(group_id),
        group_id=group_id,
        scope=scope_for(account),
        permissions=ROLE_PERMISSIONS.get(account.role, frozenset()),
        ip=ip,
    )


def _group_name(group_id: int | None) -> str:
    if group_id is None:
        return ""
    return MedicalGroup.objects.filter(pk=group_id).values_list("name", flat=True).first() or ""


def request_actor(request: HttpRequest) -> Actor | None:
    """The actor for a request, computed once and cached on it."""
    cached = getattr(request, "_ygt_actor", None)
    if cached is None:
        cached = actor_for(request.user, ip=client_ip(request))
        request._ygt_actor = cached  # type: ignore[attr-defined]
    return cached
