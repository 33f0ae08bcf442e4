from __future__ import annotations

from django.db.models import QuerySet

from .actor import Actor
from .errors import Forbidden
from .models import AuditEntry


def audit_entries_visible_to(actor: Actor) -> QuerySet[AuditEntry]:
    """Sysadmin and commission read the whole log; a group administrator the entries made
    by staff of the group's facilities and the group's own administrators."""
    if not (actor.is_system or actor.can("view_audit")):
        raise Forbidden("无权查看审计日志", "Not allowed to read the audit log")
    qs = AuditEntry.objects.all()
    if actor.role == "group_admin":
        from django.apps import apps  # the group's facility ids, without importing network

        facility = apps.get_model("network", "Facility")
        account = apps.get_model("accounts", "Account")
        ids = list(facility.objects.filter(group_id=actor.group_id).values_list("pk", flat=True))
        admins = list(
            account.objects.filter(group_id=actor.group_id).values_list("user_id", flat=True)
        )
        qs = qs.filter(facility_id__in=ids) | qs.filter(user_id__in=admins)
    return qs.order_by("-id")
