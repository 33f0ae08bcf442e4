"""Import jobs over the REST API, the pages (upload, htmx progress, errors CSV), the command,
who may import (group_admin and sysadmin hold `import_records`; doctors do not), and audit."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from yigongti.core.errors import DomainError, Forbidden, NotFound
from yigongti.core.models import AuditEntry
from yigongti.network.models import Facility
from yigongti.records.his import jobs
from yigongti.records.models import Encounter, ImportJob

from .fixtures.his import cast_for, fill


@pytest.fixture
def cast(actor):
    return cast_for(actor("group_admin"))


def _csv_upload(api, raw: bytes, facility: str = "", name: str = "his.csv"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return api.post(
        "/api/v1/his/csv",
        {"file": SimpleUploadedFile(name, raw, content_type="text/csv"), "facility": facility},
    )


def test_csv_over_the_api_returns_the_job_with_errors(api_as, cast):
    res = _csv_upload(
        api_as("group_admin"), fill("encounters_utf8.csv", cast.values), cast.values["FAC"]
    )
    assert res.status_code == 201, res.content
    body = res.json()
    assert (body["status"], body["created"], body["failed"], body["percent"]) == ("done", 3, 3, 100)
    assert {e["line"] for e in body["errors"]} == {4, 5, 6}
    listed = api_as("group_admin").get("/api/v1/his/jobs").json()
    assert listed["jobs"][0]["id"] == body["id"] and listed["jobs"][0]["errors"] == []
    one = api_as("group_admin").get(f"/api/v1/his/jobs/{body['id']}").json()
    assert one["errors"][0]["column"] == "icd10"


def test_wrong_header_over_the_api_is_422_naming_the_columns(api_as, cast):
    res = _csv_upload(
        api_as("group_admin"), fill("wrong_header.csv", cast.values), cast.values["FAC"]
    )
    assert res.status_code == 422
    detail = res.json()["detail"][0]
    assert detail["loc"] == ["body", "header"] and "visit_no" in detail["msg"]


def test_group_admin_must_name_a_facility_of_their_group(api_as, cast):
    api = api_as("group_admin")
    raw = fill("encounters_utf8.csv", cast.values)
    res = _csv_upload(api, raw)
    assert res.status_code == 422 and res.json()["detail"][0]["loc"] == ["body", "facility"]
    other = Facility.objects.exclude(group_id=cast.facility.group_id).exclude(group=None).first()
    assert _csv_upload(api, raw, other.code).status_code == 403
    assert not ImportJob.objects.exists()


@pytest.mark.parametrize(
    "persona", ["outsider_doctor", "village_doctor", "county_doctor", "commission", "pharmacist"]
)
def test_personas_without_import_records_are_refused(api_as, client_as, cast, persona):
    api = api_as(persona)
    assert (
        _csv_upload(api, fill("encounters_utf8.csv", cast.values), cast.values["FAC"]).status_code
        == 403
    )
    hl7 = fill("adt_messages.hl7", cast.values).decode()
    assert (
        api.post("/api/v1/his/hl7", hl7.encode(), content_type="application/hl7-v2").status_code
        == 403
    )
    assert api.get("/api/v1/his/jobs").status_code == 403
    assert client_as(persona).get("/imports/").status_code == 403
    assert Encounter.objects.filter(source__in=["csv", "hl7"]).count() == 0


def test_sysadmin_may_import_for_any_facility(api_as, cast):
    res = _csv_upload(
        api_as("sysadmin"), fill("encounters_gbk.csv", cast.values, "gb18030"), cast.values["FAC"]
    )
    assert res.status_code == 201 and res.json()["created"] == 2


def test_jobs_are_visible_to_their_group_only(actor, cast):
    admin = actor("group_admin")
    job = jobs.start_import(
        admin,
        kind="csv",
        name="a.csv",
        raw=fill("encounters_utf8.csv", cast.values),
        facility_code=cast.values["FAC"],
    )
    assert jobs.get_job_for(actor("sysadmin"), job.pk).pk == job.pk
    with pytest.raises(Forbidden):
        jobs.get_job_for(actor("outsider_doctor"), job.pk)
    from dataclasses import replace

    other_group = replace(admin, group_id=-1, user_id=-1)
    with pytest.raises(NotFound):
        jobs.get_job_for(other_group, job.pk)


def test_import_and_each_write_are_audited(actor, cast):
    admin = actor("group_admin")
    job = jobs.start_import(
        admin,
        kind="csv",
        name="a.csv",
        raw=fill("encounters_utf8.csv", cast.values),
        facility_code=cast.values["FAC"],
    )
    entry = AuditEntry.objects.get(action="import", object_type="import_job", object_id=str(job.pk))
    assert entry.username == "group_admin" and entry.detail["sha256"] == job.sha256
    jobs.run_to_end(admin, job.pk)
    created = AuditEntry.objects.filter(
        action="create", object_type="encounter", username="his-import"
    )
    assert created.count() == 3
    assert set(created.values_list("resident_id", flat=True)) == {r.pk for r in cast.residents}
    jobs.errors_csv(admin, ImportJob.objects.get(pk=job.pk))
    assert AuditEntry.objects.filter(action="export", object_id=str(job.pk)).exists()


def test_upload_page_creates_a_job_whose_progress_block_polls_and_imports(client_as, cast):
    from django.core.files.uploadedfile import SimpleUploadedFile

    c = client_as("group_admin")
    page = c.get("/imports/")
    assert page.status_code == 200 and "数据导入" in page.content.decode()
    res = c.post(
        "/imports/",
        {
            "kind": "csv",
            "facility": cast.values["FAC"],
            "file": SimpleUploadedFile("his.csv", fill("encounters_utf8.csv", cast.values)),
        },
    )
    assert res.status_code == 302, res.content.decode()[:2000]
    job = ImportJob.objects.get()
    detail = c.get(res["Location"]).content.decode()
    assert 'hx-trigger="every 1s"' in detail and job.processed == 0
    for _ in range(5):
        block = c.get(f"/imports/{job.pk}/progress/", HTTP_HX_REQUEST="true").content.decode()
        job.refresh_from_db()
        if job.status == "done":
            break
    assert job.status == "done" and job.processed == 6
    assert "every 1s" not in block and "X99.9" in block and "下载错误明细" in block
    csv_res = c.get(f"/imports/{job.pk}/errors.csv")
    text = csv_res.content.decode("utf-8-sig")
    assert (
        csv_res["Content-Type"].startswith("text/csv")
        and "X99.9" in text
        and text.startswith("行号")
    )


def test_upload_page_shows_a_wrong_header_next_to_the_file(client_as, cast):
    from django.core.files.uploadedfile import SimpleUploadedFile

    res = client_as("group_admin").post(
        "/imports/",
        {
            "kind": "csv",
            "facility": cast.values["FAC"],
            "file": SimpleUploadedFile("w.csv", fill("wrong_header.csv", cast.values)),
        },
    )
    assert res.status_code == 200 and "未知列：visit_no" in res.content.decode()
    assert not ImportJob.objects.exists()


def test_nav_shows_data_import_to_group_admin_only(client_as):
    assert "数据导入" in client_as("group_admin").get("/").content.decode()
    assert "数据导入" not in client_as("village_doctor").get("/").content.decode()


def test_command_imports_a_file_with_progress(cast, tmp_path, capsys):
    path = tmp_path / "his.csv"
    path.write_bytes(fill("encounters_utf8.csv", cast.values))
    call_command(
        "import_his",
        str(path),
        "--format",
        "csv",
        "--facility",
        cast.values["FAC"],
        "--source-system",
        "HIS-A",
    )
    out = capsys.readouterr().out
    assert "新增 3" in out and "失败 3" in out
    assert Encounter.objects.filter(source_system="HIS-A").count() == 3
    with pytest.raises(CommandError, match="未知列"):
        wrong = tmp_path / "w.csv"
        wrong.write_bytes(fill("wrong_header.csv", cast.values))
        call_command("import_his", str(wrong), "--format", "csv", "--facility", cast.values["FAC"])


def test_command_imports_an_hl7_file(cast, tmp_path, capsys):
    path = tmp_path / "adt.hl7"
    path.write_bytes(fill("adt_messages.hl7", cast.values))
    call_command("import_his", str(path), "--format", "hl7")
    assert "新增 3" in capsys.readouterr().out


def test_empty_hl7_file_is_refused(actor):
    with pytest.raises(DomainError):
        jobs.start_import(actor("sysadmin"), kind="hl7", name="e.hl7", raw=b"\n\n")
