"""REST API for the care network."""

from __future__ import annotations

from typing import TypeVar

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Router, Schema, Status

from yigongti.core.api import ErrorOut, actor_of
from yigongti.core.errors import DomainError, Forbidden

from . import actions, queries
from .models import Department, Division, Facility, Grouping, MedicalGroup, Staff

router = Router(tags=["network"])
ERRORS: dict[int, type[Schema]] = {403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


def _need_view(request: HttpRequest) -> None:
    if not actor_of(request).can("view_network"):
        raise Forbidden("无权查看医共体网络", "Not allowed to view the network")


class DivisionOut(Schema):
    code: str
    name: str
    level: str
    parent_code: str | None


@router.get("/divisions", response=list[DivisionOut], summary="Administrative divisions")
def divisions(request: HttpRequest, level: str = "", parent: str = "") -> list[DivisionOut]:
    _need_view(request)
    qs = Division.objects.select_related("parent")
    if level:
        qs = qs.filter(level=level)
    if parent:
        qs = qs.filter(parent__code=parent)
    return [
        DivisionOut(
            code=d.code, name=d.name, level=d.level, parent_code=d.parent.code if d.parent else None
        )
        for d in qs[:2000]
    ]


class GroupOut(Schema):
    code: str
    name: str
    county: str
    lead: str | None
    n_facilities: int
    n_townships: int
    n_villages: int


@router.get("/groups", response=list[GroupOut], summary="Medical groups of the county")
def groups(request: HttpRequest) -> list[GroupOut]:
    _need_view(request)
    return [
        GroupOut(
            code=g.code,
            name=g.name,
            county=g.county.name,
            lead=g.lead.code if g.lead else None,
            n_facilities=getattr(g, "n_facilities", 0),
            n_townships=getattr(g, "n_townships", 0),
            n_villages=getattr(g, "n_villages", 0),
        )
        for g in queries.groups_with_counts()
    ]


class FacilityOut(Schema):
    code: str
    name: str
    kind: str
    kind_label: str
    group: str | None
    division_code: str
    division: str
    supervisor: str | None
    address: str
    phone: str
    active: bool


class FacilityIn(Schema):
    code: str
    name: str
    kind: str
    group: str | None = None
    division_code: str
    supervisor: str | None = None
    address: str = ""
    phone: str = ""
    active: bool = True


class FacilityPatch(Schema):
    name: str | None = None
    group: str | None = None
    supervisor: str | None = None
    address: str | None = None
    phone: str | None = None
    active: bool | None = None


def facility_out(f: Facility) -> FacilityOut:
    return FacilityOut(
        code=f.code,
        name=f.name,
        kind=f.kind,
        kind_label=f.get_kind_display(),
        group=f.group.code if f.group else None,
        division_code=f.division.code,
        division=f.division.name,
        supervisor=f.supervisor.code if f.supervisor else None,
        address=f.address,
        phone=f.phone,
        active=f.active,
    )


@router.get("/facilities", response=list[FacilityOut], summary="Member facilities")
def facilities(
    request: HttpRequest,
    group: str = "",
    kind: str = "",
    q: str = "",
    supervisor: str = "",
    limit: int = 200,
    offset: int = 0,
) -> list[FacilityOut]:
    _need_view(request)
    qs = queries.facilities_visible_to(actor_of(request))
    if group:
        qs = qs.filter(group__code=group)
    if kind:
        qs = qs.filter(kind=kind)
    if supervisor:
        qs = qs.filter(supervisor__code=supervisor)
    if q:
        qs = qs.filter(name__contains=q.strip())
    return [facility_out(f) for f in qs[offset : offset + min(limit, 1000)]]


@router.get("/facilities/{code}", response={200: FacilityOut, 404: ErrorOut})
def facility(request: HttpRequest, code: str) -> FacilityOut:
    _need_view(request)
    return facility_out(
        get_object_or_404(queries.facilities_visible_to(actor_of(request)), code=code)
    )


M = TypeVar("M", MedicalGroup, Facility, Division)


def _ref(model: type[M], field: str, code: str | None) -> M | None:
    if not code:
        return None
    obj = model._default_manager.filter(code=code).first()
    if obj is None:
        raise DomainError.single(field, f"编码 {code} 不存在", f"No {field} with code {code}")
    return obj


@router.post("/facilities", response={201: FacilityOut, **ERRORS}, summary="Add a facility")
def create_facility(request: HttpRequest, payload: FacilityIn) -> Status[FacilityOut]:
    f = Facility(
        code=payload.code.strip(),
        name=payload.name.strip(),
        kind=payload.kind,
        group=_ref(MedicalGroup, "group", payload.group),
        division=_ref(Division, "division_code", payload.division_code),
        supervisor=_ref(Facility, "supervisor", payload.supervisor),
        address=payload.address,
        phone=payload.phone,
        active=payload.active,
    )
    if f.division_id is None:
        raise DomainError.single("division_code", "请填写所在区划", "division_code is required")
    actions.do_save_facility(actor_of(request), f, payload.dict())
    return Status(201, facility_out(f))


@router.patch("/facilities/{code}", response={200: FacilityOut, **ERRORS})
def update_facility(request: HttpRequest, code: str, payload: FacilityPatch) -> FacilityOut:
    f = get_object_or_404(Facility, code=code)
    changes = payload.dict(exclude_unset=True)
    for k, v in changes.items():
        if k == "group":
            f.group = _ref(MedicalGroup, "group", v)
        elif k == "supervisor":
            f.supervisor = _ref(Facility, "supervisor", v)
        else:
            setattr(f, k, v)
    actions.do_save_facility(actor_of(request), f, changes)
    return facility_out(f)


class DepartmentOut(Schema):
    id: int
    code: str
    name: str


class DepartmentIn(Schema):
    code: str = ""
    name: str


@router.get("/facilities/{code}/departments", response=list[DepartmentOut])
def departments(request: HttpRequest, code: str) -> list[DepartmentOut]:
    _need_view(request)
    f = get_object_or_404(Facility, code=code)
    return [DepartmentOut(id=d.pk, code=d.code, name=d.name) for d in queries.departments_of(f)]


@router.post("/facilities/{code}/departments", response={201: DepartmentOut, **ERRORS})
def create_department(
    request: HttpRequest, code: str, payload: DepartmentIn
) -> Status[DepartmentOut]:
    f = get_object_or_404(Facility, code=code)
    d = Department(facility=f, code=payload.code.strip(), name=payload.name.strip())
    actions.do_save_department(actor_of(request), d, payload.dict())
    return Status(201, DepartmentOut(id=d.pk, code=d.code, name=d.name))


class StaffOut(Schema):
    id: int
    name: str
    sex: str
    facility: str
    department: str | None
    title: str
    specialty: str
    active: bool


class StaffIn(Schema):
    name: str
    sex: str = ""
    department: str | None = None
    title: str = ""
    specialty: str = ""
    licence_no: str = ""
    phone: str = ""
    active: bool = True


def staff_out(s: Staff) -> StaffOut:
    return StaffOut(
        id=s.pk,
        name=s.name,
        sex=s.sex,
        facility=s.facility.code,
        department=s.department.name if s.department else None,
        title=s.title,
        specialty=s.specialty,
        active=s.active,
    )


@router.get("/facilities/{code}/staff", response=list[StaffOut])
def staff(request: HttpRequest, code: str) -> list[StaffOut]:
    _need_view(request)
    f = get_object_or_404(Facility, code=code)
    return [staff_out(s) for s in queries.staff_of(f)]


@router.post("/facilities/{code}/staff", response={201: StaffOut, **ERRORS})
def create_staff(request: HttpRequest, code: str, payload: StaffIn) -> Status[StaffOut]:
    f = get_object_or_404(Facility, code=code)
    dept = None
    if payload.department:
        dept = Department.objects.filter(facility=f, name=payload.department).first()
        if dept is None:
            raise DomainError.single("department", "该机构没有此科室", "No such department here")
    s = Staff(facility=f, department=dept, **payload.dict(exclude={"department"}))
    actions.do_save_staff(actor_of(request), s, payload.dict())
    return Status(201, staff_out(s))


class GroupingOut(Schema):
    id: int
    name: str
    kind: str
    lead: str | None
    members: list[str]


@router.get(
    "/groupings", response=list[GroupingOut], summary="Alliances, grids and other groupings"
)
def groupings(request: HttpRequest) -> list[GroupingOut]:
    _need_view(request)
    return [
        GroupingOut(
            id=g.pk,
            name=g.name,
            kind=g.kind,
            lead=g.lead.code if g.lead else None,
            members=[m.code for m in g.members.all()],
        )
        for g in Grouping.objects.select_related("lead").prefetch_related("members")
    ]
