from __future__ import annotations

from typing import Any

from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "yigongti.web"
    verbose_name = "页面"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_out

        user_logged_out.connect(_audit_logout, dispatch_uid="ygt_audit_logout")


def _audit_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    from yigongti.accounts.actors import actor_for
    from yigongti.core import audit
    from yigongti.core.middleware import client_ip

    if user is None:
        return
    actor = actor_for(user, ip=client_ip(request) if request is not None else "")
    if actor is not None:
        audit.record(actor, audit.Action.LOGOUT, "user", user.pk, detail={"via": "web"})
