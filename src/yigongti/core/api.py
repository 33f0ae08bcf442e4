"""Pieces every app's REST router shares: the authenticated actor, error bodies, paging."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Self

from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from ninja import Schema
from ninja.security.http import HttpAuthBase

from .actor import Actor
from .errors import DomainError, FieldError

SAFE = ("GET", "HEAD", "OPTIONS")


class ActorAuth(HttpAuthBase):
    """Bearer token (`POST /api/v1/auth/token`) or the browser session. Session writes must
    carry the CSRF token like any form. `request.auth` is the Actor."""

    openapi_scheme = "bearer"

    def __init__(self, resolve: Any) -> None:
        self.resolve = resolve  # accounts.actors.request_actor, injected to keep core low
        super().__init__()

    def __call__(self, request: HttpRequest) -> Actor | None:
        if not request.user.is_authenticated:
            return None
        cookie_write = not getattr(request, "bearer_auth", False) and request.method not in SAFE
        if cookie_write and _csrf_refused(request):
            return None
        actor: Actor | None = self.resolve(request)
        return actor


def _no_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse()


def _csrf_refused(request: HttpRequest) -> bool:
    """Run Django's CSRF check for a cookie-authenticated API write."""
    return CsrfViewMiddleware(_no_view).process_view(request, _no_view, (), {}) is not None


def actor_of(request: HttpRequest) -> Actor:
    actor = request.auth  # type: ignore[attr-defined]
    assert isinstance(actor, Actor)
    return actor


class ErrorItem(Schema):
    loc: list[str | int]
    msg: str
    msg_en: str
    type: str = "invalid"


class ErrorOut(Schema):
    detail: list[ErrorItem]


class StateStepOut(Schema):
    """One step of a request's state machine (a `records.models.WorkflowStep` row): the apps
    subclass it so their OpenAPI names stay their own."""

    from_state: str
    to_state: str
    at: datetime
    by: str
    facility: str
    note: str

    @classmethod
    def of(cls, step: Any) -> Self:
        return cls(
            from_state=step.from_state,
            to_state=step.to_state,
            at=step.at,
            by=step.by_name,
            facility=step.facility.name if step.facility else "",
            note=step.note,
        )


def error_body(
    errors: list[FieldError], extra: dict[str, object] | None = None
) -> dict[str, object]:
    return {"detail": [e.as_api() for e in errors], **(extra or {})}


def domain_error_body(exc: DomainError) -> dict[str, object]:
    return error_body(exc.errors, exc.extra)


# Chinese for the pydantic error types users actually hit.
PYDANTIC_ZH = {
    "missing": "必填字段缺失",
    "date_from_datetime_parsing": "日期格式应为 YYYY-MM-DD",
    "date_parsing": "日期格式应为 YYYY-MM-DD",
    "date_type": "日期格式应为 YYYY-MM-DD",
    "string_type": "应为文本",
    "string_too_long": "内容过长",
    "string_too_short": "内容过短",
    "int_parsing": "应为整数",
    "bool_parsing": "应为是/否",
    "literal_error": "取值不在允许范围内",
    "enum": "取值不在允许范围内",
    "json_invalid": "请求体不是合法的 JSON",
    "model_attributes_type": "请求体格式不正确",
}


def pydantic_errors_body(errors: list[dict[str, Any]]) -> dict[str, object]:
    items = [
        {
            "loc": list(e.get("loc", [])),
            "msg": PYDANTIC_ZH.get(str(e.get("type")), "字段格式不正确"),
            "msg_en": str(e.get("msg", "invalid")),
            "type": str(e.get("type", "")),
        }
        for e in errors
    ]
    return {"detail": items}
