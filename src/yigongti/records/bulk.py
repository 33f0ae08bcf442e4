"""Bulk NDJSON import of FHIR resources (one resource per line): the fast path for the large
files a hospital's HIS exports (FHIR Bulk Data style).

Observations take the fast path: a chunk of lines is parsed and checked with the same
plausibility rules as every other write (`rules.check_vital`, `rules.check_clinical_time`),
its patients resolved with one query, its identities looked up with one query, and written
with COPY on PostgreSQL (`bulk_create` elsewhere), with the timeline `Entry` rows, in one
transaction and with one audit entry per chunk. A line's first identifier (system|value,
i.e. source_system/source_id) is the idempotency key, exactly as for a single POST: the
same content again is `unchanged`, changed content an amendment (the old version stays,
`amended`). The digest is the one `upsert_observation` computes, so a resource sent once by
POST and once in a file is still the same resource.

Other resource types (Encounter, Condition, MedicationRequest, DiagnosticReport) go line by
line through `other`, a handler the caller supplies (the FHIR facade's create path); without
one they are reported as failed lines. Bad lines are reported with their line number and the
FHIR path of the element; good lines are kept. Progress lives in an `ImportJob` (kind ndjson).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone

from yigongti.core import audit
from yigongti.core.actor import Actor
from yigongti.core.errors import Forbidden
from yigongti.residents.models import Resident
from yigongti.residents.queries import residents_visible_to, survivor_of

from . import rules
from .actions import RECORD, SHANGHAI, ObservationInput, Outcome, Provenance, aware
from .models import (
    Encounter,
    Entry,
    EntryKind,
    ImportJob,
    ImportKind,
    ImportStatus,
    Observation,
    Source,
    VersionStatus,
)

CHUNK = 2000
MAX_ERRORS = 1000  # kept on the job; the counts stay exact beyond it
ID_CARD_SYSTEM = "urn:oid:2.16.156.10011.1.3"
LOINC = "http://loinc.org"
VITAL_UNITS = {k: (v.unit, v.unit_label) for k, v in rules.VITALS.items()}


def mpi_system() -> str:
    """The platform's index-number identifier system (the FHIR facade's systems.mpi_system:
    the records layer cannot import it, the value is the same setting)."""
    return f"{str(settings.YGT['IDENTIFIER_BASE']).rstrip('/')}/mpi"


class LineError(Exception):
    """One line that cannot be imported: where (FHIR path) and why."""

    def __init__(self, path: str, code: str, msg_zh: str, msg_en: str):
        self.path, self.code, self.msg_zh, self.msg_en = path, code, msg_zh, msg_en
        super().__init__(msg_en)


#: Handles one non-Observation resource: returns the outcome or raises LineError.
OtherHandler = Callable[[int, dict[str, Any]], Outcome]


@dataclass
class _Obs:
    line: int
    patient_key: tuple[str, str]  # ("mpi", value) or ("doc", value)
    data: ObservationInput
    where: dict[str, str]


# --- parsing one Observation (same reading as the FHIR facade's single POST) --------------


def _time(raw: Any) -> datetime | None:
    if not raw:
        return None
    text = str(raw)
    try:
        if len(text) == 10:
            return datetime.combine(datetime.fromisoformat(text).date(), time.min, SHANGHAI)
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=SHANGHAI)


def _qty(holder: dict[str, Any]) -> Any:
    q = holder.get("valueQuantity")
    if isinstance(q, dict):
        return q.get("value")
    return holder.get("valueInteger")


def _codings(concept: Any) -> list[dict[str, Any]]:
    return list((concept or {}).get("coding") or []) if isinstance(concept, dict) else []


def _patient_key(res: dict[str, Any]) -> tuple[str, str]:
    subject = res.get("subject")
    if not isinstance(subject, dict):
        raise LineError(
            "Observation.subject", "required", "缺少 subject（居民）", "subject is required"
        )
    ref = str(subject.get("reference") or "")
    if ref.startswith("Patient/"):
        return ("mpi", ref[8:])
    ident = subject.get("identifier") or {}
    system, value = str(ident.get("system") or ""), str(ident.get("value") or "").strip()
    if value and system == ID_CARD_SYSTEM:
        return ("doc", value.upper())
    if value and system == mpi_system():
        return ("mpi", value)
    raise LineError(
        "Observation.subject",
        "unknown_patient",
        "subject 须为 Patient/<主索引号> 或带身份证号/主索引号体系的 identifier",
        "subject must be Patient/<index number> or an identifier (ID card or index number)",
    )


def parse_observation(res: dict[str, Any], line: int) -> _Obs:
    """Mirrors fhir.clinical.observation_fields: the same input gives the same digest."""
    path = "Observation"
    if res.get("status") not in ("registered", "preliminary", "final", "amended", "corrected"):
        raise LineError(
            f"{path}.status", "code_invalid", "status 缺失或不合法", "status is missing or invalid"
        )
    key = _patient_key(res)
    codings = _codings(res.get("code"))
    if not codings and not (res.get("code") or {}).get("text"):
        raise LineError(f"{path}.code", "required", "缺少 code", "code is required")
    kind, code, name = "", "", ""
    for c in codings:
        if c.get("system") == LOINC and c.get("code") in rules.KIND_BY_CODE:
            kind = rules.KIND_BY_CODE[str(c["code"])]
            break
    if not kind:
        first = codings[0] if codings else {}
        code = str(first.get("code") or "").strip()
        name = str((res.get("code") or {}).get("text") or first.get("display") or "").strip()
        kind = "lab"
    data = ObservationInput(kind=kind, code=code, name=name)
    where = {"effective_at": f"{path}.effectiveDateTime", "value": f"{path}.valueQuantity.value"}
    data.effective_at = _time(
        res.get("effectiveDateTime")
        or (res.get("effectivePeriod") or {}).get("start")
        or res.get("issued")
    )
    if data.effective_at is None:
        raise LineError(
            f"{path}.effective[x]",
            "required",
            "缺少或无法识别测量时间 effectiveDateTime",
            "effectiveDateTime is missing or not a dateTime",
        )
    if kind == "bp":
        for i, comp in enumerate(res.get("component") or []):
            codes = {str(c.get("code")) for c in _codings(comp.get("code"))}
            if rules.SBP_CODE in codes:
                data.value = _qty(comp)
                where["systolic"] = f"{path}.component[{i}].valueQuantity.value"
            elif rules.DBP_CODE in codes:
                data.value2 = _qty(comp)
                where["diastolic"] = f"{path}.component[{i}].valueQuantity.value"
        where.setdefault("systolic", f"{path}.component")
        where.setdefault("diastolic", f"{path}.component")
    elif kind in rules.VITALS:
        data.value = _qty(res)
        where[kind] = f"{path}.valueQuantity.value"
        q = res.get("valueQuantity") or {}
        unit = str(q.get("code") or q.get("unit") or "")
        if unit and unit not in VITAL_UNITS[kind]:
            raise LineError(
                f"{path}.valueQuantity.code",
                "wrong_unit",
                f"单位应为 {VITAL_UNITS[kind][1]}",
                f"unit must be {VITAL_UNITS[kind][0]} (UCUM)",
            )
    else:
        data.value = _qty(res)
        data.value_text = str(res.get("valueString") or "")
        q = res.get("valueQuantity") or {}
        data.unit = str(q.get("unit") or q.get("code") or "")
    for interp in res.get("interpretation") or []:
        for c in _codings(interp):
            if c.get("code"):
                data.flag = str(c["code"])[:2]
    ref = str((res.get("encounter") or {}).get("reference") or "")
    if ref:
        key_id = ref.rsplit("/", 1)[-1]
        if not (ref.startswith("Encounter/") and key_id.isdigit()):
            raise LineError(
                f"{path}.encounter", "unknown_encounter", f"找不到就诊 {ref}", f"Unknown {ref}"
            )
        data.encounter_id = int(key_id)
    for ident in res.get("identifier") or []:
        value = str(ident.get("value") or "").strip()
        system = str(ident.get("system") or "").strip()
        if value:
            if len(system) > 64 or len(value) > 128:
                raise LineError(f"{path}.identifier", "too_long", "标识过长", "identifier too long")
            data.provenance = Provenance(Source.FHIR, system, value)
            break
    else:
        data.provenance = Provenance(Source.FHIR)
    return _Obs(line, key, data, where)


def _check(o: _Obs, resident: _Who, now: datetime) -> dict[str, Any]:
    """Plausibility (records.rules), then the row to write."""
    d = o.data
    assert d.effective_at is not None
    try:
        rules.check_clinical_time(
            "effective_at",
            d.effective_at,
            now=now,
            birth_date=resident.birth_date,
            birth_day_start=datetime.combine(resident.birth_date, time.min, tzinfo=SHANGHAI),
        )
    except rules.RuleError as exc:
        raise LineError(o.where["effective_at"], exc.code, exc.msg_zh, exc.msg_en) from None
    if d.kind in rules.VITALS:
        try:
            value, value2 = rules.check_vital(d.kind, d.value, d.value2)
        except rules.RuleError as exc:
            raise LineError(
                o.where.get(exc.field, o.where["value"]), exc.code, exc.msg_zh, exc.msg_en
            ) from None
        spec = rules.VITALS[d.kind]
        return {
            "kind": d.kind,
            "code": spec.code,
            "name": spec.name,
            "value": value,
            "value2": value2,
            "unit": spec.unit_label,
            "flag": d.flag[:2],
            "effective_at": d.effective_at,
        }
    if not (d.code and d.name):
        raise LineError(
            "Observation.code",
            "required",
            "检验项目须有编码和名称（code.coding.code 与 code.text）",
            "a lab result needs a code and a name",
        )
    number: float | None = None
    if d.value not in (None, ""):
        try:
            number = float(d.value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise LineError(
                o.where["value"], "not_a_number", "结果须为数字", "value must be a number"
            ) from None
    elif not d.value_text.strip():
        raise LineError("Observation.value[x]", "required", "缺少结果", "A value is required")
    return {
        "kind": "lab",
        "code": d.code[:24],
        "name": d.name[:80],
        "value": number,
        "value_text": d.value_text.strip()[:200],
        "unit": d.unit.strip()[:20],
        "flag": d.flag[:2],
        "effective_at": d.effective_at,
    }


# --- the job ---------------------------------------------------------------------------


@dataclass
class _Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0


class _Job:
    def __init__(self, job: ImportJob):
        self.job = job
        self.counts = _Counts()
        self.errors: list[dict[str, Any]] = []

    def fail(self, line: int, exc: LineError) -> None:
        self.counts.failed += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(
                {
                    "line": line,
                    "path": exc.path,
                    "code": exc.code,
                    "msg_zh": exc.msg_zh,
                    "msg_en": exc.msg_en,
                }
            )

    def count(self, outcome: Outcome) -> None:
        if outcome == Outcome.CREATED:
            self.counts.created += 1
        elif outcome == Outcome.UPDATED:
            self.counts.updated += 1
        else:
            self.counts.unchanged += 1


def _lines(raw: bytes) -> Iterator[tuple[int, bytes]]:
    for number, line in enumerate(raw.split(b"\n"), start=1):
        if line.strip():
            yield number, line


@dataclass(frozen=True, slots=True)
class _Who:
    pk: int
    birth_date: date


def _resolve_patients(
    actor: Actor, items: list[_Obs]
) -> tuple[dict[tuple[str, str], _Who], set[int]]:
    """Patients of a chunk with two queries (by index number, by ID card), survivors of
    merged records, and which of them the actor may write for."""
    mpis = {k[1] for k in (o.patient_key for o in items) if k[0] == "mpi"}
    docs = {k[1] for k in (o.patient_key for o in items) if k[0] == "doc"}
    fields = ("pk", "birth_date", "merged_into_id")
    found: dict[tuple[str, str], _Who] = {}
    merged: dict[tuple[str, str], int] = {}
    for mpi, pk, born, into in Resident.objects.filter(mpi_id__in=mpis).values_list(
        "mpi_id", *fields
    ):
        found[("mpi", mpi)] = _Who(pk, born)
        if into is not None:
            merged[("mpi", mpi)] = pk
    for doc, pk, born, into in (
        Resident.objects.filter(doc_number__in=docs)
        .order_by("-pk")
        .values_list("doc_number", *fields)
    ):
        if ("doc", doc) not in found or into is None:
            found[("doc", doc)] = _Who(pk, born)
            merged.pop(("doc", doc), None)
            if into is not None:
                merged[("doc", doc)] = pk
    for key, pk in merged.items():
        r = survivor_of(Resident.objects.get(pk=pk))
        found[key] = _Who(r.pk, r.birth_date)
    ids = {w.pk for w in found.values()}
    if actor.is_system:
        allowed = ids
    else:
        allowed = set(residents_visible_to(actor).filter(pk__in=ids).values_list("pk", flat=True))
    return found, allowed


def _write_observations(
    actor: Actor, state: _Job, items: list[_Obs], seen: dict[tuple[str, str], str]
) -> None:
    now = timezone.now()
    patients, allowed = _resolve_patients(actor, items)
    encounter_ids = {o.data.encounter_id for o in items if o.data.encounter_id}
    enc_owner = dict(
        Encounter.objects.filter(pk__in=encounter_ids, status=VersionStatus.CURRENT).values_list(
            "pk", "resident_id"
        )
    )
    ready: list[tuple[_Obs, dict[str, Any], str]] = []
    keys: dict[tuple[str, str], tuple[int, str]] = {}
    for o in items:
        resident = patients.get(o.patient_key)
        try:
            if resident is None:
                raise LineError(
                    "Observation.subject", "unknown_patient", "找不到该居民", "Unknown patient"
                )
            if resident.pk not in allowed:
                raise LineError(
                    "Observation.subject",
                    "out_of_scope",
                    "该居民不在您的服务范围内",
                    "Resident is outside your area",
                )
            if o.data.encounter_id and o.data.encounter_id not in enc_owner:
                raise LineError(
                    "Observation.encounter",
                    "unknown_encounter",
                    "找不到引用的就诊（或已被更正）",
                    "Unknown or no longer current encounter",
                )
            row = _check(o, resident, now)
        except LineError as exc:
            state.fail(o.line, exc)
            continue
        digest = digest_of(o.data)
        prov = o.data.provenance
        if prov.source_id:
            key = (prov.source_system, prov.source_id)
            if key in seen:
                if seen[key] == digest:
                    state.count(Outcome.UNCHANGED)
                else:
                    state.fail(
                        o.line,
                        LineError(
                            "Observation.identifier",
                            "repeated_identifier",
                            "同一文件中该标识出现多次且内容不同",
                            "The identifier repeats in the file with different content",
                        ),
                    )
                continue
            seen[key] = digest
            keys[key] = (len(ready), digest)
        row.update(
            resident_id=resident.pk,
            facility_id=None if actor.is_system else actor.facility_id,
            encounter_id=o.data.encounter_id,
            source=Source.FHIR,
            source_system=prov.source_system,
            source_id=prov.source_id,
            digest=digest,
            recorded_by_id=actor.user_id,
            recorded_at=now,
        )
        ready.append((o, row, digest))
    if not ready:
        return
    # One query for the versions already stored under these identities.
    existing: dict[tuple[str, str], tuple[int, str]] = {}
    if keys:
        by_system: dict[str, list[str]] = {}
        for system, value in keys:
            by_system.setdefault(system, []).append(value)
        for system, values in by_system.items():
            # `source_id <> ''` repeats the partial unique index's condition, which the
            # planner cannot infer from a long IN list: without it the index is unusable.
            for pk, sid, dig in (
                Observation.objects.filter(
                    status=VersionStatus.CURRENT, source_system=system, source_id__in=values
                )
                .exclude(source_id="")
                .values_list("pk", "source_id", "digest")
            ):
                existing[(system, sid)] = (pk, dig)
    rows: list[dict[str, Any]] = []
    retire: list[int] = []
    outcomes: list[Outcome] = []
    for _o, row, digest in ready:
        key = (row["source_system"], row["source_id"])
        old = existing.get(key) if row["source_id"] else None
        if old is not None and old[1] == digest:
            state.count(Outcome.UNCHANGED)
            continue
        if old is not None:
            retire.append(old[0])
            row["replaces_id"] = old[0]
            row["amend_reason"] = "来源系统更新"
        rows.append(row)
        outcomes.append(Outcome.UPDATED if old is not None else Outcome.CREATED)
    if not rows:
        return
    with transaction.atomic():
        if retire:
            Observation.objects.filter(pk__in=retire, status=VersionStatus.CURRENT).update(
                status=VersionStatus.AMENDED
            )
            Entry.objects.filter(object_type="observation", object_id__in=retire).update(
                status=VersionStatus.AMENDED
            )
        ids = insert_rows(Observation, rows)
        insert_rows(
            Entry,
            [
                {
                    "resident_id": r["resident_id"],
                    "occurred_at": r["effective_at"],
                    "kind": EntryKind.OBSERVATION,
                    "object_type": "observation",
                    "object_id": pk,
                    "title": f"{r['name']} {_display(r)}"[:200],
                    "summary": "FHIR 批量导入",
                    "facility_id": r["facility_id"],
                }
                for r, pk in zip(rows, ids, strict=True)
            ],
        )
    for outcome in outcomes:
        state.count(outcome)


def _display(r: dict[str, Any]) -> str:
    value, value2, unit = r.get("value"), r.get("value2"), r.get("unit", "")
    if value is None:
        return str(r.get("value_text", ""))
    if value2 is not None:
        return f"{value:g}/{value2:g} {unit}".strip()
    return f"{value:g} {unit}".strip()


def digest_of(data: ObservationInput) -> str:
    """`actions.digest` of an ObservationInput, without dataclasses.asdict's deep copy
    (its fields are plain values): the same text, so the same digest."""
    payload = {f: getattr(data, f) for f in _OBS_FIELDS}
    text = json.dumps(payload, sort_keys=True, default=_json_default, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


_OBS_FIELDS = [f for f in ObservationInput.__dataclass_fields__ if f != "provenance"]


def _json_default(o: object) -> str:
    return o.isoformat() if isinstance(o, date | datetime) else str(o)


def row_of(obj: models.Model, **given: Any) -> dict[str, Any]:
    """A model instance as {attname: value} for `insert_rows` (its primary key left out);
    `given` fills or overrides columns (ids, auto_now_add timestamps the database would set)."""
    out: dict[str, Any] = {
        f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields if not f.primary_key
    }
    out.update(given)
    return out


def insert_rows(model: type[models.Model], rows: list[dict[str, Any]]) -> list[int]:
    """Insert rows given as {attname: value} (missing fields take their defaults) and return
    their ids, in order. PostgreSQL: ids drawn from the sequence in one query, rows sent with
    COPY (JSON fields adapted as jsonb); elsewhere bulk_create. No signals, no auto_now: the
    caller gives timestamps. Used by the bulk import paths and the synthetic county."""
    if connection.vendor != "postgresql":
        objs = model._default_manager.bulk_create([model(**r) for r in rows])
        return [int(o.pk) for o in objs]
    if not rows:
        return []
    from psycopg.types.json import Jsonb

    table = model._meta.db_table
    fields = list(model._meta.concrete_fields)
    defaults = {f.attname: f.get_default() for f in fields if not f.primary_key and f.attname}
    json_fields = {f.attname for f in fields if isinstance(f, models.JSONField)}
    with connection.cursor() as cur:
        cur.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [table, len(rows)],
        )
        ids = [int(r[0]) for r in cur.fetchall()]
        columns = [f.column for f in fields]
        names = [f.attname for f in fields]
        raw = cur.cursor  # the psycopg cursor under Django's wrapper, so errors are
        # translated below (a unique violation must arrive as IntegrityError)
        sql = f'COPY "{table}" ({", ".join(chr(34) + c + chr(34) for c in columns)}) FROM STDIN'
        with connection.wrap_database_errors, raw.copy(sql) as copy:
            for pk, r in zip(ids, rows, strict=True):
                values = [pk if n == "id" else r.get(n, defaults.get(n)) for n in names]
                if json_fields:
                    values = [
                        Jsonb(v) if n in json_fields and v is not None else v
                        for n, v in zip(names, values, strict=True)
                    ]
                copy.write_row(values)
    return ids


def import_ndjson(
    actor: Actor,
    raw: bytes,
    *,
    name: str = "ndjson",
    source_system: str = "",
    other: OtherHandler | None = None,
    chunk: int = CHUNK,
) -> ImportJob:
    """Import an NDJSON file; returns the finished ImportJob with counts and line errors."""
    if not (actor.is_system or actor.can("import_records")):
        raise Forbidden("无权导入数据", "Not allowed to import records")
    total = sum(1 for _ in _lines(raw))
    job = ImportJob.objects.create(
        kind=ImportKind.NDJSON,
        name=name[:200],
        sha256=hashlib.sha256(raw).hexdigest(),
        source_system=source_system[:64],
        facility_id=actor.facility_id,
        status=ImportStatus.RUNNING,
        total=total,
        created_by_id=actor.user_id,
    )
    state = _Job(job)
    seen: dict[tuple[str, str], str] = {}
    processed = 0
    batch: list[tuple[int, bytes]] = []

    def flush() -> None:
        nonlocal processed
        before = (
            state.counts.created,
            state.counts.updated,
            state.counts.unchanged,
            state.counts.failed,
        )
        observations: list[_Obs] = []
        for number, line in batch:
            try:
                res = json.loads(line)
                if not isinstance(res, dict):
                    raise ValueError
            except (ValueError, UnicodeDecodeError):
                state.fail(
                    number,
                    LineError(
                        "", "structure", "该行不是 JSON 对象", "The line is not a JSON object"
                    ),
                )
                continue
            rtype = res.get("resourceType")
            try:
                if rtype == "Observation":
                    observations.append(parse_observation(res, number))
                elif other is not None and rtype in (
                    "Encounter",
                    "Condition",
                    "MedicationRequest",
                    "DiagnosticReport",
                ):
                    # Earlier Observations of the chunk first: keep the file's order.
                    if observations:
                        _write_chunk(actor, state, observations, seen)
                        observations = []
                    state.count(other(number, res))
                else:
                    raise LineError(
                        "resourceType",
                        "not_supported",
                        f"不支持批量导入的资源类型：{rtype}",
                        f"Unsupported resource type for bulk import: {rtype}",
                    )
            except LineError as exc:
                state.fail(number, exc)
        if observations:
            _write_chunk(actor, state, observations, seen)
        processed += len(batch)
        c = state.counts
        ImportJob.objects.filter(pk=job.pk).update(
            processed=processed,
            created=c.created,
            updated=c.updated,
            unchanged=c.unchanged,
            failed=c.failed,
        )
        audit.record(
            actor,
            audit.Action.IMPORT,
            "import_job",
            str(job.pk),
            detail={
                "kind": "ndjson",
                "lines": [batch[0][0], batch[-1][0]],
                "created": c.created - before[0],
                "updated": c.updated - before[1],
                "unchanged": c.unchanged - before[2],
                "failed": c.failed - before[3],
            },
        )

    try:
        for item in _lines(raw):
            batch.append(item)
            if len(batch) >= chunk:
                flush()
                batch = []
        if batch:
            flush()
    except Exception as exc:
        # Chunks written so far stay (each is complete); the job says where it stopped.
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportStatus.FAILED,
            finished_at=timezone.now(),
            errors=sorted(state.errors, key=lambda e: e["line"]),
            message=f"导入中断于第 {processed + 1} 行之后：{type(exc).__name__}"[:300],
        )
        raise
    c = state.counts
    job.processed = processed
    job.created, job.updated, job.unchanged, job.failed = (
        c.created,
        c.updated,
        c.unchanged,
        c.failed,
    )
    job.errors = sorted(state.errors, key=lambda e: e["line"])
    job.status = ImportStatus.DONE
    job.finished_at = timezone.now()
    job.message = f"新增 {c.created}，更正 {c.updated}，未变 {c.unchanged}，失败 {c.failed}"
    job.save()
    return job


def _write_chunk(
    actor: Actor, state: _Job, observations: list[_Obs], seen: dict[tuple[str, str], str]
) -> None:
    """Write a chunk; if another import wrote the same identities meanwhile (the unique
    constraint fires), re-read and try once more."""
    snapshot = (dict(seen), _Counts(**vars(state.counts)), list(state.errors))
    try:
        _write_observations(actor, state, observations, seen)
    except IntegrityError:
        seen.clear()
        seen.update(snapshot[0])
        state.counts = snapshot[1]
        state.errors = snapshot[2]
        _write_observations(actor, state, observations, seen)


# --- batches of standalone observations (home devices) ----------------------------------


@dataclass(frozen=True, slots=True)
class Written:
    """What `write_observations` did with one item: its outcome and observation (the stored
    version, or the earlier one for `unchanged`), or why it was not written."""

    outcome: Outcome | None
    observation_id: int | None = None
    resident_id: int | None = None
    error: LineError | None = None


def _current_versions(keys: set[tuple[str, str]]) -> dict[tuple[str, str], tuple[int, str]]:
    """(source_system, source_id) → (pk, digest) of the current versions, in one query."""
    if not keys:
        return {}
    systems = sorted({k[0] for k in keys})
    values = sorted({k[1] for k in keys})
    found: dict[tuple[str, str], tuple[int, str]] = {}
    for pk, system, sid, dig in (
        Observation.objects.filter(
            status=VersionStatus.CURRENT, source_system__in=systems, source_id__in=values
        )
        .exclude(source_id="")  # the partial unique index's condition (see above)
        .values_list("pk", "source_system", "source_id", "digest")
    ):
        if (system, sid) in keys:
            found[(system, sid)] = (pk, dig)
    return found


def write_observations(
    actor: Actor,
    items: list[tuple[int, ObservationInput]],
    *,
    facility_id: int | None = None,
    summary: str = "批量写入",
    amend: bool = True,
) -> list[Written]:
    """Write many standalone observations (resident id, input) at once: the batch form of
    `actions.upsert_observation` for high-rate sources (home devices). The same checks
    (plausible time and value), the same idempotency by (source_system, source_id) and the
    same digest, so an item sent once singly and once in a batch is one observation: the same
    content again is `unchanged`, other content an amendment (`amend=False`: `unchanged`
    too, the first version stands). Observations and their timeline entries go in with COPY
    on PostgreSQL, in one transaction with one audit entry for the batch. Returns one
    `Written` per item, in order; bad items carry their error and are not written."""
    if not (actor.is_system or actor.can(RECORD)):
        raise Forbidden("无权录入诊疗记录", "Not allowed to write clinical records")
    try:
        return _write_batch(actor, items, facility_id, summary, amend)
    except IntegrityError:  # another writer stored some of these identities meanwhile
        return _write_batch(actor, items, facility_id, summary, amend)


def _batch_residents(actor: Actor, ids: set[int]) -> tuple[dict[int, _Who], set[int]]:
    who: dict[int, _Who] = {}
    for pk, born, into in Resident.objects.filter(pk__in=ids).values_list(
        "pk", "birth_date", "merged_into_id"
    ):
        if into is None:
            who[pk] = _Who(pk, born)
        else:
            r = survivor_of(Resident.objects.get(pk=pk))
            who[pk] = _Who(r.pk, r.birth_date)
    targets = {w.pk for w in who.values()}
    if actor.is_system:
        return who, targets
    return who, set(residents_visible_to(actor).filter(pk__in=targets).values_list("pk", flat=True))


def _write_batch(
    actor: Actor,
    items: list[tuple[int, ObservationInput]],
    facility_id: int | None,
    summary: str,
    amend: bool,
) -> list[Written]:
    now = timezone.now()
    who, allowed = _batch_residents(actor, {rid for rid, _ in items})
    encounter_ids = {d.encounter_id for _, d in items if d.encounter_id}
    enc_ok = set(
        Encounter.objects.filter(pk__in=encounter_ids, status=VersionStatus.CURRENT).values_list(
            "pk", flat=True
        )
    )
    out: list[Written | None] = [None] * len(items)
    ready: list[tuple[int, dict[str, Any]]] = []  # (item index, row)
    first_of: dict[tuple[str, str], tuple[int, str]] = {}  # key → (item index, digest)
    repeats: list[tuple[int, int]] = []  # (item index, index of the first with its key)
    where = {"effective_at": "effective_at", "value": "value"}
    for i, (rid, data) in enumerate(items):
        resident = who.get(rid)
        try:
            if resident is None:
                raise LineError("resident", "unknown_patient", "找不到该居民", "Unknown patient")
            if resident.pk not in allowed:
                raise LineError(
                    "resident",
                    "out_of_scope",
                    "该居民不在您的服务范围内",
                    "Resident is outside your area",
                )
            if data.encounter_id and data.encounter_id not in enc_ok:
                raise LineError(
                    "encounter_id",
                    "unknown_encounter",
                    "找不到引用的就诊（或已被更正）",
                    "Unknown or no longer current encounter",
                )
            timed = replace(data, effective_at=aware(data.effective_at or now))
            row = _check(_Obs(i, ("pk", str(rid)), timed, where), resident, now)
        except LineError as exc:
            out[i] = Written(None, error=exc)
            continue
        digest = digest_of(data)
        prov = data.provenance
        if prov.source_id:
            key = (prov.source_system, prov.source_id)
            if key in first_of:
                j, first_digest = first_of[key]
                if first_digest == digest or not amend:
                    repeats.append((i, j))
                else:
                    out[i] = Written(
                        None,
                        error=LineError(
                            "provenance.source_id",
                            "repeated_identifier",
                            "同一批中该标识出现多次且内容不同",
                            "The identifier repeats in the batch with different content",
                        ),
                    )
                continue
            first_of[key] = (i, digest)
        row.update(
            resident_id=resident.pk,
            facility_id=(data.facility_id or facility_id) if actor.is_system else actor.facility_id,
            encounter_id=data.encounter_id,
            device_serial=data.device_serial.strip()[:64],
            source=prov.source,
            source_system=prov.source_system,
            source_id=prov.source_id,
            digest=digest,
            recorded_by_id=actor.user_id,
            recorded_at=now,
        )
        ready.append((i, row))
    existing = _current_versions(
        {(r["source_system"], r["source_id"]) for _, r in ready if r["source_id"]}
    )
    rows: list[dict[str, Any]] = []
    placed: list[tuple[int, Outcome]] = []
    retire: list[int] = []
    for i, row in ready:
        old = existing.get((row["source_system"], row["source_id"])) if row["source_id"] else None
        if old is not None and (old[1] == row["digest"] or not amend):
            out[i] = Written(Outcome.UNCHANGED, old[0], row["resident_id"])
            continue
        if old is not None:
            retire.append(old[0])
            row["replaces_id"] = old[0]
            row["amend_reason"] = "来源系统更新"
        rows.append(row)
        placed.append((i, Outcome.UPDATED if old is not None else Outcome.CREATED))
    ids: list[int] = []
    with transaction.atomic():
        if rows:
            if retire:
                Observation.objects.filter(pk__in=retire, status=VersionStatus.CURRENT).update(
                    status=VersionStatus.AMENDED
                )
                Entry.objects.filter(object_type="observation", object_id__in=retire).update(
                    status=VersionStatus.AMENDED
                )
            ids = insert_rows(Observation, rows)
            insert_rows(
                Entry,
                [
                    {
                        "resident_id": r["resident_id"],
                        "occurred_at": r["effective_at"],
                        "kind": EntryKind.OBSERVATION,
                        "object_type": "observation",
                        "object_id": pk,
                        "title": f"{r['name']} {_display(r)}"[:200],
                        "summary": summary[:500],
                        "facility_id": r["facility_id"],
                    }
                    for r, pk in zip(rows, ids, strict=True)
                ],
            )
            for (i, outcome), row, pk in zip(placed, rows, ids, strict=True):
                out[i] = Written(outcome, pk, row["resident_id"])
        for i, j in repeats:
            first = out[j]
            out[i] = Written(
                Outcome.UNCHANGED,
                first.observation_id if first else None,
                first.resident_id if first else None,
            )
        done = [w for w in out if w is not None]
        created = sum(1 for w in done if w.outcome == Outcome.CREATED)
        updated = sum(1 for w in done if w.outcome == Outcome.UPDATED)
        if created or updated:
            audit.record(
                actor,
                audit.Action.IMPORT,
                "observation_batch",
                str(min(ids)),
                detail={
                    "items": len(items),
                    "created": created,
                    "updated": updated,
                    "unchanged": sum(1 for w in done if w.outcome == Outcome.UNCHANGED),
                    "failed": sum(1 for w in done if w.outcome is None),
                    "observation_ids": [min(ids), max(ids)],
                    # which residents' records the batch wrote (the audit log's "whose")
                    "residents": sorted({r["resident_id"] for r in rows}),
                    "sources": sorted({r["source"] for r in rows}),
                },
            )
    return [w if w is not None else Written(None) for w in out]
