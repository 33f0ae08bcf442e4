"""The synthetic loader: deterministic, and the rows it writes satisfy the invariants."""

from __future__ import annotations

import itertools

from django.db.models import Count
from django.utils import timezone

from yigongti.consults import queries, rules
from yigongti.consults.models import Consultation, DispatchActivity, Secondment, Step
from yigongti.records.models import Entry


def test_load_consults_is_consistent(county):
    from yigongti.synth.consults import load_consults

    today = timezone.localdate()
    counts = load_consults(seed=7, today=today, per_1000=200)  # tiny county: raise the rate
    assert counts["consultations"] == Consultation.objects.count() > 20
    assert Step.objects.count() == counts["consult_steps"]
    assert counts["secondments"] == Secondment.objects.count() > 0
    assert DispatchActivity.objects.count() == counts["dispatch_activities"] > 0
    for c in Consultation.objects.all():
        steps = list(c.steps.order_by("at", "pk"))
        assert steps[0].to_state == "submitted" and steps[-1].to_state == c.state
        assert all(a.to_state == b.from_state for a, b in itertools.pairwise(steps))
        assert c.submitted_at < c.arrange_by <= c.finish_by or c.urgency == "emergency"
        if c.state in ("accepted", "answered", "closed"):
            assert c.expert_id and rules.title_level(c.expert_title) >= c.wanted_title
        if c.state == "closed":
            assert c.final_decision and 1 <= (c.rating or 0) <= 5
        else:
            assert c.rating is None
        assert c.from_facility_id != c.to_facility_id
    assert Entry.objects.filter(object_type="consultation").count() == counts["consultations"]
    # no doctor on two overlapping secondments; activities inside the period, none ahead
    for s in Secondment.objects.all():
        others = Secondment.objects.filter(
            staff_id=s.staff_id, starts_on__lte=s.ends_on, ends_on__gte=s.starts_on
        ).exclude(pk=s.pk)
        assert not others.exists()
        assert s.from_facility_id != s.to_facility_id
    bad = DispatchActivity.objects.filter(day__gt=today).count()
    assert bad == 0
    per = DispatchActivity.objects.values("secondment__starts_on", "secondment__ends_on", "day")
    assert all(r["secondment__starts_on"] <= r["day"] <= r["secondment__ends_on"] for r in per)
    kinds = dict(Secondment.objects.values_list("kind").annotate(n=Count("pk")))
    assert kinds.get("secondment") and kinds.get("mobile")
    v = queries.seconded_doctors_per_10k(today.replace(month=1, day=1), today)
    assert not v.missing and v.numerator > 0


def test_load_consults_is_deterministic(county):
    from yigongti.synth.consults import load_consults

    today = timezone.localdate()
    a = load_consults(seed=3, today=today, per_1000=50)
    first = list(Consultation.objects.order_by("pk").values_list("resident_id", "state", "urgency"))
    Step.objects.all().delete()
    Entry.objects.filter(object_type="consultation").delete()
    Consultation.objects.all().delete()
    DispatchActivity.objects.all().delete()
    Secondment.objects.all().delete()
    b = load_consults(seed=3, today=today, per_1000=50)
    again = list(Consultation.objects.order_by("pk").values_list("resident_id", "state", "urgency"))
    assert a == b and first == again
