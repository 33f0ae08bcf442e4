"""Writes of the indicators app: local targets and the fact refresh (MANAGE_INDICATORS)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.db import transaction

from yigongti.core import audit
from yigongti.core.actor import Actor
from yigongti.core.errors import DomainError, FieldError, Forbidden

from . import facts, queries
from .models import IndicatorTarget
from .rules import Level, Unit


def _need_manage(actor: Actor) -> None:
    if not queries.may_manage(actor):
        audit.record(actor, audit.Action.DENIED, "indicator", "manage")
        raise Forbidden("无权管理监测指标", "Not allowed to manage the indicators")


def do_set_target(
    actor: Actor, code: str, target: str | Decimal | None, level: str = "", note: str = ""
) -> IndicatorTarget | None:
    """Set (or, with an empty target, remove) the local target of an indicator, for every
    level or one level (DOMAIN.md §10: targets are local, configurable)."""
    _need_manage(actor)
    defn = queries.get_def(code)
    errors: list[FieldError] = []
    if level and level not in {lv.value for lv in Level}:
        errors.append(FieldError("level", "层级无效", "unknown level"))
    if not defn.collected:
        errors.append(FieldError("code", "该指标未采集，不能设置目标值", "indicator not collected"))
    value: Decimal | None = None
    if target not in (None, ""):
        try:
            value = Decimal(str(target))
        except InvalidOperation:
            errors.append(FieldError("target", "目标值须为数字", "target must be a number"))
        else:
            if not value.is_finite() or value < 0:
                errors.append(FieldError("target", "目标值不能为负数", "target must be >= 0"))
            elif defn.unit == Unit.PERCENT and value > 100:
                errors.append(FieldError("target", "百分比目标值不能超过 100", "percent above 100"))
    if len(note) > 200:
        errors.append(FieldError("note", "依据不能超过 200 字", "note too long"))
    if errors:
        raise DomainError(errors)
    with transaction.atomic():
        if value is None:
            IndicatorTarget.objects.filter(code=code, level=level).delete()
            row = None
        else:
            row, _ = IndicatorTarget.objects.update_or_create(
                code=code,
                level=level,
                defaults={"target": value, "note": note, "updated_by_id": actor.user_id},
            )
        audit.record(
            actor,
            audit.Action.UPDATE,
            "indicator_target",
            code,
            detail={"level": level, "target": str(value) if value is not None else None},
        )
    return row


def do_refresh_facts(
    actor: Actor, *, full: bool = False, since: datetime | None = None
) -> dict[str, object]:
    """Refresh the fact layer now (a full rebuild, or the months touched since the last run)."""
    _need_manage(actor)
    if full:
        n = facts.rebuild_facts()
        months: list[str] = []
    else:
        n, ms = facts.refresh_facts(since)
        months = [m.isoformat() for m in ms]
    audit.record(
        actor, audit.Action.UPDATE, "indicator_facts", "refresh",
        detail={"full": full, "facts": n, "months": months},
    )  # fmt: skip
    return {"full": full, "facts_written": n, "months": months}
