"""Code tables: the ICD-10 national clinical edition and the group's drug and consumable
catalogue, loaded from CSV. The platform ships small starter tables it authored itself
(`data/*_starter.csv`); a county loads the full tables with `manage.py load_codes` (see
docs/his-import.md for where to get them and the layout)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction

from . import rules
from .models import Drug, ICD10Code, ItemKind

DATA = Path(__file__).parent / "data"
ICD_STARTER = DATA / "icd10_starter.csv"
DRUG_STARTER = DATA / "drugs_starter.csv"

ICD_COLUMNS = ("code", "name")  # required; optional: chapter, initials, active
DRUG_COLUMNS = ("code", "generic_name")  # required; the rest of Drug's fields are optional
DRUG_OPTIONAL = (
    "kind",
    "brand_name",
    "dosage_form",
    "strength",
    "pack",
    "unit",
    "dose_unit",
    "manufacturer",
    "insurance_code",
    "essential",
    "storage",
    "active",
)
TRUE = {"1", "true", "yes", "y", "是", "t"}


@dataclass
class LoadReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[dict[str, object]] = field(default_factory=list)


def _rows(raw: bytes, required: tuple[str, ...]) -> list[dict[str, str]]:
    text = rules.decode_upload(raw).text
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in required if c not in header]
    if missing:
        raise rules.RuleError(
            "header",
            "bad_header",
            f"表头缺少列：{', '.join(missing)}（实际表头：{', '.join(header) or '空'}）",
            f"Header lacks {', '.join(missing)}",
        )
    reader.fieldnames = header
    return [{k: (v or "").strip() for k, v in row.items() if k} for row in reader]


def _flag(value: str, default: bool) -> bool:
    return default if value == "" else value.lower() in TRUE


def load_icd10(raw: bytes) -> LoadReport:
    """Insert or update ICD-10 codes (code, name[, chapter, initials, active])."""
    report = LoadReport()
    rows = _rows(raw, ICD_COLUMNS)
    existing = {c.code: c for c in ICD10Code.objects.all()}
    new: list[ICD10Code] = []
    changed: list[ICD10Code] = []
    for line, row in enumerate(rows, start=2):
        code = row.get("code", "").upper()
        name = row.get("name", "")
        if not code or not name or len(code) > 16 or len(name) > 200:
            report.errors.append({"line": line, "msg": "编码或名称为空或过长", "code": code})
            continue
        item = ICD10Code(
            code=code,
            name=name,
            chapter=row.get("chapter", "")[:10],
            initials=row.get("initials", "") or rules.initials_of(name),
            active=_flag(row.get("active", ""), True),
        )
        old = existing.get(code)
        if old is None:
            new.append(item)
            existing[code] = item
        elif (old.name, old.chapter, old.initials, old.active) != (
            item.name,
            item.chapter,
            item.initials,
            item.active,
        ):
            changed.append(item)
        else:
            report.unchanged += 1
    with transaction.atomic():
        ICD10Code.objects.bulk_create(new, batch_size=2000)
        ICD10Code.objects.bulk_update(
            changed, ["name", "chapter", "initials", "active"], batch_size=2000
        )
    report.created, report.updated = len(new), len(changed)
    return report


def load_drugs(raw: bytes) -> LoadReport:
    """Insert or update catalogue items (code, generic_name and the optional columns)."""
    report = LoadReport()
    rows = _rows(raw, DRUG_COLUMNS)
    existing = {d.code: d for d in Drug.objects.all()}
    new: list[Drug] = []
    changed: list[Drug] = []
    for line, row in enumerate(rows, start=2):
        code, name = row.get("code", ""), row.get("generic_name", "")
        kind = row.get("kind", "") or ItemKind.DRUG
        if not code or not name or len(code) > 40 or kind not in ItemKind.values:
            report.errors.append(
                {"line": line, "msg": "编码、通用名为空或类别不正确", "code": code}
            )
            continue
        values: dict[str, object] = {
            "kind": kind,
            "generic_name": name[:120],
            "initials": rules.initials_of(name),
        }
        for col in DRUG_OPTIONAL:
            if col in ("kind", "essential", "active") or not row.get(col):
                continue
            values[col] = row[col][: Drug._meta.get_field(col).max_length]  # type: ignore[union-attr]
        values["essential"] = _flag(row.get("essential", ""), False)
        values["active"] = _flag(row.get("active", ""), True)
        old = existing.get(code)
        if old is None:
            item = Drug(code=code, **values)
            new.append(item)
            existing[code] = item
        elif any(getattr(old, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(old, k, v)
            changed.append(old)
        else:
            report.unchanged += 1
    fields = ["generic_name", "initials", *(c for c in DRUG_OPTIONAL)]
    with transaction.atomic():
        Drug.objects.bulk_create(new, batch_size=2000)
        Drug.objects.bulk_update(changed, fields, batch_size=2000)
    report.created, report.updated = len(new), len(changed)
    return report


def load_starter() -> None:
    """The tables the platform ships (demo, tests, a county before it loads its own)."""
    load_icd10(ICD_STARTER.read_bytes())
    load_drugs(DRUG_STARTER.read_bytes())
