"""The URIs the FHIR facade names things with: identifier systems, code systems, the one
extension. All but the national ID-card OID sit under settings.YGT["IDENTIFIER_BASE"], so a
deployment can move them to its own domain. docs/fhir.md lists every one; changing any of
them changes the stable outside surface (DESIGN.md)."""

from __future__ import annotations

from django.conf import settings

from yigongti.residents.models import DocType

#: 居民身份证 (GB 11643), the national OID used by Chinese implementation guides.
ID_CARD_SYSTEM = "urn:oid:2.16.156.10011.1.3"

#: HL7 v2 identifier types (terminology.hl7.org) used to type our identifiers.
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
#: HL7 organization types; every facility and group is a healthcare provider ("prov").
HL7_ORG_TYPE = "http://terminology.hl7.org/CodeSystem/organization-type"
#: Resource tag meaning "some elements were left out of this copy" (search results).
V3_OBSERVATION_VALUE = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"


def base() -> str:
    return str(settings.YGT["IDENTIFIER_BASE"]).rstrip("/")


def mpi_system() -> str:
    """患者主索引号: the platform's resident index number."""
    return f"{base()}/mpi"


def health_card_system() -> str:
    """电子健康卡 card ID (64 hex characters), national or locally issued."""
    return f"{base()}/health-card"


def document_system(doc_type: str) -> str:
    """Identity documents: the national OID for the ID card, ours for the others."""
    if doc_type == DocType.ID_CARD:
        return ID_CARD_SYSTEM
    return f"{base()}/document/{doc_type}"


def document_type_for(system: str) -> str | None:
    """The DocType a document identifier system stands for, or None."""
    if system == ID_CARD_SYSTEM:
        return str(DocType.ID_CARD)
    prefix = f"{base()}/document/"
    if system.startswith(prefix):
        doc_type = system[len(prefix) :]
        if doc_type in DocType.values and doc_type not in (DocType.ID_CARD, DocType.NONE):
            return doc_type
    return None


def facility_system() -> str:
    """机构编码: a member facility's code."""
    return f"{base()}/facility"


def medical_group_system() -> str:
    """医共体编码: a medical group's code."""
    return f"{base()}/medical-group"


def licence_system() -> str:
    """执业证号: a health worker's practising licence number."""
    return f"{base()}/practitioner-licence"


def organization_type_system() -> str:
    """Our organization kinds: the FacilityKind codes plus "medical_group"."""
    return f"{base()}/organization-type"


def error_code_system() -> str:
    """The machine-readable code of an error (FieldError.code) in OperationOutcome details."""
    return f"{base()}/error-code"


def division_code_extension() -> str:
    """Extension on Address: the GB/T 2260-style division code (12 digits for a village)."""
    return f"{base()}/ext/division-code"


# --- the clinical record -----------------------------------------------------------------

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
#: Encounter.class (R4 binds v3 ActCode): AMB 门诊, EMER 急诊, IMP 住院, HH 上门.
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VER_STATUS = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
#: DiagnosticReport.category: HL7 v2 table 0074 (LAB, RAD, EC, PAT, OTH).
V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"
#: ICD-10 as HL7 names it; accepted on input next to our national clinical edition.
ICD10_WHO = "http://hl7.org/fhir/sid/icd-10"


def icd10_system() -> str:
    """ICD-10 国家临床版 (the national clinical edition the platform's code table holds)."""
    return f"{base()}/icd-10-cn"


def drug_system() -> str:
    """药品耗材目录编码: the medical group's catalogue code (records.Drug.code)."""
    return f"{base()}/drug"


def frequency_system() -> str:
    """用药频次: qd bid tid … (records.rules.FREQUENCIES)."""
    return f"{base()}/frequency"


def route_system() -> str:
    """给药途径: po iv im … (records.rules.ROUTES)."""
    return f"{base()}/route"


def encounter_kind_system() -> str:
    """Our encounter kinds (outpatient, emergency, inpatient, home_visit, other)."""
    return f"{base()}/encounter-kind"


def report_code_system() -> str:
    """A report's item code as the reporting facility wrote it (检验/检查项目编码)."""
    return f"{base()}/report-code"


def lab_code_system() -> str:
    """A lab result code that is not one of our LOINC vitals (local 检验项目编码)."""
    return f"{base()}/lab-code"


def version_status_system() -> str:
    """meta.tag on a version that is no longer current: amended | entered_in_error."""
    return f"{base()}/version-status"
