"""The request → claim → report → review chain, critical values, mutual recognition, scope."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from yigongti.core.errors import Conflict, DomainError, Forbidden, NotFound
from yigongti.core.models import AuditEntry
from yigongti.diagnostics import actions, queries
from yigongti.diagnostics.models import (
    CriticalValue,
    QualityReview,
    Report,
    Study,
    StudyState,
)
from yigongti.records.models import DiagnosticReport, Entry


def test_full_chain_request_claim_report_review(actor, ask, resident):
    v, c, g = actor("village_doctor"), actor("county_doctor"), actor("group_admin")
    s = ask("imaging").study
    assert s.state == "requested" and s.requesting_facility_id == v.facility_id
    assert Entry.objects.filter(object_type="study", object_id=s.pk).count() == 1
    actions.do_claim_study(c, s.pk)
    r = actions.do_report_study(
        c, s.pk, actions.ReportInput(findings="双肺纹理清晰", impression="胸部未见异常")
    )
    s.refresh_from_db()
    assert s.state == "reported" and s.reported_at is not None and r.version == 1
    rec = DiagnosticReport.objects.get(pk=r.record_report_id)
    assert rec.category == "imaging" and rec.resident_id == resident.pk
    assert rec.facility_id == c.facility_id and not rec.critical
    assert Entry.objects.filter(object_type="report", object_id=rec.pk).count() == 1
    # the reader cannot review their own report; another reader of the centre can
    with pytest.raises(DomainError) as e:
        actions.do_review_study(c, s.pk, consistent=True, film_grade="A")
    assert e.value.errors[0].field == "reviewer"
    q = actions.do_review_study(g, s.pk, consistent=True, film_grade="A")
    assert q.film_grade == "A" and Study.objects.get(pk=s.pk).state == "reviewed"
    assert AuditEntry.objects.filter(object_type="study", object_id=str(s.pk)).count() >= 3


def test_amendment_keeps_the_earlier_version(actor, reported):
    s = reported("ecg")
    c = actor("county_doctor")
    with pytest.raises(DomainError) as e:
        actions.do_amend_report(c, s.pk, actions.ReportInput(findings="x", impression="y"))
    assert e.value.errors[0].field == "amend_reason"
    r2 = actions.do_amend_report(
        c,
        s.pk,
        actions.ReportInput(
            findings="窦性心动过缓", impression="窦性心动过缓", amend_reason="心率计算错误"
        ),
    )
    assert r2.version == 2
    assert list(Report.objects.filter(study=s).values_list("version", "is_current")) == [
        (1, False),
        (2, True),
    ]
    first = DiagnosticReport.objects.get(pk=Report.objects.get(study=s, version=1).record_report_id)
    second = DiagnosticReport.objects.get(pk=r2.record_report_id)
    assert first.status == "amended" and second.replaces_id == first.pk


def test_report_bad_input_names_fields_and_writes_nothing(actor, ask):
    s = ask("ecg").study
    c = actor("county_doctor")
    actions.do_claim_study(c, s.pk)
    with pytest.raises(DomainError) as e:
        actions.do_report_study(c, s.pk, actions.ReportInput(findings="", critical=True))
    assert {x.field for x in e.value.errors} == {"findings", "impression", "critical_text"}
    assert Report.objects.count() == 0 and CriticalValue.objects.count() == 0
    assert Study.objects.get(pk=s.pk).state == "claimed"


def test_request_bad_input_names_fields_and_writes_nothing(actor, ask, centres):
    with pytest.raises(DomainError) as e:
        ask("imaging", exam_code="", exam_name="", body_part="", urgency=9)
    assert {x.field for x in e.value.errors} == {"exam_code", "exam_name", "body_part", "urgency"}
    with pytest.raises(DomainError) as e:
        ask("ecg", centre_id=999999)
    assert e.value.errors[0].field == "centre_id"
    assert Study.objects.count() == 0


@pytest.mark.parametrize(
    ("steps", "who", "refused"),
    [
        ([], "county_doctor", "report"),
        (["claim"], "county_doctor", "claim"),
        (["claim", "report"], "village_doctor", "cancel"),
        (["cancel"], "county_doctor", "claim"),
        ([], "county_doctor", "review"),
    ],
)
def test_invalid_transitions_are_409(actor, ask, steps, who, refused):
    s = ask("ecg").study
    c, v = actor("county_doctor"), actor("village_doctor")
    rep = actions.ReportInput(findings="a", impression="b")
    do = {
        "claim": lambda a: actions.do_claim_study(a, s.pk),
        "report": lambda a: actions.do_report_study(a, s.pk, rep),
        "cancel": lambda a: actions.do_cancel_study(a, s.pk, "患者离开"),
        "review": lambda a: actions.do_review_study(a, s.pk, consistent=True),
    }
    for step in steps:
        do[step](v if step == "cancel" else c)
    before = Study.objects.get(pk=s.pk).state
    with pytest.raises(Conflict) as e:
        do[refused](actor(who))
    assert e.value.errors[0].code == "invalid_transition"
    assert Study.objects.get(pk=s.pk).state == before


def test_only_the_claiming_reader_reports_and_requester_cannot_claim(actor, ask):
    s = ask("ecg").study
    with pytest.raises(Forbidden):
        actions.do_claim_study(actor("village_doctor"), s.pk)  # no read_studies
    actions.do_claim_study(actor("group_admin"), s.pk)
    with pytest.raises(Forbidden):
        actions.do_report_study(
            actor("county_doctor"), s.pk, actions.ReportInput(findings="a", impression="b")
        )
    actions.do_release_study(actor("group_admin"), s.pk)
    assert Study.objects.get(pk=s.pk).state == "requested"


def test_outsider_is_refused_everywhere(actor, ask, resident, centres):
    o = actor("outsider_doctor")
    s = ask("ecg").study
    with pytest.raises(NotFound):
        actions.do_request_study(o, resident, actions.StudyInput(centre_id=centres["ecg"].pk))
    with pytest.raises(NotFound):
        queries.get_study_for(o, s.pk)
    with pytest.raises(NotFound):
        actions.do_cancel_study(o, s.pk, "x")
    assert queries.reading_queue(o, centres["ecg"].pk) == []
    assert AuditEntry.objects.filter(action="denied", object_type="study").count() >= 2
    assert not queries.studies_visible_to(o).exists()


def test_scope_reader_sees_centre_requester_sees_facility(actor, ask, centres):
    s = ask("ecg").study
    assert [x.pk for x in queries.reading_queue(actor("county_doctor"), centres["ecg"].pk)] == [
        s.pk
    ]
    assert queries.requested_by_facility(actor("village_doctor")).get().pk == s.pk
    # the township doctor of the same township is another facility: not theirs
    assert not queries.requested_by_facility(actor("township_doctor")).exists()
    with pytest.raises(NotFound):
        queries.get_study_for(actor("township_doctor"), s.pk)


def test_queue_order_urgency_then_waiting_and_keyset(actor, ask, centres):
    made = [
        ask("lab", urgency=u, exam_code=f"L{i}", client_key="").study
        for i, u in enumerate([2, 0, 2, 1, 0])
    ]
    now = timezone.now()
    for i, s in enumerate(made):
        Study.objects.filter(pk=s.pk).update(requested_at=now - timedelta(minutes=10 * (5 - i)))
    c = actor("county_doctor")
    full = queries.reading_queue(c, centres["lab"].pk)
    assert [s.urgency for s in full] == [0, 0, 1, 2, 2]
    assert [s.pk for s in full] == [made[1].pk, made[4].pk, made[3].pk, made[0].pk, made[2].pk]
    # ties on requested_at are broken by id, page after page
    tie = now - timedelta(minutes=5)
    Study.objects.filter(pk__in=[made[1].pk, made[4].pk]).update(requested_at=tie)
    full = queries.reading_queue(c, centres["lab"].pk)
    assert [s.pk for s in full[:2]] == sorted([made[1].pk, made[4].pk])
    one = queries.reading_queue(c, centres["lab"].pk, limit=1)
    nxt = queries.reading_queue(
        c, centres["lab"].pk, after=queries.Cursor(0, tie, one[0].pk), limit=1
    )
    assert [one[0].pk, nxt[0].pk] == [s.pk for s in full[:2]]
    first = queries.reading_queue(c, centres["lab"].pk, limit=2)
    cur = queries.Cursor(first[-1].urgency, first[-1].requested_at, first[-1].pk)
    rest = queries.reading_queue(c, centres["lab"].pk, after=queries.Cursor.decode(cur.encode()))
    assert [s.pk for s in first + rest] == [s.pk for s in full]


def test_client_key_returns_the_same_study(ask):
    a = ask("ecg", client_key="k1").study
    b = ask("ecg", client_key="k1").study
    assert a.pk == b.pk and Study.objects.count() == 1


# --------------------------------------------------------------------------------- critical


def test_critical_value_closed_loop(actor, reported):
    s = reported("ecg", critical=True)
    cv = CriticalValue.objects.get(study=s)
    assert cv.item.startswith("ST段") and cv.ack_due_at == cv.flagged_at + timedelta(minutes=30)
    assert DiagnosticReport.objects.get(critical=True).resident_id == s.resident_id
    v = actor("village_doctor")
    assert list(queries.critical_worklist(v)) == [cv]
    with pytest.raises(Forbidden):  # the centre flags; the requesting side acknowledges
        actions.do_acknowledge_critical(actor("county_doctor"), cv.pk)
    a1 = actions.do_acknowledge_critical(v, cv.pk)
    a2 = actions.do_acknowledge_critical(v, cv.pk)  # idempotent
    assert a1.acknowledged_at == a2.acknowledged_at is not None
    with pytest.raises(DomainError) as e:
        actions.do_resolve_critical(v, cv.pk, "")
    assert e.value.errors[0].field == "action_taken"
    done = actions.do_resolve_critical(v, cv.pk, "已电话通知患者，120转县医院胸痛中心")
    assert done.resolved_at >= done.acknowledged_at
    with pytest.raises(Conflict):
        actions.do_resolve_critical(v, cv.pk, "again")
    assert not queries.critical_worklist(v).exists()
    assert Entry.objects.filter(object_type="critical_value", object_id=cv.pk).count() == 1
    with pytest.raises(NotFound):
        actions.do_acknowledge_critical(actor("outsider_doctor"), cv.pk)


def test_amendment_that_flags_critical_opens_the_loop(actor, reported):
    s = reported("ecg")
    actions.do_amend_report(
        actor("county_doctor"),
        s.pk,
        actions.ReportInput(
            findings="复核见ST段抬高",
            impression="急性心梗可能",
            critical=True,
            critical_text="ST段抬高",
            amend_reason="复核发现",
        ),
    )
    assert CriticalValue.objects.filter(study=s, acknowledged_at__isnull=True).count() == 1


# --------------------------------------------------------------------------------- recognition


@pytest.mark.parametrize(
    ("kind", "days_ago", "warns"),
    [
        ("lab", 0, True),
        ("lab", 29, True),
        ("lab", 30, True),  # exactly the 30-day window: still recognised
        ("lab", 31, False),
        ("imaging", 180, True),
        ("imaging", 181, False),
        ("pathology", 1, False),  # window 0 by default: never warns
    ],
)
def test_mutual_recognition_window_edges(actor, reported, ask, kind, days_ago, warns):
    s = reported(kind)
    # exactly N days ago (a minute less, so "now" in the action is still within N days)
    nudge = timedelta(minutes=1) if days_ago else -timedelta(minutes=1)
    when = timezone.now() - timedelta(days=days_ago) + nudge
    Study.objects.filter(pk=s.pk).update(reported_at=when)
    res = ask(kind)
    if warns:
        assert res.study is None and res.warning is not None
        assert res.warning.prior.pk == s.pk and str(s.pk) in res.warning.message
        assert Study.objects.count() == 1
        again = ask(kind, still_needed_reason="病情变化，需复查")
        assert again.study is not None and again.study.prior_study_id == s.pk
        assert again.study.still_needed_reason == "病情变化，需复查"
    else:
        assert res.study is not None and res.warning is None


def test_recognition_across_centres_and_configurable_window(actor, reported, ask, centres):
    s = reported("lab")
    Study.objects.filter(pk=s.pk).update(reported_at=timezone.now() - timedelta(days=10))
    centres["lab"].recognition_days = 7
    centres["lab"].save()
    assert ask("lab").study is not None  # 10 days > 7-day window
    centres["lab"].recognition_days = None
    centres["lab"].save()
    assert ask("lab").warning is not None  # default 30 days


def test_a_different_exam_code_does_not_warn(reported, ask):
    reported("lab")
    assert ask("lab", exam_code="GLU", exam_name="空腹血糖").study is not None


# --------------------------------------------------------------------------------- review


def test_review_film_grade_rules(actor, reported):
    g = actor("group_admin")
    img = reported("imaging")
    with pytest.raises(DomainError) as e:
        actions.do_review_study(g, img.pk, consistent=True)
    assert e.value.errors[0].field == "film_grade"
    ecg = reported("ecg", exam_code="ECG18")
    with pytest.raises(DomainError) as e:
        actions.do_review_study(g, ecg.pk, consistent=False, film_grade="A")
    assert e.value.errors[0].field == "film_grade"
    assert QualityReview.objects.count() == 0
    actions.do_review_study(g, ecg.pk, consistent=False)
    assert Study.objects.get(pk=ecg.pk).state == StudyState.REVIEWED
