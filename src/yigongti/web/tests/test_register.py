"""Registering and editing a resident through the form."""

from __future__ import annotations

from datetime import date

import pytest

from yigongti.residents.models import Resident
from yigongti.residents.rules import make_id_number, name_search_keys

from .helpers import form_data, home_village, new_id, register

pytestmark = pytest.mark.django_db


def test_form_offers_only_villages_in_scope(client_as, actor):
    village = home_village(actor("village_doctor"))
    form = client_as("village_doctor").get("/residents/new/").context["form"]
    codes = [c for _, items in form.fields["village_code"].choices[1:] for c, _ in items]
    assert codes == [village.code]
    assert form.initial["village_code"] == village.code


def test_errors_keep_typed_values_and_speak_chinese(client_as, actor):
    village = home_village(actor("village_doctor"))
    data = form_data(village, name="欧阳娜娜", doc_number="4199981961082303", sex="")
    r = client_as("village_doctor").post("/residents/new/", data)
    assert r.status_code == 200
    form = r.context["form"]
    assert form.errors["sex"] == ["请选择性别"]
    assert "18位" in form.errors["doc_number"][0]
    html = r.content.decode()
    assert 'value="欧阳娜娜"' in html and 'value="4199981961082303"' in html
    assert 'value="13912345678"' in html and f'value="{village.code}" selected' in html
    assert "请选择性别" in html
    assert not Resident.objects.filter(name="欧阳娜娜").exists()


def test_unparseable_birth_date_is_reported_once(client_as, actor):
    village = home_village(actor("village_doctor"))
    r = client_as("village_doctor").post(
        "/residents/new/", form_data(village, birth_date="1961-13-45")
    )
    assert r.context["form"].errors["birth_date"] == ["出生日期格式应为 年-月-日，如 1960-05-17"]


def test_id_number_must_agree_with_birth_date(client_as, actor):
    village = home_village(actor("village_doctor"))
    data = form_data(village, doc_number=make_id_number("419998", date(1970, 1, 2), 302))
    r = client_as("village_doctor").post("/residents/new/", data)
    assert r.status_code == 200
    assert r.context["form"].errors.get("birth_date")


def test_successful_registration_lands_on_the_record(client_as, actor):
    village = home_village(actor("village_doctor"))
    data = form_data(village, name="司马相如", sex="1", doc_number=new_id(date(1961, 8, 23)))
    r = client_as("village_doctor").post("/residents/new/", data, follow=True)
    created = Resident.objects.get(doc_number=data["doc_number"])
    assert r.redirect_chain[-1][0] == f"/residents/{created.mpi_id}/"
    html = r.content.decode()
    assert "司马相如" in html and data["doc_number"] in html and "13912345678" in html
    assert "已为 司马相如 建档" in html
    assert created.name_initials == name_search_keys("司马相如")[1]
    assert created.cards.count() == 1


def test_second_registration_of_a_document_points_at_the_first(client_as, actor):
    first = register(actor("village_doctor"), name="上官婉儿")
    village = home_village(actor("village_doctor"))
    data = form_data(village, name="上官婉儿", doc_number=first.doc_number)
    r = client_as("village_doctor").post("/residents/new/", data)
    html = r.content.decode()
    assert r.status_code == 200
    assert "该证件号已建档" in html and f'href="/residents/{first.mpi_id}/"' in html
    # the outsider gets the pointer but no link into a record they may not open
    out_village = home_village(actor("outsider_doctor"))
    r = client_as("outsider_doctor").post(
        "/residents/new/", form_data(out_village, doc_number=first.doc_number)
    )
    html = r.content.decode()
    assert "该证件号已建档" in html and f'href="/residents/{first.mpi_id}/"' not in html
    assert "不在您的管辖范围内" in html


def test_possible_twin_without_document_needs_confirmation(client_as, actor):
    first = register(actor("village_doctor"), name="诸葛明月", doc_type="none", doc_number="")
    village = home_village(actor("village_doctor"))
    data = form_data(village, name="诸葛明月", doc_type="none", doc_number="")
    c = client_as("village_doctor")
    r = c.post("/residents/new/", data)
    html = r.content.decode()
    assert "确认新建" in html and first.mpi_id in html
    assert Resident.objects.filter(name="诸葛明月").count() == 1
    r = c.post("/residents/new/", {**data, "confirm_new_person": "on"})
    assert r.status_code == 302
    assert Resident.objects.filter(name="诸葛明月").count() == 2


def test_edit_changes_the_phone_and_keeps_the_rest(client_as, actor):
    resident = register(actor("village_doctor"), name="端木蓉")
    c = client_as("village_doctor")
    form = c.get(f"/residents/{resident.mpi_id}/edit/").context["form"]
    assert form.initial["doc_number"] == resident.doc_number
    data = {k: v for k, v in form.initial.items() if v is not None}
    data["birth_date"] = resident.birth_date.isoformat()
    data["phone"] = "13700001111"
    r = c.post(f"/residents/{resident.mpi_id}/edit/", data)
    assert r.status_code == 302 and r["Location"] == f"/residents/{resident.mpi_id}/"
    resident.refresh_from_db()
    assert resident.phone == "13700001111" and resident.name == "端木蓉"


def test_edit_with_a_bad_phone_shows_the_field_error(client_as, actor):
    resident = register(actor("village_doctor"), name="端木蓉")
    c = client_as("village_doctor")
    form = c.get(f"/residents/{resident.mpi_id}/edit/").context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.update(birth_date=resident.birth_date.isoformat(), phone="12345")
    r = c.post(f"/residents/{resident.mpi_id}/edit/", data)
    assert r.status_code == 200
    assert "电话号码格式不正确" in r.context["form"].errors["phone"][0]
    assert 'value="12345"' in r.content.decode()


def test_pharmacist_cannot_edit(client_as, actor):
    resident = register(actor("township_doctor"), name="端木蓉")
    assert client_as("pharmacist").get(f"/residents/{resident.mpi_id}/edit/").status_code == 403
    # but may read the record (view_residents, same township)
    assert client_as("pharmacist").get(f"/residents/{resident.mpi_id}/").status_code == 200
