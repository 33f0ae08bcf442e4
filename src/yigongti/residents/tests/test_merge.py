"""Possible duplicates, merge and undo (the survivor keeps both histories)."""

from __future__ import annotations

from datetime import date

import pytest

from yigongti.core.errors import DomainError, Forbidden
from yigongti.residents import actions, queries
from yigongti.residents.linkage import LinkRecord, find_duplicates, pair_score
from yigongti.residents.models import CandidateStatus, DuplicateCandidate, Resident

from .helpers import home_village, new_id, payload

pytestmark = pytest.mark.django_db

B = date(1958, 3, 4)


def rec(pk, name, pinyin, *, doc="", phone="", village=1, township=1, birth=B, sex="1"):
    return LinkRecord(pk, name, pinyin, sex, birth, doc, phone, village, township)


@pytest.mark.parametrize(
    ("case", "a", "b", "listed"),
    [
        (
            "typo in the name, same phone",
            rec(1, "张伟", "zhangwei", phone="13700000001"),
            rec(2, "张玮", "zhangwei", phone="13700000001"),
            True,
        ),
        (
            "missing ID on one side",
            rec(1, "王建国", "wangjianguo", doc="419901195803040017"),
            rec(2, "王建国", "wangjianguo"),
            True,
        ),
        (
            "changed phone",
            rec(1, "李秀英", "lixiuying", phone="13700000001", doc="419901195803040025"),
            rec(2, "李秀英", "lixiuying", phone="13900000009"),
            True,
        ),
        (
            "ID differs by one digit",
            rec(1, "赵刚", "zhaogang", doc="419901195803040017"),
            rec(2, "赵刚", "zhaogang", doc="419901195803040071"),
            True,
        ),
        (
            "same name, different IDs",
            rec(1, "刘洋", "liuyang", doc="419901195803040017"),
            rec(2, "刘洋", "liuyang", doc="419901195803049932"),
            False,
        ),
        (
            "different people, same birthday",
            rec(1, "陈明", "chenming"),
            rec(2, "黄丽", "huangli", village=2, township=2),
            False,
        ),
        ("different sex", rec(1, "张伟", "zhangwei"), rec(2, "张伟", "zhangwei", sex="2"), False),
    ],
)
def test_pair_score_table(case, a, b, listed):
    score, reasons = pair_score(a, b)
    assert (score >= 75) is listed, (case, score, reasons)
    assert reasons


def _register(api_as, who, body):
    r = api_as(who).post("/api/v1/residents", body, content_type="application/json")
    assert r.status_code == 201, r.content
    return Resident.objects.get(mpi_id=r.json()["mpi_id"])


@pytest.fixture
def pair(api_as, actor):
    """The same man registered at the village clinic (with ID) and at the township centre
    (no ID, name typed with another character, another phone)."""
    village = home_village(actor("village_doctor"))
    a = _register(
        api_as,
        "village_doctor",
        payload(village, name="张德胜", birth=B, doc_number=new_id(B), phone="13711112222"),
    )
    b = _register(
        api_as,
        "township_doctor",
        payload(
            village, name="张德生", birth=B, doc_type="none", doc_number="", phone="13733334444"
        ),
    )
    return a, b


def test_registration_offers_the_pair_for_review(pair, api_as):
    a, b = pair
    cand = DuplicateCandidate.objects.get(first=min(a.pk, b.pk), second=max(a.pk, b.pk))
    assert cand.status == CandidateStatus.OPEN and cand.score >= 75
    listed = api_as("group_admin").get("/api/v1/duplicates").json()
    assert any(c["id"] == cand.pk for c in listed)


def test_batch_scan_finds_the_pair_too(pair):
    DuplicateCandidate.objects.all().delete()
    assert find_duplicates() >= 1
    a, b = pair
    assert DuplicateCandidate.objects.filter(first=min(a.pk, b.pk), second=max(a.pk, b.pk)).exists()


def test_merge_then_undo(pair, api_as, actor):
    a, b = pair
    admin = api_as("group_admin")
    r = admin.post(
        "/api/v1/merges",
        {"survivor": b.mpi_id, "merged": a.mpi_id, "reason": "同一人"},
        content_type="application/json",
    )
    assert r.status_code == 201, r.content
    merge_id = r.json()["id"]
    b.refresh_from_db()
    a.refresh_from_db()
    assert a.status == "merged" and a.merged_into_id == b.pk
    assert b.doc_number == a.doc_number  # the survivor took the missing ID number
    # the old index number and the old card resolve to the survivor
    doctor = api_as("village_doctor")
    assert doctor.get(f"/api/v1/residents/{a.mpi_id}").json()["mpi_id"] == b.mpi_id
    card = a.cards.get()
    scan = doctor.post(
        "/api/v1/cards/resolve", {"qr_text": f"{card.card_id}:1"}, content_type="application/json"
    )
    assert scan.json()["mpi_id"] == b.mpi_id
    survivor = doctor.get(f"/api/v1/residents/{b.mpi_id}").json()
    assert survivor["merged_mpi_ids"] == [a.mpi_id]
    assert len(survivor["cards"]) == 2
    assert sorted(queries.identity_ids(b)) == sorted([a.pk, b.pk])
    # the merged record no longer appears in searches
    found = doctor.get("/api/v1/residents", {"q": "zds"}).json()["results"]
    assert a.mpi_id not in [x["mpi_id"] for x in found]

    undo = admin.post(f"/api/v1/merges/{merge_id}/undo")
    assert undo.status_code == 200, undo.content
    a.refresh_from_db()
    b.refresh_from_db()
    assert a.status == "active" and a.merged_into_id is None
    assert b.doc_number == "" and b.doc_type == "none"
    assert doctor.get(f"/api/v1/residents/{a.mpi_id}").json()["mpi_id"] == a.mpi_id
    again = admin.post(f"/api/v1/merges/{merge_id}/undo")
    assert again.status_code == 422


def test_merge_into_itself_is_refused(pair, actor):
    a, _ = pair
    with pytest.raises(DomainError) as exc:
        actions.do_merge_residents(actor("group_admin"), a, a)
    assert exc.value.errors[0].code == "same_record"


def test_merge_into_itself_over_api(pair, api_as):
    a, _ = pair
    r = api_as("group_admin").post(
        "/api/v1/merges",
        {"survivor": a.mpi_id, "merged": a.mpi_id},
        content_type="application/json",
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"][-1] == "merged"


@pytest.mark.parametrize(
    "who", ["village_doctor", "township_doctor", "outsider_doctor", "pharmacist", "commission"]
)
def test_only_administrators_merge(pair, actor, who):
    a, b = pair
    with pytest.raises(Forbidden):
        actions.do_merge_residents(actor(who), b, a)


def test_dismissed_pair_leaves_the_list(pair, api_as):
    admin = api_as("group_admin")
    cand = admin.get("/api/v1/duplicates").json()[0]
    r = admin.post(f"/api/v1/duplicates/{cand['id']}/dismiss")
    assert r.status_code == 200
    assert all(c["id"] != cand["id"] for c in admin.get("/api/v1/duplicates").json())


def test_village_doctor_cannot_list_duplicates(api_as):
    assert api_as("village_doctor").get("/api/v1/duplicates").status_code == 403
