"""The one search box: pinyin initials, ID numbers, QR text, scope and masking."""

from __future__ import annotations

from datetime import date

import pytest

from yigongti.residents.rules import static_qr_text

from .helpers import new_id, register

pytestmark = pytest.mark.django_db


@pytest.fixture
def sima(actor):
    return register(
        actor("village_doctor"), name="司马相如", sex="1", doc_number=new_id(date(1961, 8, 23))
    )


def test_search_by_pinyin_initials_finds_the_resident(client_as, sima):
    r = client_as("village_doctor").get("/residents/", {"q": "smxr"})
    assert r.status_code == 200
    assert sima in r.context["result"].residents
    html = r.content.decode()
    assert f'href="/residents/{sima.mpi_id}/"' in html
    assert sima.doc_number not in html and sima.phone not in html  # masked in lists
    assert "<html" in html  # a whole page without htmx


def test_htmx_search_returns_only_the_results(client_as, sima):
    r = client_as("village_doctor").get(
        "/residents/", {"q": "smxr"}, headers={"HX-Request": "true"}
    )
    html = r.content.decode()
    assert "<html" not in html and "司马相如" in html
    assert "HX-Request" in r["Vary"]
    restore = client_as("village_doctor").get(
        "/residents/",
        {"q": "smxr"},
        headers={"HX-Request": "true", "HX-History-Restore-Request": "true"},
    )
    assert "<html" in restore.content.decode()


def test_search_by_id_number_and_by_qr_text(client_as, sima):
    c = client_as("village_doctor")
    assert sima in c.get("/residents/", {"q": sima.doc_number}).context["result"].residents
    card = sima.cards.get()
    r = c.get("/residents/", {"q": static_qr_text(card.card_id)})
    assert r.context["result"].residents == [sima]


def test_outsider_does_not_find_them(client_as, sima):
    c = client_as("outsider_doctor")
    for q in ("smxr", "司马相如", sima.doc_number, sima.phone):
        result = c.get("/residents/", {"q": q}).context["result"]
        assert sima not in result.residents, q


def test_too_short_query_explains_itself(client_as):
    r = client_as("village_doctor").get("/residents/", {"q": "s"})
    assert "拼音请至少输入2个字母" in r.content.decode()
    r = client_as("village_doctor").get("/residents/", {"q": "12"})
    assert "号码请至少输入4位" in r.content.decode()


def test_empty_search_shows_the_box_only(client_as):
    r = client_as("village_doctor").get("/residents/")
    assert r.context["result"] is None and 'name="q"' in r.content.decode()


def test_no_hit_says_so(client_as):
    r = client_as("village_doctor").get("/residents/", {"q": "qqqqqqq"})
    assert "未找到" in r.content.decode()
