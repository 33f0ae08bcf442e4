"""The shell's own pages: login, the role home page and the audit log."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import urlencode

from yigongti.accounts.actors import actor_for
from yigongti.accounts.rules import Perm, Role
from yigongti.core import audit
from yigongti.core.actor import Actor, ScopeKind
from yigongti.core.errors import Forbidden
from yigongti.core.middleware import client_ip
from yigongti.core.params import id_param
from yigongti.core.queries import audit_entries_visible_to
from yigongti.network.queries import facilities_visible_to, groups_with_counts, villages_in
from yigongti.residents.queries import duplicates_visible_to, residents_visible_to

from .templatetags.ygt import ACTION_LABELS

HOME_PAGE_SIZE = 20
AUDIT_PAGE_SIZE = 50

# --- login -----------------------------------------------------------------------------


class LoginForm(AuthenticationForm):
    username = forms.CharField(
        label="用户名", max_length=150, widget=forms.TextInput(attrs={"autofocus": True})
    )
    password = forms.CharField(
        label="密码",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    error_messages = {
        "invalid_login": "用户名或密码错误，请重新输入（区分大小写）。",
        "inactive": "该账号已停用，请联系系统管理员。",
    }


class Login(LoginView):
    """Session login; success and failure both go to the audit log."""

    template_name = "web/login.html"
    form_class = LoginForm
    redirect_authenticated_user = True

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_valid(form)
        user = form.get_user()
        ip = client_ip(self.request)
        actor = actor_for(user, ip=ip) or Actor(
            user_id=user.pk, username=user.get_username(), role="none", ip=ip
        )
        audit.record(actor, audit.Action.LOGIN, "user", user.pk, detail={"via": "web"})
        return response

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        username = str(self.request.POST.get("username", "")).strip()[:150]
        anon = Actor(user_id=None, username=username, role="anonymous", ip=client_ip(self.request))
        audit.record(anon, audit.Action.LOGIN_FAILED, "user", username[:64], detail={"via": "web"})
        return super().form_invalid(form)


# --- home ------------------------------------------------------------------------------


def home(request: HttpRequest, actor: Actor) -> HttpResponse:
    """One page per role: the village doctor's residents, the township GP's villages, the
    administrators' network, the commission's county."""
    ctx: dict[str, Any] = {"can_search": actor.can(Perm.VIEW_RESIDENTS)}
    if actor.role in (Role.VILLAGE_DOCTOR,) or actor.scope.kind == ScopeKind.VILLAGES:
        ctx.update(_village_home(request, actor))
        template = "web/home_village.html"
    elif actor.role in (Role.TOWNSHIP_DOCTOR, Role.PHARMACIST):
        ctx.update(_township_home(actor))
        template = "web/home_township.html"
    elif actor.role == Role.COMMISSION:
        ctx.update(_county_home(actor))
        template = "web/home_county.html"
    elif actor.role in (Role.GROUP_ADMIN, Role.SYSADMIN):
        ctx.update(_admin_home(actor))
        template = "web/home_admin.html"
    else:
        ctx.update(_clinician_home(actor))
        template = "web/home_clinician.html"
    return render(request, template, ctx)


def _village_home(request: HttpRequest, actor: Actor) -> dict[str, Any]:
    qs = (
        residents_visible_to(actor)
        .select_related("village", "township")
        .order_by("name", "birth_date", "pk")
    )
    page_obj = Paginator(qs, HOME_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = list(page_obj.object_list)
    if rows:
        # A list of (masked) personal data is a read too: say which page was shown.
        audit.record(
            actor,
            audit.Action.READ,
            "resident_list",
            "home",
            detail={"page": page_obj.number, "shown": len(rows)},
        )
    villages = list(villages_in(actor.scope.division_ids, actor.scope.kind).order_by("code"))
    return {"page_obj": page_obj, "rows": rows, "villages": villages, "page_query": ""}


def _village_counts(actor: Actor) -> dict[int, int]:
    return dict(
        residents_visible_to(actor)
        .order_by()
        .values_list("village_id")
        .annotate(n=Count("pk"))
        .values_list("village_id", "n")
    )


def _township_home(actor: Actor) -> dict[str, Any]:
    villages = list(
        villages_in(actor.scope.division_ids, actor.scope.kind)
        .select_related("parent")
        .order_by("code")
    )
    counts = _village_counts(actor)
    rows = [{"village": v, "n": counts.get(v.pk, 0)} for v in villages]
    return {"village_rows": rows, "total": sum(counts.values())}


def _county_home(actor: Actor) -> dict[str, Any]:
    by_township = list(
        residents_visible_to(actor)
        .order_by()
        .values("township__code", "township__name")
        .annotate(n=Count("pk"))
        .order_by("township__code")
    )
    groups = list(groups_with_counts())
    return {
        "groups": groups,
        "by_township": by_township,
        "total": sum(r["n"] for r in by_township),
        "n_facilities": sum(getattr(g, "n_facilities", 0) for g in groups),
    }


def _admin_home(actor: Actor) -> dict[str, Any]:
    groups = list(groups_with_counts())
    n_open = None
    if actor.can(Perm.MERGE_RESIDENTS):
        n_open = duplicates_visible_to(actor).count()
    return {
        "groups": groups,
        "n_open_duplicates": n_open,
        "is_sysadmin": actor.role == Role.SYSADMIN,
    }


def _clinician_home(actor: Actor) -> dict[str, Any]:
    group = None
    if actor.group_id is not None:
        group = groups_with_counts().filter(pk=actor.group_id).first()
    return {"group": group}


# --- audit log -------------------------------------------------------------------------

_CHAIN_PROBLEMS = {
    "is missing": "有记录缺失",
    "link to the previous entry is broken": "与前一条记录的链接断开",
    "content does not match its hash": "内容与其哈希值不符（被修改）",
    "entries after the last one were removed": "末尾的记录被删除",
}


def audit_log(request: HttpRequest, actor: Actor) -> HttpResponse:
    """Newest first, 50 a page, keyed on the entry id (no COUNT over the whole log; entries
    not yet sealed into the chain have no sequence number for a moment)."""
    qs = audit_entries_visible_to(actor)
    action = request.GET.get("action", "").strip()
    username = request.GET.get("username", "").strip()
    if action:
        qs = qs.filter(action=action)
    if username:
        qs = qs.filter(username=username)
    before, after = id_param(request.GET.get("before")), id_param(request.GET.get("after"))
    if after is not None:
        rows = list(qs.filter(pk__gt=after).order_by("pk")[: AUDIT_PAGE_SIZE + 1])
        has_newer = len(rows) > AUDIT_PAGE_SIZE
        rows = rows[:AUDIT_PAGE_SIZE][::-1]
        has_older = qs.filter(pk__lte=after).exists()
    else:
        if before is not None:
            qs = qs.filter(pk__lt=before)
        rows = list(qs[: AUDIT_PAGE_SIZE + 1])
        has_older = len(rows) > AUDIT_PAGE_SIZE
        rows = rows[:AUDIT_PAGE_SIZE]
        has_newer = before is not None and bool(rows)
    facility_ids = {e.facility_id for e in rows if e.facility_id}
    facilities = dict(
        facilities_visible_to(actor).filter(pk__in=facility_ids).values_list("pk", "name")
    )
    filters = urlencode({k: v for k, v in (("action", action), ("username", username)) if v})
    return render(
        request,
        "web/audit.html",
        {
            "rows": rows,
            "facilities": facilities,
            "action": action,
            "username": username,
            "actions": sorted(ACTION_LABELS.items()),
            "older": rows[-1].pk if rows and has_older else None,
            "newer": rows[0].pk if rows and has_newer else None,
            "filters": filters,
            "can_verify": actor.role == Role.SYSADMIN,
        },
    )


def verify_audit(request: HttpRequest, actor: Actor) -> HttpResponse:
    if actor.role != Role.SYSADMIN:
        raise Forbidden("只有系统管理员可以校验审计链")
    report = audit.verify_chain()
    if report.ok:
        messages.success(request, f"审计链校验通过：共 {report.checked} 条记录，未发现篡改。")
    else:
        problem = next(
            (zh for en, zh in _CHAIN_PROBLEMS.items() if en in report.problem), report.problem
        )
        messages.error(
            request,
            f"审计链校验失败：第 {report.first_bad_seq} 条记录{problem}。"
            f"已检查 {report.checked} 条。",
        )
    return redirect("web:audit")
