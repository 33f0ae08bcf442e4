"""The FHIR R4 endpoints under /fhir/: thin function views. Mapping lives in mapping.py,
search in search.py, errors in outcome.py; every write goes through a residents action and
every resident read through residents.queries (scoped and audited there)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, QueryDict
from django.middleware.csrf import CsrfViewMiddleware
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from yigongti.accounts.actors import request_actor
from yigongti.core import audit
from yigongti.core.actor import Actor
from yigongti.core.errors import DomainError, Forbidden, NotFound
from yigongti.residents import rules
from yigongti.residents.actions import ResidentInput, do_register_resident, do_update_resident
from yigongti.residents.models import DocType, Resident
from yigongti.residents.queries import get_resident_for, residents_visible_to

from . import mapping, reads, search, validation
from .capability import capability_statement
from .outcome import PATIENT_EXPRESSIONS, FhirError, from_domain_error, operation_outcome

logger = logging.getLogger(__name__)

FHIR_JSON = "application/fhir+json"
ACCEPTED_BODY_TYPES = (FHIR_JSON, "application/json")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

Handler = Callable[..., HttpResponse]


# --- plumbing --------------------------------------------------------------------------


def fhir_response(
    data: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> HttpResponse:
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    response = HttpResponse(body, status=status, content_type=f"{FHIR_JSON}; charset=utf-8")
    for key, value in (headers or {}).items():
        response[key] = value
    return response


def outcome_response(exc: FhirError) -> HttpResponse:
    return fhir_response(operation_outcome(exc.issues), exc.status, exc.headers)


def fhir_base(request: HttpRequest) -> str:
    """Absolute base URL of the FHIR endpoint, e.g. http://127.0.0.1:8000/fhir."""
    return request.build_absolute_uri(reverse("fhir:metadata")).removesuffix("/metadata")


def _authenticate(request: HttpRequest) -> Actor:
    if getattr(request, "bearer_invalid", False):
        raise FhirError.single(
            401,
            "login",
            "令牌无效或已过期",
            "The bearer token is invalid or expired",
            **{"WWW-Authenticate": 'Bearer realm="yigongti", error="invalid_token"'},
        )
    if not request.user.is_authenticated:
        raise FhirError.single(
            401,
            "login",
            "请先登录：Authorization: Bearer <令牌>",
            "Authentication required: Authorization: Bearer <token>",
            **{"WWW-Authenticate": 'Bearer realm="yigongti"'},
        )
    if not getattr(request, "bearer_auth", False) and request.method not in SAFE_METHODS:
        # A browser session writes only with its CSRF token, as everywhere else.
        refused = CsrfViewMiddleware(lambda r: HttpResponse()).process_view(
            request, lambda r: HttpResponse(), (), {}
        )
        if refused is not None:
            raise FhirError.single(
                403, "forbidden", "CSRF 校验失败", "CSRF check failed for a session request"
            )
    actor = request_actor(request)
    if actor is None:
        raise FhirError.single(
            403, "forbidden", "该账号未关联机构或角色", "This account has no role or facility"
        )
    return actor


def fhir_view(*methods: str, public: bool = False) -> Callable[[Handler], Handler]:
    """Method check, authentication, and every error as an OperationOutcome."""

    def decorate(handler: Handler) -> Handler:
        @csrf_exempt
        @wraps(handler)
        def view(request: HttpRequest, **kwargs: Any) -> HttpResponse:
            try:
                if request.method not in methods:
                    raise FhirError.single(
                        405,
                        "not-supported",
                        f"不支持 {request.method} 操作",
                        f"{request.method} is not supported here",
                        Allow=", ".join(methods),
                    )
                if "xml" in request.GET.get("_format", ""):
                    raise FhirError.single(
                        406, "not-supported", "仅支持 JSON 格式", "Only JSON is supported"
                    )
                actor = None if public else _authenticate(request)
                return handler(request, actor, **kwargs)
            except FhirError as exc:
                return outcome_response(exc)
            except DomainError as exc:
                return outcome_response(from_domain_error(exc, PATIENT_EXPRESSIONS))
            except NotFound:
                return outcome_response(
                    FhirError.single(404, "not-found", "资源不存在或无权查看", "Resource not found")
                )
            except Forbidden as exc:
                return outcome_response(FhirError.single(403, "forbidden", exc.msg_zh, exc.msg_en))
            except Exception:
                logger.exception("FHIR request failed: %s %s", request.method, request.path)
                return outcome_response(
                    FhirError.single(500, "exception", "服务器内部错误", "Internal server error")
                )

        return view

    return decorate


