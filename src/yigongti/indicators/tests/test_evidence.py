"""Evidence items: actions with good and bad input, database constraints, who may do what
(the outsider refused), duplicate submission, the review history and the public queries the
scoring and the dashboard call."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.test import override_settings
from django.utils import timezone

from yigongti.core.errors import Conflict, DomainError, Forbidden, NotFound
from yigongti.core.models import AuditEntry
from yigongti.indicators import evidence
from yigongti.indicators.evidence import Upload
from yigongti.indicators.models import (
    EvidenceAttachment,
    EvidenceItem,
    EvidenceReview,
)
from yigongti.indicators.rules import parse_period

from . import evidence_fixtures as fx
from .evidence_fixtures import docx, pdf, png, xlsx

home_group = fx.home_group
make_item = fx.make_item
other_admin = fx.other_admin
other_group = fx.other_group
second_reviewer = fx.second_reviewer

Y2026 = parse_period("2026")


def _create(actor, **kw):
    a = actor("group_admin")
    args = {
        "code": "tight_resources",
        "group_id": a.group_id,
        "period": "2026H1",
        "title": "人财物统一管理制度",
        "description": "统一财务核算",
        "files": [Upload.of("制度.pdf", pdf())],
    }
    args.update(kw)
    return evidence.do_create_evidence(a, **args)


def _fields(exc: pytest.ExceptionInfo[DomainError]) -> list[str]:
    return [e.field for e in exc.value.errors]


# --- create -------------------------------------------------------------------------------------


def test_group_admin_creates_a_draft_with_files(actor):
    item = _create(actor, files=[Upload.of("制度.pdf", pdf()), Upload.of("台账.xlsx", xlsx())])
    assert (item.state, item.round, item.period, item.code) == (
        "draft",
        0,
        "2026H1",
        "tight_resources",
    )
    files = {a.name: a for a in EvidenceAttachment.objects.filter(item=item)}
    assert set(files) == {"制度.pdf", "台账.xlsx"}
    assert bytes(files["制度.pdf"].data) == pdf() and files["制度.pdf"].size == len(pdf())
    assert files["制度.pdf"].content_type == "application/pdf"
    assert files["台账.xlsx"].round == 1  # goes with the first submission
    entry = AuditEntry.objects.filter(object_type="indicator_evidence", action="create").get()
    assert entry.object_id == str(item.pk) and entry.detail["files"] == ["制度.pdf", "台账.xlsx"]


def test_create_and_submit_at_once(actor):
    item = _create(actor, submit=True)
    assert (item.state, item.round) == ("submitted", 1)
    assert item.submitted_by_id == actor("group_admin").user_id and item.submitted_at


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"title": "  "}, "title"),
        ({"title": "长" * 201}, "title"),
        ({"description": "长" * 5001}, "description"),
        ({"period": "2026-13"}, "period"),
        ({"period": "2026Q1"}, "period"),
        ({"code": "primary_visit_share"}, "code"),
        ({"code": "nonsense"}, "code"),
        ({"group_id": None}, "group"),
        ({"group_id": 999999}, "group"),
        ({"files": [Upload.of("x.exe", b"MZ")]}, "files.0"),
        ({"files": [Upload.of("ok.pdf", pdf()), Upload.of("fake.pdf", png())]}, "files.1"),
        ({"files": [Upload.of("a.pdf", pdf()), Upload.of("b.pdf", pdf())]}, "files.1"),
        ({"files": [], "submit": True}, "files"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(actor, kw, field):
    with pytest.raises(DomainError) as exc:
        _create(actor, **kw)
    assert field in _fields(exc)
    assert all(e.msg_zh and e.msg_en for e in exc.value.errors)
    assert EvidenceItem.objects.count() == 0 and EvidenceAttachment.objects.count() == 0


def test_duplicate_file_in_one_upload_names_both(actor):
    with pytest.raises(DomainError) as exc:
        _create(actor, files=[Upload.of("a.pdf", pdf()), Upload.of("副本.pdf", pdf())])
    assert "副本.pdf" in exc.value.errors[0].msg_zh and "a.pdf" in exc.value.errors[0].msg_zh


@override_settings(YGT={"EVIDENCE_MAX_BYTES": 100})
def test_size_limit_comes_from_settings(actor):
    big = pdf() + b"x" * 100
    with pytest.raises(DomainError) as exc:
        _create(actor, files=[evidence.Upload("大.pdf", len(big), None)])
    assert exc.value.errors[0].code == "too_large" and "100 字节" in exc.value.errors[0].msg_zh


def test_too_many_files_are_refused(actor):
    files = [Upload.of(f"p{i}.png", png(i)) for i in range(evidence.MAX_FILES_PER_ITEM + 1)]
    with pytest.raises(DomainError) as exc:
        _create(actor, files=files)
    assert _fields(exc) == ["files"]


def test_group_outside_scope_is_refused_naming_the_field(actor, other_group):
    with pytest.raises(DomainError) as exc:
        _create(actor, group_id=other_group.pk)
    assert _fields(exc) == ["group"] and exc.value.status == 403
    assert EvidenceItem.objects.count() == 0
    assert AuditEntry.objects.filter(action="denied", object_type="indicator_evidence").exists()


def test_same_client_key_twice_makes_one_item(actor):
    a = _create(actor, client_key="form-1")
    b = _create(actor, client_key="form-1", title="第二次点击")
    assert a.pk == b.pk and EvidenceItem.objects.count() == 1
    assert b.title == "人财物统一管理制度"
    c = _create(actor, client_key="form-2")
    assert c.pk != a.pk


@pytest.mark.parametrize(
    "who",
    ["commission", "village_doctor", "outsider_doctor", "county_doctor", "pharmacist", "sysadmin"],
)
def test_only_group_admins_create(actor, who):
    a = actor(who)
    with pytest.raises(Forbidden):
        evidence.do_create_evidence(
            a,
            code="tight_resources",
            group_id=a.group_id or 1,
            period="2026",
            title="t",
            files=[Upload.of("a.pdf", pdf())],
        )
    assert EvidenceItem.objects.count() == 0
    assert AuditEntry.objects.filter(action="denied", username=who).exists()


# --- constraints --------------------------------------------------------------------------------


def _bare_item(actor, **kw):
    a = actor("group_admin")
    fields = {
        "code": "tight_services",
        "group_id": a.group_id,
        "period": "2026",
        "title": "t",
        "created_by_id": a.user_id,
        "created_at": timezone.now(),
    }
    fields.update(kw)
    return EvidenceItem.objects.create(**fields)


@pytest.mark.parametrize(
    "kw",
    [
        {"period": "2026Q1"},
        {"period": "26"},
        {"title": ""},
        {"state": "approved"},
        {"state": "submitted"},  # submitted without round / submitter
        {"fraction": Decimal("1")},  # a fraction on an unreviewed item
        {"state": "reviewed", "round": 1, "submitted_at": timezone.now(), "judgement": "met"},
    ],
)
def test_item_constraints(actor, kw):
    with pytest.raises(IntegrityError), transaction.atomic():
        _bare_item(actor, **kw)


def test_one_client_key_per_person_in_the_database(actor):
    _bare_item(actor, client_key="k")
    _bare_item(actor)  # blank keys do not collide
    _bare_item(actor)
    with pytest.raises(IntegrityError), transaction.atomic():
        _bare_item(actor, client_key="k")


def test_attachment_constraints(actor):
    item = _bare_item(actor)
    base = {
        "item": item,
        "name": "a.pdf",
        "content_type": "application/pdf",
        "size": 3,
        "sha256": "a" * 64,
        "data": b"abc",
        "uploaded_by_id": item.created_by_id,
        "uploaded_at": timezone.now(),
    }
    EvidenceAttachment.objects.create(**base)
    for bad in (
        {"name": "b.pdf"},
        {"sha256": "b" * 63},
        {"sha256": "B" * 64, "name": "c"},
        {"sha256": "c" * 64, "size": 0},
        {"sha256": "d" * 64, "name": ""},
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            EvidenceAttachment.objects.create(**{**base, **bad})


@pytest.mark.parametrize(
    ("judgement", "fraction", "comment", "ok"),
    [
        ("met", Decimal("1"), "", True),
        ("mostly", Decimal("0.5"), "缺财务统一", True),
        ("not_met", Decimal("0"), "未建立", True),
        ("returned", None, "请补充纪要", True),
        ("met", Decimal("0.5"), "", False),
        ("mostly", Decimal("1"), "x", False),
        ("not_met", None, "x", False),
        ("returned", Decimal("0"), "x", False),
        ("mostly", Decimal("0.5"), "", False),  # comment required unless met
        ("returned", None, "", False),
    ],
)
def test_review_constraints(actor, make_item, judgement, fraction, comment, ok):
    item = make_item()
    row = {
        "item": item,
        "seq": 1,
        "round": 1,
        "reviewer_id": actor("commission").user_id,
        "judgement": judgement,
        "fraction": fraction,
        "comment": comment,
        "reviewed_at": timezone.now(),
    }
    if ok:
        EvidenceReview.objects.create(**row)
        with pytest.raises(IntegrityError), transaction.atomic():
            EvidenceReview.objects.create(**row)  # the same place in the history twice
    else:
        with pytest.raises(IntegrityError), transaction.atomic():
            EvidenceReview.objects.create(**row)


# --- attachments, edit, submit ------------------------------------------------------------------


def test_adding_the_same_file_again_is_refused(actor, make_item):
    item = make_item(submit=False)
    with pytest.raises(DomainError) as exc:
        evidence.do_add_attachments(
            actor("group_admin"),
            item.pk,
            [Upload.of("again.pdf", pdf("党委会、院长办公会议事规则及会议纪要"))],
        )
    assert exc.value.errors[0].code == "duplicate" and "纪要.pdf" in exc.value.errors[0].msg_zh
    added = evidence.do_add_attachments(
        actor("group_admin"), item.pk, [Upload.of("制度.docx", docx())]
    )
    assert [a.name for a in added] == ["制度.docx"]
    assert EvidenceAttachment.objects.filter(item=item).count() == 2


def test_submitted_items_do_not_change(actor, make_item):
    item = make_item()
    g = actor("group_admin")
    with pytest.raises(Conflict) as exc:
        evidence.do_add_attachments(g, item.pk, [Upload.of("x.png", png())])
    assert exc.value.errors[0].field == "state"
    with pytest.raises(Conflict):
        evidence.do_update_evidence(g, item.pk, title="新标题", description="")
    with pytest.raises(Conflict):
        evidence.do_submit_evidence(g, item.pk)


def test_submitting_a_draft_without_files_is_refused(actor, make_item):
    item = make_item(submit=False, files=[])
    with pytest.raises(DomainError) as exc:
        evidence.do_submit_evidence(actor("group_admin"), item.pk)
    assert _fields(exc) == ["files"]
    item.refresh_from_db()
    assert item.state == "draft"


def test_other_groups_items_look_absent(actor, make_item, other_admin):
    item = make_item(submit=False)
    with pytest.raises(NotFound):
        evidence.get_evidence_for(other_admin, item.pk)
    with pytest.raises(NotFound):
        evidence.do_add_attachments(other_admin, item.pk, [Upload.of("x.png", png())])
    with pytest.raises(NotFound):
        evidence.do_submit_evidence(other_admin, item.pk)
    assert list(evidence.list_evidence(other_admin)) == []


# --- review -------------------------------------------------------------------------------------


def test_full_cycle_return_resubmit_review_and_re_review(actor, make_item, second_reviewer):
    item = make_item()
    c, g = actor("commission"), actor("group_admin")
    evidence.do_review_evidence(c, item.pk, judgement="returned", comment="请补充会议纪要原件")
    item.refresh_from_db()
    assert (item.state, item.fraction) == ("returned", None)
    assert evidence.judgement_fraction("tight_decision", g.group_id, Y2026) is None
    evidence.do_add_attachments(
        g, item.pk, [Upload.of("原件.jpg", b"\xff\xd8\xff\xe0" + b"1" * 30)]
    )
    evidence.do_submit_evidence(g, item.pk)
    item.refresh_from_db()
    assert (item.state, item.round) == ("submitted", 2)
    r = evidence.do_review_evidence(c, item.pk, judgement="mostly", comment="信息化统一尚未落实")
    assert (r.seq, r.round, r.fraction) == (2, 2, Decimal("0.5"))
    assert evidence.judgement_fraction("tight_decision", g.group_id, Y2026) == Decimal("0.5")
    # a later review by another commission member supersedes; the history keeps all three
    evidence.do_review_evidence(second_reviewer, item.pk, judgement="met", seen_reviews=2)
    assert evidence.judgement_fraction("tight_decision", g.group_id, Y2026) == Decimal("1")
    assert [(x.seq, x.judgement) for x in evidence.reviews_of(item)] == [
        (1, "returned"),
        (2, "mostly"),
        (3, "met"),
    ]
    item.refresh_from_db()
    assert (item.state, item.judgement, item.reviewed_by_id) == (
        "reviewed",
        "met",
        second_reviewer.user_id,
    )


@pytest.mark.parametrize(
    ("judgement", "comment", "field"),
    [
        ("", "", "judgement"),
        ("good", "x", "judgement"),
        ("mostly", "", "comment"),
        ("not_met", "  ", "comment"),
        ("returned", "", "comment"),
        ("met", "长" * 2001, "comment"),
    ],
)
def test_review_bad_input_names_the_field(actor, make_item, judgement, comment, field):
    item = make_item()
    with pytest.raises(DomainError) as exc:
        evidence.do_review_evidence(
            actor("commission"), item.pk, judgement=judgement, comment=comment
        )
    assert _fields(exc) == [field]
    assert EvidenceReview.objects.count() == 0


def test_met_needs_no_comment(actor, make_item):
    item = make_item()
    r = evidence.do_review_evidence(actor("commission"), item.pk, judgement="met")
    assert (r.fraction, r.comment) == (Decimal("1"), "")


def test_stale_review_is_refused(actor, make_item, second_reviewer):
    item = make_item()
    evidence.do_review_evidence(actor("commission"), item.pk, judgement="met", seen_reviews=0)
    with pytest.raises(Conflict) as exc:
        evidence.do_review_evidence(
            second_reviewer, item.pk, judgement="not_met", comment="x", seen_reviews=0
        )
    assert exc.value.errors[0].field == "seen_reviews"
    assert EvidenceReview.objects.count() == 1


@pytest.mark.parametrize(
    "who", ["group_admin", "village_doctor", "outsider_doctor", "sysadmin", "county_doctor"]
)
def test_only_the_commission_reviews(actor, make_item, who):
    item = make_item()
    with pytest.raises(Forbidden):
        evidence.do_review_evidence(actor(who), item.pk, judgement="met")
    assert EvidenceReview.objects.count() == 0


def test_nobody_reviews_their_own_submission(actor, make_item):
    """A group administrator who later joins the commission keeps their login: the items they
    submitted are not theirs to judge."""
    from dataclasses import replace

    from yigongti.accounts.rules import ROLE_PERMISSIONS, Role
    from yigongti.core.actor import Scope, ScopeKind

    item = make_item()
    g = actor("group_admin")
    moved = replace(
        g,
        role=Role.COMMISSION,
        group_id=None,
        scope=Scope(ScopeKind.ALL),
        permissions=ROLE_PERMISSIONS[Role.COMMISSION],
    )
    with pytest.raises(Forbidden) as exc:
        evidence.do_review_evidence(moved, item.pk, judgement="met")
    assert "本人" in exc.value.msg_zh
    assert EvidenceReview.objects.count() == 0


def test_drafts_are_not_reviewed_nor_seen_by_the_commission(actor, make_item):
    item = make_item(submit=False)
    c = actor("commission")
    with pytest.raises(NotFound):
        evidence.do_review_evidence(c, item.pk, judgement="met")
    with pytest.raises(NotFound):
        evidence.get_evidence_for(c, item.pk)
    assert list(evidence.list_evidence(c)) == []


def test_returned_item_awaits_the_group(actor, make_item):
    item = make_item()
    c = actor("commission")
    evidence.do_review_evidence(c, item.pk, judgement="returned", comment="补充")
    with pytest.raises(Conflict) as exc:
        evidence.do_review_evidence(c, item.pk, judgement="met")
    assert exc.value.errors[0].field == "state"


# --- reads: access, audit, the public queries ---------------------------------------------------


@pytest.mark.parametrize(
    "who",
    [
        "village_doctor",
        "outsider_doctor",
        "county_doctor",
        "township_doctor",
        "pharmacist",
        "sysadmin",
    ],
)
def test_others_cannot_read(actor, make_item, who):
    item = make_item()
    a = actor(who)
    for call in (
        lambda: evidence.list_evidence(a),
        lambda: evidence.get_evidence_for(a, item.pk),
        lambda: evidence.get_attachment_for_download(a, item.pk, item.attachments.get().pk),
        lambda: evidence.evidence_status_for(a, Y2026),
    ):
        with pytest.raises(Forbidden):
            call()
    assert AuditEntry.objects.filter(action="denied", username=who).count() == 4


def test_reads_and_downloads_are_audited(actor, make_item):
    item = make_item()
    att = item.attachments.get()
    for who in ("group_admin", "commission"):
        a = actor(who)
        assert [x.pk for x in evidence.list_evidence(a, period=Y2026)] == [item.pk]
        assert evidence.get_evidence_for(a, item.pk).pk == item.pk
        got = evidence.get_attachment_for_download(a, item.pk, att.pk)
        assert bytes(got.data) == pdf("党委会、院长办公会议事规则及会议纪要")
        mine = AuditEntry.objects.filter(username=who)
        assert mine.filter(action="search", object_type="indicator_evidence").exists()
        assert mine.filter(
            action="read", object_type="indicator_evidence", object_id=str(item.pk)
        ).exists()
        assert mine.filter(
            action="export", object_type="indicator_evidence_file", object_id=str(att.pk)
        ).exists()


def test_list_filters(actor, make_item):
    a = make_item(code="tight_decision", period="2026")
    b = make_item(code="tight_services", period="2026H1", title="双向转诊协同")
    c = make_item(code="tight_services", period="2026", submit=False, title="草稿")
    g = actor("group_admin")
    assert {x.pk for x in evidence.list_evidence(g)} == {a.pk, b.pk, c.pk}
    assert {x.pk for x in evidence.list_evidence(g, period=Y2026)} == {a.pk, c.pk}
    assert {x.pk for x in evidence.list_evidence(g, code="tight_services")} == {b.pk, c.pk}
    assert {x.pk for x in evidence.list_evidence(g, state="draft")} == {c.pk}
    assert [x.n_files for x in evidence.list_evidence(g, period=Y2026, code="tight_decision")] == [
        1
    ]


def test_judgement_fraction_and_status_by_hand(
    actor, make_item, other_admin, other_group, home_group
):
    c = actor("commission")
    # home group, 2026: tight_decision reviewed 未达标 then a second item reviewed 达标 later
    d1 = make_item(code="tight_decision")
    d2 = make_item(code="tight_decision", title="理事会章程")
    evidence.do_review_evidence(c, d1.pk, judgement="not_met", comment="无会议记录")
    evidence.do_review_evidence(c, d2.pk, judgement="met")
    EvidenceItem.objects.filter(pk=d1.pk).update(reviewed_at=timezone.now() - timedelta(days=1))
    # tight_services: submitted, awaiting review; tight_resources: only a draft
    make_item(code="tight_services")
    make_item(code="tight_resources", submit=False)
    # the other group: tight_resources returned; a 2026H1 item does not count for 2026
    r = make_item(code="tight_resources", who=other_admin)
    evidence.do_review_evidence(c, r.pk, judgement="returned", comment="补充")
    h = make_item(code="tight_services", who=other_admin, period="2026H1")
    evidence.do_review_evidence(c, h.pk, judgement="mostly", comment="部分")

    home, other = home_group.pk, other_group.pk
    assert evidence.judgement_fraction("tight_decision", home, Y2026) == Decimal("1")
    assert evidence.judgement_fraction("tight_services", home, Y2026) is None
    assert evidence.judgement_fraction("tight_resources", home, Y2026) is None
    assert evidence.judgement_fraction("tight_resources", other, Y2026) is None
    assert evidence.judgement_fraction("tight_services", other, Y2026) is None
    assert evidence.judgement_fraction("tight_services", other, parse_period("2026H1")) == Decimal(
        "0.5"
    )

    rows = {(x["code"], x["group_id"]): x for x in evidence.evidence_status(Y2026)}
    assert len(rows) == 3 * 2  # three indicators × the county's two groups
    assert (
        rows["tight_decision", home]["status_label"],
        rows["tight_decision", home]["items"],
        rows["tight_decision", home]["fraction"],
    ) == ("达标", 2, Decimal("1"))
    assert rows["tight_decision", home]["reviewer"] == evidence.display_name(
        d2.created_by.__class__.objects.get(pk=c.user_id)
    )
    assert (
        rows["tight_services", home]["status_label"],
        rows["tight_services", home]["pending"],
    ) == ("待评审", 1)
    assert (
        rows["tight_resources", home]["status_label"],
        rows["tight_resources", home]["items"],
    ) == ("未提交", 0)
    assert rows["tight_resources", other]["status_label"] == "退回补充"
    assert rows["tight_services", other]["status_label"] == "未提交"
    assert rows["tight_decision", other]["status"] == "none"

    mine = evidence.evidence_status_for(actor("group_admin"), Y2026)
    assert {x["group_id"] for x in mine} == {home}
    with pytest.raises(Forbidden):
        evidence.evidence_status_for(actor("group_admin"), Y2026, other)
    assert len(evidence.evidence_status_for(c, Y2026)) == 6
