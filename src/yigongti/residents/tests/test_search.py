"""The one search box: ID (whole or part), QR text, name, pinyin, initials, phone; scoped."""

from __future__ import annotations

import pytest

from yigongti.core.models import AuditEntry
from yigongti.residents import rules
from yigongti.residents.queries import residents_visible_to, search_residents

from .helpers import home_village, new_id, payload

pytestmark = pytest.mark.django_db


@pytest.fixture
def zhang_wei(api_as, actor):
    village = home_village(actor("village_doctor"))
    body = payload(village, name="张伟", phone="13712345678", doc_number=new_id())
    r = api_as("village_doctor").post("/api/v1/residents", body, content_type="application/json")
    assert r.status_code == 201, r.content
    return r.json()


def mpi_ids(resp) -> list[str]:
    return [row["mpi_id"] for row in resp.json()["results"]]


@pytest.mark.parametrize(
    ("how", "query"),
    [
        ("full ID", lambda p: p["doc_number"]),
        ("last 6 of ID", lambda p: p["doc_number"][-6:]),
        ("first 10 of ID", lambda p: p["doc_number"][:10]),
        ("name", lambda p: "张伟"),
        ("full pinyin", lambda p: "zhangwei"),
        ("initials", lambda p: "zw"),
        ("initials upper case", lambda p: "ZW"),
        ("phone", lambda p: "13712345678"),
        ("phone tail", lambda p: "5678"),
        ("index number", lambda p: p["mpi_id"]),
        ("static QR text", lambda p: p["cards"][0]["static_qr"]),
    ],
)
def test_village_doctor_finds_resident(api_as, zhang_wei, how, query):
    r = api_as("village_doctor").get("/api/v1/residents", {"q": query(zhang_wei)})
    assert r.status_code == 200
    assert zhang_wei["mpi_id"] in mpi_ids(r), how


def test_list_masks_id_and_phone(api_as, zhang_wei):
    r = api_as("village_doctor").get("/api/v1/residents", {"q": "zw"})
    row = next(x for x in r.json()["results"] if x["mpi_id"] == zhang_wei["mpi_id"])
    assert row["doc_number_masked"] == rules.mask_id_number(zhang_wei["doc_number"])
    assert "*" * 8 in row["doc_number_masked"]
    assert row["phone_masked"] == "137****5678"
    assert "doc_number" not in row and "phone" not in row


def test_exact_matches_rank_first(api_as, zhang_wei):
    r = api_as("village_doctor").get("/api/v1/residents", {"q": "zhangwei"})
    assert mpi_ids(r)[0] == zhang_wei["mpi_id"] or r.json()["results"][0]["name"] == "张伟"


@pytest.mark.parametrize("query", ["zw", "张伟", "13712345678", "5678"])
def test_outsider_cannot_find_resident(api_as, zhang_wei, query):
    r = api_as("outsider_doctor").get("/api/v1/residents", {"q": query})
    assert r.status_code == 200
    assert zhang_wei["mpi_id"] not in mpi_ids(r)


def test_outsider_cannot_find_by_full_id_and_search_is_audited(api_as, zhang_wei):
    r = api_as("outsider_doctor").get("/api/v1/residents", {"q": zhang_wei["doc_number"]})
    assert mpi_ids(r) == []
    entry = AuditEntry.objects.filter(username="outsider_doctor", action="search").latest("id")
    assert entry.detail["hits"] == 0
    assert zhang_wei["doc_number"] not in str(entry.detail)  # the query is masked in the log


@pytest.mark.parametrize("who", ["township_doctor", "county_doctor", "group_admin", "commission"])
def test_wider_scopes_find_the_resident(api_as, zhang_wei, who):
    r = api_as(who).get("/api/v1/residents", {"q": zhang_wei["doc_number"]})
    assert mpi_ids(r) == [zhang_wei["mpi_id"]]


def test_short_queries_explain_themselves(api_as):
    c = api_as("village_doctor")
    assert c.get("/api/v1/residents", {"q": "12"}).json()["kind"] == "too_short"
    assert c.get("/api/v1/residents", {"q": "z"}).json()["kind"] == "too_short"
    assert c.get("/api/v1/residents", {"q": ""}).json()["results"] == []


def test_every_result_is_in_scope(actor):
    village_doctor = actor("village_doctor")
    visible = set(residents_visible_to(village_doctor).values_list("pk", flat=True))
    result = search_residents(village_doctor, "wang", limit=100)
    assert result.residents, "the tiny county has people named Wang"
    assert {r.pk for r in result.residents} <= visible


def test_other_documents_are_found_by_number(api_as, actor):
    village = home_village(actor("village_doctor"))
    body = payload(
        village,
        name="王小满",
        doc_type="birth_certificate",
        doc_number="Q419900001",
        birth=__import__("datetime").date(2026, 2, 1),
    )
    c = api_as("village_doctor")
    created = c.post("/api/v1/residents", body, content_type="application/json").json()
    assert mpi_ids(c.get("/api/v1/residents", {"q": "q419900001"})) == [created["mpi_id"]]
