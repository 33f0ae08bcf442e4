"""Pages of scheduling: the expert schedule with booking, bookings, the bed board, and the
department's publishing form."""

from __future__ import annotations

import re
from datetime import date, time, timedelta

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from yigongti.core.actor import Actor
from yigongti.core.errors import DomainError, Forbidden, NotFound
from yigongti.core.params import local_next
from yigongti.network.models import Department, FacilityKind, Staff
from yigongti.residents.queries import get_resident_for

from . import actions, queries
from .models import BookingStatus, Ward


def _msg(exc: DomainError) -> str:
    return "；".join(e.msg_zh for e in exc.errors)


def _day(raw: str | None, default: date) -> date:
    try:
        return date.fromisoformat(raw) if raw else default
    except ValueError:
        return default


def board(request: HttpRequest, actor: Actor) -> HttpResponse:
    today = timezone.localdate()
    start = _day(request.GET.get("from"), today)
    dept = request.GET.get("department", "")
    sessions = queries.schedule_board(
        start, start + timedelta(days=6), department_id=int(dept) if dept.isdigit() else None
    )
    depts = (
        Department.objects.filter(
            facility__kind__in=(FacilityKind.COUNTY_HOSPITAL, FacilityKind.BRANCH)
        )
        .select_related("facility")
        .order_by("facility__name", "name")
    )
    return render(
        request,
        "scheduling/board.html",
        {
            "sessions": sessions,
            "start": start,
            "prev": start - timedelta(days=7),
            "next": start + timedelta(days=7),
            "depts": depts,
            "dept": dept,
            "can_publish": actor.can("manage_schedules"),
        },
    )


def book(request: HttpRequest, actor: Actor) -> HttpResponse:
    slot = request.POST.get("slot_id", "")
    mpi = request.POST.get("mpi_id", "").strip()
    try:
        if not slot.isdigit():
            raise DomainError.single("slot_id", "请选择号源", "Pick a slot", "required")
        if not mpi:
            raise DomainError.single(
                "mpi_id", "请填写居民主索引号", "Resident required", "required"
            )
        resident = get_resident_for(actor, mpi, purpose="booking")
        actions.do_book_slot(actor, int(slot), resident)
    except NotFound:
        messages.error(request, "居民档案不存在或不在您的服务范围")
    except DomainError as exc:
        messages.error(request, _msg(exc))
    else:
        messages.success(request, f"已为 {resident.name} 预约成功")
    return redirect(local_next(request.POST.get("next")) or "web:scheduling-board")


def bookings(request: HttpRequest, actor: Actor) -> HttpResponse:
    status = request.GET.get("status", BookingStatus.BOOKED)
    if status not in BookingStatus.values:
        status = BookingStatus.BOOKED
    rows = (
        queries.bookings_visible_to(actor).filter(status=status).order_by("slot__starts_at")[:200]
    )
    return render(
        request,
        "scheduling/bookings.html",
        {"rows": rows, "status": status, "statuses": BookingStatus.choices, "now": timezone.now()},
    )


def booking_act(request: HttpRequest, actor: Actor, pk: int) -> HttpResponse:
    what = request.POST.get("do", "")
    try:
        if what == "cancel":
            actions.do_cancel_booking(actor, pk, request.POST.get("reason", ""))
        elif what in ("attended", "no_show"):
            actions.do_mark_booking(actor, pk, attended=what == "attended")
        else:
            raise DomainError.single("do", "未知操作", "Unknown action")
    except DomainError as exc:
        messages.error(request, _msg(exc))
    except Forbidden as exc:
        messages.error(request, exc.msg_zh)
    else:
        messages.success(request, "已保存")
    return redirect("web:scheduling-bookings")


def beds(request: HttpRequest, actor: Actor) -> HttpResponse:
    fid = actor.facility_id
    wards: list[tuple[Ward, list[object]]] = []
    if fid:
        wards = [(w, list(queries.live_beds(w)[:100])) for w in queries.wards_of(fid)]
    if request.method == "POST":
        try:
            dept = (
                Department.objects.filter(pk=int(request.POST.get("department_id", "0") or 0))
                .select_related("facility")
                .first()
            )
            if dept is None:
                raise DomainError.single(
                    "department_id", "请选择科室", "Pick a department", "required"
                )
            beds_n = request.POST.get("beds", "")
            if not beds_n.isdigit():
                raise DomainError.single("beds", "床位数应为整数", "Integer", "invalid")
            actions.do_set_ward(actor, dept, int(beds_n))
        except DomainError as exc:
            messages.error(request, _msg(exc))
        except Forbidden as exc:
            messages.error(request, exc.msg_zh)
        else:
            messages.success(request, "床位已更新")
        return redirect("web:scheduling-beds")
    depts = Department.objects.filter(facility_id=fid) if fid else Department.objects.none()
    return render(
        request,
        "scheduling/beds.html",
        {"wards": wards, "depts": depts, "can_manage": actor.can("manage_schedules")},
    )


SLOT_LINE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*[*xX×]\s*(\d+)\s*$")


def publish(request: HttpRequest, actor: Actor) -> HttpResponse:
    depts = (
        Department.objects.filter(facility_id=actor.facility_id)
        if actor.facility_id
        else Department.objects.none()
    )
    doctors = (
        Staff.objects.filter(facility_id=actor.facility_id, active=True)
        if actor.facility_id
        else Staff.objects.none()
    )
    errors: list[str] = []
    data = (
        request.POST
        if request.method == "POST"
        else {
            "slots": "08:00-09:00*10\n09:00-10:00*10\n10:00-11:00*10",
            "day": (timezone.localdate() + timedelta(days=7)).isoformat(),
        }
    )
    if request.method == "POST":
        slots = []
        for i, line in enumerate(x for x in data.get("slots", "").splitlines() if x.strip()):
            m = SLOT_LINE.match(line)
            if not m:
                errors.append(f"第{i + 1}行时段格式应为 08:00-09:00*10")
                continue
            h1, m1, h2, m2, cap = (int(g) for g in m.groups())
            try:
                slots.append(actions.SlotInput(time(h1, m1), time(h2, m2), cap))
            except ValueError:
                errors.append(f"第{i + 1}行时间无效")
        dept = (
            depts.filter(pk=int(data.get("department_id") or 0)).select_related("facility").first()
        )
        doctor = doctors.filter(pk=int(data.get("doctor_id") or 0)).first()
        if dept is None:
            errors.append("请选择科室")
        if doctor is None:
            errors.append("请选择出诊专家")
        try:
            day = date.fromisoformat(data.get("day", ""))
        except ValueError:
            errors.append("出诊日期格式应为 YYYY-MM-DD")
        if not errors and dept is not None and doctor is not None:
            try:
                actions.do_publish_session(actor, dept, doctor, day, slots, data.get("note", ""))
            except DomainError as exc:
                errors.extend(e.msg_zh for e in exc.errors)
            except Forbidden as exc:
                errors.append(exc.msg_zh)
            else:
                messages.success(request, "号源已发布")
                board_url = request.path.rsplit("publish/", 1)[0]
                return redirect(f"{board_url}?department={dept.pk}&from={day.isoformat()}")
    return render(
        request,
        "scheduling/publish.html",
        {"depts": depts, "doctors": doctors, "data": data, "errors": errors},
    )
