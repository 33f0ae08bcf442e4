"""Races on evidence items (PostgreSQL: row locks and constraints under real concurrency)."""

from __future__ import annotations

import pytest
from django.db import connection

from yigongti.core.errors import Conflict
from yigongti.core.testing import run_together
from yigongti.indicators import evidence
from yigongti.indicators.evidence import Upload
from yigongti.indicators.models import (
    EvidenceAttachment,
    EvidenceItem,
    EvidenceReview,
)

from . import evidence_fixtures as fx
from .evidence_fixtures import pdf, png

home_group = fx.home_group
make_item = fx.make_item
second_reviewer = fx.second_reviewer

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL"),
]


def test_two_reviewers_at_once_with_what_they_saw_one_wins(actor, make_item, second_reviewer):
    item = make_item()
    reviewers = [actor("commission"), second_reviewer]
    choices = [("met", ""), ("not_met", "未见会议纪要")]
    results = run_together(
        2,
        lambda i: evidence.do_review_evidence(
            reviewers[i], item.pk, judgement=choices[i][0], comment=choices[i][1], seen_reviews=0
        ),
    )
    won = [r for r in results if isinstance(r, EvidenceReview)]
    lost = [r for r in results if isinstance(r, Conflict)]
    assert len(won) == 1 and len(lost) == 1, results
    assert lost[0].errors[0].field == "seen_reviews"
    item.refresh_from_db()
    assert EvidenceReview.objects.filter(item=item).count() == 1
    assert (item.state, item.judgement) == ("reviewed", won[0].judgement)


def test_two_reviews_at_once_without_a_check_are_both_kept_in_order(
    actor, make_item, second_reviewer
):
    item = make_item()
    reviewers = [actor("commission"), second_reviewer]
    choices = [("met", ""), ("mostly", "部分落实")]
    results = run_together(
        2,
        lambda i: evidence.do_review_evidence(
            reviewers[i], item.pk, judgement=choices[i][0], comment=choices[i][1]
        ),
    )
    assert all(isinstance(r, EvidenceReview) for r in results), results
    reviews = list(EvidenceReview.objects.filter(item=item).order_by("seq"))
    assert [r.seq for r in reviews] == [1, 2]
    item.refresh_from_db()
    # the one written last is in force, on the item and for the scoring
    assert (item.judgement, item.fraction) == (reviews[-1].judgement, reviews[-1].fraction)


def test_same_form_posted_twice_at_once_makes_one_item(actor):
    g = actor("group_admin")
    results = run_together(
        2,
        lambda i: evidence.do_create_evidence(
            g,
            code="tight_resources",
            group_id=g.group_id,
            period="2026",
            title="统一管理",
            files=[Upload.of("a.pdf", pdf())],
            client_key="double-click",
        ),
    )
    assert all(isinstance(r, EvidenceItem) for r in results), results
    assert results[0].pk == results[1].pk
    assert EvidenceItem.objects.count() == 1 and EvidenceAttachment.objects.count() == 1


def test_same_file_added_twice_at_once_is_kept_once(actor, make_item):
    item = make_item(submit=False)
    g = actor("group_admin")
    results = run_together(
        2, lambda i: evidence.do_add_attachments(g, item.pk, [Upload.of(f"{i}.png", png(9))])
    )
    assert sum(isinstance(r, list) for r in results) == 1, results
    assert EvidenceAttachment.objects.filter(item=item).count() == 2
