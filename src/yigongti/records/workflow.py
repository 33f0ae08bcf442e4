"""The plumbing of a care workflow whose requests move through states (a referral, a remote
consultation): one step row per move, its audit entry and its item on the resident's
timeline, and the 409 for a move the state machine does not allow. Each app keeps its own
states, rules and step table (a `models.WorkflowStep`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from yigongti.core import audit
from yigongti.core.actor import Actor
from yigongti.core.errors import Conflict, FieldError

from .actions import add_entry
from .models import WorkflowStep


def log_step(
    actor: Actor,
    step_model: type[WorkflowStep],
    link: str,
    obj: Any,
    *,
    entry_kind: str,
    title: str,
    old: str,
    new: str,
    note: str,
    now: datetime,
) -> None:
    """Record that `obj` (a model with `resident`, `resident_id` and `reason`) moved from `old`
    to `new`: the step row (`link` is its foreign key to `obj`), the audit entry (object type:
    `link`) and the timeline item (the note, else the request's reason)."""
    # the states are the app table's own fields (each with its choices)
    row: dict[str, Any] = {link: obj, "from_state": old, "to_state": new}
    step_model._default_manager.create(
        **row,
        at=now,
        by_id=actor.user_id,
        by_name=actor.username,
        facility_id=actor.facility_id,
        note=note[:200],
    )
    audit.record(
        actor,
        audit.Action.CREATE if old == "" else audit.Action.UPDATE,
        link,
        str(obj.pk),
        resident_id=obj.resident_id,
        detail={"from": old, "to": new, "note": note[:200]},
    )
    add_entry(
        obj.resident,
        kind=entry_kind,
        occurred_at=now,
        object_type=link,
        object_id=obj.pk,
        title=title,
        summary=(note or obj.reason)[:500],
        facility_id=actor.facility_id,
    )


def refused(
    noun: str, current: str, current_label: str, target: str, target_label: str
) -> Conflict:
    """409 for a move the state machine does not allow, naming the current state."""
    return Conflict(
        FieldError(
            "state",
            f"{noun}当前状态为“{current_label}”，不能变更为“{target_label}”",
            f"Cannot go from {current} to {target}",
            "invalid_transition",
        ),
        extra={"state": current},
    )
