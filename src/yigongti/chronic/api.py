"""REST endpoints of chronic (慢性病管理) and home devices (家用设备)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Router, Schema, Status
from ninja.security import APIKeyHeader

from yigongti.core.api import ErrorOut, actor_of
from yigongti.core.errors import NotFound
from yigongti.residents.queries import get_resident_for
from yigongti.residents.rules import mask_id_number

from . import actions, queries
from .ingest import Status as IngestStatus
from .ingest import ingest_reading
from .models import Channel, Device, Registration

router = Router(tags=["慢性病管理"])

ERRORS: dict[int, type[Schema]] = {403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


class RegistrationIn(Schema):
    mpi_id: str = Field(..., description="居民主索引号")
    disease: str = Field(..., description="病种: hypertension 高血压, diabetes 2型糖尿病")
    diagnosed_on: date | None = Field(None, description="确诊日期（默认今天）")
    diagnosis_source: str = Field(
        "screening", description="确诊方式: screening, referral, hospital, reported"
    )
    diagnosis_note: str = ""
    enrolled_on: date | None = None
    level: str = Field("1", description="管理级别 1/2/3")


class RegistrationOut(Schema):
    id: int
    mpi_id: str
    name: str
    id_number_masked: str
    village: str
    disease: str
    status: str
    diagnosed_on: date
    enrolled_on: date
    level: str
    last_followup_on: date | None
    last_classification: str
    next_due: date
    alert: str
    exit_reason: str


def reg_out(r: Registration) -> RegistrationOut:
    return RegistrationOut(
        id=r.pk,
        mpi_id=r.resident.mpi_id,
        name=r.resident.name,
        id_number_masked=mask_id_number(r.resident.doc_number),
        village=r.resident.village.name,
        disease=r.disease,
        status=r.status,
        diagnosed_on=r.diagnosed_on,
        enrolled_on=r.enrolled_on,
        level=r.level,
        last_followup_on=r.last_followup_on,
        last_classification=r.last_classification,
        next_due=r.next_due,
        alert=r.alert,
        exit_reason=r.exit_reason,
    )


class ExitIn(Schema):
    reason: str = Field(..., description="结案原因: death, moved, cured, refused")
    exited_on: date | None = None
    note: str = ""


class FollowupIn(Schema):
    followup_date: date | None = Field(None, description="随访日期（默认今天）")
    method: str = Field("clinic", description="clinic 门诊, home 家庭, phone 电话")
    sbp: float | None = Field(None, description="收缩压 mmHg")
    dbp: float | None = Field(None, description="舒张压 mmHg")
    glucose: float | None = Field(None, description="空腹血糖 mmol/L")
    weight: float | None = None
    height: float | None = None
    waist: float | None = None
    heart_rate: float | None = None
    temperature: float | None = None
    symptoms: list[str] = []
    signs: list[str] = Field([], description="急症征象（见 docs/chronic.md）")
    adherence: str = Field("", description="regular 规律, intermittent 间断, none 不服药")
    adverse_reaction: str = Field("none", description="none, present, hard")
    adverse_note: str = ""
    complication: str = Field("none", description="none, stable, new_or_worse")
    lifestyle: dict[str, Any] = {}
    dorsalis_pedis: str = Field("", description="足背动脉: normal, weak, absent")
    pregnant: bool = False
    notes: str = ""


class EmergencyOut(Schema):
    reasons: list[str]
    referral_url: str


class FollowupOut(Schema):
    id: int
    followup_date: date
    classification: str
    classification_label: str
    reasons: list[str]
    next_due: date
    emergency: EmergencyOut | None


@router.get("/chronic/registrations", response=list[RegistrationOut], summary="慢病登记列表")
def list_registrations(
    request: HttpRequest,
    disease: str = "",
    status: str = "active",
    offset: int = 0,
    limit: int = 50,
) -> list[RegistrationOut]:
    qs = queries.registrations_visible_to(
        actor_of(request), disease=disease or None, status=status or None
    ).order_by("resident__village_id", "pk")
    return [reg_out(r) for r in qs[max(0, offset) : max(0, offset) + max(1, min(limit, 200))]]


@router.post(
    "/chronic/registrations", response={201: RegistrationOut, **ERRORS}, summary="纳入慢病管理"
)
def create_registration(request: HttpRequest, body: RegistrationIn) -> Status:
    actor = actor_of(request)
    resident = get_resident_for(actor, body.mpi_id, purpose="chronic_enrol")
    reg = actions.do_enrol_resident(
        actor,
        resident,
        actions.EnrolInput(
            disease=body.disease,
            diagnosed_on=body.diagnosed_on,
            diagnosis_source=body.diagnosis_source,
            diagnosis_note=body.diagnosis_note,
            enrolled_on=body.enrolled_on,
            level=body.level,
        ),
    )
    return Status(201, reg_out(queries.get_registration_for(actor, reg.pk)))


@router.get(
    "/chronic/registrations/{pk}", response={200: RegistrationOut, **ERRORS}, summary="慢病登记"
)
def get_registration(request: HttpRequest, pk: int) -> RegistrationOut:
    return reg_out(queries.get_registration_for(actor_of(request), pk))


@router.post(
    "/chronic/registrations/{pk}/exit", response={200: RegistrationOut, **ERRORS}, summary="结案"
)
def exit_registration(request: HttpRequest, pk: int, body: ExitIn) -> RegistrationOut:
    actor = actor_of(request)
    reg = queries.get_registration_for(actor, pk)
    actions.do_exit_registration(actor, reg, body.reason, on=body.exited_on, note=body.note)
    reg.refresh_from_db()
    return reg_out(reg)


@router.post(
    "/chronic/registrations/{pk}/followups",
    response={201: FollowupOut, **ERRORS},
    summary="记录随访（返回评价、下次随访日期和紧急转诊提示）",
)
def create_followup(request: HttpRequest, pk: int, body: FollowupIn) -> Status:
    actor = actor_of(request)
    reg = queries.get_registration_for(actor, pk)
    out = actions.do_record_followup(actor, reg, actions.FollowupInput(**body.dict()))
    return Status(
        201,
        FollowupOut(
            id=out.followup.pk,
            followup_date=out.followup.followup_date,
            classification=out.result.classification,
            classification_label=out.result.label,
            reasons=list(out.result.reasons),
            next_due=out.result.next_due,
            emergency=EmergencyOut(reasons=out.emergency.reasons, referral_url=out.emergency.url)
            if out.emergency
            else None,
        ),
    )


class ScreeningIn(Schema):
    mpi_id: str
    disease: str = Field("hypertension", description="hypertension / diabetes")
    screened_on: date | None = None
    sbp: float | None = None
    dbp: float | None = None
    glucose: float | None = None
    bmi: float | None = None
    waist: float | None = None


class ScreeningOut(Schema):
    id: int
    disease: str
    screened_on: date
    outcome: str = Field(..., description="normal 正常, high_risk 高危, suspected 疑似")
    reasons: list[str]


@router.post("/chronic/screenings", response={201: ScreeningOut, **ERRORS}, summary="记录筛查")
def create_screening(request: HttpRequest, body: ScreeningIn) -> Status:
    actor = actor_of(request)
    resident = get_resident_for(actor, body.mpi_id, purpose="chronic_screen")
    s = actions.do_record_screening(
        actor,
        resident,
        actions.ScreeningInput(
            disease=body.disease,
            screened_on=body.screened_on,
            sbp=body.sbp,
            dbp=body.dbp,
            glucose=body.glucose,
            bmi=body.bmi,
            waist=body.waist,
        ),
    )
    out = ScreeningOut(
        id=s.pk,
        disease=s.disease,
        screened_on=s.screened_on,
        outcome=s.outcome,
        reasons=list(s.reasons),
    )
    return Status(201, out)


@router.get(
    "/chronic/worklist", response=list[RegistrationOut], summary="到期/逾期随访（按风险排序）"
)
def worklist(request: HttpRequest, disease: str = "", limit: int = 100) -> list[RegistrationOut]:
    qs = queries.worklist(actor_of(request), disease=disease or None)
    return [reg_out(r) for r in qs[: max(1, min(limit, 500))]]


class IndicatorOut(Schema):
    name: str
    definition: str
    numerator: int
    denominator: int
    rate: float | None = Field(None, description="百分比；无分母时为 null（缺失，不是 0）")


class IndicatorRow(Schema):
    unit_id: int | None
    unit: str
    norm: IndicatorOut
    control: IndicatorOut


class IndicatorsOut(Schema):
    disease: str
    start: date
    end: date
    by: str
    rows: list[IndicatorRow]
    total: dict[str, IndicatorOut]


def _ind(i: queries.Indicator) -> IndicatorOut:
    return IndicatorOut(
        name=i.name,
        definition=i.definition,
        numerator=i.numerator,
        denominator=i.denominator,
        rate=i.rate,
    )


@router.get(
    "/chronic/indicators", response={200: IndicatorsOut, **ERRORS}, summary="规范管理率与控制率"
)
def indicators(
    request: HttpRequest,
    disease: str = "hypertension",
    start: date | None = None,
    end: date | None = None,
    by: str = "village",
) -> IndicatorsOut:
    today = timezone.localdate()
    start = start or date(today.year, 1, 1)
    end = end or today
    res = queries.indicators(actor_of(request), disease=disease, start=start, end=end, by=by)
    return IndicatorsOut(
        disease=disease,
        start=start,
        end=end,
        by=by,
        rows=[
            IndicatorRow(
                unit_id=r["unit_id"],
                unit=r["unit"],
                norm=_ind(r["norm"]),
                control=_ind(r["control"]),
            )
            for r in res["rows"]
        ],
        total={k: _ind(v) for k, v in res["total"].items()},
    )


# --- devices -------------------------------------------------------------------------------------


class DeviceIn(Schema):
    serial: str = Field(..., description="设备序列号")
    type: str = Field(..., description="bp_meter 电子血压计, glucometer 血糖仪")
    model_name: str = ""


class DeviceOut(Schema):
    serial: str
    type: str
    model_name: str
    mpi_id: str | None
    bound_at: datetime | None
    last_seen_at: datetime | None


class DeviceCreated(DeviceOut):
    secret: str = Field(..., description="设备 HTTP 上传密钥（仅显示一次）")


def dev_out(d: Device) -> dict[str, Any]:
    return {
        "serial": d.serial,
        "type": d.type,
        "model_name": d.model_name,
        "mpi_id": d.resident.mpi_id if d.resident_id and d.resident else None,
        "bound_at": d.bound_at,
        "last_seen_at": d.last_seen_at,
    }


class BindIn(Schema):
    mpi_id: str
    reason: str = ""


@router.get("/devices", response=list[DeviceOut], summary="家用设备列表")
def list_devices(request: HttpRequest, offset: int = 0, limit: int = 100) -> list[dict[str, Any]]:
    qs = queries.devices_visible_to(actor_of(request))
    return [dev_out(d) for d in qs[max(0, offset) : max(0, offset) + max(1, min(limit, 500))]]


@router.post("/devices", response={201: DeviceCreated, **ERRORS}, summary="登记家用设备")
def register_device(request: HttpRequest, body: DeviceIn) -> Status:
    dev, secret = actions.do_register_device(
        actor_of(request),
        actions.DeviceInput(serial=body.serial, type=body.type, model_name=body.model_name),
    )
    return Status(201, {**dev_out(dev), "secret": secret})


@router.post("/devices/{serial}/bind", response={200: DeviceOut, **ERRORS}, summary="绑定/换绑")
def bind_device(request: HttpRequest, serial: str, body: BindIn) -> dict[str, Any]:
    actor = actor_of(request)
    dev = queries.get_device_for(actor, serial)
    resident = get_resident_for(actor, body.mpi_id, purpose="device_bind")
    actions.do_bind_device(actor, dev, resident, reason=body.reason)
    dev.refresh_from_db()
    return dev_out(dev)


@router.post("/devices/{serial}/unbind", response={200: DeviceOut, **ERRORS}, summary="解绑")
def unbind_device(request: HttpRequest, serial: str) -> dict[str, Any]:
    actor = actor_of(request)
    dev = actions.do_unbind_device(actor, queries.get_device_for(actor, serial))
    return dev_out(dev)


class DeviceAuth(APIKeyHeader):
    """A device authenticates with its serial (`X-Device-Serial`) and the secret it was given
    at registration (`X-Device-Secret`)."""

    param_name = "X-Device-Secret"

    def authenticate(self, request: HttpRequest, key: str | None) -> Device | None:
        serial = request.headers.get("X-Device-Serial", "").strip()
        if not key or not serial:
            return None
        dev = Device.objects.filter(serial=serial).first()
        if dev is None or not actions.check_device_secret(dev, key):
            return None
        return dev


class ReadingIn(Schema):
    serial: str = ""
    type: str = Field("", description="bp_meter / glucometer")
    measured_at: str = Field(
        ..., description="ISO 8601 with offset, e.g. 2026-11-23T08:00:00+08:00"
    )
    systolic: float | None = None
    diastolic: float | None = None
    pulse: float | None = None
    glucose: float | None = None
    meal: str = "fasting"


class ReadingOut(Schema):
    status: str = Field(..., description="stored, duplicate, quarantined, rejected")
    reason: str
    observation_id: int | None


INGEST_STATUS = {
    IngestStatus.STORED: 201,
    IngestStatus.DUPLICATE: 200,
    IngestStatus.QUARANTINED: 202,
    IngestStatus.REJECTED: 422,
}


@router.post(
    "/devices/readings",
    auth=DeviceAuth(),
    response={200: ReadingOut, 201: ReadingOut, 202: ReadingOut, 422: ReadingOut},
    summary="设备上传读数（设备密钥认证）",
)
def post_reading(request: HttpRequest, body: ReadingIn) -> Status:
    dev = request.auth  # type: ignore[attr-defined]
    if not isinstance(dev, Device):
        raise NotFound("设备")
    payload = {k: v for k, v in body.dict().items() if v not in (None, "")}
    payload.setdefault("serial", dev.serial)
    res = ingest_reading(payload, channel=Channel.HTTP, serial=dev.serial, device=dev)
    return Status(
        INGEST_STATUS[res.status],
        ReadingOut(status=res.status, reason=res.reason, observation_id=res.observation_id),
    )


class QuarantineOut(Schema):
    id: int
    serial: str
    channel: str
    reason: str
    measured_at: datetime | None
    received_at: datetime
    payload: dict[str, Any]


@router.get("/devices/quarantine", response=list[QuarantineOut], summary="待认领读数")
def list_quarantine(request: HttpRequest, offset: int = 0, limit: int = 100) -> list[QuarantineOut]:
    qs = queries.quarantine_visible_to(actor_of(request))
    return [
        QuarantineOut(
            id=q.pk,
            serial=q.serial,
            channel=q.channel,
            reason=q.reason,
            measured_at=q.measured_at,
            received_at=q.received_at,
            payload=q.payload,
        )
        for q in qs[max(0, offset) : max(0, offset) + max(1, min(limit, 500))]
    ]


@router.post(
    "/devices/quarantine/{pk}/assign", response={200: QuarantineOut, **ERRORS}, summary="认领读数"
)
def assign_quarantined(request: HttpRequest, pk: int, body: BindIn) -> QuarantineOut:
    actor = actor_of(request)
    q = queries.get_quarantined_for(actor, pk)
    resident = get_resident_for(actor, body.mpi_id, purpose="quarantine_assign")
    q = actions.do_assign_quarantined(actor, q, resident)
    return QuarantineOut(
        id=q.pk,
        serial=q.serial,
        channel=q.channel,
        reason=q.reason,
        measured_at=q.measured_at,
        received_at=q.received_at,
        payload=q.payload,
    )
