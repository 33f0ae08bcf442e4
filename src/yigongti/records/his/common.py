"""Pieces the CSV and HL7 importers share: who may import for which facility, finding the
resident a row or message is about, parsing HIS times, and row errors."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from yigongti.accounts.rules import Perm
from yigongti.core.actor import Actor, ScopeKind
from yigongti.core.errors import DomainError, FieldError, Forbidden
from yigongti.network.models import Department, Facility, Staff
from yigongti.residents.models import DocType, Resident, ResidentStatus
from yigongti.residents.queries import survivor_of
from yigongti.residents.rules import RuleError as IdError
from yigongti.residents.rules import normalize_name, parse_id_number

from ..actions import SHANGHAI

#: The platform itself writes imported records; the job remembers who started it.
SYSTEM_REASON = "his-import"


@dataclass
class RowError:
    """One problem of one CSV row or HL7 message, as the job's error table shows it."""

    line: int  # CSV line number, or the message's position in an HL7 file
    column: str  # CSV column, or HL7 field such as "PID-3"
    message: str  # Chinese, for the user
    key: str = ""  # visit_id (CSV) or MSH-10 control id (HL7)
    raw: str = ""  # the failed HL7 message itself, so nothing is lost

    def as_dict(self) -> dict[str, object]:
        return {
            "line": self.line,
            "column": self.column,
            "message": self.message,
            "key": self.key,
            "raw": self.raw,
        }


class RowFailed(Exception):
    def __init__(self, errors: list[RowError]):
        self.errors = errors
        super().__init__("; ".join(e.message for e in errors))


def may_import(actor: Actor) -> None:
    if not (actor.is_system or actor.can(Perm.IMPORT_RECORDS)):
        raise Forbidden("无权导入数据", "Not allowed to import records")


def may_import_for(actor: Actor, facility: Facility) -> bool:
    """The platform and a county-wide administrator import for any facility; a group
    administrator for the facilities of their group; anyone else for their own facility."""
    if actor.is_system or actor.scope.kind == ScopeKind.ALL:
        return True
    if actor.facility_id is not None:
        return facility.pk == actor.facility_id
    return actor.group_id is not None and facility.group_id == actor.group_id


def import_facility(actor: Actor, code: str = "") -> Facility:
    """The facility records are imported for: the one named by `code`, else the actor's."""
    may_import(actor)
    code = code.strip()
    if code:
        facility = Facility.objects.filter(code=code).first()
        if facility is None:
            raise DomainError.single(
                "facility", f"机构编码不存在：{code}", f"Unknown facility {code}", "unknown"
            )
    elif actor.facility_id is not None:
        facility = Facility.objects.get(pk=actor.facility_id)
    else:
        raise DomainError.single(
            "facility", "请选择导入到哪个机构", "A facility code is required", "required"
        )
    if not may_import_for(actor, facility):
        raise Forbidden("只能为本机构（或本医共体的机构）导入数据", "Facility outside your group")
    return facility


# ---------------------------------------------------------------------------------------------
# Residents


def mask_name(name: str) -> str:
    return name[:1] + "*" * max(1, len(name) - 1) if name else ""


def resident_by_id_number(raw: str) -> Resident | None:
    number = raw.strip().upper()
    found = (
        Resident.objects.filter(doc_type=DocType.ID_CARD, doc_number=number)
        .order_by("status", "pk")  # "active" sorts before "merged"
        .first()
    )
    return survivor_of(found) if found is not None else None


def resident_by_mpi(mpi_id: str) -> Resident | None:
    found = Resident.objects.filter(mpi_id=mpi_id.strip()).first()
    return survivor_of(found) if found is not None else None


def check_id_number(raw: str) -> str | None:
    """The normalised number when `raw` is a valid 18-character 居民身份证号, else None."""
    from django.utils import timezone

    try:
        return parse_id_number(raw, today=timezone.localdate()).number
    except IdError:
        return None


def same_name(resident: Resident, given: str) -> bool:
    """Empty says nothing; otherwise the name must be the index's (spacing normalised)."""
    return not given.strip() or normalize_name(given) == normalize_name(resident.name)


def check_name(resident: Resident, given: str, column: str, line: int, key: str) -> None:
    if not same_name(resident, given):
        raise RowFailed(
            [
                RowError(
                    line,
                    column,
                    f"姓名与居民主索引不一致（主索引为{mask_name(resident.name)}），请核对证件号",
                    key,
                )
            ]
        )


def is_active(resident: Resident) -> bool:
    return resident.status == ResidentStatus.ACTIVE


# ---------------------------------------------------------------------------------------------
# Departments and doctors of the facility


def find_department(facility: Facility, text: str) -> Department | None:
    value = text.strip()
    if not value:
        return None
    by_code = Department.objects.filter(facility=facility, code=value).first()
    return by_code or Department.objects.filter(facility=facility, name=value).first()


def find_doctor(facility: Facility, licence_or_name: str, name: str = "") -> Staff | None:
    """A doctor by licence number, else by a name unique in the facility."""
    key = licence_or_name.strip()
    if key:
        by_licence = Staff.objects.filter(licence_no=key).first()
        if by_licence is not None:
            return by_licence
    for candidate in (name.strip(), key):
        if candidate:
            same = list(Staff.objects.filter(facility=facility, name=candidate)[:2])
            if len(same) == 1:
                return same[0]
    return None


# ---------------------------------------------------------------------------------------------
# Times

_CSV_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y%m%d%H%M%S",
    "%Y%m%d%H%M",
    "%Y%m%d",
)


def parse_csv_time(text: str) -> datetime:
    """A HIS export time; naive values are Beijing time. ValueError when unreadable."""
    value = text.strip()
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is None:
        for fmt in _CSV_FORMATS:
            try:
                parsed = datetime.strptime(value, fmt)  # noqa: DTZ007 - made aware below
                break
            except ValueError:
                continue
    if parsed is None:
        raise ValueError(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=SHANGHAI)


_TS = re.compile(
    r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.\d{1,4})?(?:([+-])(\d{2})(\d{2}))?$"
)


def parse_hl7_time(text: str) -> datetime:
    """An HL7 TS/DTM (YYYYMMDD[HHMM[SS[.S]]][+/-ZZZZ]); naive is Beijing time."""
    from datetime import timedelta, timezone

    m = _TS.match(text.strip())
    if m is None:
        raise ValueError(text)
    y, mo, d, h, mi, s, sign, zh, zm = m.groups()
    tz = SHANGHAI
    if sign:
        offset = timedelta(hours=int(zh), minutes=int(zm))
        tz = timezone(offset if sign == "+" else -offset)  # type: ignore[assignment]
    return datetime(
        int(y), int(mo or 1), int(d or 1), int(h or 0), int(mi or 0), int(s or 0), tzinfo=tz
    )


def field_errors_to_rows(
    exc: DomainError, line: int, key: str, column_of: dict[str, str], default: str
) -> list[RowError]:
    """Turn an action's field errors into row errors that name the CSV column / HL7 field."""
    return [RowError(line, _column(e, column_of, default), e.msg_zh, key) for e in exc.errors]


def _column(e: FieldError, column_of: dict[str, str], default: str) -> str:
    field = e.field
    if field in column_of:
        return column_of[field]
    parts = field.split(".")
    for n in range(len(parts), 0, -1):
        head = ".".join(parts[:n])
        if head in column_of:
            return column_of[head]
    return column_of.get(parts[0], default or field)
