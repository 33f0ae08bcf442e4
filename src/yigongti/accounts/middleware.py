from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from .tokens import user_for_token


class BearerTokenMiddleware:
    """`Authorization: Bearer <token>` on /api/ and /fhir/ sets request.user. Such requests
    carry no cookie, so they are exempt from CSRF; session requests are not."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        header = request.headers.get("Authorization", "")
        request.bearer_auth = False  # type: ignore[attr-defined]
        if header[:7].lower() == "bearer " and request.path.startswith(("/api/", "/fhir/")):
            user = user_for_token(header[7:])
            if user is not None:
                request.user = user  # type: ignore[assignment]
                request.bearer_auth = True  # type: ignore[attr-defined]
                request._dont_enforce_csrf_checks = True  # type: ignore[attr-defined]
            else:
                request.bearer_invalid = True  # type: ignore[attr-defined]
        return self.get_response(request)
