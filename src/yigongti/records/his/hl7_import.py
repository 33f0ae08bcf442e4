"""HL7 v2 ADT messages: A01 (admit), A04 (register an outpatient), A08 (update), parsed with
python-hl7. Each message becomes one encounter keyed by MSH-4 (sending facility) + PV1-19
(visit number) and gets an ACK: AA accepted (created, amended or unchanged), AE a message we
understood but whose content we refuse (unknown patient, unknown ICD code, bad time), AR a
message we cannot read (broken segment, missing MSH-10, unsupported type)."""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import hl7
from django.utils import timezone

from yigongti.core.actor import Actor
from yigongti.core.errors import DomainError, Forbidden
from yigongti.network.models import Division, DivisionLevel, Facility
from yigongti.residents.actions import ResidentInput, do_register_resident
from yigongti.residents.models import DocType, Resident

from ..actions import DiagnosisInput, EncounterInput, Outcome, Provenance, upsert_encounter
from ..models import EncounterKind, Source
from . import common
from .common import RowError

log = logging.getLogger(__name__)

EVENTS = ("A01", "A04", "A08")
PATIENT_CLASS = {
    "I": EncounterKind.INPATIENT,
    "O": EncounterKind.OUTPATIENT,
    "E": EncounterKind.EMERGENCY,
}
DEFAULT_CLASS = {"A01": EncounterKind.INPATIENT, "A04": EncounterKind.OUTPATIENT}
SEX = {"M": "1", "F": "2", "U": "0", "O": "9", "A": "9", "N": "9"}
#: PID-3 identifiers that are the 居民身份证号: by type code (HL7 table 0203) or by the
#: assigning authority's OID (DESIGN.md: urn:oid:2.16.156.10011.1.3).
ID_CARD_TYPES = {"ID", "NI", "NNCHN", "CZ"}
ID_CARD_OID = "2.16.156.10011.1.3"
SEGMENT_ID = re.compile(r"^[A-Z][A-Z0-9]{2}$")
OUTCOME_TEXT = {
    Outcome.CREATED: "已新增就诊记录",
    Outcome.UPDATED: "已更正就诊记录（内容有变化）",
    Outcome.UNCHANGED: "重复消息，内容未变化",
}


class Refused(Exception):
    """The message cannot be processed: `code` is AR (unreadable) or AE (content refused)."""

    def __init__(self, code: str, column: str, message: str, err_code: str = "207"):
        self.code = code
        self.column = column
        self.message = message
        self.err_code = err_code  # HL7 table 0357
        super().__init__(message)


@dataclass
class Result:
    ack_code: str
    control_id: str
    ack: str
    outcome: Outcome | None = None
    errors: list[RowError] = field(default_factory=list)
    text: str = ""


# ---------------------------------------------------------------------------------------------
# Splitting a file or a body into messages


def split_messages(text: str) -> list[str]:
    """Messages of a file: MLLP framed (0x0B … 0x1C 0x0D), or separated by blank lines, or
    simply one after another (each starts with MSH). Segments end in \\r, \\n or \\r\\n.
    File and batch envelopes (FHS/BHS/BTS/FTS) are skipped. Text before the first MSH is
    kept as a message of its own, so that it is refused and reported, not lost."""
    text = text.replace("\x0b", "\n").replace("\x1c", "\n")
    messages: list[str] = []
    current: list[str] = []

    def flush() -> None:
        if current:
            messages.append("\r".join(current))
            current.clear()

    for line in re.split(r"\r\n|\r|\n", text):
        if not line.strip():
            flush()
        elif line.startswith("MSH"):
            flush()
            current.append(line)
        elif line[:3] in ("FHS", "BHS", "BTS", "FTS"):
            flush()
        else:
            current.append(line)
    flush()
    return messages


# ---------------------------------------------------------------------------------------------
# Reading fields


