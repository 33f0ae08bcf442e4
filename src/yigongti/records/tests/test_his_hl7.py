"""HL7 v2 ADT A01/A04/A08 (docs/his-import.md): each message is imported or refused on its
own and answered with an ACK naming its MSH-10; failed messages are kept in the job."""

from __future__ import annotations

import pytest

from yigongti.records.his import hl7_import, jobs
from yigongti.records.models import Diagnosis, Encounter, ImportJob
from yigongti.residents.models import Resident

from .fixtures.his import cast_for, fill


@pytest.fixture
def cast(actor):
    return cast_for(actor("group_admin"))


def _messages(cast) -> list[str]:
    return hl7_import.split_messages(fill("adt_messages.hl7", cast.values).decode())


def _msa(ack: str) -> list[str]:
    seg = next(s for s in ack.split("\r") if s.startswith("MSA"))
    return seg.split("|")


def _send(api, body: str, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return api.post(f"/api/v1/his/hl7?{query}", body.encode(), content_type="application/hl7-v2")


def test_file_of_messages_imports_the_good_and_keeps_the_failed(actor, cast):
    admin = actor("group_admin")
    raw = fill("adt_messages.hl7", cast.values)
    job = jobs.start_import(admin, kind="hl7", name="adt.hl7", raw=raw)
    assert job.total == 5 and job.facility_id is None
    job = jobs.run_to_end(admin, job.pk, limit=2)
    assert (job.created, job.failed) == (3, 2), job.errors
    failed = {e["key"]: e for e in job.errors}
    assert set(failed) == {"MSG0003", "MSG0004"}
    assert "第 2 段格式错误" in failed["MSG0003"]["message"]
    assert (
        failed["MSG0004"]["column"] == "PID-11" and "无法自动建档" in failed["MSG0004"]["message"]
    )
    assert failed["MSG0004"]["raw"].startswith("MSH|") and "MSG0004" in failed["MSG0004"]["raw"]
    stay = Encounter.objects.get(source_system=cast.facility.code, source_id="ZY2025060001")
    assert (
        stay.kind == "inpatient" and stay.source == "hl7" and stay.facility_id == cast.facility.pk
    )
    assert stay.ended_at is not None and "李明" in stay.notes
    # DG1-15 priority 1 is the primary diagnosis, whatever the segment order
    assert list(Diagnosis.objects.filter(encounter=stay).values_list("code", "is_primary")) == [
        ("I63.9", True),
        ("I10", False),
    ]
    visit = Encounter.objects.get(source_id="MZ2025060002")
    assert visit.kind == "outpatient" and visit.complaint == "咳嗽两天"
    # MSG0005: unknown patient with a valid ID number and a village code is registered
    new = Resident.objects.get(doc_number=cast.values["NEW_ID"])
    assert new.name == "郭靖" and new.village.code == cast.values["VILLAGE"]
    assert Encounter.objects.get(source_id="MZ2025060005").resident_id == new.pk


def test_ack_per_message_carries_the_control_id(api_as, cast):
    api = api_as("group_admin")
    codes = {}
    for text in _messages(cast):
        res = _send(api, text)
        assert res.status_code == 200, res.content
        assert res["Content-Type"].startswith("application/hl7-v2")
        msa = _msa(res.content.decode())
        codes[msa[2]] = msa[1]
    assert codes == {
        "MSG0001": "AA",
        "MSG0002": "AA",
        "MSG0003": "AR",
        "MSG0004": "AE",
        "MSG0005": "AA",
    }


def test_duplicate_message_is_accepted_and_changes_nothing(api_as, cast):
    api = api_as("group_admin")
    first = _messages(cast)[0]
    assert _msa(_send(api, first).content.decode())[1] == "AA"
    count = Encounter.objects.count()
    again = _msa(_send(api, first).content.decode())
    assert again[1] == "AA" and again[2] == "MSG0001" and "未变化" in again[3]
    assert Encounter.objects.count() == count


def test_a08_with_changed_content_amends_the_visit(api_as, cast):
    api = api_as("group_admin")
    a01 = _messages(cast)[0]
    _send(api, a01)
    old = Encounter.objects.get(source_id="ZY2025060001", status="current")
    a08 = (
        a01.replace("ADT^A01^ADT_A01", "ADT^A08^ADT_A08")
        .replace("MSG0001", "MSG0101")
        .replace("20250608100000", "20250610100000")
    )
    msa = _msa(_send(api, a08).content.decode())
    assert msa[1] == "AA" and "已更正" in msa[3]
    new = Encounter.objects.get(source_id="ZY2025060001", status="current")
    assert new.replaces_id == old.pk and new.ended_at.day == 10
    old.refresh_from_db()
    assert old.status == "amended"


@pytest.mark.parametrize(
    ("mutate", "code", "words"),
    [
        (lambda m: m.replace("PV1|", "PV 1|"), "AR", "段格式错误"),
        (lambda m: m.replace("|MSG0002|", "||"), "AR", "MSH-10"),
        (lambda m: m.replace("ADT^A04^ADT_A04", "ORU^R01^ORU_R01"), "AR", "不支持的消息类型"),
        (lambda m: m.replace("\rPV1|", "\rZV1|"), "AR", "缺少 PV1"),
        (lambda m: m.replace("J06.9^", "Q99.99^"), "AE", "未知的 ICD-10 编码"),
        (lambda m: m.replace("|20250602093000", "|2025-06-02"), "AE", "PV1-44"),
        (lambda m: m.replace("|20250602093000", "|20990602093000"), "AE", "晚于当前时间"),
        (lambda m: m.replace("|O|", "|X|"), "AE", "PV1-2"),
        (lambda m: m.replace("MZ2025060002", ""), "AE", "PV1-19"),
        (lambda m: m.replace("^^^^ID", "^^^^PI"), "AE", "PID-3"),
        (lambda m: m.replace("|HIS|", "|HIS|NOSUCH"), "AR", "MSH-4"),
    ],
)
def test_bad_messages_get_ar_or_ae_with_a_clear_reason(api_as, cast, mutate, code, words):
    good = _messages(cast)[1]  # A04 of resident 2
    before = Encounter.objects.count()
    res = _send(api_as("group_admin"), mutate(good))
    ack = res.content.decode()
    msa = _msa(ack)
    assert msa[1] == code, ack
    assert words in msa[3], ack
    assert "ERR|" in ack
    assert Encounter.objects.count() == before


def test_name_that_does_not_match_the_index_is_refused(api_as, cast):
    text = _messages(cast)[1].replace(cast.values["NAME2"], "王二麻子")
    msa = _msa(_send(api_as("group_admin"), text).content.decode())
    assert msa[1] == "AE" and "PID-5" in msa[3]


def test_failed_live_messages_are_kept_in_the_days_job(api_as, cast):
    api = api_as("group_admin")
    broken = _messages(cast)[2]
    _send(api, broken)
    _send(api, _messages(cast)[1])
    job = ImportJob.objects.filter(name__startswith="HL7 实时接口").get()
    assert (job.total, job.failed, job.created) == (2, 1, 1)
    assert job.errors[0]["key"] == "MSG0003" and job.errors[0]["raw"].startswith("MSH|")


def test_message_from_another_groups_facility_is_refused(api_as, cast):
    from yigongti.network.models import Facility

    other = Facility.objects.exclude(group_id=cast.facility.group_id).exclude(group=None).first()
    assert other is not None
    text = _messages(cast)[1].replace(f"|{cast.values['FAC']}|", f"|{other.code}|")
    msa = _msa(_send(api_as("group_admin"), text).content.decode())
    assert msa[1] == "AR" and "无权" in msa[3]


def test_a_new_days_live_job_closes_the_days_before(api_as, cast):
    api = api_as("group_admin")
    _send(api, _messages(cast)[1])
    yesterday = ImportJob.objects.get()
    ImportJob.objects.filter(pk=yesterday.pk).update(name="HL7 实时接口 2000-01-01")
    _send(api, _messages(cast)[0])
    yesterday.refresh_from_db()
    assert yesterday.status == "done" and yesterday.finished_at is not None
    assert ImportJob.objects.get(status="running").created == 1
