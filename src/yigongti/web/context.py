"""Template context for every page: the actor and a navigation bar cut to their permissions."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from django.urls import reverse

PLATFORM_NAME = "医共体信息平台"


@dataclass(frozen=True)
class NavItem:
    label: str
    url: str
    active: bool


# (label, url name, permission, path prefixes that mark it active)
_BASE_NAV: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("居民", "web:resident-search", "view_residents", ("/residents/",)),
    ("建档", "web:resident-new", "register_resident", ("/residents/new/",)),
    ("扫码", "web:card-scan", "view_residents", ("/cards/",)),
    ("医共体网络", "web:network", "view_network", ("/network/",)),
    ("疑似重复", "web:duplicates", "merge_residents", ("/residents/duplicates/",)),
    ("审计日志", "web:audit", "view_audit", ("/audit/",)),
)


def _all_nav() -> tuple[tuple[str, str, str, tuple[str, ...]], ...]:
    from .urls import APP_ROUTES

    extra = tuple(item for routes in APP_ROUTES for item in routes.NAV)
    return _BASE_NAV[:3] + extra + _BASE_NAV[3:]


def _active_label(path: str) -> str:
    """The longest matching prefix wins, so /residents/new/ lights 建档, not 居民."""
    best, best_len = "", 0
    for label, _, _, prefixes in _all_nav():
        for p in prefixes:
            if path.startswith(p) and len(p) > best_len:
                best, best_len = label, len(p)
    return best


def navigation(request: HttpRequest) -> dict[str, object]:
    from yigongti.accounts.actors import request_actor

    actor = None
    if getattr(request, "user", None) is not None and request.user.is_authenticated:
        actor = request_actor(request)
    items: list[NavItem] = []
    if actor is not None:
        active = _active_label(request.path)
        items = [
            NavItem(label, reverse(name), label == active)
            for label, name, perm, _ in _all_nav()
            if actor.can(perm)
        ]
    return {
        "actor": actor,
        "nav_items": items,
        "platform_name": PLATFORM_NAME,
        "display_name": _display_name(request),
    }


def _display_name(request: HttpRequest) -> str:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return ""
    full = f"{user.last_name}{user.first_name}".strip()
    return full or user.get_username()
