from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from yigongti.core.errors import DomainError, Forbidden
from yigongti.core.models import AuditEntry
from yigongti.records import actions, queries
from yigongti.records.models import Encounter, Entry, Observation, Prescription, VersionStatus

from .helpers import resident_of, visit


def test_village_doctor_records_a_visit_that_shows_on_the_timeline(actor):
    doctor = actor("village_doctor")
    r = resident_of(doctor)
    enc = actions.do_record_encounter(doctor, r, visit())
    assert enc.facility_id == doctor.facility_id
    diagnoses, vitals, rx = queries.encounter_parts(enc)
    assert [d.code_id for d in diagnoses] == ["I10"] and diagnoses[0].is_primary
    bp = next(o for o in vitals if o.kind == "bp")
    assert (bp.code, bp.value, bp.value2) == ("85354-9", 150, 95)
    assert rx[0].quantity == Decimal(28)  # 1 片 qd × 28 days
    page = queries.timeline(r)
    assert page.entries[0].object_id == enc.pk
    assert "高血压" in page.entries[0].title
    assert AuditEntry.objects.filter(action="create", object_type="encounter").exists()


@pytest.mark.parametrize(
    ("field", "change", "loc"),
    [
        ("bp", {"sbp": 999, "dbp": 5}, "vitals.0.systolic"),
        ("bp", {"sbp": 120, "dbp": 130}, "vitals.0.diastolic"),
        ("icd", {"codes": ("X99.999",)}, "diagnoses.0.code"),
        ("drug", {"drugs": ("NOPE",)}, "prescriptions.0.drug_code"),
    ],
)
def test_bad_visits_are_refused_naming_the_field_and_write_nothing(actor, field, change, loc):
    doctor = actor("village_doctor")
    r = resident_of(doctor)
    before = Encounter.objects.count(), Observation.objects.count(), Entry.objects.count()
    with pytest.raises(DomainError) as exc:
        actions.do_record_encounter(doctor, r, visit(**change))
    assert loc in [e.field for e in exc.value.errors]
    assert (Encounter.objects.count(), Observation.objects.count(), Entry.objects.count()) == before


def test_future_visit_and_visit_before_birth_are_refused(actor):
    doctor = actor("village_doctor")
    r = resident_of(doctor)
    with pytest.raises(DomainError) as exc:
        actions.do_record_encounter(doctor, r, visit(at=timezone.now() + timedelta(days=1)))
    assert exc.value.errors[0].code == "in_future"
    born = timezone.make_aware(timezone.datetime(r.birth_date.year - 1, 1, 1))
    with pytest.raises(DomainError) as exc:
        actions.do_record_encounter(doctor, r, visit(at=born))
    assert exc.value.errors[0].code == "before_birth"


def test_amendment_keeps_the_original_in_the_history(actor):
    doctor = actor("village_doctor")
    r = resident_of(doctor)
    first = actions.do_record_encounter(doctor, r, visit(sbp=510 / 3))
    second = actions.do_amend_encounter(doctor, first, visit(sbp=150), "血压录错")
    first.refresh_from_db()
    assert first.status == VersionStatus.AMENDED and second.replaces_id == first.pk
    assert [v.pk for v in queries.versions_of(first)] == [second.pk, first.pk]
    assert Observation.objects.get(encounter=first, kind="bp").status == VersionStatus.AMENDED
    current = [e.object_id for e in queries.timeline(r).entries if e.object_type == "encounter"]
    assert second.pk in current and first.pk not in current
    history = queries.timeline(r, queries.TimelineFilter(include_history=True)).entries
    assert first.pk in [e.object_id for e in history]
    with pytest.raises(DomainError):  # the old version cannot be amended again
        actions.do_amend_encounter(doctor, first, visit(), "again")


def test_void_needs_a_reason_and_takes_the_visit_off_the_timeline(actor):
    doctor = actor("village_doctor")
    r = resident_of(doctor)
    enc = actions.do_record_encounter(doctor, r, visit())
    with pytest.raises(DomainError):
        actions.do_void(doctor, enc, "  ")
    actions.do_void(doctor, enc, "录错居民")
    assert Prescription.objects.get(encounter=enc).status == VersionStatus.ERROR
    assert enc.pk not in [e.object_id for e in queries.timeline(r).entries]


def test_outsider_cannot_write_or_read_the_record(actor):
    doctor, outsider = actor("village_doctor"), actor("outsider_doctor")
    r = resident_of(doctor)
    with pytest.raises(Forbidden):
        actions.do_record_encounter(outsider, r, visit())
    enc = actions.do_record_encounter(doctor, r, visit())
    from yigongti.core.errors import NotFound

    with pytest.raises(NotFound):
        queries.get_encounter_for(outsider, enc.pk)
    assert AuditEntry.objects.filter(
        action="denied", object_type="encounter", object_id=str(enc.pk)
    ).exists()


def test_resending_the_same_outside_visit_changes_nothing(actor):
    system = actions.Actor.system("his")
    doctor = actor("county_doctor")
    r = resident_of(doctor)
    data = visit(facility_id=doctor.facility_id)
    data.provenance = actions.Provenance("hl7", "HIS-1", "V0001")
    enc, outcome = actions.upsert_encounter(system, r, data)
    again, outcome2 = actions.upsert_encounter(system, r, data)
    assert (outcome, outcome2, again.pk) == ("created", "unchanged", enc.pk)
    changed = visit(facility_id=doctor.facility_id, complaint="胸闷")
    changed.provenance = data.provenance
    newer, outcome3 = actions.upsert_encounter(system, r, changed)
    assert outcome3 == "updated" and newer.replaces_id == enc.pk
