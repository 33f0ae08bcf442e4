"""Login for API clients and who-am-I."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.http import HttpRequest
from ninja import Router, Schema, Status

from yigongti.core import audit
from yigongti.core.actor import Actor
from yigongti.core.api import ErrorOut, actor_of
from yigongti.core.errors import DomainError, FieldError
from yigongti.core.middleware import client_ip

from .actors import actor_for
from .tokens import issue_token

router = Router(tags=["auth"])


class TokenIn(Schema):
    username: str
    password: str


class TokenOut(Schema):
    token: str
    expires_at: str


@router.post(
    "/auth/token",
    auth=None,
    response={200: TokenOut, 401: ErrorOut},
    summary="Exchange username and password for a bearer token",
)
def token(request: HttpRequest, payload: TokenIn) -> TokenOut | Status[dict[str, object]]:
    user = authenticate(request, username=payload.username, password=payload.password)
    ip = client_ip(request)
    if user is None:
        anon = Actor(user_id=None, username=payload.username[:150], role="anonymous", ip=ip)
        audit.record(
            anon, audit.Action.LOGIN_FAILED, "user", payload.username[:64], detail={"via": "api"}
        )
        err = FieldError("password", "用户名或密码错误", "Wrong username or password", "auth")
        return Status(401, {"detail": [err.as_api()]})
    actor = actor_for(user, ip=ip)
    if actor is None:
        raise DomainError.single(
            "username", "该账号未分配角色", "The account has no role", status=403
        )
    raw, tok = issue_token(user)
    audit.record(actor, audit.Action.LOGIN, "user", user.pk, detail={"via": "api"})
    return TokenOut(token=raw, expires_at=tok.expires_at.isoformat())


class MeOut(Schema):
    username: str
    role: str
    role_label: str
    facility: str
    scope: str
    permissions: list[str]


@router.get("/me", response=MeOut, summary="The calling user, role and data scope")
def me(request: HttpRequest) -> MeOut:
    a = actor_of(request)
    return MeOut(
        username=a.username,
        role=a.role,
        role_label=a.role_label,
        facility=a.facility_name,
        scope=a.scope.kind.value,
        permissions=sorted(a.permissions),
    )
