"""REST endpoints of pharmacy (药品耗材): stock, ledger, dispensing, procurement, delivery
notes, alerts and 缺药登记. Every write goes through `actions`, every read through `queries`."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from yigongti.core import audit
from yigongti.core.api import ErrorOut, actor_of
from yigongti.residents.rules import mask_phone

from . import actions, queries
from .models import DeliveryNote, PurchaseRequest, Shortage, StockMovement

router = Router(tags=["药品耗材"])

ERRORS: dict[int, type[Schema]] = {403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


# --- schemas ---------------------------------------------------------------------------------


class BatchOut(Schema):
    batch_id: int
    batch_no: str
    expiry: date
    quantity: Decimal


class DrugStockOut(Schema):
    drug_code: str
    name: str
    strength: str
    unit: str
    total: Decimal
    minimum: Decimal | None
    low: bool
    batches: list[BatchOut]


class MovementOut(Schema):
    id: int
    at: datetime
    kind: str
    drug_code: str
    batch_no: str
    quantity: Decimal
    balance_after: Decimal
    reason: str
    ref_type: str
    ref_id: int | None


def movement_out(m: StockMovement) -> MovementOut:
    return MovementOut(
        id=m.pk,
        at=m.at,
        kind=m.kind,
        drug_code=m.drug_id,
        batch_no=m.batch.batch_no,
        quantity=m.quantity,
        balance_after=m.balance_after,
        reason=m.reason,
        ref_type=m.ref_type,
        ref_id=m.ref_id,
    )


class ReceiptIn(Schema):
    drug_code: str
    batch_no: str
    expiry: date | None = None
    quantity: Decimal
    unit_price: Decimal = Decimal(0)


class BatchQtyIn(Schema):
    batch_id: int
    quantity: str = Field(..., description="数量（该药品的最小单位）")
    reason: str = ""


class CountIn(Schema):
    batch_id: int
    counted: str


class StockTakeIn(Schema):
    counts: list[CountIn]


class MinimumIn(Schema):
    drug_code: str
    minimum: str


class LineIn(Schema):
    drug_code: str
    quantity: str


class RequestIn(Schema):
    lines: list[LineIn]
    note: str = ""


class RequestOut(Schema):
    id: int
    facility_id: int
    status: str
    note: str
    created_at: datetime
    lines: list[dict[str, object]]


def request_out(r: PurchaseRequest) -> RequestOut:
    return RequestOut(
        id=r.pk,
        facility_id=r.facility_id,
        status=r.status,
        note=r.note,
        created_at=r.created_at,
        lines=[
            {
                "id": ln.pk,
                "drug_code": ln.drug_id,
                "quantity": str(ln.quantity),
                "approved_quantity": None
                if ln.approved_quantity is None
                else str(ln.approved_quantity),
            }
            for ln in r.lines.all()
        ],
    )


class DecisionIn(Schema):
    approve: bool
    quantities: dict[int, str] = Field(default_factory=dict, description="行号→核定数量")


class SupplierIn(Schema):
    name: str
    licence_no: str
    licence_expiry: date | None = None


class IdOut(Schema):
    id: int
    status: str = ""


class OrderIn(Schema):
    supplier_id: int
    request_ids: list[int]


class GoodsIn(Schema):
    line_id: int
    batch_no: str
    expiry: date | None = None
    quantity: Decimal
    unit_price: Decimal = Decimal(0)


class GoodsReceiptIn(Schema):
    receipts: list[GoodsIn]


class DeliveryIn(Schema):
    from_facility_id: int
    to_facility_id: int
    kind: str = Field("distribution", description="distribution 配送 / transfer 调拨")
    lines: list[LineIn]


class DeliveryOut(Schema):
    id: int
    kind: str
    status: str
    from_facility_id: int
    to_facility_id: int
    sent_at: datetime
    confirmed_at: datetime | None
    lines: list[dict[str, object]]


def delivery_out(n: DeliveryNote) -> DeliveryOut:
    return DeliveryOut(
        id=n.pk,
        kind=n.kind,
        status=n.status,
        from_facility_id=n.from_facility_id,
        to_facility_id=n.to_facility_id,
        sent_at=n.sent_at,
        confirmed_at=n.confirmed_at,
        lines=[
            {"drug_code": ln.drug_id, "batch_id": ln.batch_id, "quantity": str(ln.quantity)}
            for ln in n.lines.all()
        ],
    )


class ShortageIn(Schema):
    mpi_id: str
    drug_code: str
    quantity: str
    needed_by: date | None = None
    note: str = ""


class ShortageOut(Schema):
    id: int
    facility_id: int
    mpi_id: str
    patient: str
    phone_masked: str
    drug_code: str
    quantity: Decimal
    needed_by: date | None
    status: str
    route: str
    registered_at: datetime
    arrived_at: datetime | None
    handed_over_at: datetime | None


def shortage_out(s: Shortage) -> ShortageOut:
    return ShortageOut(
        id=s.pk,
        facility_id=s.facility_id,
        mpi_id=s.resident.mpi_id,
        patient=s.resident.name,
        phone_masked=mask_phone(s.resident.phone),
        drug_code=s.drug_id,
        quantity=s.quantity,
        needed_by=s.needed_by,
        status=s.status,
        route=s.route,
        registered_at=s.registered_at,
        arrived_at=s.arrived_at,
        handed_over_at=s.handed_over_at,
    )


class RouteIn(Schema):
    route: str = Field("auto", description="auto / transfer / procurement")


class ReasonIn(Schema):
    reason: str


# --- stock -----------------------------------------------------------------------------------


@router.get(
    "/pharmacy/facilities/{facility_id}/stock",
    response={200: list[DrugStockOut], **ERRORS},
    summary="A facility's stock by item, batches in FEFO order",
)
def stock(
    request: HttpRequest, facility_id: int, q: str = "", limit: int = 200, offset: int = 0
) -> list[DrugStockOut]:
    rows = queries.facility_stock(
        actor_of(request), facility_id, q=q, limit=min(limit, 500), offset=offset
    )
    return [
        DrugStockOut(
            drug_code=ds.drug.code,
            name=ds.drug.generic_name,
            strength=ds.drug.strength,
            unit=ds.drug.unit,
            total=ds.total,
            minimum=ds.minimum,
            low=ds.low,
            batches=[
                BatchOut(
                    batch_id=b.batch_id,
                    batch_no=b.batch.batch_no,
                    expiry=b.expiry,
                    quantity=b.quantity,
                )
                for b in ds.batches
            ],
        )
        for ds in rows
    ]


@router.get(
    "/pharmacy/facilities/{facility_id}/movements",
    response={200: list[MovementOut], **ERRORS},
    summary="The movement ledger (出入库流水), newest first",
)
def ledger(
    request: HttpRequest, facility_id: int, drug_code: str = "", limit: int = 100
) -> list[MovementOut]:
    rows = queries.movements(
        actor_of(request), facility_id, drug_code=drug_code, limit=min(limit, 1000)
    )
    return [movement_out(m) for m in rows]


@router.post(
    "/pharmacy/facilities/{facility_id}/receipts",
    response={201: MovementOut, **ERRORS},
    summary="Receive goods outside procurement (opening balance, donation)",
)
def receive(request: HttpRequest, facility_id: int, payload: ReceiptIn) -> Status[MovementOut]:
    mv = actions.do_receive_stock(
        actor_of(request),
        facility_id,
        actions.ReceiptInput(
            payload.drug_code,
            payload.batch_no,
            payload.expiry,
            payload.quantity,
            payload.unit_price,
        ),
    )
    return Status(201, movement_out(mv))


@router.post(
    "/pharmacy/facilities/{facility_id}/losses",
    response={201: MovementOut, **ERRORS},
    summary="Record a loss with its reason (报损)",
)
def loss(request: HttpRequest, facility_id: int, payload: BatchQtyIn) -> Status[MovementOut]:
    mv = actions.do_record_loss(
        actor_of(request), facility_id, payload.batch_id, payload.quantity, payload.reason
    )
    return Status(201, movement_out(mv))


@router.post(
    "/pharmacy/facilities/{facility_id}/returns",
    response={201: MovementOut, **ERRORS},
    summary="Goods back into stock (退药)",
)
def give_back(request: HttpRequest, facility_id: int, payload: BatchQtyIn) -> Status[MovementOut]:
    mv = actions.do_record_return(
        actor_of(request), facility_id, payload.batch_id, payload.quantity, payload.reason
    )
    return Status(201, movement_out(mv))


@router.post(
    "/pharmacy/facilities/{facility_id}/stock-takes",
    response={201: IdOut, **ERRORS},
    summary="A stock take (盘点); variances become adjustment movements",
)
def stock_take(request: HttpRequest, facility_id: int, payload: StockTakeIn) -> Status[IdOut]:
    take = actions.do_stock_take(
        actor_of(request), facility_id, [(c.batch_id, c.counted) for c in payload.counts]
    )
    return Status(201, IdOut(id=take.pk))


@router.put(
    "/pharmacy/facilities/{facility_id}/minimums",
    response={200: IdOut, **ERRORS},
    summary="Set an item's low-stock threshold (库存下限)",
)
def set_minimum(request: HttpRequest, facility_id: int, payload: MinimumIn) -> IdOut:
    row = actions.do_set_minimum(actor_of(request), facility_id, payload.drug_code, payload.minimum)
    return IdOut(id=row.pk)


@router.post(
    "/pharmacy/prescriptions/{prescription_id}/dispense",
    response={201: IdOut, **ERRORS},
    summary="Dispense a prescription from stock, FEFO (at most once)",
)
def dispense(request: HttpRequest, prescription_id: int) -> Status[IdOut]:
    disp = actions.do_dispense_prescription(actor_of(request), prescription_id)
    return Status(201, IdOut(id=disp.pk, status="dispensed"))


@router.post(
    "/pharmacy/encounters/{encounter_id}/dispense",
    response={201: list[IdOut], **ERRORS},
    summary="Dispense every pending prescription of a visit (a whole 处方), all or none",
)
def dispense_encounter(request: HttpRequest, encounter_id: int) -> Status[list[IdOut]]:
    out = actions.do_dispense_encounter(actor_of(request), encounter_id)
    return Status(201, [IdOut(id=d.pk, status="dispensed") for d in out])


class BatchIn(Schema):
    encounter_ids: list[int] = Field(..., description="就诊号（每批最多100次）")


@router.post(
    "/pharmacy/dispense-batch",
    response={201: list[IdOut], **ERRORS},
    summary="Dispense a queue of visits in one transaction, all or none",
)
def dispense_batch(request: HttpRequest, payload: BatchIn) -> Status[list[IdOut]]:
    out = actions.do_dispense_encounters(actor_of(request), payload.encounter_ids)
    return Status(201, [IdOut(id=d.pk, status="dispensed") for d in out])


# --- alerts ----------------------------------------------------------------------------------


@router.get("/pharmacy/alerts/near-expiry", summary="Batches near expiry (or expired)")
def near_expiry(request: HttpRequest, days: int | None = None) -> list[dict[str, object]]:
    return [r.__dict__ for r in queries.near_expiry(actor_of(request), days=days)]


@router.get("/pharmacy/alerts/low-stock", summary="Items below their minimum")
def low_stock(request: HttpRequest) -> list[dict[str, object]]:
    return [r.__dict__ for r in queries.low_stock(actor_of(request))]


@router.get("/pharmacy/transfer-suggestions", summary="余缺调拨 suggestions before purchasing")
def suggestions(request: HttpRequest) -> list[dict[str, object]]:
    return [s.__dict__ for s in queries.transfer_suggestions(actor_of(request))]


# --- procurement -----------------------------------------------------------------------------


@router.post("/pharmacy/suppliers", response={201: IdOut, **ERRORS}, summary="Add a supplier")
def add_supplier(request: HttpRequest, payload: SupplierIn) -> Status[IdOut]:
    s = actions.do_add_supplier(
        actor_of(request), payload.name, payload.licence_no, payload.licence_expiry
    )
    return Status(201, IdOut(id=s.pk))


@router.get("/pharmacy/purchase-requests", response=list[RequestOut])
def list_requests(request: HttpRequest, limit: int = 100) -> list[RequestOut]:
    return [request_out(r) for r in queries.requests_for(actor_of(request))[: min(limit, 500)]]


@router.post(
    "/pharmacy/purchase-requests",
    response={201: RequestOut, **ERRORS},
    summary="A member's purchase request to the lead hospital",
)
def create_request(request: HttpRequest, payload: RequestIn) -> Status[RequestOut]:
    r = actions.do_request_purchase(
        actor_of(request), [(ln.drug_code, ln.quantity) for ln in payload.lines], payload.note
    )
    return Status(201, request_out(r))


@router.post(
    "/pharmacy/purchase-requests/{request_id}/decision",
    response={200: RequestOut, **ERRORS},
    summary="Approve (optionally cutting quantities) or reject",
)
def decide(request: HttpRequest, request_id: int, payload: DecisionIn) -> RequestOut:
    r = actions.do_decide_request(
        actor_of(request), request_id, payload.approve, dict(payload.quantities)
    )
    return request_out(r)


@router.post(
    "/pharmacy/purchase-orders",
    response={201: IdOut, **ERRORS},
    summary="Consolidate approved requests into an order to a supplier",
)
def place_order(request: HttpRequest, payload: OrderIn) -> Status[IdOut]:
    o = actions.do_place_order(actor_of(request), payload.supplier_id, payload.request_ids)
    return Status(201, IdOut(id=o.pk, status=o.status))


@router.post(
    "/pharmacy/purchase-orders/{order_id}/receipts",
    response={201: list[MovementOut], **ERRORS},
    summary="Goods received into the central store",
)
def receive_order(
    request: HttpRequest, order_id: int, payload: GoodsReceiptIn
) -> Status[list[MovementOut]]:
    mvs = actions.do_receive_order(
        actor_of(request),
        order_id,
        [
            (g.line_id, actions.ReceiptInput("", g.batch_no, g.expiry, g.quantity, g.unit_price))
            for g in payload.receipts
        ],
    )
    return Status(201, [movement_out(m) for m in mvs])


@router.get("/pharmacy/delivery-notes", response=list[DeliveryOut])
def list_notes(request: HttpRequest, limit: int = 100) -> list[DeliveryOut]:
    return [delivery_out(n) for n in queries.in_transit(actor_of(request))[: min(limit, 500)]]


@router.post(
    "/pharmacy/delivery-notes",
    response={201: DeliveryOut, **ERRORS},
    summary="Send goods to a member (配送 / 调拨); in transit until confirmed",
)
def send(request: HttpRequest, payload: DeliveryIn) -> Status[DeliveryOut]:
    n = actions.do_send_delivery(
        actor_of(request),
        payload.from_facility_id,
        payload.to_facility_id,
        [(ln.drug_code, ln.quantity) for ln in payload.lines],
        kind=payload.kind,
    )
    return Status(201, delivery_out(n))


@router.post(
    "/pharmacy/delivery-notes/{note_id}/confirm",
    response={200: DeliveryOut, **ERRORS},
    summary="The receiving member confirms arrival (签收)",
)
def confirm(request: HttpRequest, note_id: int) -> DeliveryOut:
    return delivery_out(actions.do_confirm_delivery(actor_of(request), note_id))


# --- 缺药登记 --------------------------------------------------------------------------------


@router.get("/pharmacy/shortages", response=list[ShortageOut])
def list_shortages(request: HttpRequest, status: str = "", limit: int = 100) -> list[ShortageOut]:
    actor = actor_of(request)
    rows = list(queries.shortages_for(actor, status=status)[: min(limit, 500)])
    audit.record(
        actor, audit.Action.SEARCH, "shortage", "", detail={"status": status, "rows": len(rows)}
    )
    return [shortage_out(s) for s in rows]


@router.get("/pharmacy/shortages/stats", summary="Fulfilment rate and median days")
def shortage_stats(request: HttpRequest) -> dict[str, object]:
    return queries.shortage_stats(actor_of(request)).__dict__


@router.post(
    "/pharmacy/shortages",
    response={201: ShortageOut, **ERRORS},
    summary="Register a drug a patient needs and the clinic lacks (缺药登记)",
)
def register_shortage(request: HttpRequest, payload: ShortageIn) -> Status[ShortageOut]:
    s = actions.do_register_shortage(
        actor_of(request),
        actions.ShortageInput(
            payload.mpi_id, payload.drug_code, payload.quantity, payload.needed_by, payload.note
        ),
    )
    return Status(201, shortage_out(s))


@router.get("/pharmacy/shortages/{shortage_id}", response={200: ShortageOut, **ERRORS})
def read_shortage(request: HttpRequest, shortage_id: int) -> ShortageOut:
    return shortage_out(queries.get_shortage_for(actor_of(request), shortage_id))


@router.post("/pharmacy/shortages/{shortage_id}/route", response={200: ShortageOut, **ERRORS})
def route_shortage(request: HttpRequest, shortage_id: int, payload: RouteIn) -> ShortageOut:
    return shortage_out(actions.do_route_shortage(actor_of(request), shortage_id, payload.route))


@router.post("/pharmacy/shortages/{shortage_id}/hand-over", response={200: ShortageOut, **ERRORS})
def hand_over(request: HttpRequest, shortage_id: int) -> ShortageOut:
    return shortage_out(actions.do_hand_over_shortage(actor_of(request), shortage_id))


@router.post("/pharmacy/shortages/{shortage_id}/cancel", response={200: ShortageOut, **ERRORS})
def cancel(request: HttpRequest, shortage_id: int, payload: ReasonIn) -> ShortageOut:
    return shortage_out(actions.do_cancel_shortage(actor_of(request), shortage_id, payload.reason))
