"""Registering residents: the GB 11643 rules, field errors, duplicates (DOMAIN.md §3)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from yigongti.core.models import AuditEntry
from yigongti.residents.models import HealthCard, Resident
from yigongti.residents.rules import make_id_number

from .helpers import home_village, new_id, payload

pytestmark = pytest.mark.django_db

POST = "/api/v1/residents"


def post(client, body):
    return client.post(POST, body, content_type="application/json")


def field_errors(resp) -> dict[str, str]:
    return {e["loc"][-1]: e["msg"] for e in resp.json()["detail"]}


def test_village_doctor_registers_a_resident_with_card(api_as, actor):
    village = home_village(actor("village_doctor"))
    body = payload(village, name="刘 秀英", sex="2", doc_number=new_id(male=False))
    r = post(api_as("village_doctor"), body)
    assert r.status_code == 201, r.content
    data = r.json()
    assert data["name"] == "刘秀英"  # the space between Han characters is dropped
    assert data["name_pinyin"] == "liuxiuying"
    assert len(data["mpi_id"]) == 16 and data["mpi_id"].startswith("419901")
    assert data["doc_number"] == body["doc_number"]
    card = data["cards"][0]
    assert len(card["card_id"]) == 64 and card["kind"] == "2" and card["issuer"] == "local"
    assert card["static_qr"] == f"{card['card_id']}:1"
    resident = Resident.objects.get(mpi_id=data["mpi_id"])
    assert resident.registered_at.kind == "village_clinic"
    assert AuditEntry.objects.filter(action="create", object_id=data["mpi_id"]).exists()


BIRTH = date(1972, 8, 9)
GOOD = make_id_number("419999", BIRTH, 555)  # male
GOOD_X = next(
    make_id_number("419999", BIRTH, s)
    for s in range(301, 999, 2)
    if make_id_number("419999", BIRTH, s).endswith("X")
)
FULLWIDTH = {ord(str(d)): chr(0xFF10 + d) for d in range(10)}


@pytest.mark.parametrize(
    ("case", "over", "field", "msg_part"),
    [
        (
            "bad checksum",
            {"doc_number": GOOD[:-1] + ("0" if GOOD[-1] != "0" else "1")},
            "doc_number",
            "校验",
        ),
        (
            "impossible date",
            {"doc_number": "419999199902300011", "birth": date(1999, 2, 28)},
            "doc_number",
            "出生日期",
        ),
        ("too short", {"doc_number": GOOD[:17]}, "doc_number", "18"),
        ("letters inside", {"doc_number": GOOD[:5] + "A" + GOOD[6:]}, "doc_number", ""),
        (
            "sex contradicts the number",
            {"doc_number": GOOD, "sex": "2", "birth": BIRTH},
            "sex",
            "性别",
        ),
        (
            "birth date contradicts",
            {"doc_number": GOOD, "birth": BIRTH + timedelta(days=1)},
            "birth_date",
            "出生日期",
        ),
        ("empty name", {"name": ""}, "name", "姓名"),
        ("blank name", {"name": "   "}, "name", "姓名"),
        ("50-character name", {"name": "张" * 50}, "name", "30"),
        ("digits in name", {"name": "张3"}, "name", ""),
        ("malformed phone", {"phone": "1380013800"}, "phone", ""),
        ("landline too short", {"phone": "0371-12345"}, "phone", ""),
        ("unknown village", {"village_code": "419901999999"}, "village_code", "村"),
        ("unknown sex code", {"sex": "M"}, "sex", "性别"),
        ("no-document with a number", {"doc_type": "none", "doc_number": "123"}, "doc_number", ""),
        ("passport with symbols", {"doc_type": "passport", "doc_number": "E#1"}, "doc_number", ""),
    ],
)
def test_bad_input_names_the_field(api_as, actor, case, over, field, msg_part):
    village = home_village(actor("village_doctor"))
    over = dict(over)
    if "birth" not in over and "doc_number" in over and over.get("doc_type") is None:
        over["birth"] = BIRTH
    before = Resident.objects.count()
    r = post(api_as("village_doctor"), payload(village, **over))
    assert r.status_code == 422, (case, r.content)
    errors = field_errors(r)
    assert field in errors, (case, errors)
    assert msg_part in errors[field]
    assert all(e["msg_en"] for e in r.json()["detail"])
    assert Resident.objects.count() == before


def test_future_birth_date_is_refused(api_as, actor):
    village = home_village(actor("village_doctor"))
    future = timezone.localdate() + timedelta(days=3)
    r = post(
        api_as("village_doctor"), payload(village, doc_type="none", doc_number="", birth=future)
    )
    assert r.status_code == 422
    assert "birth_date" in field_errors(r)


def test_future_date_inside_an_id_number_is_refused(api_as, actor):
    village = home_village(actor("village_doctor"))
    future = timezone.localdate() + timedelta(days=40)
    number = make_id_number("419999", future, 11)
    r = post(api_as("village_doctor"), payload(village, doc_number=number, birth=future))
    assert r.status_code == 422
    errors = field_errors(r)
    assert "doc_number" in errors or "birth_date" in errors


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        (GOOD_X[:-1] + "x", GOOD_X),  # lowercase x
        (" ".join([GOOD[:6], GOOD[6:14], GOOD[14:]]), GOOD),  # spaces
        (GOOD.translate(FULLWIDTH), GOOD),  # full-width digits
    ],
)
def test_safe_normalisation_of_id_numbers(api_as, actor, typed, stored):
    village = home_village(actor("village_doctor"))
    r = post(api_as("village_doctor"), payload(village, doc_number=typed, birth=BIRTH))
    assert r.status_code == 201, r.content
    assert r.json()["doc_number"] == stored


def test_second_registration_points_at_the_first(api_as, actor):
    village = home_village(actor("village_doctor"))
    body = payload(village)
    client = api_as("village_doctor")
    first = post(client, body)
    assert first.status_code == 201
    again = post(client, dict(body, name="另一个名字", phone="13900000000"))
    assert again.status_code == 409
    data = again.json()
    assert data["existing"]["mpi_id"] == first.json()["mpi_id"]
    assert data["detail"][0]["loc"][-1] == "doc_number"
    assert Resident.objects.filter(doc_number=body["doc_number"]).count() == 1


def test_township_doctor_gets_pointer_to_record_from_another_facility(api_as, actor):
    village = home_village(actor("village_doctor"))
    body = payload(village)
    assert post(api_as("village_doctor"), body).status_code == 201
    r = post(api_as("township_doctor"), body)
    assert r.status_code == 409
    assert r.json()["existing"]["registered_at"].endswith("卫生室")


def test_newborn_without_document_and_twin_check(api_as, actor):
    village = home_village(actor("village_doctor"))
    today = timezone.localdate()
    body = payload(village, name="王小宝", doc_type="none", doc_number="", phone="", birth=today)
    client = api_as("village_doctor")
    r = post(client, body)
    assert r.status_code == 201, r.content
    assert r.json()["cards"][0]["kind"] == "1"  # a temporary card until a document exists
    twin = post(client, body)
    assert twin.status_code == 409
    assert twin.json()["existing"]["mpi_id"] == r.json()["mpi_id"]
    confirmed = post(client, dict(body, confirm_new_person=True))
    assert confirmed.status_code == 201
    assert confirmed.json()["mpi_id"] != r.json()["mpi_id"]


def test_birth_certificate_registration(api_as, actor):
    village = home_village(actor("village_doctor"))
    r = post(
        api_as("village_doctor"),
        payload(
            village, doc_type="birth_certificate", doc_number="q410123456", birth=date(2026, 1, 2)
        ),
    )
    assert r.status_code == 201, r.content
    assert r.json()["doc_number"] == "Q410123456"


def test_village_doctor_cannot_register_in_another_township(api_as, actor):
    outsider_village = home_village(actor("outsider_doctor"))
    r = post(api_as("village_doctor"), payload(outsider_village))
    assert r.status_code == 403
    assert field_errors(r) == {"village_code": "只能为本辖区的居民建档"}


def test_pharmacist_cannot_register(api_as, actor):
    village = home_village(actor("township_doctor"))
    r = post(api_as("pharmacist"), payload(village))
    assert r.status_code == 403


def test_missing_fields_get_chinese_and_english_messages(api_as):
    r = post(api_as("village_doctor"), {"name": "张三"})
    assert r.status_code == 422
    detail = r.json()["detail"]
    locs = {tuple(e["loc"][-1:]) for e in detail}
    assert ("sex",) in locs and ("birth_date",) in locs and ("village_code",) in locs
    assert all(e["msg"] == "必填字段缺失" and e["msg_en"] for e in detail)


def test_edit_corrects_phone_and_is_audited(api_as, actor):
    village = home_village(actor("village_doctor"))
    client = api_as("village_doctor")
    created = post(client, payload(village)).json()
    r = client.patch(
        f"/api/v1/residents/{created['mpi_id']}",
        {"phone": "139 0013 9000"},
        content_type="application/json",
    )
    assert r.status_code == 200, r.content
    assert r.json()["phone"] == "13900139000"
    entry = AuditEntry.objects.filter(action="update", object_id=created["mpi_id"]).get()
    assert entry.detail["fields"] == ["phone"]
    bad = client.patch(
        f"/api/v1/residents/{created['mpi_id']}",
        {"birth_date": "2999-01-01"},
        content_type="application/json",
    )
    assert bad.status_code == 422
    assert HealthCard.objects.filter(resident__mpi_id=created["mpi_id"]).count() == 1
