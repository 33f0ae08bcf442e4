"""Writes to the care network. Each validates, saves, and audits in one transaction."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction

from yigongti.core import audit
from yigongti.core.actor import Actor
from yigongti.core.errors import DomainError, FieldError, Forbidden

from .models import KIND_LEVEL, Department, Facility, FacilityKind, Grouping, Staff

MANAGE = "manage_network"


def _check_manage(actor: Actor, facility: Facility | None) -> None:
    if not (actor.is_system or actor.can(MANAGE)):
        raise Forbidden("无权维护医共体网络", "Not allowed to manage the network")
    if facility is not None and actor.role == "group_admin" and facility.group_id != actor.group_id:
        raise Forbidden("只能维护本医共体的机构", "Only facilities of your own group")


def _errors_from(exc: ValidationError) -> DomainError:
    # Django's model validation speaks Chinese already (LANGUAGE_CODE); reuse it for both.
    return DomainError(
        [FieldError(field, m, m) for field, msgs in exc.message_dict.items() for m in msgs]
    )


def _save(actor: Actor, obj: models.Model, action: str, changed: dict[str, Any]) -> None:
    try:
        obj.full_clean()
    except ValidationError as exc:
        raise _errors_from(exc) from exc
    try:
        with transaction.atomic():
            obj.save()
            audit.record(
                actor,
                action,
                obj._meta.model_name or "",
                obj.pk,
                detail={k: str(v) for k, v in changed.items()},
            )
    except IntegrityError as exc:
        raise DomainError.single("__all__", "与已有数据重复", "Duplicates existing data") from exc


def _validate_facility(f: Facility) -> None:
    errors: list[FieldError] = []
    expected = KIND_LEVEL.get(FacilityKind(f.kind))
    if expected and f.division_id and f.division.level != expected:
        errors.append(
            FieldError(
                "division",
                f"{f.get_kind_display()}应位于{expected.label}级区划",
                f"A {f.kind} must sit in a {expected.value} division",
            )
        )
    if f.kind == FacilityKind.VILLAGE_CLINIC and f.supervisor_id:
        sup = f.supervisor
        if sup is None or sup.kind != FacilityKind.TOWNSHIP_CENTRE:
            errors.append(
                FieldError(
                    "supervisor",
                    "村卫生室的上级应为乡镇卫生院",
                    "A village clinic is supervised by a township centre",
                )
            )
        elif f.division_id and sup.division_id != f.division.parent_id:
            errors.append(
                FieldError(
                    "supervisor",
                    "上级卫生院应在本村所属乡镇",
                    "The supervising centre must be in the village's township",
                )
            )
    if errors:
        raise DomainError(errors)


def do_save_facility(actor: Actor, facility: Facility, changed: dict[str, Any]) -> Facility:
    """Create (no pk yet) or update a facility after checking its place in the tree."""
    _check_manage(actor, facility if facility.pk else None)
    if actor.role == "group_admin" and facility.group_id != actor.group_id:
        raise Forbidden("只能在本医共体内添加机构", "Only inside your own group")
    _validate_facility(facility)
    _save(actor, facility, audit.Action.UPDATE if facility.pk else audit.Action.CREATE, changed)
    return facility


def do_save_department(actor: Actor, department: Department, changed: dict[str, Any]) -> Department:
    _check_manage(actor, department.facility)
    _save(actor, department, audit.Action.UPDATE if department.pk else audit.Action.CREATE, changed)
    return department


def do_save_staff(actor: Actor, staff: Staff, changed: dict[str, Any]) -> Staff:
    _check_manage(actor, staff.facility)
    if staff.department is not None and staff.department.facility_id != staff.facility_id:
        raise DomainError.single(
            "department", "科室不属于该执业机构", "The department belongs to another facility"
        )
    _save(actor, staff, audit.Action.UPDATE if staff.pk else audit.Action.CREATE, changed)
    return staff


def do_save_grouping(
    actor: Actor, grouping: Grouping, members: list[Facility] | None, changed: dict[str, Any]
) -> Grouping:
    _check_manage(actor, None)
    with transaction.atomic():
        _save(actor, grouping, audit.Action.UPDATE if grouping.pk else audit.Action.CREATE, changed)
        if members is not None:
            grouping.members.set(members)
    return grouping
