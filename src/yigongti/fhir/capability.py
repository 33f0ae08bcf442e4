"""GET /fhir/metadata: the CapabilityStatement, built from the same parameter lists the
search code uses, so it cannot claim more (or less) than is implemented."""

from __future__ import annotations

from importlib import metadata

from .mapping import JSON
from .search import (
    DEFAULT_COUNT,
    MAX_COUNT,
    ORGANIZATION_PARAMS,
    PATIENT_PARAMS,
    PRACTITIONER_PARAMS,
    ParamSpec,
)

FHIR_VERSION = "4.0.1"
#: When this surface last changed (CapabilityStatement.date).
SURFACE_DATE = "2026-11-23"

_PAGING = (
    ParamSpec("_count", "number", f"page size, default {DEFAULT_COUNT}, at most {MAX_COUNT}"),
    ParamSpec("_offset", "number", "index of the first match of the page; follow link.next"),
)


def _version() -> str:
    try:
        return metadata.version("yigongti")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def _search_params(specs: tuple[ParamSpec, ...]) -> list[JSON]:
    return [
        {"name": s.name, "type": s.type, "documentation": s.documentation}
        for s in (*specs, *_PAGING)
    ]


def _resource(
    resource_type: str,
    interactions: tuple[str, ...],
    params: tuple[ParamSpec, ...],
    documentation: str,
    **flags: object,
) -> JSON:
    return {
        "type": resource_type,
        "profile": f"http://hl7.org/fhir/StructureDefinition/{resource_type}",
        "documentation": documentation,
        "interaction": [{"code": code} for code in interactions],
        "versioning": "no-version",
        "readHistory": False,
        "updateCreate": False,
        "conditionalCreate": False,
        "conditionalRead": "not-supported",
        "conditionalUpdate": False,
        "conditionalDelete": "not-supported",
        **flags,
        "searchParam": _search_params(params),
    }


_CLINICAL_DOCS = {
    "Encounter": "就诊 (门诊/急诊/住院/上门). identifier = the sender's own id (idempotency "
    "key: the same content again changes nothing, changed content is an amendment).",
    "Condition": "诊断 (ICD-10 国家临床版), one per diagnosis of an Encounter. Create needs "
    "encounter: the visit is re-recorded as an amendment with the added diagnosis.",
    "Observation": "Vital signs (LOINC; BP panel 85354-9 with 8480-6/8462-4 in mm[Hg], "
    "fasting glucose 14771-0 in mmol/L) and lab values, range-checked.",
    "MedicationRequest": "处方明细: catalogue drug (…/drug), dose, frequency, route, days. "
    "Create needs encounter (amends the visit).",
    "DiagnosticReport": "检查检验报告 with result Observations (contained, or entries of the "
    "same transaction Bundle). A shared diagnosis centre's report has basedOn "
    "ServiceRequest/study-<n>; a critical value has conclusionCode v3-ObservationInterpretation "
    "AA.",
}


def _clinical_resources() -> list[JSON]:
    from .clinical_views import PARAMS

    out = []
    for name, doc in _CLINICAL_DOCS.items():
        params = tuple(p for p in PARAMS[name] if p.name != "_include")
        includes = next(p for p in PARAMS[name] if p.name == "_include")
        out.append(
            _resource(
                name,
                ("read", "search-type", "create"),
                params,
                doc,
                searchInclude=includes.documentation.split("one of: ")[1].split(", "),
            )
        )
    return out


def _care_resources() -> list[JSON]:
    from .careplans import PARAMS

    docs = {
        "CareTeam": "家庭医生团队 (family-doctor team): members are Practitioners with their "
        "team role, managingOrganization the team's facility; no subject. Search by patient "
        "gives the team of the resident's active contract.",
        "CarePlan": "慢病管理 (chronic-disease registration): category = disease, period from "
        "enrolment, activity = the next scheduled follow-up, careTeam = the contracted team.",
    }
    return [
        _resource(name, ("read", "search-type"), PARAMS[name], doc) for name, doc in docs.items()
    ]


def _referral_resources() -> list[JSON]:
    from .referrals import PARAMS as REFERRAL_PARAMS
    from .scheduling import PARAMS as SCHEDULING_PARAMS
    from .service_requests import PARAMS as SERVICE_REQUEST_PARAMS

    docs: dict[str, tuple[tuple[str, ...], tuple[ParamSpec, ...], str]] = {
        "ServiceRequest": (
            ("read", "search-type", "create"),
            SERVICE_REQUEST_PARAMS,
            "Three kinds at one endpoint. 双向转诊 (two-way referral, id = number): intent "
            "order = upward (上转), plan = return note (回转单); performer the receiving "
            "Organization (performerType the department). 诊断申请 (shared diagnosis centre "
            "study, id = study-<n>): category v2-0074 RAD/EC/LAB/PAT, code the exam, "
            "performer the centre's host Organization. 远程会诊 (remote consultation, id = "
            "consult-<n>, read-only): category SNOMED 11429006. Status from each kind's state "
            "(the state itself in an extension for studies and consultations). Create = an "
            "upward referral, or a study when the category names a centre kind (a result "
            "still mutually recognised is a 409 with a warning issue); identifier = the "
            "sender's idempotency key.",
        ),
        "Task": (
            ("read", "search-type"),
            REFERRAL_PARAMS["Task"],
            "The receiving side's work on a referral (same id as the ServiceRequest): answer "
            "and receive an upward referral, or the 2-week follow-up of a return note; "
            "businessStatus = the referral state in Chinese.",
        ),
        "Schedule": (
            ("read", "search-type"),
            SCHEDULING_PARAMS["Schedule"],
            "专家出诊 (expert session): actor the expert, specialty the department, "
            "planningHorizon the day.",
        ),
        "Slot": (
            ("read", "search-type"),
            SCHEDULING_PARAMS["Slot"],
            "号源时段: seats in extension …/ext/slot-seats (capacity, reserved for "
            "family-doctor referrals, free per pool); serviceType = the pools with free seats.",
        ),
        "Appointment": (
            ("read", "search-type", "create"),
            SCHEDULING_PARAMS["Appointment"],
            "预约 (booking). Create with one slot and one Patient participant books a public "
            "seat through the booking action: no overbooking, a full slot is a 409.",
        ),
    }
    return [
        _resource(name, interactions, params, doc)
        for name, (interactions, params, doc) in docs.items()
    ]