def _json_body(request: HttpRequest) -> Any:
    content_type = request.content_type or ""
    if content_type not in ACCEPTED_BODY_TYPES:
        raise FhirError.single(
            415,
            "not-supported",
            f"请求体类型应为 {FHIR_JSON}",
            f"The body must be {FHIR_JSON} (got {content_type or 'nothing'})",
        )
    try:
        return json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise FhirError.single(
            400, "structure", "请求体不是合法的 JSON", "The body is not valid JSON"
        ) from None


def _strict(request: HttpRequest) -> bool:
    return "handling=strict" in request.headers.get("Prefer", "").replace(" ", "")


# --- metadata and unknown paths ---------------------------------------------------------


@fhir_view("GET", public=True)
def metadata(request: HttpRequest, actor: None) -> HttpResponse:
    return fhir_response(capability_statement(fhir_base(request)))


@fhir_view("GET", "POST", "PUT", "PATCH", "DELETE", public=True)
def unknown(request: HttpRequest, actor: None, path: str = "") -> HttpResponse:
    raise FhirError.single(
        404,
        "not-supported",
        f"不支持的资源类型或路径：/{path}",
        f"Unsupported resource type or path: /{path}",
    )


# --- Patient ---------------------------------------------------------------------------


def _full_patient(resident: Resident) -> dict[str, Any]:
    extras = reads.patient_extras([resident], with_cards=True)[resident.pk]
    return mapping.patient(resident, extras)


def _reload(actor: Actor, resident: Resident) -> Resident:
    """The saved row with what the mapping reads (no second audit entry: the write has one)."""
    return (
        residents_visible_to(actor)
        .select_related("village", "township__parent", "registered_at")
        .get(pk=resident.pk)
    )


@fhir_view("GET", "POST")
def patient_type(request: HttpRequest, actor: Actor) -> HttpResponse:
    if request.method == "POST":
        return _create_patient(request, actor)
    return _search_patients(request, actor)


@fhir_view("GET", "PUT")
def patient_instance(request: HttpRequest, actor: Actor, resource_id: str) -> HttpResponse:
    if request.method == "PUT":
        return _update_patient(request, actor, resource_id)
    resident = get_resident_for(actor, resource_id, purpose="fhir_read")
    if resident.mpi_id != resource_id:
        # An old index number of a merged record: show it as replaced, not as the survivor.
        merged = reads.merged_record(resource_id)
        return fhir_response(mapping.replaced_patient(resource_id, resident, merged))
    return fhir_response(_full_patient(resident))


def _mask(value: str) -> str:
    return rules.mask_id_number(value) if len(value) > 6 else value


def _search_patients(request: HttpRequest, actor: Actor) -> HttpResponse:
    req = search.parse(request.GET, search.PATIENT_PARAMS, strict=_strict(request))
    qs = search.patient_queryset(
        residents_visible_to(actor).select_related("village", "township__parent", "registered_at"),
        req,
    )
    total = qs.count()
    rows = list(qs[req.offset : req.offset + req.count]) if req.count else []
    extras = reads.patient_extras(rows, with_cards=False)
    audit.record(
        actor,
        audit.Action.SEARCH,
        "resident",
        "",
        detail={
            "via": "fhir",
            "query": {
                c.key: [_mask(v) if c.name == "identifier" else v for v in c.values]
                for c in req.criteria
            },
            "total": total,
            "returned": [r.mpi_id for r in rows],
        },
    )
    resources = [mapping.patient(r, extras[r.pk], subsetted=True) for r in rows]
    return fhir_response(search.searchset(fhir_base(request), "Patient", resources, total, req))


def _conditional_match(actor: Actor, condition: str) -> Resident | None:
    """If-None-Exist: the one visible resident the condition finds, None for none, 412 for
    several. Lets a client retry a create without making a second record."""
    req = search.parse(QueryDict(condition.lstrip("?")), search.PATIENT_PARAMS, strict=True)
    if not req.criteria:
        raise FhirError.single(
            400, "invalid", "If-None-Exist 缺少查询条件", "If-None-Exist has no search criteria"
        )
    found = list(search.patient_queryset(residents_visible_to(actor), req)[:2])
    if len(found) > 1:
        raise FhirError.single(
            412,
            "multiple-matches",
            "If-None-Exist 条件匹配到多名居民",
            "If-None-Exist matches more than one resident",
        )
    return found[0] if found else None


