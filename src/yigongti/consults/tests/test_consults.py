"""Consultation actions: who may do what, validation naming the field, deadlines from the
policy, the timeline and the audit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from yigongti.consults import actions, queries, rules
from yigongti.consults.models import Consultation, ConsultPolicy, Step
from yigongti.core.errors import Conflict, DomainError, Forbidden, NotFound
from yigongti.core.models import AuditEntry
from yigongti.records.models import Entry


def test_village_doctor_requests_and_the_whole_journey(actor, resident, consult_input):
    v, c = actor("village_doctor"), actor("county_doctor")
    x = actions.do_request_consultation(v, resident, consult_input())
    assert x.state == "submitted" and x.consent and x.consent_signer == "患者本人"
    assert x.arrange_by == x.submitted_at + timedelta(hours=48)
    assert x.finish_by == rules.finish_by(x.submitted_at, False, 3, 12)
    assert queries.inbox(c).filter(pk=x.pk).exists()
    assert queries.sent(v).filter(pk=x.pk).exists()
    actions.do_accept_consultation(c, x.pk)
    x.refresh_from_db()
    assert x.state == "accepted" and x.expert_name == "陈建国" and x.expert_title == "主治医师"
    assert x.scheduled_at == x.proposed_at
    actions.do_give_opinion(c, x.pk, "考虑原发性醛固酮增多症，建议查肾素-醛固酮", "加用螺内酯")
    assert queries.awaiting_decision(v).filter(pk=x.pk).exists()
    actions.do_close_consultation(
        v, x.pk, final_decision="暂不转诊，完善检查后复诊", rating=5, rating_note="及时"
    )
    x.refresh_from_db()
    assert x.state == "closed" and x.rating == 5 and x.final_decision.startswith("暂不转诊")
    assert [s.to_state for s in Step.objects.filter(consultation=x).order_by("at", "pk")] == [
        "submitted",
        "accepted",
        "answered",
        "closed",
    ]
    entries = Entry.objects.filter(object_type="consultation", object_id=x.pk, kind="consult")
    assert entries.count() == 4 and entries.filter(resident=resident).count() == 4
    assert AuditEntry.objects.filter(object_type="consultation", object_id=str(x.pk)).count() >= 4


def test_emergency_uses_the_facility_policy(actor, resident, consult_input, county_staff):
    ConsultPolicy.objects.create(
        facility_id=county_staff.facility_id,
        arrange_hours=24,
        finish_working_days=2,
        emergency_hours=6,
    )
    x = actions.do_request_consultation(
        actor("village_doctor"), resident, consult_input(urgency="emergency", proposed_at=None)
    )
    assert x.arrange_by == x.submitted_at + timedelta(hours=6)
    assert x.finish_by == x.submitted_at + timedelta(hours=6)
    y = actions.do_request_consultation(
        actor("village_doctor"), resident, consult_input(proposed_at=None)
    )
    assert y.arrange_by == y.submitted_at + timedelta(hours=24)
    assert y.finish_by == rules.finish_by(y.submitted_at, False, 2, 6)


@override_settings(YGT={"CONSULT_ARRANGE_HOURS": 8, "CONSULT_EMERGENCY_HOURS": 3})
def test_settings_give_the_defaults_without_a_policy_row(actor, resident, consult_input):
    x = actions.do_request_consultation(actor("village_doctor"), resident, consult_input())
    assert x.arrange_by == x.submitted_at + timedelta(hours=8)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"consent": False}, "consent"),
        ({"consent_signer": " "}, "consent_signer"),
        ({"reason": ""}, "reason"),
        ({"purpose": ""}, "purpose"),
        ({"case_summary": "  "}, "case_summary"),
        ({"urgency": "soon"}, "urgency"),
        ({"wanted_title": 7}, "wanted_title"),
        ({"to_facility_id": None}, "to_facility_id"),
        ({"to_department_id": 999999}, "to_department_id"),
    ],
)
def test_bad_request_names_the_field_and_writes_nothing(
    actor, resident, consult_input, change, field
):
    with pytest.raises(DomainError) as e:
        actions.do_request_consultation(actor("village_doctor"), resident, consult_input(**change))
    assert field in {x.field for x in e.value.errors}
    assert Consultation.objects.count() == 0
    assert not Entry.objects.filter(object_type="consultation").exists()


def test_proposed_time_in_the_past_is_refused(actor, resident, consult_input):
    with pytest.raises(DomainError) as e:
        actions.do_request_consultation(
            actor("village_doctor"),
            resident,
            consult_input(proposed_at=timezone.now() - timedelta(days=1)),
        )
    assert e.value.errors[0].field == "proposed_at"


def test_to_a_township_centre_is_refused(actor, resident, consult_input):
    township = actor("township_doctor").facility_id
    with pytest.raises(DomainError) as e:
        actions.do_request_consultation(
            actor("village_doctor"), resident, consult_input(to_facility_id=township)
        )
    assert e.value.errors[0].field == "to_facility_id"


def test_outsider_cannot_request_for_a_resident_out_of_scope(actor, resident, consult_input):
    with pytest.raises(NotFound):
        actions.do_request_consultation(actor("outsider_doctor"), resident, consult_input())
    assert Consultation.objects.count() == 0


def test_pharmacist_has_no_consult_permission(actor, resident, consult_input):
    with pytest.raises(Forbidden):
        actions.do_request_consultation(actor("pharmacist"), resident, consult_input())


def test_county_doctor_cannot_request(actor, resident, consult_input):
    with pytest.raises(Forbidden):
        actions.do_request_consultation(actor("county_doctor"), resident, consult_input())


def test_client_key_makes_a_retry_return_the_first(actor, resident, consult_input):
    v = actor("village_doctor")
    a = actions.do_request_consultation(v, resident, consult_input(client_key="k-1"))
    b = actions.do_request_consultation(v, resident, consult_input(client_key="k-1"))
    assert a.pk == b.pk and Consultation.objects.count() == 1


def test_outsider_cannot_see_or_act(actor, resident, consult_input):
    x = actions.do_request_consultation(actor("village_doctor"), resident, consult_input())
    o = actor("outsider_doctor")
    assert not queries.consultations_visible_to(o).filter(pk=x.pk).exists()
    with pytest.raises(NotFound):
        queries.get_consultation_for(o, x.pk)
    assert AuditEntry.objects.filter(
        object_type="consultation", object_id=str(x.pk), action="denied"
    ).exists()
    with pytest.raises(NotFound):
        actions.do_accept_consultation(o, x.pk)
    with pytest.raises(NotFound):
        actions.do_cancel_consultation(o, x.pk, "x")
    x.refresh_from_db()
    assert x.state == "submitted"


def test_sides_are_respected(actor, resident, consult_input):
    v, c = actor("village_doctor"), actor("county_doctor")
    x = actions.do_request_consultation(v, resident, consult_input())
    with pytest.raises(Forbidden):  # the requester cannot accept its own request
        actions.do_accept_consultation(v, x.pk, expert_id=None)
    with pytest.raises(Forbidden):  # the consultant cannot cancel
        actions.do_cancel_consultation(c, x.pk, "不需要")
    actions.do_accept_consultation(c, x.pk)
    actions.do_give_opinion(c, x.pk, "意见")
    with pytest.raises(Forbidden):  # the treating facility keeps the decision
        actions.do_close_consultation(c, x.pk, final_decision="转上级", rating=5)
    with pytest.raises(Conflict) as e:  # no second opinion over the first
        actions.do_give_opinion(c, x.pk, "另一意见")
    assert e.value.errors[0].field == "state"


def test_the_expert_title_must_meet_the_request(actor, resident, consult_input, second_expert):
    x = actions.do_request_consultation(
        actor("village_doctor"), resident, consult_input(wanted_title=2)
    )
    c = actor("county_doctor")  # 主治医师: intermediate
    with pytest.raises(DomainError) as e:
        actions.do_accept_consultation(c, x.pk)
    assert e.value.errors[0].field == "expert_id"
    senior = second_expert("副主任医师")
    staff_id = queries.experts_at(c.facility_id, level=2)[0].pk  # type: ignore[arg-type]
    actions.do_accept_consultation(c, x.pk, expert_id=staff_id)  # arranged for a colleague
    x.refresh_from_db()
    assert x.state == "accepted" and x.expert_title == "副主任医师"
    assert senior.facility_id == c.facility_id


def test_an_expert_of_another_hospital_is_refused(actor, resident, consult_input):
    from yigongti.network.models import Staff

    other = Staff.objects.exclude(facility_id=actor("county_doctor").facility_id).first()
    x = actions.do_request_consultation(actor("village_doctor"), resident, consult_input())
    with pytest.raises(DomainError) as e:
        actions.do_accept_consultation(actor("county_doctor"), x.pk, expert_id=other.pk)
    assert e.value.errors[0].field == "expert_id"
    assert Consultation.objects.get(pk=x.pk).state == "submitted"


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"final_decision": "", "rating": 4}, "final_decision"),
        ({"final_decision": "转诊", "rating": 0}, "rating"),
        ({"final_decision": "转诊", "rating": 6}, "rating"),
        ({"final_decision": "转诊", "rating": None}, "rating"),
    ],
)
def test_close_needs_decision_and_rating(actor, resident, consult_input, kw, field):
    v, c = actor("village_doctor"), actor("county_doctor")
    x = actions.do_request_consultation(v, resident, consult_input())
    actions.do_accept_consultation(c, x.pk)
    actions.do_give_opinion(c, x.pk, "意见")
    with pytest.raises(DomainError) as e:
        actions.do_close_consultation(v, x.pk, **kw)
    assert e.value.errors[0].field == field
    assert Consultation.objects.get(pk=x.pk).state == "answered"


def test_decline_needs_a_reason_and_ends_it(actor, resident, consult_input):
    v, c = actor("village_doctor"), actor("county_doctor")
    x = actions.do_request_consultation(v, resident, consult_input())
    with pytest.raises(DomainError) as e:
        actions.do_decline_consultation(c, x.pk, " ")
    assert e.value.errors[0].field == "reason"
    actions.do_decline_consultation(c, x.pk, "本院无该专业")
    x.refresh_from_db()
    assert x.state == "declined" and x.decline_reason == "本院无该专业"
    with pytest.raises(Conflict):
        actions.do_accept_consultation(c, x.pk)


def test_requester_cancels_with_a_reason(actor, resident, consult_input):
    v = actor("village_doctor")
    x = actions.do_request_consultation(v, resident, consult_input())
    with pytest.raises(DomainError):
        actions.do_cancel_consultation(v, x.pk, "")
    actions.do_cancel_consultation(v, x.pk, "患者已转诊")
    assert Consultation.objects.get(pk=x.pk).state == "cancelled"


def test_overdue_requests_show_on_the_consulted_side_and_the_group(actor, resident, consult_input):
    v, c, g = actor("village_doctor"), actor("county_doctor"), actor("group_admin")
    x = actions.do_request_consultation(v, resident, consult_input())
    y = actions.do_request_consultation(v, resident, consult_input(reason="另一次"))
    past = timezone.now() - timedelta(hours=1)
    Consultation.objects.filter(pk=x.pk).update(arrange_by=past)
    assert [r.pk for r in queries.overdue(c)] == [x.pk]
    assert [r.pk for r in queries.overdue(g)] == [x.pk]
    assert not queries.overdue(actor("outsider_doctor")).exists()
    # the inbox: overdue first, then waiting (emergencies first), then accepted
    actions.do_accept_consultation(c, y.pk)
    z = actions.do_request_consultation(
        v, resident, consult_input(reason="急", urgency="emergency", proposed_at=None)
    )
    w = actions.do_request_consultation(v, resident, consult_input(reason="普通"))
    assert [r.pk for r in queries.inbox(c)] == [x.pk, z.pk, w.pk, y.pk]
    Consultation.objects.filter(pk=y.pk).update(finish_by=past)
    assert {r.pk for r in queries.overdue(c)} == {x.pk, y.pk}
    assert [r.pk for r in queries.inbox(c)] == [x.pk, y.pk, z.pk, w.pk]


def test_case_summary_is_drafted_from_the_record(actor, resident):
    text = queries.case_summary_for(resident)
    assert resident.name in text and resident.get_sex_display() in text