class Reader:
    """Field access by HL7 position (PID-3, PV1-19) on a python-hl7 message."""

    def __init__(self, msg: Any, text: str):
        self.msg = msg
        enc = text[4:8]
        self.fs = text[3]
        self.comp = enc[0] if len(enc) > 0 else "^"
        self.rep = enc[1] if len(enc) > 1 else "~"
        self.sub = enc[3] if len(enc) > 3 else "&"

    def segments(self, name: str) -> list[Any]:
        return [s for s in self.msg if str(s[0]) == name]

    def segment(self, name: str) -> Any | None:
        found = self.segments(name)
        return found[0] if found else None

    def raw(self, seg: Any, n: int) -> str:
        if seg is None or len(seg) <= n:
            return ""
        return str(seg[n])

    def reps(self, seg: Any, n: int) -> list[list[str]]:
        """Repetitions of a field, each a list of its components (unescaped)."""
        return [
            [self.msg.unescape(c.split(self.sub)[0]) for c in rep.split(self.comp)]
            for rep in self.raw(seg, n).split(self.rep)
        ]

    def get(self, seg: Any, n: int, component: int = 1) -> str:
        first = self.reps(seg, n)[0]
        return first[component - 1].strip() if component <= len(first) else ""


def _check_structure(text: str) -> tuple[str, str]:
    """Refuse what is not an HL7 v2 message; return (control id, event)."""
    if not text.startswith("MSH") or len(text) < 8:
        raise Refused("AR", "MSH", "消息不以 MSH 段开头，无法识别为 HL7 v2 消息", "100")
    fs = text[3]
    segments = text.split("\r")
    for n, seg in enumerate(segments, start=1):
        name = seg.split(fs, 1)[0]
        if not SEGMENT_ID.match(name) or (len(seg) > 3 and seg[3] != fs):
            shown = seg[:30] + ("…" if len(seg) > 30 else "")
            raise Refused(
                "AR",
                f"第{n}段",
                f"第 {n} 段格式错误：“{shown}”（段名应为三位大写字母/数字，后接 {fs}）",
                "100",
            )
    msh = segments[0].split(fs)
    control_id = msh[9].strip() if len(msh) > 9 else ""
    if not control_id:
        raise Refused("AR", "MSH-10", "MSH-10 消息控制号缺失", "101")
    return control_id, ""


def _parse(text: str) -> tuple[Reader, str, str]:
    control_id, _ = _check_structure(text)
    try:
        msg = hl7.parse(text)
    except Exception as exc:  # python-hl7 raises several kinds on malformed input
        raise Refused("AR", "MSH", f"消息无法解析：{exc}", "100") from None
    r = Reader(msg, text)
    msh = r.segment("MSH")
    kind, event = r.get(msh, 9, 1), r.get(msh, 9, 2)
    if kind != "ADT" or event not in EVENTS:
        raise Refused(
            "AR",
            "MSH-9",
            f"不支持的消息类型 {kind}^{event}（只接收 ADT^A01、ADT^A04、ADT^A08）",
            "200",
        )
    for name in ("PID", "PV1"):
        if r.segment(name) is None:
            raise Refused("AR", name, f"消息缺少 {name} 段", "100")
    return r, control_id, event


# ---------------------------------------------------------------------------------------------
# Facility, patient, encounter


def _facility(actor: Actor, r: Reader, default: Facility | None) -> tuple[Facility, str]:
    sender = r.get(r.segment("MSH"), 4, 1)
    if not sender:
        raise Refused("AR", "MSH-4", "MSH-4 发送机构缺失", "101")
    facility = Facility.objects.filter(code=sender).first() or default
    if facility is None:
        raise Refused(
            "AR", "MSH-4", f"MSH-4 发送机构 {sender} 不是平台中的机构编码，且未指定导入机构", "204"
        )
    if not common.may_import_for(actor, facility):
        raise Refused("AR", "MSH-4", f"无权为{facility.name}导入数据", "207")
    return facility, sender


def id_number_of(r: Reader) -> str | None:
    for comps in r.reps(r.segment("PID"), 3):
        value = comps[0].strip() if comps else ""
        if not value:
            continue
        authority = comps[3] if len(comps) > 3 else ""
        type_code = comps[4].strip().upper() if len(comps) > 4 else ""
        declared = type_code in ID_CARD_TYPES or ID_CARD_OID in authority
        number = common.check_id_number(value)
        if number is not None and (declared or not type_code):
            return number
        if declared:
            raise Refused("AE", "PID-3", f"PID-3 中的居民身份证号无效：{value[:4]}…", "102")
    return None


def _name(r: Reader) -> str:
    comps = r.reps(r.segment("PID"), 5)[0]
    family = comps[0].strip() if comps else ""
    given = comps[1].strip() if len(comps) > 1 else ""
    return family + given


