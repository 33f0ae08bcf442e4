"""Races on the last units (run on PostgreSQL as well as SQLite)."""

from __future__ import annotations

import pytest

from yigongti.core.errors import Conflict
from yigongti.core.testing import run_together
from yigongti.pharmacy import actions, queries
from yigongti.pharmacy.models import Dispensation, StockBalance

from .conftest import stock

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_dispensing_of_the_last_units(county, actor, rx):
    ph = actor("pharmacist")
    mv = stock(ph.facility_id, 3, drug="YP0029")
    rxs = [rx(qty=3, index=i, drug="YP0029") for i in range(4)]
    results = run_together(4, lambda i: actions.do_dispense_prescription(ph, rxs[i].pk))
    ok = [r for r in results if isinstance(r, Dispensation)]
    refused = [r for r in results if isinstance(r, Conflict)]
    assert len(ok) == 1, results
    assert len(refused) == 3, results
    assert all(r.status == 409 and r.errors[0].field == "quantity" for r in refused)
    assert StockBalance.objects.get(facility_id=ph.facility_id, batch_id=mv.batch_id).quantity == 0
    assert queries.check_stock()[1] == []


def test_same_prescription_dispensed_twice_at_once(county, actor, rx):
    ph = actor("pharmacist")
    stock(ph.facility_id, 10, drug="YP0029")
    p = rx(qty=2, drug="YP0029")
    results = run_together(3, lambda i: actions.do_dispense_prescription(ph, p.pk))
    assert len([r for r in results if isinstance(r, Dispensation)]) == 1, results
    assert all(
        isinstance(r, Dispensation)
        or (isinstance(r, Conflict) and r.errors[0].field == "prescription_id")
        for r in results
    ), results
    assert Dispensation.objects.filter(prescription=p).count() == 1
    assert queries.check_stock()[1] == []


def test_visits_taking_items_in_opposite_order_do_not_deadlock(county, actor):
    from yigongti.records.actions import EncounterInput, PrescriptionInput, do_record_encounter

    from .conftest import resident_for

    ph, doc = actor("pharmacist"), actor("township_doctor")
    stock(ph.facility_id, 50, drug="YP0005")
    stock(ph.facility_id, 50, drug="YP0006")
    visits = []
    for i in range(6):
        codes = ["YP0005", "YP0006"] if i % 2 else ["YP0006", "YP0005"]
        enc = do_record_encounter(
            doc,
            resident_for(doc, i),
            EncounterInput(
                prescriptions=[PrescriptionInput(c, "1", "qd", 3, quantity=1) for c in codes]
            ),
        )
        visits.append(enc.pk)
    results = run_together(6, lambda i: actions.do_dispense_encounter(ph, visits[i]))
    assert all(isinstance(r, list) and len(r) == 2 for r in results), results
    assert queries.check_stock()[1] == []


def test_queues_racing_for_the_last_units(county, actor, rx):
    ph = actor("pharmacist")
    stock(ph.facility_id, 4, drug="YP0007")
    stock(ph.facility_id, 2, drug="YP0007", days=30)
    rxs = [rx(qty=3, index=i, drug="YP0007") for i in range(4)]
    queues = [[rxs[0].encounter_id, rxs[1].encounter_id], [rxs[2].encounter_id],
              [rxs[3].encounter_id]]  # fmt: skip
    results = run_together(3, lambda i: actions.do_dispense_encounters(ph, queues[i]))
    done = [r for r in results if isinstance(r, list)]
    refused = [r for r in results if isinstance(r, Conflict)]
    assert len(done) + len(refused) == 3, results
    assert sum(len(r) for r in done) * 3 <= 6
    assert sum(len(r) for r in done) == 2, results  # 6 units: two prescriptions of 3
    assert all(r.errors[0].field == "quantity" for r in refused)
    assert queries.check_stock()[1] == []
