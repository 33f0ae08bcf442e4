"""Request plumbing shared by pages, the REST API and FHIR."""

from __future__ import annotations

from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse

from .models import IdempotencyRecord

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def client_ip(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR", ""))[:64]


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
            return JsonResponse(
                {
                    "detail": [
                        {
                            "loc": ["header", "Idempotency-Key"],
                            "msg": "幂等键过长（最多128个字符）",
                            "msg_en": "Idempotency-Key is longer than 128",
                        }
                    ]
                },
                status=422,
            )
        try:
            with transaction.atomic():
                rec = IdempotencyRecord.objects.create(
                    user_id=user.pk, key=key, method=request.method or "", path=request.path
                )
        except IntegrityError:
            prior = IdempotencyRecord.objects.get(user_id=user.pk, key=key)
            if prior.method != request.method or prior.path != request.path:
                return JsonResponse(
                    {
                        "detail": [
                            {
                                "loc": ["header", "Idempotency-Key"],
                                "msg": "该幂等键已用于另一请求",
                                "msg_en": "Idempotency-Key was used for another request",
                            }
                        ]
                    },
                    status=422,
                )
            if prior.status is None:
                return JsonResponse(
                    {
                        "detail": [
                            {
                                "loc": ["header", "Idempotency-Key"],
                                "msg": "相同请求正在处理，请稍后重试",
                                "msg_en": "The same request is still being processed",
                            }
                        ]
                    },
                    status=409,
                )
            replay = HttpResponse(
                bytes(prior.body), status=prior.status, content_type=prior.content_type
            )
            replay["Idempotent-Replay"] = "true"
            return replay
        response = self.get_response(request)
        if response.status_code >= 500:
            rec.delete()  # let the client try again
        else:
            IdempotencyRecord.objects.filter(pk=rec.pk).update(
                status=response.status_code,
                content_type=response.get("Content-Type", ""),
                body=response.content if not getattr(response, "streaming", False) else b"",
            )
        return response
