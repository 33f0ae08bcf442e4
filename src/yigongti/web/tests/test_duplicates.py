"""Reviewing possible duplicates: merge (choosing the survivor), undo, dismiss."""

from __future__ import annotations

import pytest

from yigongti.residents.models import CandidateStatus, DuplicateCandidate, Resident, ResidentStatus

from .helpers import register

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair(actor):
    """The same woman registered twice: once with her ID card, once without."""
    a = actor("village_doctor")
    with_doc = register(a, name="闻人静")
    without = register(a, name="闻人静", doc_type="none", doc_number="", confirm_new_person=True)
    cand = DuplicateCandidate.objects.get(
        first_id=min(with_doc.pk, without.pk), second_id=max(with_doc.pk, without.pk)
    )
    return with_doc, without, cand


def test_pairs_are_shown_side_by_side_masked(client_as, pair):
    with_doc, without, cand = pair
    r = client_as("group_admin").get("/residents/duplicates/")
    html = r.content.decode()
    assert cand in r.context["page_obj"].object_list
    assert "合并到左侧" in html and "合并到右侧" in html and "不是同一人" in html
    assert with_doc.mpi_id in html and without.mpi_id in html
    assert with_doc.doc_number not in html  # masked
    assert "姓名相同" in html and str(cand.score) in html


def test_merge_to_the_left_then_undo(client_as, pair):
    *_, cand = pair
    c = client_as("group_admin")
    left, right = cand.first, cand.second
    r = c.post(
        f"/residents/duplicates/{cand.pk}/merge/",
        {"survivor": "first", "reason": "同一人重复建档"},
        follow=True,
    )
    assert "已将" in r.content.decode()
    right.refresh_from_db()
    assert right.status == ResidentStatus.MERGED and right.merged_into_id == left.pk
    cand.refresh_from_db()
    assert cand.status == CandidateStatus.MERGED
    merge = r.context["merges"][0]
    assert merge.survivor_id == left.pk and merge.reason == "同一人重复建档"
    # the old number opens the survivor
    page = c.get(f"/residents/{right.mpi_id}/")
    assert page.status_code == 200 and "已合并到本档案" in page.content.decode()
    r = c.post(f"/residents/merges/{merge.pk}/undo/", follow=True)
    assert "已撤销合并" in r.content.decode()
    right.refresh_from_db()
    assert right.status == ResidentStatus.ACTIVE and right.merged_into_id is None


def test_merge_to_the_right(client_as, pair):
    _, _, cand = pair
    client_as("sysadmin").post(f"/residents/duplicates/{cand.pk}/merge/", {"survivor": "second"})
    assert Resident.objects.get(pk=cand.first_id).merged_into_id == cand.second_id


def test_dismiss(client_as, pair):
    _, _, cand = pair
    r = client_as("group_admin").post(f"/residents/duplicates/{cand.pk}/dismiss/", follow=True)
    assert "不是同一人" in r.content.decode()
    cand.refresh_from_db()
    assert cand.status == CandidateStatus.DISMISSED


def test_merge_needs_a_survivor_choice(client_as, pair):
    _, _, cand = pair
    r = client_as("group_admin").post(f"/residents/duplicates/{cand.pk}/merge/", follow=True)
    assert "请选择保留哪一份档案" in r.content.decode()
    cand.refresh_from_db()
    assert cand.status == CandidateStatus.OPEN


def test_village_doctor_cannot_merge(client_as, pair):
    _, _, cand = pair
    r = client_as("village_doctor").post(
        f"/residents/duplicates/{cand.pk}/merge/", {"survivor": "first"}
    )
    assert r.status_code == 403
    cand.refresh_from_db()
    assert cand.status == CandidateStatus.OPEN


def test_unknown_candidate_is_404(client_as):
    r = client_as("group_admin").post("/residents/duplicates/999999/merge/", {"survivor": "first"})
    assert r.status_code == 404