def _register(r: Reader, number: str) -> Resident:
    pid = r.segment("PID")
    address = r.reps(pid, 11)[0]
    village_code = address[8].strip() if len(address) > 8 else ""
    village = (
        Division.objects.filter(code=village_code, level=DivisionLevel.VILLAGE).first()
        if village_code
        else None
    )
    if village is None:
        raise Refused(
            "AE",
            "PID-11",
            "居民主索引中没有该居民，且 PID-11.9 未给出有效的村级区划代码，无法自动建档；"
            "请先在平台建档后重发该消息",
            "204",
        )
    birth: date | None = None
    if r.get(pid, 7):
        try:
            birth = common.parse_hl7_time(r.get(pid, 7)).date()
        except ValueError:
            raise Refused(
                "AE", "PID-7", f"PID-7 出生日期格式不正确：{r.get(pid, 7)}", "102"
            ) from None
    data = ResidentInput(
        name=_name(r),
        sex=SEX.get(r.get(pid, 8).upper(), "0"),
        birth_date=birth,
        doc_type=DocType.ID_CARD,
        doc_number=number,
        phone=r.get(pid, 13),
        village_code=village.code,
        address=address[0].strip() if address else "",
    )
    try:
        return do_register_resident(Actor.system(common.SYSTEM_REASON), data)
    except DomainError as exc:
        detail = "；".join(f"{e.field}：{e.msg_zh}" for e in exc.errors)
        raise Refused("AE", "PID", f"自动建档失败：{detail}", "207") from None


def _resident(r: Reader) -> Resident:
    number = id_number_of(r)
    if number is None:
        raise Refused("AE", "PID-3", "PID-3 中没有有效的居民身份证号，无法确定居民", "204")
    resident = common.resident_by_id_number(number)
    if resident is None:
        return _register(r, number)
    if not common.same_name(resident, _name(r)):
        raise Refused(
            "AE",
            "PID-5",
            f"PID-5 姓名与居民主索引不一致（主索引为{common.mask_name(resident.name)}），请核对",
            "207",
        )
    return resident


def _time(r: Reader, seg: Any, n: int, label: str) -> Any:
    value = r.get(seg, n)
    if not value:
        return None
    try:
        return common.parse_hl7_time(value)
    except ValueError:
        raise Refused("AE", f"PV1-{n}", f"PV1-{n} {label}格式不正确：{value}", "102") from None


def _encounter_input(
    r: Reader, facility: Facility, sender: str, event: str
) -> tuple[EncounterInput, dict[str, str]]:
    pv1 = r.segment("PV1")
    visit = r.get(pv1, 19)
    if not visit:
        raise Refused("AE", "PV1-19", "PV1-19 就诊号缺失，无法识别就诊", "101")
    klass = r.get(pv1, 2).upper()
    kind = PATIENT_CLASS.get(klass) if klass else DEFAULT_CLASS.get(event)
    if kind is None:
        raise Refused(
            "AE", "PV1-2", f"PV1-2 患者类别 {klass or '空'} 不支持（I 住院、O 门诊、E 急诊）", "103"
        )
    started = _time(r, pv1, 44, "入院/就诊时间")
    if started is None:
        raise Refused("AE", "PV1-44", "PV1-44 入院/就诊时间缺失", "101")
    ended = _time(r, pv1, 45, "出院时间")
    department = None
    location = r.get(pv1, 3)
    if location:
        department = common.find_department(facility, location)
        if department is None:
            raise Refused(
                "AE", "PV1-3", f"{facility.name}没有编码或名称为“{location}”的科室", "103"
            )
    doctor_id, doctor_name = r.get(pv1, 7, 1), r.get(pv1, 7, 2) + r.get(pv1, 7, 3)
    doctor = (
        common.find_doctor(facility, doctor_id, doctor_name) if doctor_id or doctor_name else None
    )
    notes = (
        f"医生：{doctor_name or doctor_id}" if doctor is None and (doctor_id or doctor_name) else ""
    )
    complaint = r.get(r.segment("PV2"), 3, 2) or r.get(r.segment("PV2"), 3, 1)
    diagnoses: list[tuple[int, int, DiagnosisInput]] = []
    has_priority = False
    for n, dg1 in enumerate(r.segments("DG1")):
        code = r.get(dg1, 3, 1)
        if not code:
            raise Refused("AE", "DG1-3", f"第 {n + 1} 个 DG1 段缺少诊断编码（DG1-3）", "101")
        priority = r.get(dg1, 15)
        has_priority = has_priority or bool(priority)
        rank = int(priority) if priority.isdigit() else 99
        diagnoses.append((rank, n, DiagnosisInput(code)))
    diagnoses.sort(key=lambda t: (t[0], t[1]) if has_priority else (0, t[1]))
    data = EncounterInput(
        kind=kind,
        started_at=started,
        ended_at=ended,
        department_id=department.pk if department else None,
        doctor_id=doctor.pk if doctor else None,
        complaint=complaint[:500],
        notes=notes,
        diagnoses=[d for _, _, d in diagnoses],
        facility_id=facility.pk,
        provenance=Provenance(Source.HL7, sender, visit),
    )
    columns = {
        "kind": "PV1-2",
        "started_at": "PV1-44",
        "ended_at": "PV1-45",
        "department_id": "PV1-3",
        "doctor_id": "PV1-7",
        "complaint": "PV2-3",
        "diagnoses": "DG1-3",
        "facility": "MSH-4",
    }
    return data, columns


