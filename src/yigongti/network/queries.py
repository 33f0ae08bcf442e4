"""Reads of the care network."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from yigongti.core.actor import Actor, ScopeKind

from .models import (
    Department,
    Division,
    DivisionLevel,
    Facility,
    FacilityKind,
    Grouping,
    MedicalGroup,
    Staff,
)


def catchment_township_ids(group_id: int) -> set[int]:
    """Townships a medical group serves: where its township centres and branches stand, and
    the townships of its village clinics."""
    rows = Facility.objects.filter(group_id=group_id).values_list(
        "kind", "division_id", "division__parent_id"
    )
    out: set[int] = set()
    for kind, division_id, parent_id in rows:
        if kind in (FacilityKind.TOWNSHIP_CENTRE, FacilityKind.BRANCH):
            out.add(division_id)
        elif kind == FacilityKind.VILLAGE_CLINIC and parent_id:
            out.add(parent_id)
    return out


def group_of_townships() -> dict[int, int]:
    """township id → the medical group whose catchment holds it; a township in two
    catchments counts for the first group (by id), so every figure adds up once."""
    out: dict[int, int] = {}
    for gid in MedicalGroup.objects.order_by("pk").values_list("pk", flat=True):
        for tid in catchment_township_ids(gid):
            out.setdefault(tid, gid)
    return out


def facilities_visible_to(actor: Actor) -> QuerySet[Facility]:
    """The network is not personal data: every signed-in staff member may read it."""
    return Facility.objects.select_related("group", "division", "supervisor")


def facilities_manageable_by(actor: Actor) -> QuerySet[Facility]:
    qs = Facility.objects.all()
    if actor.is_system or actor.role == "sysadmin":
        return qs
    if actor.role == "group_admin" and actor.group_id:
        return qs.filter(group_id=actor.group_id)
    return qs.none()


def groups_with_counts() -> QuerySet[MedicalGroup]:
    return MedicalGroup.objects.select_related("lead", "county").annotate(
        n_facilities=Count("members", distinct=True),
        n_townships=Count(
            "members", filter=Q(members__kind=FacilityKind.TOWNSHIP_CENTRE), distinct=True
        ),
        n_villages=Count(
            "members", filter=Q(members__kind=FacilityKind.VILLAGE_CLINIC), distinct=True
        ),
    )


def network_tree(group: MedicalGroup) -> list[dict[str, object]]:
    """County hospitals and branches, then each township centre with its village clinics."""
    members = list(
        Facility.objects.filter(group=group).select_related("division").order_by("kind", "code")
    )
    villages_by_supervisor: dict[int, list[Facility]] = {}
    for f in members:
        if f.kind == FacilityKind.VILLAGE_CLINIC and f.supervisor_id:
            villages_by_supervisor.setdefault(f.supervisor_id, []).append(f)
    tree: list[dict[str, object]] = []
    for f in members:
        if f.kind == FacilityKind.VILLAGE_CLINIC:
            continue
        tree.append({"facility": f, "children": villages_by_supervisor.get(f.pk, [])})
    order = {
        FacilityKind.COUNTY_HOSPITAL: 0,
        FacilityKind.BRANCH: 1,
        FacilityKind.TOWNSHIP_CENTRE: 2,
        FacilityKind.OTHER: 3,
    }
    tree.sort(key=lambda n: (order.get(n["facility"].kind, 9), n["facility"].code))  # type: ignore[attr-defined]
    return tree


def staff_of(facility: Facility) -> QuerySet[Staff]:
    return Staff.objects.filter(facility=facility).select_related("department")


def departments_of(facility: Facility) -> QuerySet[Department]:
    return Department.objects.filter(facility=facility)


def groupings_of(facility: Facility) -> QuerySet[Grouping]:
    return facility.groupings.all()


def villages_in(
    division_ids: set[int] | frozenset[int], scope_kind: ScopeKind
) -> QuerySet[Division]:
    qs = Division.objects.filter(level=DivisionLevel.VILLAGE)
    if scope_kind == ScopeKind.ALL:
        return qs
    if scope_kind == ScopeKind.TOWNSHIPS:
        return qs.filter(parent_id__in=division_ids)
    if scope_kind == ScopeKind.VILLAGES:
        return qs.filter(pk__in=division_ids)
    return qs.none()
