"""CSV import of encounters with diagnoses (docs/his-import.md): header and encoding checks
before anything is written, per-row errors beside imported rows, idempotent re-imports."""

from __future__ import annotations

import pytest

from yigongti.core.actor import Actor
from yigongti.core.errors import DomainError
from yigongti.records.his import jobs
from yigongti.records.models import Diagnosis, Encounter, ImportJob, Observation

from .fixtures.his import cast_for, fill


@pytest.fixture
def cast(actor):
    return cast_for(actor("group_admin"))


def _import(actor: Actor, raw: bytes, facility: str = "", name: str = "his.csv") -> ImportJob:
    job = jobs.start_import(actor, kind="csv", name=name, raw=raw, facility_code=facility)
    return jobs.run_to_end(actor, job.pk, limit=2)  # small chunks: several runs per file


def _errors(job: ImportJob) -> dict[int, list[tuple[str, str]]]:
    out: dict[int, list[tuple[str, str]]] = {}
    for e in job.errors:
        out.setdefault(e["line"], []).append((e["column"], e["message"]))
    return out


@pytest.mark.parametrize(
    ("header", "named"),
    [
        (
            "visit_no,id_number,name,visit_type,start_time,diagnosis",
            ["visit_id", "icd10", "visit_no", "diagnosis"],
        ),
        ("visit_id,name,visit_type,start_time,icd10", ["id_number 或 mpi_id"]),
        ("visit_id,id_number,name,visit_type,start_time,icd10,sbp", ["dbp"]),
        ("visit_id,id_number,name,visit_type,start_time,icd10,icd10", ["重复列：icd10"]),
        ("", ["文件为空"]),
    ],
)
def test_wrong_header_is_refused_naming_the_columns_before_anything_is_written(
    actor, cast, header, named
):
    admin = actor("group_admin")
    before = (ImportJob.objects.count(), Encounter.objects.count())
    raw = (header + "\nV1,1,张三,门诊,2025-06-01,I10\n").encode() if header else b""
    with pytest.raises(DomainError) as err:
        jobs.start_import(
            admin, kind="csv", name="x.csv", raw=raw, facility_code=cast.facility.code
        )
    message = err.value.errors[0].msg_zh
    for word in named:
        assert word in message
    assert (ImportJob.objects.count(), Encounter.objects.count()) == before


def test_wrong_header_fixture_names_missing_and_unknown_columns(actor, cast):
    raw = fill("wrong_header.csv", cast.values)
    with pytest.raises(DomainError) as err:
        jobs.start_import(
            actor("group_admin"),
            kind="csv",
            name="w.csv",
            raw=raw,
            facility_code=cast.values["FAC"],
        )
    msg = err.value.errors[0].msg_zh
    assert "缺少列：visit_id、icd10" in msg and "未知列：visit_no、diagnosis" in msg


def test_good_rows_import_and_bad_rows_are_reported_with_line_and_column(actor, cast):
    admin = actor("group_admin")
    job = _import(admin, fill("encounters_utf8.csv", cast.values), cast.values["FAC"])
    assert job.status == "done"
    assert (job.total, job.processed, job.created, job.failed) == (6, 6, 3, 3)
    errors = _errors(job)
    assert errors[4][0][0] == "icd10" and "X99.9" in errors[4][0][1]
    assert errors[5][0][0] == "id_number" and "请先建档" in errors[5][0][1]
    assert errors[6][0][0] == "sbp" and "收缩压" in errors[6][0][1]
    first = Encounter.objects.get(source_system=cast.facility.code, source_id="MZ20250601001")
    assert first.resident_id == cast.residents[0].pk and first.facility_id == cast.facility.pk
    assert first.source == "csv" and first.kind == "outpatient"
    assert "王医生" in first.notes  # a doctor not in the platform is kept by name
    codes = list(Diagnosis.objects.filter(encounter=first).values_list("code", "is_primary"))
    assert codes == [("I10", True), ("E11.9", False)]
    kinds = set(Observation.objects.filter(encounter=first).values_list("kind", flat=True))
    assert kinds == {"bp", "pulse", "temperature", "glucose_fasting"}
    stay = Encounter.objects.get(source_id="ZY20250602001")
    assert stay.kind == "inpatient" and stay.ended_at is not None and stay.complaint == "胸闷, 气短"
    by_mpi = Encounter.objects.get(source_id="MZ20250606001")
    assert by_mpi.resident_id == cast.residents[2].pk
    assert not Encounter.objects.filter(source_id__in=["MZ20250603001", "MZ20250605001"]).exists()


def test_reimporting_the_same_file_changes_nothing(actor, cast):
    admin = actor("group_admin")
    raw = fill("encounters_utf8.csv", cast.values)
    _import(admin, raw, cast.values["FAC"])
    count = Encounter.objects.count()
    again = _import(admin, raw, cast.values["FAC"])
    assert (again.created, again.updated, again.unchanged, again.failed) == (0, 0, 3, 3)
    assert Encounter.objects.count() == count