# ---------------------------------------------------------------------------------------------
# Handling one message and answering it


def _escape(text: str) -> str:
    out = text.replace("\\", "\\E\\")
    for ch, esc in (("|", "\\F\\"), ("^", "\\S\\"), ("~", "\\R\\"), ("&", "\\T\\")):
        out = out.replace(ch, esc)
    return out.replace("\r", " ").replace("\n", " ")


def build_ack(text: str, code: str, control_id: str, note: str, err_code: str = "") -> str:
    """The ACK of a message (MSA-1 code, MSA-2 its MSH-10, MSA-3 a Chinese text), with an ERR
    segment when refused. Unreadable messages get an ACK built from scratch."""
    now = timezone.localtime().strftime("%Y%m%d%H%M%S")
    ack_id = f"ACK{now}{secrets.token_hex(2)}"
    header = None
    if text.startswith("MSH") and len(text) > 8:
        try:
            msg = hl7.parse(text.split("\r", 1)[0])
            header = str(msg.create_ack(code, message_id=ack_id).segment("MSH"))
        except Exception:  # fall back to a plain header below
            header = None
    if header is None:
        header = f"MSH|^~\\&|YGT|YGT|||{now}||ACK|{ack_id}|P|2.5"
    lines = [header, f"MSA|{code}|{_escape(control_id)}|{_escape(note)[:200]}"]
    if code != "AA":
        lines.append(f"ERR||||E|{err_code or '207'}^^HL70357|||{_escape(note)}")
    return "\r".join(lines)


def handle_message(
    actor: Actor, text: str, default_facility: Facility | None, *, index: int = 0
) -> Result:
    """Import one message and answer it. Never raises for bad input: the ACK says why."""
    text = text.strip("\r\n \x0b\x1c")
    control_id = ""
    try:
        r, control_id, event = _parse(text)
        facility, sender = _facility(actor, r, default_facility)
        resident = _resident(r)
        data, columns = _encounter_input(r, facility, sender, event)
        try:
            _, outcome = upsert_encounter(Actor.system(common.SYSTEM_REASON), resident, data)
        except DomainError as exc:
            errors = common.field_errors_to_rows(exc, index, control_id, columns, "")
            note = "；".join(f"{e.column}：{e.message}" for e in errors)
            for e in errors:
                e.raw = text
            return Result(
                "AE", control_id, build_ack(text, "AE", control_id, note), None, errors, text
            )
        except Forbidden as exc:
            raise Refused("AR", "MSH-4", exc.msg_zh) from None
    except Exception as exc:  # a platform fault: answer AE and keep the message to re-send
        if isinstance(exc, Refused):
            return _refused(exc, text, control_id, index)
        log.exception("HL7 message %s", control_id)
        return _refused(
            Refused("AE", "", f"平台内部错误（{type(exc).__name__}），请稍后重发该消息"),
            text,
            control_id,
            index,
        )
    return Result(
        "AA",
        control_id,
        build_ack(text, "AA", control_id, OUTCOME_TEXT[outcome]),
        outcome,
        [],
        text,
    )


def _refused(exc: Refused, text: str, control_id: str, index: int) -> Result:
    if not control_id and text.startswith("MSH") and len(text) > 3:
        parts = text.split("\r", 1)[0].split(text[3])
        control_id = parts[9].strip() if len(parts) > 9 else ""
    error = RowError(index, exc.column, exc.message, control_id, text)
    note = f"{exc.column}：{exc.message}" if exc.column else exc.message
    return Result(
        exc.code,
        control_id,
        build_ack(text, exc.code, control_id, note, exc.err_code),
        None,
        [error],
        text,
    )
