"""Procurement through the lead hospital, distribution with confirmation, alerts, 余缺调拨."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from yigongti.core.errors import Conflict, DomainError, Forbidden
from yigongti.network.models import Facility, MedicalGroup
from yigongti.pharmacy import actions, queries
from yigongti.pharmacy.actions import ReceiptInput
from yigongti.pharmacy.models import (
    NoteStatus,
    OrderStatus,
    RequestStatus,
    StockBalance,
)

from .conftest import SYSTEM, stock

DRUG = "YP0001"


def _qty(fid: int, drug: str = DRUG) -> Decimal:
    return sum(
        StockBalance.objects.filter(facility_id=fid, drug_id=drug).values_list(
            "quantity", flat=True
        ),
        Decimal(0),
    )


def _supplier(admin, days=365):
    return actions.do_add_supplier(
        admin, f"国药控股{days}", "苏AA123456", timezone.localdate() + timedelta(days=days)
    )


def test_request_approve_order_receive_distribute_confirm(county, actor):
    ph, admin = actor("pharmacist"), actor("group_admin")
    lead = MedicalGroup.objects.get(pk=admin.group_id).lead_id
    req = actions.do_request_purchase(ph, [(DRUG, 100), ("YP0002", 30)], "月度请领")
    assert req.status == RequestStatus.SUBMITTED
    # a member cannot approve its own request
    with pytest.raises(Forbidden):
        actions.do_decide_request(ph, req.pk, True)
    line = req.lines.get(drug_id=DRUG)
    req = actions.do_decide_request(admin, req.pk, True, {line.pk: 80})
    assert req.status == RequestStatus.APPROVED
    with pytest.raises(Conflict):
        actions.do_decide_request(admin, req.pk, False)
    order = actions.do_place_order(admin, _supplier(admin).pk, [req.pk])
    lines = {ln.drug_id: ln for ln in order.lines.all()}
    assert lines[DRUG].quantity == 80 and lines["YP0002"].quantity == 30
    expiry = timezone.localdate() + timedelta(days=700)
    before = _qty(lead)
    actions.do_receive_order(
        admin,
        order.pk,
        [
            (lines[DRUG].pk, ReceiptInput(DRUG, "P-A1", expiry, 80, "0.35")),
            (lines["YP0002"].pk, ReceiptInput("YP0002", "P-B1", expiry, 30, "1.2")),
        ],
    )
    order.refresh_from_db()
    assert order.status == OrderStatus.RECEIVED
    assert _qty(lead) == before + 80
    note = actions.do_send_delivery(admin, lead, ph.facility_id, [(DRUG, 80)])
    assert note.status == NoteStatus.IN_TRANSIT
    assert _qty(lead) == before  # left the central store
    mine = _qty(ph.facility_id)
    assert any(n.pk == note.pk for n in queries.in_transit(ph))  # visible in transit
    with pytest.raises(Exception):  # noqa: B017 - the sender cannot confirm for the receiver
        actions.do_confirm_delivery(actor("county_doctor"), note.pk)
    actions.do_confirm_delivery(ph, note.pk)
    assert _qty(ph.facility_id) == mine + 80
    with pytest.raises(Conflict):
        actions.do_confirm_delivery(ph, note.pk)
    assert queries.check_stock()[1] == []


def test_order_refuses_expired_supplier_licence_and_unapproved_requests(county, actor):
    ph, admin = actor("pharmacist"), actor("group_admin")
    req = actions.do_request_purchase(ph, [(DRUG, 5)])
    with pytest.raises(DomainError) as e:
        actions.do_place_order(admin, _supplier(admin).pk, [req.pk])
    assert e.value.errors[0].field == "request_ids"
    actions.do_decide_request(admin, req.pk, True)
    with pytest.raises(DomainError) as e:
        actions.do_place_order(admin, _supplier(admin, days=-1).pk, [req.pk])
    assert e.value.errors[0].field == "supplier_id"


def test_bad_request_names_the_field_and_writes_nothing(county, actor):
    from yigongti.pharmacy.models import PurchaseRequest

    ph = actor("pharmacist")
    n = PurchaseRequest.objects.count()
    with pytest.raises(DomainError) as e:
        actions.do_request_purchase(ph, [(DRUG, 5), ("NOPE", 1), (DRUG, "abc")])
    assert {x.field for x in e.value.errors} == {"lines.1.drug_code", "lines.2.quantity"}
    assert PurchaseRequest.objects.count() == n
    with pytest.raises(Forbidden):
        actions.do_request_purchase(actor("village_doctor"), [(DRUG, 5)])


def test_near_expiry_and_low_stock_lists_with_transfer_suggestion(county, actor, settings):
    settings.YGT = {**settings.YGT, "NEAR_EXPIRY_DAYS": 60}
    ph, admin = actor("pharmacist"), actor("group_admin")
    me = ph.facility_id
    other = Facility.objects.filter(group_id=admin.group_id).exclude(pk=me).order_by("pk").first()
    near = stock(me, 4, days=30, drug="YP0003")
    stock(me, 4, days=120, drug="YP0003")
    rows = queries.near_expiry(admin)
    mine = [r for r in rows if r.facility_id == me and r.drug_code == "YP0003"]
    assert [r.batch_no for r in mine] == [near.batch.batch_no]
    assert mine[0].state == "near"
    # low stock at me; surplus at another member → a transfer suggestion before buying
    actions.do_set_minimum(ph, me, "YP0003", 20)
    actions.do_set_minimum(SYSTEM, other.pk, "YP0003", 5)
    stock(other.pk, 50, drug="YP0003")
    low = [r for r in queries.low_stock(admin) if r.facility_id == me and r.drug_code == "YP0003"]
    assert low and low[0].quantity == 8 and low[0].minimum == 20
    sugg = [s for s in queries.transfer_suggestions(admin) if s.to_facility_id == me]
    assert sugg and sugg[0].from_facility_id == other.pk and sugg[0].quantity == 12
    # the pharmacist sees own facility only; the outsider sees none of it
    assert all(r.facility_id == me for r in queries.near_expiry(ph))
    assert not [r for r in queries.low_stock(actor("outsider_doctor")) if r.facility_id == me]
    assert queries.transfer_suggestions(ph) == []
    # the group acts on it: a transfer, confirmed on arrival
    note = actions.do_send_delivery(admin, other.pk, me, [("YP0003", 12)], kind="transfer")
    actions.do_confirm_delivery(ph, note.pk)
    assert not [
        r for r in queries.low_stock(admin) if r.facility_id == me and r.drug_code == "YP0003"
    ]