def test_a_changed_row_is_an_amendment_keeping_the_old_version(actor, cast):
    admin = actor("group_admin")
    raw = fill("encounters_utf8.csv", cast.values)
    _import(admin, raw, cast.values["FAC"])
    old = Encounter.objects.get(source_id="MZ20250601001", status="current")
    changed = _import(
        admin, raw.replace("头晕三天".encode(), "头晕一周".encode()), cast.values["FAC"]
    )
    assert (changed.created, changed.updated, changed.unchanged) == (0, 1, 2)
    new = Encounter.objects.get(source_id="MZ20250601001", status="current")
    assert new.replaces_id == old.pk and new.complaint == "头晕一周"
    old.refresh_from_db()
    assert old.status == "amended"


def test_gbk_file_with_chinese_headers_is_read(actor, cast):
    raw = fill("encounters_gbk.csv", cast.values, encoding="gb18030")
    raw.decode("gb18030")
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    job = _import(actor("group_admin"), raw, cast.values["FAC"])
    assert (job.created, job.failed) == (2, 0), job.errors
    enc = Encounter.objects.get(source_id="MZ20250701002")
    assert enc.complaint == "口干多饮"
    assert list(Diagnosis.objects.filter(encounter=enc).values_list("code", flat=True)) == [
        "E11.9",
        "I10",
    ]


def test_mixed_encoding_file_is_refused_naming_the_lines(actor, cast):
    before = ImportJob.objects.count()
    with pytest.raises(DomainError) as err:
        jobs.start_import(
            actor("group_admin"),
            kind="csv",
            name="m.csv",
            raw=fill("mixed_encoding.csv", cast.values),
            facility_code=cast.values["FAC"],
        )
    e = err.value.errors[0]
    assert e.field == "file" and "第 2 行为 UTF-8" in e.msg_zh and "第 3 行为 GBK" in e.msg_zh
    assert ImportJob.objects.count() == before


@pytest.mark.parametrize(
    ("row", "column", "words"),
    [
        ("V1,{ID1},{NAME1},门诊,2025-06-01 08:30,I10,,", "name", ""),  # filled below
        ("V2,{ID1},王二麻子,门诊,2025-06-01 08:30,I10,,", "name", "姓名与居民主索引不一致"),
        ("V3,123456,{NAME1},门诊,2025-06-01 08:30,I10,,", "id_number", "身份证号无效"),
        ("V4,{ID1},{NAME1},体检,2025-06-01 08:30,I10,,", "visit_type", "未知的就诊类型"),
        ("V5,{ID1},{NAME1},门诊,6月1日,I10,,", "start_time", "时间格式不正确"),
        ("V6,{ID1},{NAME1},门诊,2099-06-01 08:30,I10,,", "start_time", "晚于当前时间"),
        ("V7,{ID1},{NAME1},门诊,2025-06-01 08:30,I10,妇科,", "department", "没有编码或名称"),
        ("V8,{ID1},{NAME1},门诊,2025-06-01 08:30,I10,,300", "pulse", "心率"),
        ("V9,{ID1},{NAME1},门诊,2025-06-01 08:30,I10,,,extra", "", "列数多于表头"),
    ],
)
def test_each_bad_value_is_a_row_error_naming_the_column(actor, cast, row, column, words):
    header = "visit_id,id_number,name,visit_type,start_time,icd10,department,pulse\n"
    raw = header.encode() + row.encode()
    for key, value in cast.values.items():
        raw = raw.replace(b"{" + key.encode() + b"}", value.encode())
    job = _import(actor("group_admin"), raw, cast.values["FAC"])
    if not words:
        assert job.created == 1 and job.errors == []
        return
    assert job.failed == 1 and job.created == 0
    assert job.errors[0]["line"] == 2 and job.errors[0]["column"] == column
    assert words in job.errors[0]["message"]


def test_a_repeated_visit_id_in_one_file_is_reported(actor, cast):
    v = cast.values
    raw = (
        "visit_id,id_number,name,visit_type,start_time,icd10\n"
        f"V1,{v['ID1']},{v['NAME1']},门诊,2025-06-01 08:30,I10\n"
        f"V1,{v['ID1']},{v['NAME1']},门诊,2025-06-02 08:30,I10\n"
    ).encode()
    job = _import(actor("group_admin"), raw, v["FAC"])
    assert (
        job.created == 1
        and job.errors[0]["line"] == 3
        and "第 2 行重复" in job.errors[0]["message"]
    )


def test_chunks_continue_correctly_when_another_process_ran_the_last_one(actor, cast):
    v = cast.values
    raw = (
        "visit_id,id_number,name,visit_type,start_time,icd10\n"
        f"V1,{v['ID1']},{v['NAME1']},门诊,2025-06-01 08:30,I10\n"
        f"V2,{v['ID2']},{v['NAME2']},门诊,2025-06-01 09:30,I10\n"
        f"V1,{v['ID1']},{v['NAME1']},门诊,2025-06-02 08:30,I10\n"
    ).encode()
    admin = actor("group_admin")
    job = jobs.start_import(admin, kind="csv", name="c.csv", raw=raw, facility_code=v["FAC"])
    jobs.run_chunk(admin, job.pk, limit=2)
    jobs._SOURCES.clear()  # the next poll lands on a process that has not read the file
    job = jobs.run_to_end(admin, job.pk, limit=2)
    assert (job.processed, job.created, job.failed) == (3, 2, 1)
    assert job.errors[0]["line"] == 4 and "第 2 行重复" in job.errors[0]["message"]
