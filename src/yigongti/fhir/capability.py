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
            "as Patient, the care network as Organization and Practitioner."
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
                "resource": [
                    _resource(
                        "Patient",
                        ("read", "search-type", "create", "update"),
                        PATIENT_PARAMS,
                        "居民 (master patient index). Create and update run the same checks "
                        "as the registration form. Search results omit the identity document, "
                        "phone and health cards (meta.tag SUBSETTED); read gives them.",
                        conditionalCreate=True,
                    ),
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
                ],
            }
        ],
    }
