"""Pages of the care network: groups, the group tree, facilities with their departments,
staff and groupings, and the forms that maintain them.

Each view takes (request, actor, ...): the web shell (`yigongti.web.shell.page`) logs the
user in, resolves the Actor and checks the permission, so this app needs nothing above it.
Reads go through `queries`, writes through `actions` (which validate and audit)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from yigongti.core.actor import Actor
from yigongti.core.errors import DomainError, Forbidden, NotFound

from . import actions, queries
from .models import (
    Department,
    Division,
    DivisionLevel,
    Facility,
    FacilityKind,
    Grouping,
    MedicalGroup,
    Staff,
)

MANAGE = "manage_network"


def _apply_errors(form: forms.Form, exc: DomainError, aliases: dict[str, str]) -> None:
    for err in exc.errors:
        name = aliases.get(err.field, err.field)
        if name in form.fields:
            if not form.errors.get(name):
                form.add_error(name, err.msg_zh)
        else:
            form.add_error(None, err.msg_zh)


def _visible_facility(actor: Actor, code: str) -> Facility:
    facility = queries.facilities_visible_to(actor).filter(code=code).first()
    if facility is None:
        raise NotFound("医疗机构")
    return facility


def _manageable_facility(actor: Actor, code: str) -> Facility:
    facility = _visible_facility(actor, code)
    if not queries.facilities_manageable_by(actor).filter(pk=facility.pk).exists():
        raise Forbidden("只能维护本医共体的机构")
    return facility


# --- reading ---------------------------------------------------------------------------


def overview(request: HttpRequest, actor: Actor) -> HttpResponse:
    return render(
        request,
        "network/overview.html",
        {"groups": list(queries.groups_with_counts()), "can_manage": actor.can(MANAGE)},
    )


def group_tree(request: HttpRequest, actor: Actor, code: str) -> HttpResponse:
    group = queries.groups_with_counts().filter(code=code).first()
    if group is None:
        raise NotFound("医共体")
    return render(
        request,
        "network/group.html",
        {"group": group, "tree": queries.network_tree(group), "can_manage": actor.can(MANAGE)},
    )


def facility_detail(request: HttpRequest, actor: Actor, code: str) -> HttpResponse:
    facility = _visible_facility(actor, code)
    can_manage = (
        actor.can(MANAGE)
        and queries.facilities_manageable_by(actor).filter(pk=facility.pk).exists()
    )
    return render(
        request,
        "network/facility.html",
        {
            "f": facility,
            "departments": list(queries.departments_of(facility).annotate(n_staff=Count("staff"))),
            "staff": list(queries.staff_of(facility).filter(active=True)),
            "groupings": list(queries.groupings_of(facility).select_related("lead")),
            "supervised": list(
                queries.facilities_visible_to(actor).filter(supervisor=facility).order_by("code")
            ),
            "can_manage": can_manage,
        },
    )


def groupings(request: HttpRequest, actor: Actor) -> HttpResponse:
    rows = (
        Grouping.objects.select_related("lead")
        .annotate(n_members=Count("members"))
        .prefetch_related("members")
        .order_by("kind", "name")
    )
    return render(request, "network/groupings.html", {"groupings": list(rows)})


# --- forms -----------------------------------------------------------------------------


def _division_choices() -> list[Any]:
    """County and townships first, then the villages of each township."""
    rows = Division.objects.filter(
        level__in=[DivisionLevel.COUNTY, DivisionLevel.TOWNSHIP, DivisionLevel.VILLAGE]
    ).order_by("code")
    county: list[tuple[str, str]] = []
    townships: list[tuple[str, str]] = []
    villages: dict[str, list[tuple[str, str]]] = {}
    names: dict[int, str] = {}
    for d in rows:
        names[d.pk] = d.name
        if d.level == DivisionLevel.COUNTY:
            county.append((d.code, d.name))
        elif d.level == DivisionLevel.TOWNSHIP:
            townships.append((d.code, d.name))
        else:
            parent = names.get(d.parent_id or 0, "")
            villages.setdefault(f"{parent}的村", []).append((d.code, d.name))
    out: list[Any] = [("", "请选择")]
    if county:
        out.append(("县级", county))
    if townships:
        out.append(("乡镇级", townships))
    out.extend(villages.items())
    return out


class FacilityForm(forms.Form):
    code = forms.CharField(label="机构编码", max_length=32, required=False)
    name = forms.CharField(label="名称", max_length=128, required=False)
    kind = forms.ChoiceField(label="类型", choices=FacilityKind.choices)
    group = forms.ChoiceField(label="所属医共体", required=False)
    division = forms.ChoiceField(label="所在区划", required=False)
    supervisor = forms.ChoiceField(
        label="上级管理机构", required=False, help_text="村卫生室填所在乡镇的卫生院"
    )
    address = forms.CharField(label="地址", max_length=200, required=False)
    phone = forms.CharField(label="电话", max_length=20, required=False)
    active = forms.BooleanField(label="在用", required=False, initial=True)

    def __init__(self, *args: Any, actor: Actor, editing: bool, **kwargs: Any):
        super().__init__(*args, **kwargs)
        groups = MedicalGroup.objects.order_by("code")
        if actor.role == "group_admin":
            groups = groups.filter(pk=actor.group_id or 0)
            group_choices: list[Any] = []
        else:
            group_choices = [("", "不属于医共体")]
        group_choices += [(g.code, g.name) for g in groups]
        supervisors = (
            queries.facilities_visible_to(actor)
            .exclude(kind=FacilityKind.VILLAGE_CLINIC)
            .order_by("kind", "code")
        )
        self._set_choices("group", group_choices)
        self._set_choices("division", _division_choices())
        self._set_choices(
            "supervisor",
            [("", "无")] + [(f.code, f"{f.name}（{f.get_kind_display()}）") for f in supervisors],
        )
        if editing:
            self.fields["code"].disabled = True
        for name in ("code", "name", "kind", "division"):
            setattr(self.fields[name], "show_required", True)  # noqa: B010

    def _set_choices(self, name: str, choices: list[Any]) -> None:
        field = self.fields[name]
        assert isinstance(field, forms.ChoiceField)
        field.choices = choices


def _facility_initial(f: Facility) -> dict[str, Any]:
    return {
        "code": f.code,
        "name": f.name,
        "kind": f.kind,
        "group": f.group.code if f.group else "",
        "division": f.division.code if f.division_id else "",
        "supervisor": f.supervisor.code if f.supervisor else "",
        "address": f.address,
        "phone": f.phone,
        "active": f.active,
    }


def facility_edit(request: HttpRequest, actor: Actor, code: str | None = None) -> HttpResponse:
    """Add (no code) or edit a facility; the action checks its place in the tree."""
    if code is not None:
        facility = _manageable_facility(actor, code)
        initial = _facility_initial(facility)
    else:
        facility = Facility()
        initial = {"active": True}
        if actor.role == "group_admin" and actor.group_id:
            group = MedicalGroup.objects.filter(pk=actor.group_id).first()
            initial["group"] = group.code if group else ""
    form = FacilityForm(
        request.POST or None, actor=actor, editing=code is not None, initial=initial
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if not facility.pk:
            facility.code = data["code"].strip()
        facility.name = data["name"].strip()
        facility.kind = data["kind"]
        facility.group = MedicalGroup.objects.filter(code=data["group"]).first()
        facility.division = Division.objects.filter(code=data["division"]).first()  # type: ignore[assignment]
        facility.supervisor = (
            Facility.objects.filter(code=data["supervisor"]).first() if data["supervisor"] else None
        )
        facility.address = data["address"].strip()
        facility.phone = data["phone"].strip()
        facility.active = data["active"]
        changed = {k: data[k] for k in form.changed_data}
        try:
            actions.do_save_facility(actor, facility, changed)
        except DomainError as exc:
            _apply_errors(form, exc, {})
        else:
            messages.success(request, f"已保存机构：{facility.name}")
            return redirect("web:facility", code=facility.code)
    return render(
        request,
        "network/facility_form.html",
        {"form": form, "f": facility if facility.pk else None},
    )


class DepartmentForm(forms.Form):
    name = forms.CharField(label="科室名称", max_length=64, required=False)
    code = forms.CharField(label="科室编码", max_length=32, required=False)

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        setattr(self.fields["name"], "show_required", True)  # noqa: B010


def department_new(request: HttpRequest, actor: Actor, code: str) -> HttpResponse:
    facility = _manageable_facility(actor, code)
    form = DepartmentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        dept = Department(
            facility=facility,
            name=form.cleaned_data["name"].strip(),
            code=form.cleaned_data["code"].strip(),
        )
        try:
            actions.do_save_department(actor, dept, {"name": dept.name, "code": dept.code})
        except DomainError as exc:
            _apply_errors(form, exc, {"__all__": "name"})
        else:
            messages.success(request, f"已添加科室：{dept.name}")
            return redirect("web:facility", code=facility.code)
    return render(
        request,
        "network/simple_form.html",
        {"form": form, "f": facility, "title": "添加科室"},
    )


class StaffForm(forms.Form):
    name = forms.CharField(label="姓名", max_length=30, required=False)
    sex = forms.ChoiceField(
        label="性别", choices=[("", "请选择"), ("1", "男"), ("2", "女")], required=False
    )
    department = forms.ChoiceField(label="科室", required=False)
    title = forms.CharField(label="职称", max_length=32, required=False)
    specialty = forms.CharField(label="专业", max_length=64, required=False)
    licence_no = forms.CharField(label="执业证号", max_length=32, required=False)
    phone = forms.CharField(label="电话", max_length=20, required=False)

    def __init__(self, *args: Any, facility: Facility, **kwargs: Any):
        super().__init__(*args, **kwargs)
        field = self.fields["department"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "无")] + [
            (str(d.pk), d.name) for d in queries.departments_of(facility)
        ]
        setattr(self.fields["name"], "show_required", True)  # noqa: B010


def staff_new(request: HttpRequest, actor: Actor, code: str) -> HttpResponse:
    facility = _manageable_facility(actor, code)
    form = StaffForm(request.POST or None, facility=facility)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        staff = Staff(
            facility=facility,
            name=data["name"].strip(),
            sex=data["sex"],
            department=queries.departments_of(facility).filter(pk=data["department"]).first()
            if data["department"]
            else None,
            title=data["title"].strip(),
            specialty=data["specialty"].strip(),
            licence_no=data["licence_no"].strip(),
            phone=data["phone"].strip(),
        )
        changed = {k: v for k, v in data.items() if v and k != "phone"}
        try:
            actions.do_save_staff(actor, staff, changed)
        except DomainError as exc:
            _apply_errors(form, exc, {})
        else:
            messages.success(request, f"已添加人员：{staff.name}")
            return redirect("web:facility", code=facility.code)
    return render(
        request,
        "network/simple_form.html",
        {"form": form, "f": facility, "title": "添加人员"},
    )
