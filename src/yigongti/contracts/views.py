"""Pages of family-doctor contracts (家庭医生签约). Views only call `queries` (scoped reads)
and `actions` (writes); the web shell hands in the Actor and checks the permission."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from yigongti.core.actor import Actor
from yigongti.core.dates import age_on
from yigongti.core.errors import DomainError, Forbidden, NotFound
from yigongti.network.models import Facility, Staff
from yigongti.residents.queries import get_resident_for
from yigongti.residents.rules import mask_id_number

from . import actions, queries, rules
from .models import ConsentMethod, MemberRole, PackageKind, ServicePackage

PER_PAGE = 30
TABS = {
    "contracts": "签约居民",
    "expiring": "即将到期",
    "overdue": "履约逾期",
    "priority": "未签约重点人群",
    "alerts": "家庭监测提醒",
}


def _apply_errors(
    form: forms.Form, exc: DomainError, aliases: dict[str, str] | None = None
) -> None:
    aliases = aliases or {}
    for err in exc.errors:
        name = aliases.get(err.field, err.field.split(".")[-1])
        if name in form.fields and not form.errors.get(name):
            form.add_error(name, err.msg_zh)
        else:
            form.add_error(None, err.msg_zh)


def _set_choices(form: forms.Form, name: str, choices: list[Any]) -> None:
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    field.choices = choices


def _page(request: HttpRequest, items: Any) -> Any:
    return Paginator(items, PER_PAGE).get_page(request.GET.get("page"))


def _rows(contracts: list[Any], deliveries: dict[int, queries.Delivery]) -> list[dict[str, Any]]:
    today = timezone.localdate()
    return [
        {
            "c": c,
            "age": age_on(c.resident.birth_date, today),
            "doc": mask_id_number(c.resident.doc_number),
            "d": deliveries.get(c.pk),
            "days_left": (c.end_date - today).days,
        }
        for c in contracts
    ]


# --- home and team pages -------------------------------------------------------------------


def home(request: HttpRequest, actor: Actor) -> HttpResponse:
    queries.check_can_read(actor)
    mine = set(queries.my_team_ids(actor))
    teams = list(
        queries.teams_visible_to(actor).filter(active=True).order_by("facility__code", "name")[:200]
    )
    teams.sort(key=lambda t: (t.pk not in mine,))
    return render(
        request,
        "contracts/home.html",
        {
            "teams": teams,
            "mine": mine,
            "can_manage": actor.can("manage_teams"),
            "alerts": queries.home_alert_counts(actor, sorted(mine)),
        },
    )


def team_page(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    team = queries.get_team_for(actor, pk)
    tab = request.GET.get("tab", "contracts")
    if tab not in TABS:
        tab = "contracts"
    today = timezone.localdate()
    ctx: dict[str, Any] = {
        "team": team,
        "tab": tab,
        "tabs": TABS,
        "expiring_days": queries.expiring_days(),
    }
    ctx["members"] = queries.team_members([team.pk]).get(team.pk, [])
    if tab in ("contracts", "expiring"):
        qs: Any = (
            queries.team_contracts(actor, team)
            if tab == "contracts"
            else queries.expiring_contracts(actor, team, today)
        )
        page = _page(request, qs)
        items = list(page.object_list)
        ctx.update(page=page, rows=_rows(items, queries.delivery_of(items, today)))
    elif tab == "alerts":
        if not actor.can("manage_chronic"):
            raise Forbidden()
        page = _page(request, queries.team_home_alerts(actor, team))
        ctx.update(page=page, alerts=list(page.object_list), today=today)
    elif tab == "overdue":
        pairs = queries.overdue_contracts(actor, team, today)
        page = _page(request, pairs)
        items = list(page.object_list)
        ctx.update(page=page, rows=_rows([c for c, _ in items], {c.pk: d for c, d in items}))
    else:
        group = request.GET.get("group", "")
        group = group if group in rules.PRIORITY_GROUPS else ""
        people = queries.unsigned_priority_residents(actor, team, today, group)
        page = _page(request, people)
        items = list(page.object_list)
        flags = queries.priority_flags([r.pk for r in items], today)
        ctx.update(
            page=page,
            group=group,
            groups=[(k, v[0]) for k, v in rules.PRIORITY_GROUPS.items() if v[1] is not None],
            not_collected=[v[0] for v in rules.PRIORITY_GROUPS.values() if v[1] is None],
            people=[
                {
                    "r": r,
                    "age": age_on(r.birth_date, today),
                    "doc": mask_id_number(r.doc_number),
                    "groups": [rules.PRIORITY_GROUPS[g][0] for g in flags[r.pk]],
                }
                for r in items
            ],
        )
    queries.audit_list(actor, "contract", {"list": tab, "team": team.pk})
    return render(request, "contracts/team.html", ctx)


def contract_page(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    c = queries.get_contract_for(actor, pk)
    d = queries.delivery_of([c])[c.pk]
    history = list(queries.contracts_of_resident(c.resident)[:20])
    return render(
        request,
        "contracts/contract.html",
        {
            "c": c,
            "d": d,
            "history": history,
            "age": age_on(c.resident.birth_date, timezone.localdate()),
            "can_sign": actor.can("sign_contracts"),
            "renewable": c.status == "active"
            and (c.end_date - timezone.localdate()).days <= queries.expiring_days(),
        },
    )


def coverage(request: HttpRequest, actor: Actor) -> HttpResponse:
    queries.check_can_read(actor)
    by = request.GET.get("by", "township")
    if by == "team":
        rows = queries.coverage_by_team(actor, list(queries.teams_visible_to(actor)[:500]))
    else:
        by = "township"
        rows = queries.coverage_by_township(actor)
    return render(
        request,
        "contracts/coverage.html",
        {
            "by": by,
            "rows": rows,
            "definition": queries.COVERAGE_DEFINITION,
            "not_collected": [v[0] for v in rules.PRIORITY_GROUPS.values() if v[1] is None],
        },
    )


# --- lifecycle forms -----------------------------------------------------------------------


class ConsentForm(forms.Form):
    consent_method = forms.ChoiceField(label="签约方式", choices=ConsentMethod.choices)
    signer_name = forms.CharField(label="签字人", max_length=30, help_text="居民本人或代理人姓名")
    signer_relation = forms.CharField(label="与居民关系", max_length=16, initial="本人")

    def consent(self) -> actions.ConsentInput:
        d = self.cleaned_data
        return actions.ConsentInput(
            method=d["consent_method"],
            signer_name=d["signer_name"],
            signer_relation=d["signer_relation"],
        )


CONSENT_ALIASES = {
    "consent.method": "consent_method",
    "consent.signer_name": "signer_name",
    "consent.signer_relation": "signer_relation",
}


class SignForm(ConsentForm):
    team = forms.TypedChoiceField(label="家庭医生团队", coerce=int)
    package = forms.TypedChoiceField(label="服务包", coerce=int)
    start_date = forms.DateField(label="生效日期", widget=forms.DateInput(attrs={"type": "date"}))
    end_date = forms.DateField(
        label="到期日期",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="默认一年；不少于一年",
    )
    field_order = [
        "team",
        "package",
        "start_date",
        "end_date",
        "consent_method",
        "signer_name",
        "signer_relation",
    ]


def _team_choices(actor: Actor, village_id: int | None = None) -> list[tuple[int, str]]:
    qs = queries.teams_visible_to(actor).filter(active=True)
    if village_id is not None:
        qs = qs.filter(villages=village_id)
    return [(t.pk, f"{t.name}（{t.facility.name}）") for t in qs.order_by("name")]


def _package_choices(actor: Actor) -> list[tuple[int, str]]:
    return [
        (p.pk, f"{p.name}（{p.get_kind_display()}，{p.fee}元）")
        for p in queries.packages_visible_to(actor).filter(active=True)
    ]


def sign(request: HttpRequest, actor: Actor, mpi_id: str) -> HttpResponse:
    resident = get_resident_for(actor, mpi_id, purpose="contract")
    current = queries.active_contract_of(resident)
    form = SignForm(
        request.POST or None,
        initial={"start_date": timezone.localdate(), "signer_name": resident.name},
    )
    _set_choices(form, "team", _team_choices(actor, resident.village_id))
    _set_choices(form, "package", _package_choices(actor))
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            c = actions.do_sign_contract(
                actor,
                resident,
                actions.SignInput(
                    team_id=d["team"],
                    package_id=d["package"],
                    start_date=d["start_date"],
                    end_date=d["end_date"],
                    consent=form.consent(),
                ),
            )
        except DomainError as exc:
            _apply_errors(
                form, exc, {**CONSENT_ALIASES, "team_id": "team", "package_id": "package"}
            )
        else:
            messages.success(request, "签约成功")
            return redirect("web:contracts-contract", pk=c.pk)
    return render(request, "contracts/sign.html", {"form": form, "r": resident, "current": current})


class RenewForm(ConsentForm):
    years = forms.TypedChoiceField(
        label="续约年限", coerce=int, choices=[(1, "1年"), (2, "2年"), (3, "3年")]
    )
    package = forms.TypedChoiceField(label="服务包", coerce=int)
    field_order = ["years", "package", "consent_method", "signer_name", "signer_relation"]


class ChangeForm(ConsentForm):
    team = forms.TypedChoiceField(label="新团队", coerce=int)
    reason = forms.CharField(label="改签原因", max_length=200)
    field_order = ["team", "reason", "consent_method", "signer_name", "signer_relation"]


class TerminateForm(forms.Form):
    reason = forms.CharField(label="解约原因", max_length=200, help_text="如：死亡、迁出、本人申请")


def renew(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    c = queries.get_contract_for(actor, pk)
    form = RenewForm(
        request.POST or None, initial={"package": c.package_id, "signer_name": c.resident.name}
    )
    _set_choices(form, "package", _package_choices(actor))
    if request.method == "POST" and form.is_valid():
        try:
            new = actions.do_renew_contract(
                actor,
                c,
                actions.RenewInput(
                    package_id=form.cleaned_data["package"],
                    years=form.cleaned_data["years"],
                    consent=form.consent(),
                ),
            )
        except DomainError as exc:
            _apply_errors(form, exc, {**CONSENT_ALIASES, "package_id": "package"})
        else:
            messages.success(request, "续约成功")
            return redirect("web:contracts-contract", pk=new.pk)
    return render(request, "contracts/action.html", {"form": form, "c": c, "title": "续约"})


def change_team(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    c = queries.get_contract_for(actor, pk)
    form = ChangeForm(request.POST or None, initial={"signer_name": c.resident.name})
    _set_choices(
        form, "team", [x for x in _team_choices(actor, c.resident.village_id) if x[0] != c.team_id]
    )
    if request.method == "POST" and form.is_valid():
        try:
            new = actions.do_change_team(
                actor,
                c,
                actions.ChangeTeamInput(
                    team_id=form.cleaned_data["team"],
                    reason=form.cleaned_data["reason"],
                    consent=form.consent(),
                ),
            )
        except DomainError as exc:
            _apply_errors(form, exc, {**CONSENT_ALIASES, "team_id": "team"})
        else:
            messages.success(request, "改签成功")
            return redirect("web:contracts-contract", pk=new.pk)
    return render(request, "contracts/action.html", {"form": form, "c": c, "title": "改签团队"})


def terminate(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    c = queries.get_contract_for(actor, pk)
    form = TerminateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            actions.do_terminate_contract(actor, c, form.cleaned_data["reason"])
        except DomainError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, "已解约")
            return redirect("web:contracts-contract", pk=c.pk)
    return render(request, "contracts/action.html", {"form": form, "c": c, "title": "解约"})


# --- administration: teams and packages ----------------------------------------------------


def _require_manage(actor: Actor) -> None:
    if not actor.can("manage_teams"):
        raise Forbidden()


def admin_home(request: HttpRequest, actor: Actor) -> HttpResponse:
    _require_manage(actor)
    teams = list(queries.teams_visible_to(actor).order_by("facility__code", "name"))
    page = _page(request, teams)
    members = queries.team_members([t.pk for t in page.object_list])
    rows = [{"t": t, "members": members.get(t.pk, [])} for t in page.object_list]
    packages = queries.packages_visible_to(actor)
    return render(
        request, "contracts/admin.html", {"page": page, "rows": rows, "packages": packages}
    )


class TeamForm(forms.Form):
    name = forms.CharField(label="团队名称", max_length=64)
    facility = forms.TypedChoiceField(label="所属机构", coerce=int)
    villages = forms.TypedMultipleChoiceField(label="服务村", coerce=int, required=False)
    doctor = forms.TypedChoiceField(label="家庭医生", coerce=int)
    nurse = forms.TypedMultipleChoiceField(label="护士", coerce=int, required=False)
    public_health = forms.TypedMultipleChoiceField(label="公卫医师", coerce=int, required=False)
    assistant = forms.TypedMultipleChoiceField(label="助理", coerce=int, required=False)
    specialist = forms.TypedMultipleChoiceField(label="县级专科医生", coerce=int, required=False)
    active = forms.BooleanField(label="在用", required=False, initial=True)

    def team_input(self) -> actions.TeamInput:
        d = self.cleaned_data
        members = [actions.MemberInput(d["doctor"], MemberRole.DOCTOR)]
        for role in ("nurse", "public_health", "assistant", "specialist"):
            members += [actions.MemberInput(s, role) for s in d[role] if s != d["doctor"]]
        return actions.TeamInput(
            name=d["name"],
            facility_id=d["facility"],
            village_ids=d["villages"],
            members=members,
            active=d["active"],
        )


def _team_form(actor: Actor, data: Any, initial: dict[str, Any] | None = None) -> TeamForm:
    form = TeamForm(data, initial=initial)
    facilities = (
        Facility.objects.filter(group_id=actor.group_id).exclude(kind="other").order_by("code")
    )
    _set_choices(form, "facility", [(f.pk, f.name) for f in facilities])
    _set_choices(
        form,
        "villages",
        [
            (v.pk, f"{v.parent.name if v.parent else ''} {v.name}")
            for v in queries.villages_visible_to(actor).select_related("parent").order_by("code")
        ],
    )
    staff = Staff.objects.filter(facility__group_id=actor.group_id, active=True).select_related(
        "facility"
    )
    choices = [
        (s.pk, f"{s.name}（{s.facility.name}）") for s in staff.order_by("facility__code", "name")
    ]
    for name in ("doctor", "nurse", "public_health", "assistant", "specialist"):
        _set_choices(form, name, choices)
    return form


def team_edit(request: HttpRequest, actor: Actor, pk: int | None = None) -> HttpResponse:
    _require_manage(actor)
    team = queries.get_team_for(actor, pk) if pk else None
    initial: dict[str, Any] = {"active": True}
    if team is not None:
        members = queries.team_members([team.pk]).get(team.pk, [])
        initial = {
            "name": team.name,
            "facility": team.facility_id,
            "villages": list(team.villages.values_list("pk", flat=True)),
            "active": team.active,
            **{role: [m.staff_id for m in members if m.role == role] for role in MemberRole.values},
        }
        initial["doctor"] = (initial.get("doctor") or [None])[0]
    form = _team_form(actor, request.POST or None, initial)
    if request.method == "POST" and form.is_valid():
        try:
            data = form.team_input()
            team = (
                actions.do_update_team(actor, team, data)
                if team
                else actions.do_create_team(actor, data)
            )
        except DomainError as exc:
            _apply_errors(
                form,
                exc,
                {"facility_id": "facility", "village_ids": "villages", "members": "doctor"},
            )
        else:
            messages.success(request, "团队已保存")
            return redirect("web:contracts-team", pk=team.pk)
    return render(request, "contracts/team_form.html", {"form": form, "team": team})


class PackageForm(forms.Form):
    code = forms.CharField(label="编码", max_length=32)
    name = forms.CharField(label="名称", max_length=64)
    kind = forms.ChoiceField(label="类型", choices=PackageKind.choices)
    fee = forms.DecimalField(label="年费用（元）", min_value=0, decimal_places=2)
    covered_share = forms.DecimalField(
        label="医保/公卫支付比例",
        min_value=0,
        max_value=1,
        decimal_places=3,
        help_text="0–1，如 0.8",
    )
    description = forms.CharField(label="说明", max_length=200, required=False)
    active = forms.BooleanField(label="在用", required=False, initial=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for key, label in rules.SERVICE_TYPES.items():
            self.fields[f"svc_{key}"] = forms.IntegerField(
                label=f"{label}（次/年）", min_value=0, max_value=365, required=False
            )

    def services(self) -> list[dict[str, object]]:
        return [
            {"service": key, "count": self.cleaned_data[f"svc_{key}"]}
            for key in rules.SERVICE_TYPES
            if self.cleaned_data.get(f"svc_{key}")
        ]


def package_edit(request: HttpRequest, actor: Actor, pk: int | None = None) -> HttpResponse:
    _require_manage(actor)
    package: ServicePackage | None = None
    initial: dict[str, Any] = {"active": True, "covered_share": 0, "fee": 0}
    if pk is not None:
        package = queries.packages_visible_to(actor).filter(pk=pk).first()
        if package is None:
            raise NotFound("服务包")
        initial = {
            "code": package.code,
            "name": package.name,
            "kind": package.kind,
            "fee": package.fee,
            "covered_share": package.covered_share,
            "description": package.description,
            "active": package.active,
            **{f"svc_{s['service']}": s["count"] for s in package.services},
        }
    form = PackageForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            actions.do_save_package(
                actor,
                actions.PackageInput(
                    code=d["code"],
                    name=d["name"],
                    kind=d["kind"],
                    services=form.services(),
                    fee=d["fee"],
                    covered_share=d["covered_share"],
                    description=d["description"],
                    active=d["active"],
                ),
                package,
            )
        except DomainError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, "服务包已保存")
            return redirect("web:contracts-admin")
    return render(request, "contracts/package_form.html", {"form": form, "package": package})


def resident_contract(request: HttpRequest, actor: Actor, mpi_id: str) -> HttpResponse:
    """From a resident's record: their active contract, or the sign form when there is none."""
    resident = get_resident_for(actor, mpi_id, purpose="contract")
    current = queries.active_contract_of(resident)
    if current is not None:
        return redirect("web:contracts-contract", pk=current.pk)
    return redirect("web:contracts-sign", mpi_id=resident.mpi_id)
