from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from yigongti.records import codes, rules
from yigongti.records.models import Drug, ICD10Code


def test_loading_icd_inserts_updates_and_is_idempotent(db):
    raw = "code,name,chapter\nZ99.1,依赖呼吸机,XXI\nI10,特发性（原发性）高血压,IX\n".encode("gbk")
    first = codes.load_icd10(raw)
    assert first.created >= 1 and not first.errors
    assert ICD10Code.objects.get(pk="Z99.1").initials == "ylhxj"
    again = codes.load_icd10(raw)
    assert (again.created, again.updated) == (0, 0)
    renamed = codes.load_icd10("code,name\nZ99.1,依赖于呼吸机\n".encode())
    assert renamed.updated == 1 and ICD10Code.objects.get(pk="Z99.1").name == "依赖于呼吸机"


def test_a_wrong_header_is_refused_before_anything_is_written(db):
    with pytest.raises(rules.RuleError) as exc:
        codes.load_icd10("编码,名称\nX1,y\n".encode())
    assert exc.value.code == "bad_header" and "code" in exc.value.msg_zh
    assert not ICD10Code.objects.filter(pk="X1").exists()


def test_bad_rows_are_reported_and_good_rows_kept(db):
    raw = "code,generic_name,kind,essential\nT1,测试药,drug,1\n,无编码,drug,0\nT2,耗材,nonsense,0\n"
    report = codes.load_drugs(raw.encode())
    assert report.created == 1 and [e["line"] for e in report.errors] == [3, 4]
    item = Drug.objects.get(pk="T1")
    assert item.essential and item.initials == "csy"


def test_load_codes_command(db, tmp_path):
    call_command("load_codes", "--starter")
    assert (
        ICD10Code.objects.filter(pk="E11.9").exists() and Drug.objects.filter(pk="YP0029").exists()
    )
    bad = tmp_path / "bad.csv"
    bad.write_bytes("编码\n".encode() + "高血压\n".encode("gbk"))
    with pytest.raises(CommandError, match="混用"):
        call_command("load_codes", "--icd10", str(bad))