def create_patient_from_body(
    actor: Actor, body: dict[str, Any], condition: str = ""
) -> tuple[Resident, bool]:
    """A validated Patient body → (the resident, True if newly registered). `condition` is
    If-None-Exist (header, or a transaction entry's request.ifNoneExist)."""
    if condition:
        existing = _conditional_match(actor, condition)
        if existing is not None:
            resident = get_resident_for(actor, existing.mpi_id, purpose="fhir_conditional_create")
            return resident, False
    incoming = mapping.patient_in(body)
    changes = dict(incoming.changes)
    if not incoming.has_document:
        changes.update(doc_type=DocType.NONE, doc_number="")
    return _reload(actor, do_register_resident(actor, ResidentInput(**changes))), True


def _create_patient(request: HttpRequest, actor: Actor) -> HttpResponse:
    body = _json_body(request)
    validation.validate_resource(body, "Patient")
    condition = request.headers.get("If-None-Exist", "").strip()
    resident, created = create_patient_from_body(actor, body, condition)
    if not created:
        return fhir_response(_full_patient(resident))
    location = f"{fhir_base(request)}/Patient/{resident.mpi_id}"
    return fhir_response(_full_patient(resident), 201, {"Location": location})


def _update_patient(request: HttpRequest, actor: Actor, resource_id: str) -> HttpResponse:
    body = _json_body(request)
    validation.validate_resource(body, "Patient")
    if body.get("id") != resource_id:
        raise FhirError.single(
            400,
            "invalid",
            "请求体中的 id 必须与地址中的 id 一致",
            "The body's id must equal the id in the URL",
            "Patient.id",
        )
    tags = (body.get("meta") or {}).get("tag") or []
    if any(t.get("code") == "SUBSETTED" for t in tags):
        raise FhirError.single(
            422,
            "invalid",
            "检索结果中的居民资源不完整，请先读取完整资源再修改",
            "A SUBSETTED copy (from a search) cannot be used to update; read the Patient first",
            "Patient.meta.tag",
        )
    resident = get_resident_for(actor, resource_id, purpose="fhir_update")
    if resident.mpi_id != resource_id:
        raise DomainError.single(
            "mpi_id",
            f"该档案已合并到 {resident.mpi_id}，请修改合并后的档案",
            f"This record was merged into {resident.mpi_id}; update Patient/{resident.mpi_id}",
            "merged",
        )
    incoming = mapping.patient_in(body)
    changes = dict(incoming.changes)
    # An identity document is changed by sending another one, never dropped by omission.
    resident = _reload(actor, do_update_resident(actor, resident, changes))
    return fhir_response(_full_patient(resident))


# --- Organization and Practitioner -----------------------------------------------------


@fhir_view("GET")
def organization_type(request: HttpRequest, actor: Actor) -> HttpResponse:
    req = search.parse(request.GET, search.ORGANIZATION_PARAMS, strict=_strict(request))
    flt = search.organization_filter(req)
    group_qs = reads.groups(actor).filter(flt.group).order_by("code")
    facility_qs = reads.facilities(actor).filter(flt.facility).order_by("code")
    n_groups = group_qs.count()
    total = n_groups + facility_qs.count()
    resources: list[dict[str, Any]] = []
    if req.count:  # medical groups first, then facilities, as one list
        start, stop = req.offset, req.offset + req.count
        resources += [mapping.organization_from_group(g) for g in group_qs[start:stop]]
        f_start, f_stop = max(0, start - n_groups), max(0, stop - n_groups)
        resources += [mapping.organization_from_facility(f) for f in facility_qs[f_start:f_stop]]
    return fhir_response(
        search.searchset(fhir_base(request), "Organization", resources, total, req)
    )


@fhir_view("GET")
def organization_instance(request: HttpRequest, actor: Actor, resource_id: str) -> HttpResponse:
    facility = reads.facility_by_resource_id(actor, resource_id)
    if facility is not None:
        return fhir_response(mapping.organization_from_facility(facility))
    group = reads.group_by_resource_id(actor, resource_id)
    if group is not None:
        return fhir_response(mapping.organization_from_group(group))
    raise NotFound("机构")


@fhir_view("GET")
def practitioner_type(request: HttpRequest, actor: Actor) -> HttpResponse:
    req = search.parse(request.GET, search.PRACTITIONER_PARAMS, strict=_strict(request))
    qs = search.practitioner_queryset(reads.staff(actor), req)
    total = qs.count()
    rows = list(qs[req.offset : req.offset + req.count]) if req.count else []
    resources = [mapping.practitioner(s) for s in rows]
    return fhir_response(
        search.searchset(fhir_base(request), "Practitioner", resources, total, req)
    )


@fhir_view("GET")
def practitioner_instance(request: HttpRequest, actor: Actor, resource_id: str) -> HttpResponse:
    staff = reads.staff_by_resource_id(actor, resource_id)
    if staff is None:
        raise NotFound("人员")
    return fhir_response(mapping.practitioner(staff))
