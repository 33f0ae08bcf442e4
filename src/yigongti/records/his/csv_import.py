"""CSV files of encounters with their diagnoses: one row per encounter (docs/his-import.md).

`read_header` checks the file before anything is written (encoding, columns); `import_row`
turns one row into an `EncounterInput` and upserts it, raising `RowFailed` with errors that
name the line and the column."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field

from yigongti.core.actor import Actor
from yigongti.core.errors import DomainError, FieldError
from yigongti.network.models import Facility

from .. import rules
from ..actions import (
    DiagnosisInput,
    EncounterInput,
    Outcome,
    Provenance,
    VitalInput,
    upsert_encounter,
)
from ..models import EncounterKind, Source
from . import common
from .common import RowError, RowFailed

REQUIRED = ("visit_id", "name", "visit_type", "start_time", "icd10")
IDENTITY = ("id_number", "mpi_id")  # at least one of them
OPTIONAL = ("end_time", "department", "doctor", "complaint", "notes")
#: Optional measurement columns → the VITALS kind they feed (sbp/dbp together make "bp").
VITAL_COLUMNS = {
    "pulse": "pulse",
    "respiration": "respiration",
    "temperature": "temperature",
    "height": "height",
    "weight": "weight",
    "waist": "waist",
    "glucose": "glucose_fasting",
    "glucose_fasting": "glucose_fasting",
    "glucose_random": "glucose_random",
    "hba1c": "hba1c",
}
KNOWN = (*REQUIRED, *IDENTITY, *OPTIONAL, "sbp", "dbp", *VITAL_COLUMNS)

#: Chinese headers HIS exports often use.
ALIASES = {
    "就诊号": "visit_id",
    "就诊流水号": "visit_id",
    "居民身份证号": "id_number",
    "身份证号": "id_number",
    "主索引号": "mpi_id",
    "姓名": "name",
    "就诊类型": "visit_type",
    "就诊时间": "start_time",
    "入院时间": "start_time",
    "出院时间": "end_time",
    "结束时间": "end_time",
    "科室": "department",
    "科室编码": "department",
    "医生": "doctor",
    "主诉": "complaint",
    "处理意见": "notes",
    "诊断编码": "icd10",
    "收缩压": "sbp",
    "舒张压": "dbp",
    "心率": "pulse",
    "脉搏": "pulse",
    "呼吸": "respiration",
    "体温": "temperature",
    "身高": "height",
    "体重": "weight",
    "腰围": "waist",
    "血糖": "glucose",
    "空腹血糖": "glucose_fasting",
    "随机血糖": "glucose_random",
    "糖化血红蛋白": "hba1c",
}

VISIT_TYPES = {
    "门诊": EncounterKind.OUTPATIENT,
    "急诊": EncounterKind.EMERGENCY,
    "住院": EncounterKind.INPATIENT,
    "上门": EncounterKind.HOME_VISIT,
    "上门服务": EncounterKind.HOME_VISIT,
    "o": EncounterKind.OUTPATIENT,
    "e": EncounterKind.EMERGENCY,
    "i": EncounterKind.INPATIENT,
    **{k.value: k for k in EncounterKind},
}

CODE_SEPARATORS = (";", "；", "|")


@dataclass
class CsvFile:
    header: list[str]  # canonical column names, in file order
    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)  # (line, row)


def _canonical(name: str) -> str:
    text = name.strip().lstrip("\ufeff")
    return ALIASES.get(text, text.lower())


def open_file(raw: bytes) -> tuple[list[str], Iterator[tuple[int, dict[str, str]]]]:
    """Decode (UTF-8 or GBK, never a mix) and check the header; DomainError naming the
    missing and unknown columns, before anything is written. Returns the canonical header
    and a stream of (line number, row) for the non-blank rows."""
    try:
        text = rules.decode_upload(raw).text
    except rules.RuleError as exc:
        raise DomainError(FieldError("file", exc.msg_zh, exc.msg_en, exc.code)) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        first = next(reader)
    except StopIteration:
        raise DomainError.single("file", "文件为空", "The file is empty", "empty") from None
    header = [_canonical(h) for h in first]
    _check_header(first, header)

    def rows() -> Iterator[tuple[int, dict[str, str]]]:
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            row = {c: (values[i].strip() if i < len(values) else "") for i, c in enumerate(header)}
            if len(values) > len(header):
                row["__extra__"] = "1"
            yield reader.line_num, row

    return header, rows()


def read_file(raw: bytes) -> CsvFile:
    header, rows = open_file(raw)
    return CsvFile(header=header, rows=list(rows))


def _check_header(first: list[str], header: list[str]) -> None:
    missing = [c for c in REQUIRED if c not in header]
    if not any(c in header for c in IDENTITY):
        missing.append("id_number 或 mpi_id")
    if ("sbp" in header) != ("dbp" in header):
        missing.append("dbp" if "sbp" in header else "sbp")
    unknown = [raw_name for raw_name, c in zip(first, header, strict=True) if c not in KNOWN]
    doubled = sorted({c for c in header if header.count(c) > 1})
    errors: list[str] = []
    if missing:
        errors.append(f"缺少列：{'、'.join(missing)}")
    if unknown:
        errors.append(f"未知列：{'、'.join(unknown)}")
    if doubled:
        errors.append(f"重复列：{'、'.join(doubled)}")
    if errors:
        raise DomainError(
            FieldError(
                "header",
                "表头不正确，" + "；".join(errors) + "（列的说明见 docs/his-import.md）",
                f"Bad header: missing {missing}, unknown {unknown}, repeated {doubled}",
                "bad_header",
            )
        )


@dataclass
class CsvContext:
    facility: Facility
    source_system: str
    #: visit_id → the first line it appeared on, for the rows read so far
    first_line: dict[str, int] = field(default_factory=dict)

    def note(self, line: int, row: dict[str, str]) -> int:
        """Remember a row's visit id; return the line where it first appeared."""
        key = row.get("visit_id", "")
        return self.first_line.setdefault(key, line) if key else line


