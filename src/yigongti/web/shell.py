"""The page shell every server-rendered view runs in.

`page(view, perm=...)` turns `view(request, actor, **kwargs)` into a Django view: it sends
anonymous visitors to the login page, resolves the request's Actor once, checks the
permission, and turns the domain's NotFound / Forbidden into the Chinese 404 / 403 pages.
Views in lower apps (network, residents) get their Actor handed in this way, so they never
import the accounts app or this one (DESIGN.md's dependency direction)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import render

from yigongti.accounts.actors import request_actor
from yigongti.core.actor import Actor
from yigongti.core.errors import Forbidden, NotFound

ActorView = Callable[..., HttpResponse]


def not_found(request: HttpRequest, what: str = "页面") -> HttpResponse:
    return render(request, "web/404.html", {"what": what}, status=404)


def forbidden(request: HttpRequest, message: str = "无权访问此页面") -> HttpResponse:
    return render(request, "web/403.html", {"message": message}, status=403)


def page(
    view: ActorView, *, perm: str | None = None, methods: Iterable[str] = ("GET", "POST")
) -> Callable[..., HttpResponse]:
    allowed = [m.upper() for m in methods]
    if "GET" in allowed and "HEAD" not in allowed:
        allowed.append("HEAD")

    @wraps(view)
    def wrapped(request: HttpRequest, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if request.method not in allowed:
            return HttpResponseNotAllowed(allowed)
        actor: Actor | None = request_actor(request)
        if actor is None:
            return forbidden(request, "该账号尚未分配角色或机构，请联系系统管理员")
        if perm is not None and not actor.can(perm):
            return forbidden(request)
        try:
            return view(request, actor, **kwargs)
        except NotFound as exc:
            return not_found(request, exc.what)
        except Forbidden as exc:
            return forbidden(request, exc.msg_zh)

    return wrapped