def _measure_resources(base: str) -> list[JSON]:
    from .locations import PARAMS as LOCATION_PARAMS
    from .measure_views import EVALUATE_DOC, MEASURE_PARAMS, REPORT_PARAMS

    return [
        _resource(
            "Location",
            ("read", "search-type"),
            LOCATION_PARAMS,
            "行政区划 (the county, townships and villages; id = division code): the reporting "
            "units of township and village indicator reports.",
        ),
        _resource(
            "Measure",
            ("read", "search-type"),
            MEASURE_PARAMS,
            "监测指标 (monitoring indicators; id = indicator code with - for _): definition, "
            "numerator and denominator wording, scoring from the unit, topic = aspect. Not "
            "collected: status draft, the reason in purpose. Health commission and group "
            "administrators only.",
            operation=[
                {
                    "name": "evaluate-measure",
                    "definition": "http://hl7.org/fhir/OperationDefinition/Measure-evaluate-measure",
                    "documentation": EVALUATE_DOC,
                }
            ],
        ),
        _resource(
            "MeasureReport",
            ("read", "search-type"),
            REPORT_PARAMS,
            "指标值 computed on the fly from the indicator facts (summary): population counts "
            "and measureScore; reporter = the reporting unit. Not collected: status error, "
            "no counts, measureScore data-absent-reason unsupported (never 0).",
        ),
    ]


def capability_statement(base: str) -> JSON:
    return {
        "resourceType": "CapabilityStatement",
        "id": "yigongti",
        "url": f"{base}/metadata",
        "version": _version(),
        "name": "YigongtiFhirServer",
        "title": "医共体平台 FHIR R4 接口 / Yigongti FHIR R4 facade",
        "status": "active",
        "experimental": False,
        "date": SURFACE_DATE,
        "publisher": "Yigongti",
        "description": (
            "The county medical community platform's exchange API: the master patient index "
            "as Patient, the care network as Organization and Practitioner, the clinical "
            "record, care teams and plans, two-way referrals as ServiceRequest and Task, "
            "diagnosis-centre studies and remote consultations as ServiceRequest, expert "
            "schedules as Schedule, Slot and Appointment, monitoring indicators as Measure and "
            "MeasureReport (with Location for townships and villages)."
        ),
        "kind": "instance",
        "software": {"name": "Yigongti", "version": _version()},
        "implementation": {"description": "Yigongti 医共体平台", "url": base},
        "fhirVersion": FHIR_VERSION,
        "format": ["application/fhir+json", "json"],
        "rest": [
            {
                "mode": "server",
                "documentation": (
                    "Searches AND repeated parameters and OR comma-separated values; unknown "
                    "parameters are ignored unless the request says Prefer: handling=strict. "
                    "Errors are OperationOutcome with diagnostics in Chinese and English."
                ),
                "security": {
                    "cors": False,
                    "description": (
                        "Authorization: Bearer <token> from POST /api/v1/auth/token, or the "
                        "browser session. Residents outside the user's area read as absent (404)."
                    ),
                },
                "interaction": [
                    {
                        "code": "transaction",
                        "documentation": "POST / a transaction Bundle: all entries or none; "
                        "urn:uuid fullUrls may be referenced between entries.",
                    }
                ],
                "operation": [
                    {
                        "name": "import",
                        "definition": f"{base}/OperationDefinition/import",
                        "documentation": "POST /$import, body application/fhir+ndjson: bulk "
                        "import (Observation fast path; Encounter, Condition, "
                        "MedicationRequest, DiagnosticReport line by line). Needs the "
                        "import_records permission.",
                    }
                ],
                "resource": [
                    _resource(
                        "Patient",
                        ("read", "search-type", "create", "update"),
                        PATIENT_PARAMS,
                        "居民 (master patient index). Create and update run the same checks "
                        "as the registration form. Search results omit the identity document, "
                        "phone and health cards (meta.tag SUBSETTED); read gives them.",
                        conditionalCreate=True,
                        operation=[
                            {
                                "name": "everything",
                                "definition": "http://hl7.org/fhir/OperationDefinition/"
                                "Patient-everything",
                                "documentation": "The Patient and every current item of "
                                "the record (all facilities, merged records included).",
                            }
                        ],
                    ),
                    *_clinical_resources(),
                    *_care_resources(),
                    *_referral_resources(),
                    _resource(
                        "Organization",
                        ("read", "search-type"),
                        ORGANIZATION_PARAMS,
                        "Member facilities (id = facility code) and medical groups "
                        "(id = group-<code>); facilities are partOf their group.",
                    ),
                    _resource(
                        "Practitioner",
                        ("read", "search-type"),
                        PRACTITIONER_PARAMS,
                        "Health workers; qualification carries the professional title.",
                    ),
                    *_measure_resources(base),
                ],
            }
        ],
    }
