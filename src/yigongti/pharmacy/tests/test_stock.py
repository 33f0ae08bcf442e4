"""Stock ledger and dispensing: FEFO, never twice, never negative, ledger == balance."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from yigongti.core.errors import Conflict, DomainError, Forbidden, NotFound
from yigongti.pharmacy import actions, queries
from yigongti.pharmacy.models import Dispensation, StockBalance, StockMovement
from yigongti.records.actions import do_void
from yigongti.records.models import Entry

from .conftest import DRUG, stock


def test_dispense_takes_earliest_unexpired_batch_first(county, actor, rx):
    ph = actor("pharmacist")
    fid = ph.facility_id
    late = stock(fid, 10, days=300)
    early = stock(fid, 1, days=30)
    expired = stock(fid, 5, days=-1 + 400)  # unexpired, latest
    p = rx(qty=3)
    disp = actions.do_dispense_prescription(ph, p.pk)
    taken = list(
        StockMovement.objects.filter(ref_type="dispensation", ref_id=disp.pk).values_list(
            "batch_id", "quantity"
        )
    )
    assert sorted(taken) == sorted([(early.batch_id, Decimal(-1)), (late.batch_id, Decimal(-2))])
    assert expired.batch_id not in [b for b, _ in taken]
    assert Entry.objects.filter(
        object_type="dispensation", object_id=disp.pk, kind="dispense"
    ).exists()


def test_expired_batch_is_never_dispensed(county, actor, rx):
    ph = actor("pharmacist")
    from yigongti.pharmacy.models import Batch

    mv = stock(ph.facility_id, 50, drug="YP0031")
    Batch.objects.filter(pk=mv.batch_id).update(expiry="2020-01-01")
    StockBalance.objects.filter(batch_id=mv.batch_id).update(expiry="2020-01-01")
    p = rx(qty=1, drug="YP0031")
    with pytest.raises(Conflict) as e:
        actions.do_dispense_prescription(ph, p.pk)
    assert e.value.errors[0].field == "quantity"
    assert not Dispensation.objects.filter(prescription=p).exists()


def test_a_prescription_is_dispensed_once(county, actor, rx):
    ph = actor("pharmacist")
    stock(ph.facility_id, 10)
    p = rx(qty=2)
    actions.do_dispense_prescription(ph, p.pk)
    with pytest.raises(Conflict) as e:
        actions.do_dispense_prescription(ph, p.pk)
    assert e.value.errors[0].field == "prescription_id"
    assert Dispensation.objects.filter(prescription=p).count() == 1


def test_voided_prescription_cannot_be_dispensed(county, actor, rx):
    ph = actor("pharmacist")
    stock(ph.facility_id, 10)
    p = rx(qty=2)
    do_void(actor("township_doctor"), p, "开错了")
    with pytest.raises(Conflict) as e:
        actions.do_dispense_prescription(ph, p.pk)
    assert e.value.errors[0].code == "not_current"


def test_insufficient_stock_refused_and_nothing_written(county, actor, rx):
    ph = actor("pharmacist")
    p = rx(qty=900)
    before = StockMovement.objects.count()
    with pytest.raises(Conflict) as e:
        actions.do_dispense_prescription(ph, p.pk)
    assert e.value.status == 409 and e.value.errors[0].field == "quantity"
    assert StockMovement.objects.count() == before
    assert not Dispensation.objects.filter(prescription=p).exists()


def test_other_facilities_cannot_dispense_a_prescription(county, actor, rx):
    p = rx(qty=1)
    for who in ("outsider_doctor", "village_doctor"):
        with pytest.raises(NotFound):
            actions.do_dispense_prescription(actor(who), p.pk)
    with pytest.raises(Forbidden):
        actions.do_dispense_prescription(actor("commission"), p.pk)


def test_loss_return_and_stock_take_are_ledger_rows(county, actor):
    ph = actor("pharmacist")
    fid = ph.facility_id
    mv = stock(fid, 20)
    actions.do_record_loss(ph, fid, mv.batch_id, 3, "破损")
    actions.do_record_return(ph, fid, mv.batch_id, 1, "患者退回未开封")
    take = actions.do_stock_take(ph, fid, [(mv.batch_id, 15)])
    line = take.lines.get()
    assert (line.expected, line.counted, line.variance) == (18, 15, -3)
    bal = StockBalance.objects.get(facility_id=fid, batch_id=mv.batch_id)
    assert bal.quantity == 15
    kinds = list(
        StockMovement.objects.filter(batch_id=mv.batch_id)
        .order_by("pk")
        .values_list("kind", flat=True)
    )
    assert kinds == ["receipt", "loss", "return", "adjustment"]
    with pytest.raises(Conflict):
        actions.do_record_loss(ph, fid, mv.batch_id, 16, "丢失")
    with pytest.raises(DomainError) as e:
        actions.do_record_loss(ph, fid, mv.batch_id, 1, "")
    assert e.value.errors[0].field == "reason"
    with pytest.raises(DomainError) as e:
        actions.do_record_loss(ph, fid, mv.batch_id, "-2", "x")
    assert e.value.errors[0].field == "quantity"


def test_staff_manage_only_their_own_facility(county, actor):
    ph = actor("pharmacist")
    other = actor("outsider_doctor").facility_id
    mv = stock(other, 5)
    with pytest.raises(Forbidden):
        actions.do_record_loss(ph, other, mv.batch_id, 1, "x")
    with pytest.raises(NotFound):
        queries.facility_stock(ph, other)
    with pytest.raises(Forbidden):
        actions.do_record_loss(actor("commission"), other, mv.batch_id, 1, "x")


def test_stock_page_scope(county, actor):
    ph = actor("pharmacist")
    stock(ph.facility_id, 7)
    mine = queries.facility_stock(ph, ph.facility_id)
    assert any(ds.drug.code == DRUG for ds in mine)
    assert all(
        ds.batches == sorted(ds.batches, key=lambda b: (b.expiry, b.batch_id)) for ds in mine
    )
    # the group administrator and the commission see it too; the outsider does not
    assert queries.facility_stock(actor("group_admin"), ph.facility_id)
    assert queries.facility_stock(actor("commission"), ph.facility_id)
    with pytest.raises(NotFound):
        queries.facility_stock(actor("outsider_doctor"), ph.facility_id)


def test_check_stock_command_proves_and_detects(county, actor):
    ph = actor("pharmacist")
    mv = stock(ph.facility_id, 9)
    out = StringIO()
    call_command("check_stock", stdout=out)
    assert "OK" in out.getvalue()
    StockBalance.objects.filter(facility_id=ph.facility_id, batch_id=mv.batch_id).update(quantity=8)
    with pytest.raises(CommandError):
        call_command("check_stock", stdout=StringIO(), stderr=StringIO())


def test_balance_cannot_go_negative_in_the_database(county, actor):
    from django.db import IntegrityError, transaction

    ph = actor("pharmacist")
    mv = stock(ph.facility_id, 1)
    with pytest.raises(IntegrityError), transaction.atomic():
        StockBalance.objects.filter(facility_id=ph.facility_id, batch_id=mv.batch_id).update(
            quantity=-1
        )


def test_a_whole_visit_is_dispensed_all_or_nothing(county, actor):
    from yigongti.records.actions import EncounterInput, PrescriptionInput, do_record_encounter

    from .conftest import resident_for

    ph, doc = actor("pharmacist"), actor("township_doctor")
    stock(ph.facility_id, 10, drug="YP0001")
    stock(ph.facility_id, 1, drug="YP0002")

    def visit(q2: int):
        return do_record_encounter(
            doc,
            resident_for(doc, 3),
            EncounterInput(
                prescriptions=[
                    PrescriptionInput("YP0001", "1", "qd", 3, quantity=3),
                    PrescriptionInput("YP0002", "1", "qd", 3, quantity=q2),
                ]
            ),
        )

    short = visit(2)
    before = StockMovement.objects.count()
    with pytest.raises(Conflict) as e:
        actions.do_dispense_encounter(ph, short.pk)
    assert e.value.errors[0].field == "quantity"
    assert StockMovement.objects.count() == before
    enc = visit(1)
    out = actions.do_dispense_encounter(ph, enc.pk)
    assert len(out) == 2
    assert Entry.objects.filter(object_type="dispensation", object_id=out[0].pk).count() == 1
    with pytest.raises(Conflict):
        actions.do_dispense_encounter(ph, enc.pk)
    with pytest.raises(NotFound):
        actions.do_dispense_encounter(actor("outsider_doctor"), short.pk)


def test_a_queue_of_visits_is_dispensed_in_one_go(county, actor, rx):
    from yigongti.core.audit import AuditEntry

    ph = actor("pharmacist")
    stock(ph.facility_id, 20, drug="YP0004")
    rxs = [rx(qty=2, index=i, drug="YP0004") for i in range(3)]
    n_audit = AuditEntry.objects.filter(object_type="dispensation").count()
    out = actions.do_dispense_encounters(ph, [p.encounter_id for p in rxs])
    assert sorted(d.prescription_id for d in out) == sorted(p.pk for p in rxs)
    assert AuditEntry.objects.filter(object_type="dispensation").count() == n_audit + 3
    with pytest.raises(Conflict) as e:
        actions.do_dispense_encounters(ph, [rxs[0].encounter_id])
    assert e.value.errors[0].field == "encounter_ids"
    with pytest.raises(DomainError):
        actions.do_dispense_encounters(ph, [])
    p = rx(qty=1, drug="YP0004")
    with pytest.raises(NotFound):
        actions.do_dispense_encounters(actor("outsider_doctor"), [p.encounter_id])