def _fail(line: int, column: str, message: str, key: str) -> RowFailed:
    return RowFailed([RowError(line, column, message, key)])


def build_input(
    ctx: CsvContext, line: int, row: dict[str, str]
) -> tuple[EncounterInput, dict[str, str]]:
    """The encounter a row describes, and the map from input fields to CSV columns."""
    key = row.get("visit_id", "")
    errors: list[RowError] = []
    if row.get("__extra__"):
        errors.append(RowError(line, "", "该行的列数多于表头（文本中的逗号请加引号）", key))
    if not key:
        errors.append(RowError(line, "visit_id", "就诊号不能为空", key))
    elif len(key) > 100:
        errors.append(RowError(line, "visit_id", "就诊号过长（最多 100 字符）", key))
    kind = VISIT_TYPES.get(row.get("visit_type", "").strip().lower())
    if kind is None:
        errors.append(
            RowError(
                line,
                "visit_type",
                f"未知的就诊类型：{row.get('visit_type', '')}（可用：门诊、急诊、住院、上门）",
                key,
            )
        )
    started = ended = None
    for column in ("start_time", "end_time"):
        value = row.get(column, "")
        if not value:
            if column == "start_time":
                errors.append(RowError(line, column, "就诊时间不能为空", key))
            continue
        try:
            parsed = common.parse_csv_time(value)
        except ValueError:
            errors.append(
                RowError(line, column, f"时间格式不正确：{value}（应为 2026-01-31 08:30）", key)
            )
            continue
        if column == "start_time":
            started = parsed
        else:
            ended = parsed
    department = None
    if row.get("department"):
        department = common.find_department(ctx.facility, row["department"])
        if department is None:
            errors.append(
                RowError(
                    line,
                    "department",
                    f"{ctx.facility.name}没有编码或名称为“{row['department']}”的科室",
                    key,
                )
            )
    notes = row.get("notes", "")
    doctor = None
    if row.get("doctor"):
        doctor = common.find_doctor(ctx.facility, row["doctor"])
        if doctor is None:  # keep the name: the HIS's staff need not all be in the platform
            notes = (
                f"{notes}（医生：{row['doctor']}）".strip() if notes else f"医生：{row['doctor']}"
            )
    codes = row.get("icd10", "")
    for sep in CODE_SEPARATORS[1:]:
        codes = codes.replace(sep, ";")
    diagnoses = [DiagnosisInput(c.strip()) for c in codes.split(";") if c.strip()]
    columns = {
        "kind": "visit_type",
        "started_at": "start_time",
        "ended_at": "end_time",
        "department_id": "department",
        "doctor_id": "doctor",
        "complaint": "complaint",
        "diagnoses": "icd10",
        "facility": "facility",
    }
    vitals: list[VitalInput] = []
    if row.get("sbp") or row.get("dbp"):
        columns[f"vitals.{len(vitals)}.systolic"] = "sbp"
        columns[f"vitals.{len(vitals)}.diastolic"] = "dbp"
        columns[f"vitals.{len(vitals)}"] = "sbp"
        vitals.append(VitalInput("bp", row.get("sbp") or None, row.get("dbp") or None))
    for column, kind_name in VITAL_COLUMNS.items():
        if row.get(column):
            columns[f"vitals.{len(vitals)}"] = column
            vitals.append(VitalInput(kind_name, row[column]))
    if errors:
        raise RowFailed(errors)
    data = EncounterInput(
        kind=kind or EncounterKind.OTHER,
        started_at=started,
        ended_at=ended,
        department_id=department.pk if department else None,
        doctor_id=doctor.pk if doctor else None,
        complaint=row.get("complaint", ""),
        notes=notes,
        diagnoses=diagnoses,
        vitals=vitals,
        facility_id=ctx.facility.pk,
        provenance=Provenance(Source.CSV, ctx.source_system, key),
    )
    return data, columns


def import_row(ctx: CsvContext, line: int, row: dict[str, str]) -> Outcome:
    key = row.get("visit_id", "")
    first = ctx.note(line, row)
    if first != line:
        raise _fail(line, "visit_id", f"就诊号与第 {first} 行重复", key)
    resident = None
    if row.get("id_number"):
        number = common.check_id_number(row["id_number"])
        if number is None:
            raise _fail(line, "id_number", "居民身份证号无效（长度、出生日期或校验位错误）", key)
        resident = common.resident_by_id_number(number)
        if resident is None:
            raise _fail(
                line, "id_number", "居民主索引中没有该身份证号的居民，请先建档后再导入", key
            )
    elif row.get("mpi_id"):
        resident = common.resident_by_mpi(row["mpi_id"])
        if resident is None:
            raise _fail(line, "mpi_id", f"居民主索引中没有主索引号 {row['mpi_id']}", key)
    else:
        raise _fail(line, "id_number", "身份证号和主索引号至少填写一项", key)
    common.check_name(resident, row.get("name", ""), "name", line, key)
    data, columns = build_input(ctx, line, row)
    try:
        _, outcome = upsert_encounter(Actor.system(common.SYSTEM_REASON), resident, data)
    except DomainError as exc:
        raise RowFailed(common.field_errors_to_rows(exc, line, key, columns, "")) from None
    return outcome
