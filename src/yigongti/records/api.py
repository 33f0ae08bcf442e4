"""REST API of the shared health record: the timeline, encounters (record, read, amend,
void), standalone observations, health exams, basic information, and the code tables."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from yigongti.core.api import ErrorOut, actor_of
from yigongti.residents.queries import get_resident_for

from . import actions, queries
from .models import Encounter, EntryKind, HealthProfile

router = Router(tags=["健康档案"])

ERRORS: dict[int, type[Schema]] = {403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


# ---------------------------------------------------------------------------------------------
# Schemas


class VitalIn(Schema):
    kind: str = Field(
        ...,
        description="测量项目：bp 血压（value 收缩压, value2 舒张压）, pulse, respiration, "
        "temperature, height, weight, waist, bmi, glucose_fasting, glucose_random, hba1c",
    )
    value: float
    value2: float | None = Field(None, description="舒张压（仅 bp）")
    effective_at: datetime | None = None


class DiagnosisIn(Schema):
    code: str = Field(..., description="ICD-10 国家临床版编码", examples=["I10"])
    is_primary: bool | None = Field(None, description="主要诊断；默认第一条为主要诊断")


class PrescriptionIn(Schema):
    drug_code: str = Field(..., description="药品目录编码")
    dose: Decimal = Field(..., description="单次剂量")
    dose_unit: str = Field("", description="剂量单位，默认为药品最小单位（片/粒…）")
    frequency: str = Field(..., description="频次：qd bid tid qid qn q12h q8h q6h qw biw st prn")
    route: str = Field("po", description="用法：po sl iv ivgtt im sc inh top eye ear nas")
    days: int = Field(..., description="天数（1–84）")
    quantity: Decimal | None = Field(None, description="总量；按最小单位开具时可自动计算")


class EncounterIn(Schema):
    kind: str = Field(
        "outpatient",
        description="outpatient 门诊 / emergency 急诊 / inpatient 住院 / home_visit 上门 / other",
    )
    started_at: datetime | None = Field(None, description="就诊/入院时间，默认现在")
    ended_at: datetime | None = Field(None, description="出院时间")
    department_id: int | None = None
    doctor_id: int | None = None
    complaint: str = Field("", description="主诉")
    present_illness: str = Field("", description="现病史")
    notes: str = Field("", description="处理意见")
    diagnoses: list[DiagnosisIn] = []
    vitals: list[VitalIn] = []
    prescriptions: list[PrescriptionIn] = []


class AmendIn(EncounterIn):
    reason: str = Field(..., description="更正原因")


class VoidIn(Schema):
    reason: str = Field(..., description="作废原因")


class DiagnosisOut(Schema):
    code: str
    name: str
    is_primary: bool


class ObservationOut(Schema):
    id: int
    kind: str
    code: str
    name: str
    value: float | None
    value2: float | None
    value_text: str
    unit: str
    display: str
    effective_at: datetime
    status: str
    device_serial: str


class PrescriptionOut(Schema):
    id: int
    drug_code: str
    drug_name: str
    dose: Decimal
    dose_unit: str
    frequency: str
    route: str
    days: int
    quantity: Decimal
    status: str


class EncounterOut(Schema):
    id: int
    mpi_id: str
    kind: str
    kind_label: str
    facility: str
    department: str
    started_at: datetime
    ended_at: datetime | None
    complaint: str
    present_illness: str
    notes: str
    status: str
    replaces: int | None
    amend_reason: str
    source: str
    source_system: str
    source_id: str
    diagnoses: list[DiagnosisOut]
    vitals: list[ObservationOut]
    prescriptions: list[PrescriptionOut]
    versions: list[int] = Field(..., description="更正链（新→旧）")


class EntryOut(Schema):
    kind: str
    kind_label: str
    occurred_at: datetime
    title: str
    summary: str
    facility: str
    object_type: str
    object_id: int
    status: str


class TimelineOut(Schema):
    mpi_id: str
    entries: list[EntryOut]
    next_cursor: str = Field(..., description="下一页游标；为空表示没有更多")


class ObservationIn(Schema):
    kind: str = Field(..., description="VITALS 项目，或 lab（须给 code、name）")
    value: float | None = None
    value2: float | None = None
    value_text: str = ""
    code: str = ""
    name: str = ""
    unit: str = ""
    effective_at: datetime | None = None


class ExamIn(Schema):
    kind: str = Field("elderly_annual", description="elderly_annual 老年人年度体检 / general")
    exam_date: date | None = None
    vitals: list[VitalIn] = []
    findings: dict[str, Any] = Field(
        default_factory=dict, description="体检项目（皮肤、淋巴结、心、肺、腹部、视力…）"
    )
    conclusion: str = ""
    guidance: str = ""


class ExamOut(Schema):
    id: int
    kind: str
    exam_date: date
    facility: str
    findings: dict[str, Any]
    conclusion: str
    guidance: str
    status: str


class ProfileIn(Schema):
    blood_type: str = Field("", description="A / B / O / AB / 空=不详")
    rh_negative: bool | None = None
    past_history: list[dict[str, Any]] = Field(
        default_factory=list,
        description='既往史 [{"condition": "高血压", "icd": "I10", "year": 2015}]',
    )
    family_history: list[dict[str, Any]] = Field(
        default_factory=list, description='家族史 [{"relation": "父亲", "condition": "糖尿病"}]'
    )
    allergies: list[str] = Field(default_factory=list, description="过敏史")
    disabilities: list[str] = Field(default_factory=list, description="残疾情况")
    lifestyle: dict[str, Any] = Field(
        default_factory=dict, description="生活方式（吸烟、饮酒、运动、饮食）"
    )
    note: str = ""


class ProfileOut(ProfileIn):
    id: int
    recorded_at: datetime


class CodeOut(Schema):
    code: str
    name: str


class DrugOut(Schema):
    code: str
    generic_name: str
    strength: str
    dosage_form: str
    unit: str
    essential: bool


# ---------------------------------------------------------------------------------------------
# Converters


def _encounter_input(payload: EncounterIn) -> actions.EncounterInput:
    return actions.EncounterInput(
        kind=payload.kind,
        started_at=payload.started_at,
        ended_at=payload.ended_at,
        department_id=payload.department_id,
        doctor_id=payload.doctor_id,
        complaint=payload.complaint,
        present_illness=payload.present_illness,
        notes=payload.notes,
        diagnoses=[actions.DiagnosisInput(d.code, d.is_primary) for d in payload.diagnoses],
        vitals=[
            actions.VitalInput(v.kind, v.value, v.value2, v.effective_at) for v in payload.vitals
        ],
        prescriptions=[
            actions.PrescriptionInput(
                drug_code=p.drug_code,
                dose=p.dose,
                frequency=p.frequency,
                days=p.days,
                dose_unit=p.dose_unit,
                route=p.route,
                quantity=p.quantity,
            )
            for p in payload.prescriptions
        ],
    )


def observation_out(o: Any) -> ObservationOut:
    return ObservationOut(
        id=o.pk,
        kind=o.kind,
        code=o.code,
        name=o.name,
        value=o.value,
        value2=o.value2,
        value_text=o.value_text,
        unit=o.unit,
        display=o.display_value,
        effective_at=o.effective_at,
        status=o.status,
        device_serial=o.device_serial,
    )


def encounter_out(enc: Encounter) -> EncounterOut:
    diagnoses, vitals, rx = queries.encounter_parts(enc)
    return EncounterOut(
        id=enc.pk,
        mpi_id=enc.resident.mpi_id,
        kind=enc.kind,
        kind_label=enc.get_kind_display(),
        facility=enc.facility.name if enc.facility else "",
        department=enc.department.name if enc.department else "",
        started_at=enc.started_at,
        ended_at=enc.ended_at,
        complaint=enc.complaint,
        present_illness=enc.present_illness,
        notes=enc.notes,
        status=enc.status,
        replaces=enc.replaces_id,
        amend_reason=enc.amend_reason,
        source=enc.source,
        source_system=enc.source_system,
        source_id=enc.source_id,
        diagnoses=[
            DiagnosisOut(code=d.code_id, name=d.name, is_primary=d.is_primary) for d in diagnoses
        ],
        vitals=[observation_out(o) for o in vitals],
        prescriptions=[
            PrescriptionOut(
                id=p.pk,
                drug_code=p.drug_id,
                drug_name=p.drug_name,
                dose=p.dose,
                dose_unit=p.dose_unit,
                frequency=p.frequency,
                route=p.route,
                days=p.days,
                quantity=p.quantity,
                status=p.status,
            )
            for p in rx
        ],
        versions=[v.pk for v in queries.versions_of(enc)],
    )


def profile_out(p: HealthProfile) -> ProfileOut:
    return ProfileOut(
        id=p.pk,
        recorded_at=p.recorded_at,
        blood_type=p.blood_type,
        rh_negative=p.rh_negative,
        past_history=p.past_history,
        family_history=p.family_history,
        allergies=p.allergies,
        disabilities=p.disabilities,
        lifestyle=p.lifestyle,
        note=p.note,
    )


# ---------------------------------------------------------------------------------------------
# Endpoints


class TimelineQuery(Schema):
    kind: list[str] = Field(default_factory=list, description="条目类型，可多选")
    facility_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    include_history: bool = Field(False, description="包括已更正/作废的版本")
    cursor: str = ""
    limit: int = Field(30, ge=1, le=100)


@router.get(
    "/residents/{mpi_id}/timeline",
    response={200: TimelineOut, 404: ErrorOut},
    summary="A resident's record, newest first, across all facilities (audited)",
)
def timeline(request: HttpRequest, mpi_id: str, q: Query[TimelineQuery]) -> TimelineOut:
    r = get_resident_for(actor_of(request), mpi_id, purpose="timeline")
    flt = queries.TimelineFilter(
        kinds=tuple(k for k in q.kind if k in EntryKind.values),
        facility_id=q.facility_id,
        date_from=q.date_from,
        date_to=q.date_to,
        include_history=q.include_history,
    )
    page = queries.timeline(r, flt, cursor=q.cursor, limit=q.limit)
    return TimelineOut(
        mpi_id=r.mpi_id,
        next_cursor=page.next_cursor,
        entries=[
            EntryOut(
                kind=e.kind,
                kind_label=e.get_kind_display(),
                occurred_at=e.occurred_at,
                title=e.title,
                summary=e.summary,
                facility=e.facility.name if e.facility else "",
                object_type=e.object_type,
                object_id=e.object_id,
                status=e.status,
            )
            for e in page.entries
        ],
    )


@router.post(
    "/residents/{mpi_id}/encounters",
    response={201: EncounterOut, **ERRORS},
    summary="Record a visit at the caller's facility",
)
def record_encounter(
    request: HttpRequest, mpi_id: str, payload: EncounterIn
) -> Status[EncounterOut]:
    actor = actor_of(request)
    r = get_resident_for(actor, mpi_id, purpose="record")
    enc = actions.do_record_encounter(actor, r, _encounter_input(payload))
    return Status(201, encounter_out(queries.get_encounter_for(actor, enc.pk)))


@router.get(
    "/encounters/{encounter_id}",
    response={200: EncounterOut, 404: ErrorOut},
    summary="Read a visit with its diagnoses, vitals, prescriptions and versions (audited)",
)
def read_encounter(request: HttpRequest, encounter_id: int) -> EncounterOut:
    return encounter_out(queries.get_encounter_for(actor_of(request), encounter_id))


@router.post(
    "/encounters/{encounter_id}/amend",
    response={201: EncounterOut, **ERRORS},
    summary="Correct a visit: a new version replaces it, the old one stays in the history",
)
def amend_encounter(
    request: HttpRequest, encounter_id: int, payload: AmendIn
) -> Status[EncounterOut]:
    actor = actor_of(request)
    enc = queries.get_encounter_for(actor, encounter_id)
    new = actions.do_amend_encounter(actor, enc, _encounter_input(payload), payload.reason)
    return Status(201, encounter_out(queries.get_encounter_for(actor, new.pk)))


@router.post(
    "/encounters/{encounter_id}/void",
    response={200: EncounterOut, **ERRORS},
    summary="Mark a visit entered-in-error (作废); it stays in the history",
)
def void_encounter(request: HttpRequest, encounter_id: int, payload: VoidIn) -> EncounterOut:
    actor = actor_of(request)
    enc = queries.get_encounter_for(actor, encounter_id)
    actions.do_void(actor, enc, payload.reason)
    return encounter_out(queries.get_encounter_for(actor, encounter_id))


@router.post(
    "/residents/{mpi_id}/observations",
    response={201: ObservationOut, **ERRORS},
    summary="Record a measurement outside a visit (a lab value, a reading taken at home)",
)
def record_observation(
    request: HttpRequest, mpi_id: str, payload: ObservationIn
) -> Status[ObservationOut]:
    actor = actor_of(request)
    r = get_resident_for(actor, mpi_id, purpose="record")
    obs = actions.do_record_observation(actor, r, actions.ObservationInput(**payload.dict()))
    return Status(201, observation_out(obs))


@router.get(
    "/residents/{mpi_id}/observations",
    response={200: list[ObservationOut], 404: ErrorOut},
    summary="Current measurements of one kind, newest first (BP history, glucose…)",
)
def list_observations(
    request: HttpRequest, mpi_id: str, kind: str, limit: int = 50
) -> list[ObservationOut]:
    r = get_resident_for(actor_of(request), mpi_id, purpose="observations")
    rows = queries.observations_of(r, kind)[: max(1, min(limit, 500))]
    return [observation_out(o) for o in rows]


@router.post(
    "/residents/{mpi_id}/exams",
    response={201: ExamOut, **ERRORS},
    summary="Record a health examination (e.g. the yearly check of people 65+)",
)
def record_exam(request: HttpRequest, mpi_id: str, payload: ExamIn) -> Status[ExamOut]:
    actor = actor_of(request)
    r = get_resident_for(actor, mpi_id, purpose="record")
    data = actions.ExamInput(
        kind=payload.kind,
        exam_date=payload.exam_date,
        vitals=[actions.VitalInput(v.kind, v.value, v.value2) for v in payload.vitals],
        findings=payload.findings,
        conclusion=payload.conclusion,
        guidance=payload.guidance,
    )
    exam, _ = actions.upsert_exam(actor, r, data)
    return Status(
        201,
        ExamOut(
            id=exam.pk,
            kind=exam.kind,
            exam_date=exam.exam_date,
            facility=exam.facility.name if exam.facility else "",
            findings=exam.findings,
            conclusion=exam.conclusion,
            guidance=exam.guidance,
            status=exam.status,
        ),
    )


@router.get(
    "/residents/{mpi_id}/profile",
    response={200: ProfileOut | None, 404: ErrorOut},
    summary="Personal basic information (past and family history, allergies…), current version",
)
def read_profile(request: HttpRequest, mpi_id: str) -> ProfileOut | None:
    r = get_resident_for(actor_of(request), mpi_id, purpose="profile")
    p = queries.current_profile(r)
    return profile_out(p) if p else None


@router.put(
    "/residents/{mpi_id}/profile",
    response={200: ProfileOut, **ERRORS},
    summary="Save a new version of the basic information (earlier versions are kept)",
)
def update_profile(request: HttpRequest, mpi_id: str, payload: ProfileIn) -> ProfileOut:
    actor = actor_of(request)
    r = get_resident_for(actor, mpi_id, purpose="profile")
    return profile_out(actions.do_update_profile(actor, r, actions.ProfileInput(**payload.dict())))


@router.get(
    "/codes/icd10", response=list[CodeOut], summary="Search ICD-10 by code, name or initials"
)
def icd10(request: HttpRequest, q: str = "", limit: int = 20) -> list[CodeOut]:
    return [
        CodeOut(code=c.code, name=c.name) for c in queries.search_icd(q, max(1, min(limit, 100)))
    ]


@router.get("/codes/drugs", response=list[DrugOut], summary="Search the drug catalogue")
def drugs(request: HttpRequest, q: str = "", limit: int = 20) -> list[DrugOut]:
    return [
        DrugOut(
            code=d.code,
            generic_name=d.generic_name,
            strength=d.strength,
            dosage_form=d.dosage_form,
            unit=d.unit,
            essential=d.essential,
        )
        for d in queries.search_drugs(q, max(1, min(limit, 100)))
    ]
