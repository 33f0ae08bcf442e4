"""缺药登记, with the seeds' story as the acceptance scenario: an 85-year-old cataract patient
wrote to the township centre because it no longer stocked his eye drops; the pharmacy
registered the shortage, found him, and ordered the drops again for him."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from yigongti.core.audit import AuditEntry
from yigongti.core.errors import Conflict, DomainError, NotFound
from yigongti.network.models import MedicalGroup
from yigongti.pharmacy import actions, queries
from yigongti.pharmacy.actions import ReceiptInput, ShortageInput
from yigongti.pharmacy.models import ShortageRoute, ShortageStatus, StockBalance
from yigongti.records.models import Entry
from yigongti.residents.queries import residents_visible_to

EYE_DROPS = "YP0030"  # 玻璃酸钠滴眼液 stands in for the letter's 明珠明目滴眼液


def _oldest(actor_):
    return residents_visible_to(actor_).order_by("birth_date").first()


def test_eye_drops_for_the_85_year_old(county, actor):
    ph, admin = actor("pharmacist"), actor("group_admin")
    centre = ph.facility_id
    patient = _oldest(ph)
    # no member has the drops (unless demo stock was loaded): the group must buy them
    spare = StockBalance.objects.filter(drug_id=EYE_DROPS, quantity__gt=0).exists()
    sh = actions.do_register_shortage(
        ph,
        ShortageInput(
            patient.mpi_id, EYE_DROPS, 2, timezone.localdate() + timedelta(days=7), "来信求药"
        ),
    )
    assert sh.status == ShortageStatus.REGISTERED
    assert AuditEntry.objects.filter(object_type="shortage", object_id=str(sh.pk)).exists()
    # the lead hospital sources it: no transfer possible → a purchase request
    sh = actions.do_route_shortage(admin, sh.pk, "procurement" if spare else "auto")
    assert sh.route == ShortageRoute.PROCUREMENT and sh.status == ShortageStatus.SOURCING
    req = sh.purchase_request
    actions.do_decide_request(admin, req.pk, True)
    supplier = actions.do_add_supplier(
        admin, "北京医药", "京AA0001", timezone.localdate() + timedelta(days=200)
    )
    order = actions.do_place_order(admin, supplier.pk, [req.pk])
    line = order.lines.get()
    actions.do_receive_order(
        admin,
        order.pk,
        [
            (
                line.pk,
                ReceiptInput(
                    EYE_DROPS, "MZ2026", timezone.localdate() + timedelta(days=500), 2, 18
                ),
            )
        ],
    )
    lead = MedicalGroup.objects.get(pk=admin.group_id).lead_id
    note = actions.do_send_delivery(admin, lead, centre, [(EYE_DROPS, 2)])
    sh.refresh_from_db()
    assert sh.status == ShortageStatus.SOURCING  # in transit: not arrived yet
    actions.do_confirm_delivery(ph, note.pk)
    sh.refresh_from_db()
    assert sh.status == ShortageStatus.ARRIVED and sh.arrived_at is not None
    sh = actions.do_hand_over_shortage(ph, sh.pk)
    assert sh.status == ShortageStatus.HANDED_OVER and sh.handed_over_at is not None
    assert Entry.objects.filter(object_type="shortage", object_id=sh.pk, kind="dispense").exists()
    stats = queries.shortage_stats(ph)
    assert stats.fulfilled >= 1 and stats.rate is not None and stats.median_days is not None
    with pytest.raises(Conflict):
        actions.do_hand_over_shortage(ph, sh.pk)
    assert queries.check_stock()[1] == []


def test_shortage_is_sourced_by_transfer_when_a_member_can_spare(county, actor):
    from .conftest import stock

    ph, admin = actor("pharmacist"), actor("group_admin")
    giver = MedicalGroup.objects.get(pk=admin.group_id).lead_id
    stock(giver, 30, drug="YP0031")
    sh = actions.do_register_shortage(ph, ShortageInput(_oldest(ph).mpi_id, "YP0031", 3))
    sh = actions.do_route_shortage(admin, sh.pk)
    assert sh.route == ShortageRoute.TRANSFER and sh.delivery_note.from_facility_id == giver
    actions.do_confirm_delivery(ph, sh.delivery_note_id)
    sh.refresh_from_db()
    assert sh.status == ShortageStatus.ARRIVED


def test_shortage_scope_and_validation(county, actor):
    ph = actor("pharmacist")
    outsider = actor("outsider_doctor")
    foreign = _oldest(outsider)
    with pytest.raises(DomainError) as e:
        actions.do_register_shortage(ph, ShortageInput(foreign.mpi_id, "NOPE", 0))
    assert {x.field for x in e.value.errors} == {"mpi_id", "drug_code", "quantity"}
    sh = actions.do_register_shortage(
        actor("village_doctor"),
        ShortageInput(_oldest(actor("village_doctor")).mpi_id, EYE_DROPS, 1),
    )
    with pytest.raises(NotFound):
        queries.get_shortage_for(outsider, sh.pk)
    assert not queries.shortages_for(outsider).filter(pk=sh.pk).exists()
    got = queries.get_shortage_for(actor("group_admin"), sh.pk)
    assert got.pk == sh.pk
    assert AuditEntry.objects.filter(
        object_type="shortage", object_id=str(sh.pk), action="read"
    ).exists()
    with pytest.raises(Exception):  # noqa: B017 - only the lead hospital routes
        actions.do_route_shortage(actor("village_doctor"), sh.pk)
