"""The REST API at /api/v1/ (OpenAPI at /api/v1/openapi.json)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.renderers import JSONRenderer

from yigongti.accounts.actors import request_actor
from yigongti.accounts.api import router as accounts_router
from yigongti.chronic.api import router as chronic_router
from yigongti.consults.api import router as consults_router
from yigongti.contracts.api import router as contracts_router
from yigongti.core.api import ActorAuth, domain_error_body, pydantic_errors_body
from yigongti.core.audit_api import router as audit_router
from yigongti.core.errors import DomainError, Forbidden, NotFound
from yigongti.diagnostics.api import router as diagnostics_router
from yigongti.indicators.api import router as indicators_router
from yigongti.indicators.evidence_api import router as evidence_router
from yigongti.network.api import router as network_router
from yigongti.performance.api import router as performance_router
from yigongti.pharmacy.api import router as pharmacy_router
from yigongti.records.api import router as records_router
from yigongti.records.import_api import router as imports_router
from yigongti.referrals.api import router as referrals_router
from yigongti.residents.api import router as residents_router
from yigongti.scheduling.api import router as scheduling_router


class Utf8JSONRenderer(JSONRenderer):
    """Chinese stays readable in responses (no \\uXXXX escapes)."""

    json_dumps_params = {"ensure_ascii": False}


api = NinjaAPI(
    renderer=Utf8JSONRenderer(),
    title="Yigongti 医共体 API",
    version="1.0.0",
    description="REST API of the county medical-community platform. Authenticate with "
    "`POST /api/v1/auth/token` and send `Authorization: Bearer <token>`. Errors: "
    '`{"detail": [{"loc": [...], "msg": "中文", "msg_en": "English"}]}`. '
    "Writes may carry an `Idempotency-Key` header; a retry with the same key replays the "
    "first answer.",
    auth=ActorAuth(request_actor),
    urls_namespace="api-v1",
)
api.add_router("", accounts_router)
api.add_router("", residents_router)
api.add_router("", network_router)
api.add_router("", audit_router)
api.add_router("", records_router)
api.add_router("", imports_router)
api.add_router("", chronic_router)
api.add_router("", contracts_router)
api.add_router("", referrals_router)
api.add_router("", scheduling_router)
api.add_router("", pharmacy_router)
api.add_router("", consults_router)
api.add_router("", diagnostics_router)
api.add_router("", indicators_router)
api.add_router("", evidence_router)
api.add_router("", performance_router)


@api.exception_handler(DomainError)
def on_domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    return api.create_response(request, domain_error_body(exc), status=exc.status)


@api.exception_handler(NotFound)
def on_not_found(request: HttpRequest, exc: NotFound) -> HttpResponse:
    return api.create_response(
        request,
        {
            "detail": [
                {
                    "loc": ["path"],
                    "msg": str(exc),
                    "msg_en": "Not found (or not in your area)",
                    "type": "not_found",
                }
            ]
        },
        status=404,
    )


@api.exception_handler(Forbidden)
def on_forbidden(request: HttpRequest, exc: Forbidden) -> HttpResponse:
    return api.create_response(
        request,
        {"detail": [{"loc": [], "msg": exc.msg_zh, "msg_en": exc.msg_en, "type": "forbidden"}]},
        status=403,
    )


@api.exception_handler(NinjaValidationError)
def on_validation(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    return api.create_response(request, pydantic_errors_body(list(exc.errors)), status=422)


@api.exception_handler(AuthenticationError)
def on_auth(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    msg = "令牌无效或已过期" if getattr(request, "bearer_invalid", False) else "请先登录"
    return api.create_response(
        request,
        {
            "detail": [
                {
                    "loc": ["header", "Authorization"],
                    "msg": msg,
                    "msg_en": "Authentication required (invalid or expired token)"
                    if "令牌" in msg
                    else "Authentication required",
                    "type": "auth",
                }
            ]
        },
        status=401,
    )
