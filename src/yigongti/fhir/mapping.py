"""Our models ↔ FHIR R4 resources, as plain JSON-ready dicts.

Outbound: Resident → Patient, Facility and MedicalGroup → Organization, Staff → Practitioner.
Inbound: a Patient body (already checked against R4 by validation.py) → the changes that
`do_register_resident` / `do_update_resident` take. Nothing here touches the database or the
request; docs/fhir.md has the same tables for people."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from yigongti.network.models import Facility, MedicalGroup, Staff
from yigongti.residents.models import CardKind, DocType, HealthCard, Resident, Sex

from . import systems
from .outcome import FhirError, Issue

JSON = dict[str, Any]

#: FHIR resource ids: [A-Za-z0-9\-\.]{1,64}.
ID_RE = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")

# --- gender (FHIR AdministrativeGender ↔ GB/T 2261.1) ----------------------------------

GENDER_TO_SEX: dict[str, str] = {
    "male": Sex.MALE,
    "female": Sex.FEMALE,
    "unknown": Sex.UNKNOWN,
    "other": Sex.UNSPECIFIED,
}
SEX_TO_GENDER: dict[str, str] = {sex: gender for gender, sex in GENDER_TO_SEX.items()}

# --- names -----------------------------------------------------------------------------

#: Two-character surnames (复姓). A name starting with one of these has it as family name;
#: otherwise the first character is the family name.
# fmt: off
COMPOUND_SURNAMES = frozenset({
    "欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "令狐", "慕容", "宇文", "长孙",
    "夏侯", "轩辕", "端木", "司徒", "司空", "独孤", "南宫", "西门", "百里", "呼延", "万俟", "单于",
    "澹台", "乐正", "公冶", "申屠", "太史", "闻人", "赫连", "拓跋", "钟离", "宗政", "濮阳", "淳于",
    "仲孙", "羊舌", "微生", "梁丘", "左丘", "东郭", "第五", "谷梁", "公羊", "即墨", "闾丘", "子车",
    "颛孙", "巫马", "公西", "漆雕", "壤驷", "公良", "夹谷", "宰父", "段干", "司寇", "亓官", "鲜于",
    "锺离", "东门", "太叔",
})
# fmt: on

_HAN_ONLY = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U000323af]+$")


def split_name(name: str) -> tuple[str, str] | None:
    """(family, given) of a Han name: "张伟" → ("张", "伟"), "欧阳娜娜" → ("欧阳", "娜娜").
    None for names we cannot split safely (minority names with "·", Latin names)."""
    if len(name) < 2 or not _HAN_ONLY.match(name):
        return None
    size = 2 if name[:2] in COMPOUND_SURNAMES and len(name) > 2 else 1
    return name[:size], name[size:]


def human_name(name: str) -> JSON:
    out: JSON = {"use": "official", "text": name}
    parts = split_name(name)
    if parts is not None:
        out["family"], given = parts
        out["given"] = [given]
    return out


def name_from_fhir(names: Sequence[JSON]) -> str:
    """The name a Patient body gives: the official (or usual, or first) HumanName's text,
    else its parts: family + given for Han names, "given family" for Latin ones."""
    if not names:
        return ""
    chosen = next(
        (n for use in ("official", "usual") for n in names if n.get("use") == use), names[0]
    )
    text = str(chosen.get("text") or "").strip()
    if text:
        return text
    family = str(chosen.get("family") or "").strip()
    given = [str(g).strip() for g in chosen.get("given") or [] if str(g).strip()]
    joined = family + "".join(given)
    if joined and _HAN_ONLY.match(joined):
        return joined
    return " ".join([*given, family]).strip()


# --- small pieces ----------------------------------------------------------------------


def instant(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _phone(value: str, use: str) -> JSON:
    mobile = len(value) == 11 and value.startswith("1")
    return {"system": "phone", "value": value, "use": "mobile" if mobile else use}


def _division_extension(code: str) -> JSON:
    return {"url": systems.division_code_extension(), "valueCode": code}


SUBSETTED_TAG: JSON = {
    "system": systems.V3_OBSERVATION_VALUE,
    "code": "SUBSETTED",
    "display": "subsetted",
}

# --- Organization ----------------------------------------------------------------------

GROUP_PREFIX = "group-"
GROUP_KIND = "medical_group"


def facility_resource_id(facility: Facility) -> str:
    """A facility's Organization id is its code (falls back to the row id for a code that
    is not a valid FHIR id)."""
    if ID_RE.match(facility.code) and not facility.code.startswith(GROUP_PREFIX):
        return facility.code
    return f"facility-{facility.pk}"


def group_resource_id(group: MedicalGroup) -> str:
    if ID_RE.match(GROUP_PREFIX + group.code):
        return GROUP_PREFIX + group.code
    return f"{GROUP_PREFIX}{group.pk}"


def _org_type(code: str, display: str) -> JSON:
    return {
        "coding": [
            {"system": systems.HL7_ORG_TYPE, "code": "prov", "display": "Healthcare Provider"},
            {"system": systems.organization_type_system(), "code": code, "display": display},
        ],
        "text": display,
    }


def organization_from_facility(facility: Facility) -> JSON:
    """Needs facility.group and facility.division loaded (facilities_visible_to does)."""
    division = facility.division
    address: JSON = {
        "use": "work",
        "text": facility.address or division.name,
        "extension": [_division_extension(division.code)],
    }
    if facility.address:
        address["line"] = [facility.address]
    out: JSON = {
        "resourceType": "Organization",
        "id": facility_resource_id(facility),
        "identifier": [
            {"use": "official", "system": systems.facility_system(), "value": facility.code}
        ],
        "active": facility.active,
        "type": [_org_type(facility.kind, facility.get_kind_display())],
        "name": facility.name,
        "address": [address],
    }
    if facility.phone:
        out["telecom"] = [_phone(facility.phone, "work")]
    if facility.group is not None:
        out["partOf"] = {
            "reference": f"Organization/{group_resource_id(facility.group)}",
            "display": facility.group.name,
        }
    return out


def organization_from_group(group: MedicalGroup) -> JSON:
    """A medical group (医共体) as an Organization; its members point at it with partOf.
    Needs group.county loaded."""
    return {
        "resourceType": "Organization",
        "id": group_resource_id(group),
        "identifier": [
            {"use": "official", "system": systems.medical_group_system(), "value": group.code}
        ],
        "active": True,
        "type": [_org_type(GROUP_KIND, "医共体")],
        "name": group.name,
        "address": [
            {
                "use": "work",
                "text": group.county.name,
                "district": group.county.name,
                "extension": [_division_extension(group.county.code)],
            }
        ],
    }


# --- Practitioner ----------------------------------------------------------------------


def practitioner(staff: Staff) -> JSON:
    out: JSON = {
        "resourceType": "Practitioner",
        "id": str(staff.pk),
        "active": staff.active,
        "name": [human_name(staff.name)],
    }
    if staff.licence_no:
        out["identifier"] = [
            {"use": "official", "system": systems.licence_system(), "value": staff.licence_no}
        ]
    if staff.phone:
        out["telecom"] = [_phone(staff.phone, "work")]
    if staff.sex in SEX_TO_GENDER:
        out["gender"] = SEX_TO_GENDER[staff.sex]
    if staff.title:
        out["qualification"] = [{"code": {"text": staff.title}}]
    return out


# --- Patient: outbound -----------------------------------------------------------------

_DOC_TYPE_CODES = {DocType.ID_CARD: "NI", DocType.PASSPORT: "PPN"}


def _identifier_type(code: str | None, text: str) -> JSON:
    out: JSON = {"text": text}
    if code:
        out["coding"] = [{"system": systems.V2_0203, "code": code}]
    return out


def _mpi_identifier(mpi_id: str, use: str) -> JSON:
    return {
        "use": use,
        "type": _identifier_type("PI", "主索引号"),
        "system": systems.mpi_system(),
        "value": mpi_id,
    }


def _card_identifier(card: HealthCard) -> JSON:
    temporary = card.kind == CardKind.TEMPORARY
    return {
        "use": "temp" if temporary else "secondary",
        "type": _identifier_type(None, "电子健康卡（临时卡）" if temporary else "电子健康卡"),
        "system": systems.health_card_system(),
        "value": card.card_id,
    }


def _patient_address(r: Resident) -> JSON:
    """Needs r.village and r.township (and, for the district, r.township.parent)."""
    village, township = r.village, r.township
    place = f"{township.name}{village.name}"
    # 现住址 is usually written in full ("示范县城关镇杨沟村1号"); prefix the place only
    # when it does not name the village itself.
    text = r.address if village.name in r.address else place + r.address
    out: JSON = {
        "use": "home",
        "type": "physical",
        "text": text,
        "extension": [_division_extension(village.code)],
    }
    if r.address:
        out["line"] = [r.address]
    county = township.parent
    if county is not None:
        out["district"] = county.name
    return out


@dataclass
class PatientExtras:
    """What a Patient needs besides the row: its cards and the records merged into it."""

    cards: list[HealthCard] = field(default_factory=list)
    merged_mpi_ids: list[str] = field(default_factory=list)


def patient(r: Resident, extras: PatientExtras, *, subsetted: bool = False) -> JSON:
    """An active resident as a Patient. `subsetted` (search results) leaves out the identity
    document, phone and health cards, as lists do everywhere (DESIGN.md "Personal data"),
    and tags the copy SUBSETTED; a read of the Patient gives them to a user in scope."""
    meta: JSON = {"lastUpdated": instant(r.updated_at)}
    if subsetted:
        meta["tag"] = [SUBSETTED_TAG]
    identifiers = [_mpi_identifier(r.mpi_id, "usual")]
    identifiers += [_mpi_identifier(old, "old") for old in extras.merged_mpi_ids]
    out: JSON = {"resourceType": "Patient", "id": r.mpi_id, "meta": meta}
    if not subsetted:
        if r.doc_number:
            doc_type = DocType(r.doc_type)
            identifiers.append(
                {
                    "use": "official",
                    "type": _identifier_type(_DOC_TYPE_CODES.get(doc_type), doc_type.label),
                    "system": systems.document_system(r.doc_type),
                    "value": r.doc_number,
                }
            )
        identifiers += [_card_identifier(c) for c in extras.cards]
    out["identifier"] = identifiers
    out["active"] = True
    out["name"] = [human_name(r.name)]
    if r.phone and not subsetted:
        out["telecom"] = [_phone(r.phone, "home")]
    out["gender"] = SEX_TO_GENDER.get(r.sex, "unknown")
    out["birthDate"] = r.birth_date.isoformat()
    out["address"] = [_patient_address(r)]
    if r.registered_at is not None:
        out["managingOrganization"] = {
            "reference": f"Organization/{facility_resource_id(r.registered_at)}",
            "display": r.registered_at.name,
        }
    if extras.merged_mpi_ids:
        out["link"] = [
            {"other": {"reference": f"Patient/{old}"}, "type": "replaces"}
            for old in extras.merged_mpi_ids
        ]
    return out


def replaced_patient(mpi_id: str, survivor: Resident, merged: Resident | None) -> JSON:
    """A merged record, read by its old index number: inactive, pointing at the survivor
    with link type replaced-by (FHIR's way of saying "use that one instead"). Its identity
    document, phone and cards now belong to the survivor and are shown there."""
    out: JSON = {
        "resourceType": "Patient",
        "id": mpi_id,
        "identifier": [_mpi_identifier(mpi_id, "old")],
        "active": False,
    }
    if merged is not None:
        out["meta"] = {"lastUpdated": instant(merged.updated_at)}
        out["name"] = [human_name(merged.name)]
        out["gender"] = SEX_TO_GENDER.get(merged.sex, "unknown")
        out["birthDate"] = merged.birth_date.isoformat()
    out["link"] = [
        {
            "other": {"reference": f"Patient/{survivor.mpi_id}", "display": survivor.name},
            "type": "replaced-by",
        }
    ]
    return out


# --- Patient: inbound ------------------------------------------------------------------

FULL_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass
class PatientIn:
    """What a Patient body asks for, in ResidentInput's terms. `has_document` is False when
    the body carries no identity document (an update then keeps the stored one)."""

    changes: dict[str, Any]
    has_document: bool


def _first(items: Iterable[JSON], pick: str | None = None, key: str = "use") -> JSON | None:
    items = list(items)
    if pick is not None:
        for item in items:
            if item.get(key) == pick:
                return item
    return items[0] if items else None


def patient_in(body: JSON) -> PatientIn:
    """Map a structurally valid Patient body to resident changes. Raises FhirError(422) for
    what R4 allows but we cannot store (an unknown identifier system, a partial birth date,
    two identity documents)."""
    issues: list[Issue] = []
    changes: dict[str, Any] = {"name": name_from_fhir(body.get("name") or [])}

    gender = body.get("gender")
    changes["sex"] = GENDER_TO_SEX.get(str(gender), "") if gender else ""

    birth = body.get("birthDate")
    changes["birth_date"] = None
    if birth:
        if not FULL_DATE.match(str(birth)):
            issues.append(
                Issue(
                    "invalid",
                    "出生日期需精确到日（YYYY-MM-DD）",
                    "birthDate must be a full date (YYYY-MM-DD)",
                    "Patient.birthDate",
                    error_code="partial_date",
                )
            )
        else:
            changes["birth_date"] = date.fromisoformat(str(birth))

    documents: list[tuple[int, str, str]] = []
    server_assigned = {systems.mpi_system(), systems.health_card_system()}
    for i, ident in enumerate(body.get("identifier") or []):
        system = str(ident.get("system") or "")
        value = str(ident.get("value") or "").strip()
        where = f"Patient.identifier[{i}]"
        if system in server_assigned or ident.get("use") == "old":
            continue  # index numbers and cards are assigned by the platform, not the client
        if not system:
            issues.append(
                Issue(
                    "required",
                    "证件标识缺少 system（居民身份证为 urn:oid:2.16.156.10011.1.3）",
                    "identifier.system is required (urn:oid:2.16.156.10011.1.3 for the ID card)",
                    f"{where}.system",
                    error_code="required",
                )
            )
            continue
        doc_type = systems.document_type_for(system)
        if doc_type is None:
            issues.append(
                Issue(
                    "not-supported",
                    f"不支持的标识体系：{system}",
                    f"Unsupported identifier system: {system}",
                    f"{where}.system",
                    error_code="unknown_system",
                )
            )
            continue
        if not value:
            issues.append(
                Issue(
                    "required",
                    "证件号码不能为空",
                    "identifier.value is required",
                    f"{where}.value",
                    error_code="required",
                )
            )
            continue
        documents.append((i, doc_type, value))
    if len(documents) > 1:
        issues.append(
            Issue(
                "invalid",
                "只能提供一个身份证件",
                "Give one identity document only",
                f"Patient.identifier[{documents[1][0]}]",
                error_code="one_document",
            )
        )
    elif documents:
        changes["doc_type"], changes["doc_number"] = documents[0][1], documents[0][2]

    phone = _first((t for t in body.get("telecom") or [] if t.get("system") == "phone"), "mobile")
    changes["phone"] = str(phone.get("value") or "") if phone else ""

    address = _first(body.get("address") or [], "home")
    changes["village_code"] = ""
    changes["address"] = ""
    if address is not None:
        for ext in address.get("extension") or []:
            if ext.get("url") == systems.division_code_extension():
                changes["village_code"] = str(
                    ext.get("valueCode") or ext.get("valueString") or ""
                ).strip()
        changes["address"] = "".join(str(line).strip() for line in address.get("line") or [])

    if issues:
        raise FhirError(422, issues)
    return PatientIn(changes, has_document=bool(documents))
