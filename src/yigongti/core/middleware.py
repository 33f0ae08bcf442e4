"""Request plumbing shared by pages, the REST API and FHIR."""

from __future__ import annotations

from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse

from .models import IdempotencyRecord

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def client_ip(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR", ""))[:64]


def _refuse(request: HttpRequest, status: int, msg_zh: str, msg_en: str) -> HttpResponse:
    """An error in the caller's dialect: OperationOutcome on /fhir/, the REST shape elsewhere."""
    if request.path.startswith("/fhir/"):
        code = "conflict" if status == 409 else "invalid"
        outcome = {
            "resourceType": "OperationOutcome",
            "issue": [
                {
                    "severity": "error",
                    "code": code,
                    "diagnostics": f"{msg_zh} / {msg_en}",
                    "expression": ["header.Idempotency-Key"],
                }
            ],
        }
        return JsonResponse(outcome, status=status, content_type="application/fhir+json")
    return JsonResponse(
        {
            "detail": [
                {
                    "loc": ["header", "Idempotency-Key"],
                    "msg": msg_zh,
                    "msg_en": msg_en,
                    "type": "idempotency",
                }
            ]
        },
        status=status,
    )


class RequestContextMiddleware:
    """Replays retried API writes that carry the same `Idempotency-Key` header for the same
    user, so a client that lost the first answer does not create a second record."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = request.headers.get("Idempotency-Key", "").strip()
        user = getattr(request, "user", None)
        if (
            not key
            or request.method not in UNSAFE
            or user is None
            or not user.is_authenticated
            or not request.path.startswith(("/api/", "/fhir/"))
        ):
            return self.get_response(request)
        if len(key) > 128:
            return _refuse(
                request,
                422,
                "幂等键过长（最多128个字符）",
                "Idempotency-Key is longer than 128 characters",
            )
        try:
            with transaction.atomic():
                rec = IdempotencyRecord.objects.create(
                    user_id=user.pk, key=key, method=request.method or "", path=request.path
                )
        except IntegrityError:
            prior = IdempotencyRecord.objects.get(user_id=user.pk, key=key)
            if prior.method != request.method or prior.path != request.path:
                return _refuse(
                    request,
                    422,
                    "该幂等键已用于另一请求",
                    "Idempotency-Key was used for another request",
                )
            if prior.status is None:
                return _refuse(
                    request,
                    409,
                    "相同请求正在处理，请稍后重试",
                    "The same request is still being processed",
                )
            replay = HttpResponse(
                bytes(prior.body), status=prior.status, content_type=prior.content_type
            )
            if prior.location:
                replay["Location"] = prior.location
            replay["Idempotent-Replay"] = "true"
            return replay
        response = self.get_response(request)
        if response.status_code >= 500:
            rec.delete()  # let the client try again
        else:
            IdempotencyRecord.objects.filter(pk=rec.pk).update(
                status=response.status_code,
                content_type=response.get("Content-Type", ""),
                location=response.get("Location", "")[:512],
                body=response.content if not getattr(response, "streaming", False) else b"",
            )
        return response
