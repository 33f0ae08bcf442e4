"""Every write of pharmacy. Stock changes only through `_move`, which writes one ledger row
and updates the (facility, batch) balance in the same transaction; a take that would make a
balance negative is refused (409, field `quantity`) and the check constraint backs it up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from yigongti.accounts.rules import Perm
from yigongti.core import audit
from yigongti.core.actor import Actor
from yigongti.core.errors import Conflict, DomainError, FieldError, Forbidden, NotFound
from yigongti.network.models import Facility
from yigongti.records.actions import add_entry
from yigongti.records.models import Drug, Prescription, VersionStatus
from yigongti.residents.models import Resident
from yigongti.residents.queries import get_resident_for

from . import rules
from .models import (
    Batch,
    DeliveryLine,
    DeliveryNote,
    Dispensation,
    MovementKind,
    NoteKind,
    NoteStatus,
    OrderStatus,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseRequest,
    PurchaseRequestLine,
    RequestStatus,
    Shortage,
    ShortageRoute,
    ShortageStatus,
    StockBalance,
    StockMinimum,
    StockMovement,
    StockTake,
    StockTakeLine,
    Supplier,
)
from .scope import group_of, lead_of, manages_group, may_manage

# --- helpers ---------------------------------------------------------------------------------


def _require(actor: Actor, perm: str) -> None:
    if not (actor.is_system or actor.can(perm)):
        raise Forbidden()


def _qty(value: Any, field: str, errors: list[FieldError], *, allow_zero: bool = False) -> Decimal:
    try:
        q = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        errors.append(FieldError(field, "数量必须是数字", "Quantity must be a number"))
        return Decimal(0)
    if not q.is_finite() or q < 0 or (q == 0 and not allow_zero):
        errors.append(FieldError(field, "数量必须大于0", "Quantity must be positive"))
        return Decimal(0)
    if q != q.quantize(Decimal("0.01")) or q >= Decimal("1e10"):
        errors.append(FieldError(field, "数量最多两位小数", "At most two decimals"))
    return q


def _drug(code: str, field: str, errors: list[FieldError]) -> Drug | None:
    drug = Drug.objects.filter(pk=(code or "").strip(), active=True).first()
    if drug is None:
        errors.append(FieldError(field, "目录中没有该药品", "Unknown catalogue item", "unknown"))
    return drug


def _raise(errors: list[FieldError]) -> None:
    if errors:
        raise DomainError(errors)


def _user(actor: Actor) -> int | None:
    return actor.user_id


def _short(facility_id: int, drug: Drug, have: Decimal, need: Decimal) -> DomainError:
    return Conflict.single(
        "quantity",
        f"库存不足：{drug.generic_name} 可用 {have:g}{drug.unit}，需要 {need:g}{drug.unit}",
        f"Insufficient stock: {have:g} available, {need:g} needed",
        "insufficient_stock",
        extra={"available": str(have), "facility_id": facility_id},
    )


_CENT = Decimal("0.01")


def _bump(facility_id: int, batch_id: int, delta: Decimal) -> Decimal | None:
    """Add delta to a balance in one statement, only when the result stays >= 0; the new
    quantity, or None when there is no such row or it would go negative."""
    table = StockBalance._meta.db_table
    with connection.cursor() as cur:
        cur.execute(
            f"UPDATE {table} SET quantity = quantity + %s "  # noqa: S608 - table name is ours
            "WHERE facility_id = %s AND batch_id = %s AND quantity + %s >= 0 RETURNING quantity",
            [delta, facility_id, batch_id, delta],
        )
        row = cur.fetchone()
    return None if row is None else Decimal(str(row[0])).quantize(_CENT)


def _move(
    facility_id: int,
    batch: Batch,
    delta: Decimal,
    kind: str,
    *,
    at: datetime,
    by: int | None,
    reason: str = "",
    ref: tuple[str, int | None] = ("", None),
) -> StockMovement:
    """One ledger row and its balance change. Call inside transaction.atomic()."""
    after = _bump(facility_id, batch.pk, delta)
    if after is None and delta < 0:
        have = (
            StockBalance.objects.filter(facility_id=facility_id, batch_id=batch.pk)
            .values_list("quantity", flat=True)
            .first()
        )
        raise _short(facility_id, batch.drug, have or Decimal(0), -delta)
    if after is None:
        try:
            with transaction.atomic():
                StockBalance.objects.create(
                    facility_id=facility_id,
                    drug_id=batch.drug_id,
                    batch=batch,
                    expiry=batch.expiry,
                    quantity=delta,
                )
            after = delta
        except IntegrityError:  # created by a concurrent receipt meanwhile
            after = _bump(facility_id, batch.pk, delta)
            assert after is not None
    return StockMovement.objects.create(
        facility_id=facility_id,
        drug_id=batch.drug_id,
        batch=batch,
        kind=kind,
        quantity=delta,
        balance_after=after,
        at=at,
        by_id=by,
        reason=reason[:200],
        ref_type=ref[0],
        ref_id=ref[1],
    )


def _lock_balances(pairs: set[tuple[int, str]]) -> None:
    """Lock every balance row of these (facility, item) pairs at once, in id order, so that
    transactions touching several items queue instead of deadlocking."""
    if not pairs:
        return
    cond = Q()
    for fid, code in sorted(pairs):
        cond |= Q(facility_id=fid, drug_id=code)
    list(StockBalance.objects.select_for_update().filter(cond).order_by("pk").values_list("pk"))


def _take_fefo(
    facility_id: int,
    drug: Drug,
    need: Decimal,
    kind: str,
    *,
    at: datetime,
    by: int | None,
    reason: str = "",
    ref: tuple[str, int | None] = ("", None),
) -> list[StockMovement]:
    """Take `need` from the facility's unexpired batches, earliest expiry first. The batches'
    balance rows are locked first (PostgreSQL) so that two takers queue; `_move`'s guarded
    update refuses a take the stock no longer covers."""
    today = timezone.localdate(at)
    lots = list(
        StockBalance.objects.select_for_update()
        .filter(facility_id=facility_id, drug_id=drug.pk, quantity__gt=0, expiry__gte=today)
        .order_by("expiry", "batch_id")
        .values_list("batch_id", "expiry", "quantity")
    )
    plan = rules.fefo([rules.Lot(b, e, q) for b, e, q in lots], need, today)
    if plan is None:
        raise _short(facility_id, drug, sum((q for _, _, q in lots), Decimal(0)), need)
    expiry = {b: e for b, e, _ in lots}
    return [
        _move(
            facility_id,
            Batch(pk=b, drug=drug, expiry=expiry[b]),
            -q,
            kind,
            at=at,
            by=by,
            reason=reason,
            ref=ref,
        )
        for b, q in plan
    ]


def _facility(facility_id: int | None, field: str = "facility_id") -> Facility:
    f = Facility.objects.filter(pk=facility_id).first() if facility_id else None
    if f is None:
        raise DomainError.single(field, "机构不存在", "Unknown facility", "unknown")
    return f


def _may_manage(actor: Actor, facility_id: int) -> None:
    if not may_manage(actor, facility_id):
        raise Forbidden("只能管理本机构的库存", "Only your own facility's stock")


# --- stock keeping ---------------------------------------------------------------------------


@dataclass
class ReceiptInput:
    drug_code: str
    batch_no: str
    expiry: date | None
    quantity: Decimal | str | float
    unit_price: Decimal | str | float = 0
    supplier_id: int | None = None


def _batch(
    data: ReceiptInput, prefix: str, errors: list[FieldError], today: date
) -> tuple[Drug | None, Decimal, Decimal]:
    drug = _drug(data.drug_code, f"{prefix}drug_code", errors)
    qty = _qty(data.quantity, f"{prefix}quantity", errors)
    if not (data.batch_no or "").strip():
        errors.append(FieldError(f"{prefix}batch_no", "请填写批号", "Batch number required"))
    if data.expiry is None:
        errors.append(FieldError(f"{prefix}expiry", "请填写有效期", "Expiry required"))
    elif data.expiry < today:
        errors.append(FieldError(f"{prefix}expiry", "该批次已过期", "The batch has expired"))
    try:
        price = Decimal(str(data.unit_price or 0))
        if price < 0:
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        errors.append(FieldError(f"{prefix}unit_price", "单价无效", "Invalid price"))
        price = Decimal(0)
    return drug, qty, price


def _get_batch(drug: Drug, data: ReceiptInput, price: Decimal, prefix: str) -> Batch:
    assert data.expiry is not None
    batch, _ = Batch.objects.get_or_create(
        drug=drug,
        batch_no=data.batch_no.strip(),
        defaults={"expiry": data.expiry, "unit_price": price, "supplier_id": data.supplier_id},
    )
    if batch.expiry != data.expiry:
        raise DomainError.single(
            f"{prefix}expiry",
            f"批号 {batch.batch_no} 已登记有效期 {batch.expiry}",
            "This batch is registered with another expiry",
            "mismatch",
        )
    batch.drug = drug
    return batch


def do_receive_stock(
    actor: Actor, facility_id: int, data: ReceiptInput, *, reason: str = "入库"
) -> StockMovement:
    """A receipt outside the group's procurement (opening balance, a donation)."""
    _require(actor, Perm.MANAGE_STOCK)
    _facility(facility_id)
    _may_manage(actor, facility_id)
    now = timezone.now()
    errors: list[FieldError] = []
    drug, qty, price = _batch(data, "", errors, timezone.localdate(now))
    _raise(errors)
    assert drug is not None
    with transaction.atomic():
        batch = _get_batch(drug, data, price, "")
        mv = _move(
            facility_id, batch, qty, MovementKind.RECEIPT, at=now, by=_user(actor), reason=reason
        )
        audit.record(
            actor, audit.Action.CREATE, "stock_movement", mv.pk, detail={"kind": "receipt"}
        )
    return mv


def do_dispense_prescription(actor: Actor, prescription_id: int) -> Dispensation:
    """Dispense a current prescription at the facility that wrote it, FEFO; at most once."""
    _require(actor, Perm.DISPENSE)
    rx = Prescription.objects.select_related("drug", "resident").filter(pk=prescription_id).first()
    if rx is None or not (actor.is_system or rx.facility_id == actor.facility_id):
        raise NotFound("处方")
    if rx.status != VersionStatus.CURRENT:
        raise Conflict.single(
            "prescription_id",
            "处方已更正或作废，不能发药",
            "The prescription was amended or voided",
            "not_current",
        )
    return _dispense(actor, [rx], "prescription_id")[0]


def do_dispense_encounter(actor: Actor, encounter_id: int) -> list[Dispensation]:
    """Dispense every current, not yet dispensed prescription of one visit (a whole 处方) in
    one transaction: all items or none."""
    _require(actor, Perm.DISPENSE)
    rxs = list(
        Prescription.objects.select_related("drug", "resident")
        .filter(encounter_id=encounter_id, status=VersionStatus.CURRENT)
        .exclude(pk__in=Dispensation.objects.values("prescription_id"))
        .order_by("pk")
    )
    if rxs and not (actor.is_system or rxs[0].facility_id == actor.facility_id):
        raise NotFound("处方")
    if not rxs:
        raise Conflict.single(
            "encounter_id", "该就诊没有待发药的处方", "Nothing to dispense", "nothing"
        )
    return _dispense(actor, rxs, "encounter_id")


def do_dispense_encounters(actor: Actor, encounter_ids: list[int]) -> list[Dispensation]:
    """A dispensing window's queue (or a clinic's day of visits) in one transaction: every
    pending prescription of each visit, all or none; one timeline item and one audit entry
    per visit, the audit entries written last so the audit chain is held only briefly."""
    _require(actor, Perm.DISPENSE)
    if not encounter_ids or len(encounter_ids) > MAX_BATCH:
        raise DomainError.single(
            "encounter_ids", f"每批 1–{MAX_BATCH} 次就诊", f"1–{MAX_BATCH} visits per batch"
        )
    rxs = list(
        Prescription.objects.select_related("drug", "resident")
        .filter(encounter_id__in=encounter_ids, status=VersionStatus.CURRENT)
        .exclude(pk__in=Dispensation.objects.values("prescription_id"))
        .order_by("encounter_id", "pk")
    )
    if not (actor.is_system or all(rx.facility_id == actor.facility_id for rx in rxs)):
        raise NotFound("处方")
    visits: dict[int, list[Prescription]] = {}
    for rx in rxs:
        visits.setdefault(rx.encounter_id or 0, []).append(rx)
    missing = [e for e in encounter_ids if e not in visits]
    if missing:
        raise Conflict.single(
            "encounter_ids", f"就诊 {missing[0]} 没有待发药的处方", "Nothing to dispense", "nothing"
        )
    return _dispense_bulk(actor, rxs, visits)


def _dispense_bulk(
    actor: Actor, rxs: list[Prescription], visits: dict[int, list[Prescription]]
) -> list[Dispensation]:
    """The queue in few statements: lock and read every balance involved at once, plan FEFO
    in memory, then write dispensations, balances and ledger rows in bulk."""
    now = timezone.now()
    today = timezone.localdate(now)
    by = _user(actor)
    ids = [rx.pk for rx in rxs]
    with transaction.atomic():
        pairs = {(rx.facility_id or 0, rx.drug_id) for rx in rxs}
        cond = Q()
        for fid, code in sorted(pairs):
            cond |= Q(facility_id=fid, drug_id=code)
        balances = list(StockBalance.objects.select_for_update().filter(cond).order_by("pk"))
        locked = dict(
            Prescription.objects.select_for_update()
            .filter(pk__in=ids)
            .order_by("pk")
            .values_list("pk", "status")
        )
        if any(locked.get(pk) != VersionStatus.CURRENT for pk in ids) or (
            Dispensation.objects.filter(prescription_id__in=ids).exists()
        ):
            raise Conflict.single(
                "encounter_ids", "该处方已发药", "Already dispensed", "already_dispensed"
            )
        lots: dict[tuple[int, str], list[StockBalance]] = {}
        for b in sorted(balances, key=lambda b: (b.expiry, b.batch_id)):
            if b.expiry >= today:
                lots.setdefault((b.facility_id, b.drug_id), []).append(b)
        plans: list[list[tuple[StockBalance, Decimal]]] = []
        for rx in rxs:
            assert rx.facility_id is not None
            mine = lots.get((rx.facility_id, rx.drug_id), [])
            plan = rules.fefo(
                [rules.Lot(b.batch_id, b.expiry, b.quantity) for b in mine], rx.quantity, today
            )
            if plan is None:
                have = sum((b.quantity for b in mine), Decimal(0))
                raise _short(rx.facility_id, rx.drug, have, rx.quantity)
            by_batch = {b.batch_id: b for b in mine}
            taken = []
            for batch_id, q in plan:
                bal = by_batch[batch_id]
                bal.quantity -= q
                taken.append((bal, q))
            plans.append(taken)
        disps = Dispensation.objects.bulk_create(
            Dispensation(
                prescription=rx,
                facility_id=rx.facility_id or 0,
                resident_id=rx.resident_id,
                quantity=rx.quantity,
                at=now,
                by_id=by,
            )
            for rx in rxs
        )
        # balances first (the check constraint stands behind the plan), then the ledger with
        # each row's running balance
        running = {b.pk: b.quantity for b in balances}
        touched = {bal.pk: bal for taken in plans for bal, _ in taken}
        StockBalance.objects.bulk_update(list(touched.values()), ["quantity"])
        for taken in plans:
            for bal, q in taken:
                running[bal.pk] += q  # back to the quantity before this queue
        moves = []
        for disp, taken in zip(disps, plans, strict=True):
            for bal, q in taken:
                running[bal.pk] -= q
                moves.append(
                    StockMovement(
                        facility_id=bal.facility_id,
                        drug_id=bal.drug_id,
                        batch_id=bal.batch_id,
                        kind=MovementKind.DISPENSE,
                        quantity=-q,
                        balance_after=running[bal.pk],
                        at=now,
                        by_id=by,
                        ref_type="dispensation",
                        ref_id=disp.pk,
                    )
                )
        StockMovement.objects.bulk_create(moves)
        disp_of = {d.prescription_id: d for d in disps}
        for group in visits.values():
            first = group[0]
            d0 = disp_of[first.pk]
            add_entry(
                first.resident,
                kind="dispense",
                occurred_at=now,
                object_type="dispensation",
                object_id=d0.pk,
                title="发药：" + "、".join(rx.drug_name or rx.drug.generic_name for rx in group),
                summary="；".join(f"{rx.drug_name} {rx.quantity:g}{rx.drug.unit}" for rx in group),
                facility_id=first.facility_id,
            )
        for group in visits.values():
            audit.record(
                actor,
                audit.Action.CREATE,
                "dispensation",
                disp_of[group[0].pk].pk,
                resident_id=group[0].resident_id,
                detail={
                    "prescriptions": [rx.pk for rx in group],
                    "dispensations": [disp_of[rx.pk].pk for rx in group],
                },
            )
    return disps


MAX_BATCH = 100


def _dispense(
    actor: Actor,
    rxs: list[Prescription],
    field: str,
    *,
    audit_later: list[tuple[int, int, dict[str, object]]] | None = None,
) -> list[Dispensation]:
    now = timezone.now()
    by = _user(actor)
    out: list[Dispensation] = []
    with transaction.atomic():
        # lock the prescriptions so a second dispense of one waits, then sees the first
        ids = [rx.pk for rx in rxs]
        _lock_balances({(rx.facility_id or 0, rx.drug_id) for rx in rxs})
        locked = dict(
            Prescription.objects.select_for_update()
            .filter(pk__in=ids)
            .order_by("pk")
            .values_list("pk", "status")
        )
        if any(locked.get(pk) != VersionStatus.CURRENT for pk in ids) or (
            Dispensation.objects.filter(prescription_id__in=ids).exists()
        ):
            raise Conflict.single(field, "该处方已发药", "Already dispensed", "already_dispensed")
        for rx in rxs:
            assert rx.facility_id is not None
            # the lock above makes this the only dispensation; the one-to-one key backs it up
            disp = Dispensation.objects.create(
                prescription=rx,
                facility_id=rx.facility_id,
                resident=rx.resident,
                quantity=rx.quantity,
                at=now,
                by_id=by,
            )
            _take_fefo(
                rx.facility_id,
                rx.drug,
                rx.quantity,
                MovementKind.DISPENSE,
                at=now,
                by=by,
                ref=("dispensation", disp.pk),
            )
            out.append(disp)
        first = rxs[0]
        add_entry(
            first.resident,
            kind="dispense",
            occurred_at=now,
            object_type="dispensation",
            object_id=out[0].pk,
            title="发药：" + "、".join(rx.drug_name or rx.drug.generic_name for rx in rxs),
            summary="；".join(f"{rx.drug_name} {rx.quantity:g}{rx.drug.unit}" for rx in rxs),
            facility_id=first.facility_id,
        )
        detail: dict[str, object] = {
            "prescriptions": ids,
            "dispensations": [d.pk for d in out],
        }
        if audit_later is not None:
            audit_later.append((out[0].pk, first.resident_id, detail))
        else:
            audit.record(
                actor,
                audit.Action.CREATE,
                "dispensation",
                out[0].pk,
                resident_id=first.resident_id,
                detail=detail,
            )
    return out


def do_record_return(
    actor: Actor, facility_id: int, batch_id: int, quantity: Any, reason: str
) -> StockMovement:
    """Goods back into stock (a patient's unopened return, 退药), into a known batch."""
    return _adjust_batch(actor, facility_id, batch_id, quantity, reason, MovementKind.RETURN, +1)


def do_record_loss(
    actor: Actor, facility_id: int, batch_id: int, quantity: Any, reason: str
) -> StockMovement:
    """A loss with its reason (报损: expired, broken, lost)."""
    return _adjust_batch(actor, facility_id, batch_id, quantity, reason, MovementKind.LOSS, -1)


def _adjust_batch(
    actor: Actor, facility_id: int, batch_id: int, quantity: Any, reason: str, kind: str, sign: int
) -> StockMovement:
    _require(actor, Perm.MANAGE_STOCK)
    _facility(facility_id)
    _may_manage(actor, facility_id)
    errors: list[FieldError] = []
    qty = _qty(quantity, "quantity", errors)
    if not (reason or "").strip():
        errors.append(FieldError("reason", "请填写原因", "Reason required", "required"))
    batch = Batch.objects.select_related("drug").filter(pk=batch_id).first()
    if batch is None:
        errors.append(FieldError("batch_id", "批次不存在", "Unknown batch", "unknown"))
    _raise(errors)
    assert batch is not None
    now = timezone.now()
    with transaction.atomic():
        mv = _move(facility_id, batch, qty * sign, kind, at=now, by=_user(actor), reason=reason)
        audit.record(actor, audit.Action.CREATE, "stock_movement", mv.pk, detail={"kind": kind})
    return mv


def do_stock_take(actor: Actor, facility_id: int, counts: list[tuple[int, Any]]) -> StockTake:
    """A stock take (盘点): for each (batch_id, counted) the variance to the book quantity
    becomes an adjustment movement; the take keeps expected/counted/variance."""
    _require(actor, Perm.MANAGE_STOCK)
    _facility(facility_id)
    _may_manage(actor, facility_id)
    errors: list[FieldError] = []
    clean: list[tuple[int, Decimal]] = []
    for i, (batch_id, counted) in enumerate(counts):
        c = _qty(counted, f"counts.{i}.counted", errors, allow_zero=True)
        if not StockBalance.objects.filter(facility_id=facility_id, batch_id=batch_id).exists():
            errors.append(
                FieldError(f"counts.{i}.batch_id", "本机构没有该批次", "No such batch here")
            )
        clean.append((batch_id, c))
    if not counts:
        errors.append(FieldError("counts", "请至少盘点一个批次", "Count at least one batch"))
    _raise(errors)
    now = timezone.now()
    with transaction.atomic():
        take = StockTake.objects.create(facility_id=facility_id, at=now, by_id=_user(actor))
        for batch_id, counted in clean:
            bal = (
                StockBalance.objects.select_for_update()
                .select_related("batch__drug")
                .get(facility_id=facility_id, batch_id=batch_id)
            )
            variance = counted - bal.quantity
            StockTakeLine.objects.create(
                take=take,
                batch_id=batch_id,
                expected=bal.quantity,
                counted=counted,
                variance=variance,
            )
            if variance:
                _move(
                    facility_id,
                    bal.batch,
                    variance,
                    MovementKind.ADJUSTMENT,
                    at=now,
                    by=_user(actor),
                    reason="盘点差异",
                    ref=("stock_take", take.pk),
                )
        audit.record(
            actor, audit.Action.CREATE, "stock_take", take.pk, detail={"lines": len(clean)}
        )
    return take


def do_set_minimum(actor: Actor, facility_id: int, drug_code: str, minimum: Any) -> StockMinimum:
    _require(actor, Perm.MANAGE_STOCK)
    _facility(facility_id)
    _may_manage(actor, facility_id)
    errors: list[FieldError] = []
    drug = _drug(drug_code, "drug_code", errors)
    m = _qty(minimum, "minimum", errors, allow_zero=True)
    _raise(errors)
    with transaction.atomic():
        row, _ = StockMinimum.objects.update_or_create(
            facility_id=facility_id, drug=drug, defaults={"minimum": m}
        )
        audit.record(
            actor, audit.Action.UPDATE, "stock_minimum", row.pk, detail={"minimum": str(m)}
        )
    return row


# --- suppliers and procurement ---------------------------------------------------------------


def _group_manager(actor: Actor, group_id: int | None) -> int:
    _require(actor, Perm.PROCURE)
    if group_id is None or not manages_group(actor, group_id):
        raise Forbidden("只有牵头医院可以统一采购和配送", "Only the lead hospital procures")
    return group_id


def do_add_supplier(
    actor: Actor, name: str, licence_no: str, licence_expiry: date | None
) -> Supplier:
    group_id = _group_manager(actor, actor.group_id)
    errors: list[FieldError] = []
    if not (name or "").strip():
        errors.append(FieldError("name", "请填写供应商名称", "Name required", "required"))
    if not (licence_no or "").strip():
        errors.append(FieldError("licence_no", "请填写许可证号", "Licence required", "required"))
    if licence_expiry is None:
        errors.append(FieldError("licence_expiry", "请填写许可证有效期", "Expiry required"))
    _raise(errors)
    with transaction.atomic():
        if Supplier.objects.filter(group_id=group_id, name=name.strip()).exists():
            raise Conflict.single("name", "供应商已存在", "Supplier exists", "duplicate")
        assert licence_expiry is not None
        s = Supplier.objects.create(
            group_id=group_id,
            name=name.strip(),
            licence_no=licence_no.strip(),
            licence_expiry=licence_expiry,
        )
        audit.record(actor, audit.Action.CREATE, "supplier", s.pk)
    return s


def do_request_purchase(
    actor: Actor, lines: list[tuple[str, Any]], note: str = "", *, facility_id: int | None = None
) -> PurchaseRequest:
    """A member asks the lead hospital for goods (请领)."""
    _require(actor, Perm.MANAGE_STOCK)
    fid = facility_id or actor.facility_id
    fac = _facility(fid)
    _may_manage(actor, fac.pk)
    if fac.group_id is None:
        raise DomainError.single("facility_id", "该机构不属于医共体", "Not in a group")
    errors: list[FieldError] = []
    clean = []
    for i, (code, qty) in enumerate(lines):
        d = _drug(code, f"lines.{i}.drug_code", errors)
        q = _qty(qty, f"lines.{i}.quantity", errors)
        clean.append((d, q))
    if not lines:
        errors.append(FieldError("lines", "请至少填写一种药品", "At least one line"))
    _raise(errors)
    with transaction.atomic():
        req = _create_request(fac, clean, note, actor)
        audit.record(actor, audit.Action.CREATE, "purchase_request", req.pk)
    return req


def _create_request(
    fac: Facility, lines: list[tuple[Drug | None, Decimal]], note: str, actor: Actor
) -> PurchaseRequest:
    assert fac.group_id is not None
    req = PurchaseRequest.objects.create(
        group_id=fac.group_id,
        facility=fac,
        note=note[:200],
        created_at=timezone.now(),
        created_by_id=_user(actor),
    )
    PurchaseRequestLine.objects.bulk_create(
        PurchaseRequestLine(request=req, drug=d, quantity=q) for d, q in lines
    )
    return req


def do_decide_request(
    actor: Actor, request_id: int, approve: bool, quantities: dict[int, Any] | None = None
) -> PurchaseRequest:
    """The lead hospital approves (optionally cutting quantities, by line id) or rejects."""
    req = PurchaseRequest.objects.filter(pk=request_id).first()
    if req is None:
        raise NotFound("采购申请")
    _group_manager(actor, req.group_id)
    errors: list[FieldError] = []
    approved: dict[int, Decimal] = {}
    for line in req.lines.all():
        if quantities and line.pk in quantities:
            approved[line.pk] = _qty(quantities[line.pk], f"quantities.{line.pk}", errors)
        else:
            approved[line.pk] = line.quantity
    _raise(errors)
    with transaction.atomic():
        n = PurchaseRequest.objects.filter(pk=req.pk, status=RequestStatus.SUBMITTED).update(
            status=RequestStatus.APPROVED if approve else RequestStatus.REJECTED,
            decided_at=timezone.now(),
        )
        if n != 1:
            raise Conflict.single("status", "该申请已审核", "Already decided", "decided")
        if approve:
            for pk, q in approved.items():
                PurchaseRequestLine.objects.filter(pk=pk).update(approved_quantity=q)
        audit.record(
            actor, audit.Action.UPDATE, "purchase_request", req.pk, detail={"approve": approve}
        )
    req.refresh_from_db()
    return req


def do_place_order(actor: Actor, supplier_id: int, request_ids: list[int]) -> PurchaseOrder:
    """Consolidate approved requests into one order to a supplier with a valid licence."""
    group_id = _group_manager(actor, actor.group_id)
    supplier = Supplier.objects.filter(pk=supplier_id, group_id=group_id, active=True).first()
    errors: list[FieldError] = []
    today = timezone.localdate()
    if supplier is None:
        errors.append(FieldError("supplier_id", "供应商不存在", "Unknown supplier", "unknown"))
    elif supplier.licence_expiry < today:
        errors.append(
            FieldError("supplier_id", "供应商许可证已过期", "Supplier licence expired", "expired")
        )
    reqs = list(PurchaseRequest.objects.filter(pk__in=request_ids, group_id=group_id))
    if not request_ids or len(reqs) != len(set(request_ids)):
        errors.append(FieldError("request_ids", "采购申请不存在", "Unknown request", "unknown"))
    elif any(r.status != RequestStatus.APPROVED for r in reqs):
        errors.append(FieldError("request_ids", "只能汇总已审核的申请", "Only approved requests"))
    _raise(errors)
    with transaction.atomic():
        n = PurchaseRequest.objects.filter(
            pk__in=request_ids, status=RequestStatus.APPROVED
        ).update(status=RequestStatus.ORDERED)
        if n != len(reqs):
            raise Conflict.single("request_ids", "申请已被汇总", "Already ordered", "ordered")
        assert supplier is not None
        order = PurchaseOrder.objects.create(
            group_id=group_id,
            supplier=supplier,
            ordered_at=timezone.now(),
            ordered_by_id=_user(actor),
        )
        lines = PurchaseRequestLine.objects.filter(request_id__in=request_ids).order_by("drug_id")
        totals: dict[str, Decimal] = {}
        for line in lines:
            totals[line.drug_id] = totals.get(line.drug_id, Decimal(0)) + (
                line.approved_quantity if line.approved_quantity is not None else line.quantity
            )
        by_drug = {
            code: PurchaseOrderLine.objects.create(order=order, drug_id=code, quantity=q)
            for code, q in totals.items()
            if q > 0
        }
        for line in lines:
            if line.drug_id in by_drug:
                PurchaseRequestLine.objects.filter(pk=line.pk).update(
                    order_line=by_drug[line.drug_id]
                )
        audit.record(
            actor, audit.Action.CREATE, "purchase_order", order.pk, detail={"requests": request_ids}
        )
    return order


def do_receive_order(
    actor: Actor, order_id: int, receipts: list[tuple[int, ReceiptInput]]
) -> list[StockMovement]:
    """Goods received against order lines (batch, expiry, quantity, price) into the central
    store: the lead hospital's stock."""
    order = PurchaseOrder.objects.filter(pk=order_id).first()
    if order is None:
        raise NotFound("采购订单")
    group_id = _group_manager(actor, order.group_id)
    store = lead_of(group_id)
    if store is None:
        raise DomainError.single("order_id", "医共体未设牵头医院", "The group has no lead")
    lines = {ln.pk: ln for ln in order.lines.select_related("drug")}
    errors: list[FieldError] = []
    today = timezone.localdate()
    clean = []
    for i, (line_id, data) in enumerate(receipts):
        line = lines.get(line_id)
        if line is None:
            errors.append(FieldError(f"receipts.{i}.line_id", "订单中没有该行", "Unknown line"))
            continue
        data.drug_code = line.drug_id
        data.supplier_id = order.supplier_id
        drug, qty, price = _batch(data, f"receipts.{i}.", errors, today)
        clean.append((line, data, drug, qty, price, i))
    if not receipts:
        errors.append(FieldError("receipts", "请填写到货明细", "Receipts required"))
    _raise(errors)
    now = timezone.now()
    out = []
    with transaction.atomic():
        for line, data, drug, qty, price, i in clean:
            assert drug is not None
            batch = _get_batch(drug, data, price, f"receipts.{i}.")
            out.append(
                _move(
                    store,
                    batch,
                    qty,
                    MovementKind.RECEIPT,
                    at=now,
                    by=_user(actor),
                    reason="采购入库",
                    ref=("purchase_order", order.pk),
                )
            )
            PurchaseOrderLine.objects.filter(pk=line.pk).update(
                received_quantity=F("received_quantity") + qty
            )
        if not order.lines.filter(received_quantity__lt=F("quantity")).exists():
            PurchaseOrder.objects.filter(pk=order.pk).update(status=OrderStatus.RECEIVED)
        audit.record(
            actor, audit.Action.CREATE, "goods_receipt", order.pk, detail={"lines": len(clean)}
        )
    return out


def do_send_delivery(
    actor: Actor,
    from_facility_id: int,
    to_facility_id: int,
    lines: list[tuple[str, Any]],
    *,
    kind: str = NoteKind.DISTRIBUTION,
) -> DeliveryNote:
    """Send goods (FEFO batches) to a member: 配送 from the central store or 调拨 between
    members. The sender's stock drops now; the receiver's when it confirms arrival."""
    src = _facility(from_facility_id, "from_facility_id")
    dst = _facility(to_facility_id, "to_facility_id")
    if src.group_id is None or src.group_id != dst.group_id or src.pk == dst.pk:
        raise DomainError.single(
            "to_facility_id", "只能发往同一医共体的其他机构", "Same group, other facility"
        )
    _group_manager(actor, src.group_id)
    if kind not in NoteKind.values:
        raise DomainError.single("kind", "类型无效", "Invalid kind")
    errors: list[FieldError] = []
    clean = []
    for i, (code, qty) in enumerate(lines):
        clean.append(
            (_drug(code, f"lines.{i}.drug_code", errors), _qty(qty, f"lines.{i}.quantity", errors))
        )
    if not lines:
        errors.append(FieldError("lines", "请至少填写一种药品", "At least one line"))
    _raise(errors)
    now = timezone.now()
    out_kind = (
        MovementKind.DISTRIBUTION_OUT
        if kind == NoteKind.DISTRIBUTION
        else MovementKind.TRANSFER_OUT
    )
    with transaction.atomic():
        assert src.group_id is not None
        _lock_balances({(src.pk, d.pk) for d, _ in clean if d is not None})
        note = DeliveryNote.objects.create(
            group_id=src.group_id,
            kind=kind,
            from_facility=src,
            to_facility=dst,
            sent_at=now,
            sent_by_id=_user(actor),
        )
        for drug, qty in clean:
            assert drug is not None
            for mv in _take_fefo(
                src.pk, drug, qty, out_kind, at=now, by=_user(actor), ref=("delivery_note", note.pk)
            ):
                DeliveryLine.objects.create(
                    note=note, drug=drug, batch_id=mv.batch_id, quantity=-mv.quantity
                )
        audit.record(actor, audit.Action.CREATE, "delivery_note", note.pk, detail={"kind": kind})
    return note


def do_confirm_delivery(actor: Actor, note_id: int) -> DeliveryNote:
    """The receiving member confirms arrival (签收): the goods enter its stock, and shortage
    registrations waiting for these drugs there become 'arrived'."""
    if not (actor.is_system or actor.can(Perm.MANAGE_STOCK) or actor.can(Perm.DISPENSE)):
        raise Forbidden()
    note = DeliveryNote.objects.filter(pk=note_id).first()
    if note is None or not (actor.is_system or actor.facility_id == note.to_facility_id):
        raise NotFound("配送单")
    now = timezone.now()
    in_kind = (
        MovementKind.DISTRIBUTION_IN
        if note.kind == NoteKind.DISTRIBUTION
        else MovementKind.TRANSFER_IN
    )
    with transaction.atomic():
        n = DeliveryNote.objects.filter(pk=note.pk, status=NoteStatus.IN_TRANSIT).update(
            status=NoteStatus.CONFIRMED, confirmed_at=now, confirmed_by_id=_user(actor)
        )
        if n != 1:
            raise Conflict.single("status", "该单据已签收", "Already confirmed", "confirmed")
        arrived: dict[str, Decimal] = {}
        lines = list(note.lines.select_related("batch__drug").order_by("batch_id"))
        _lock_balances({(note.to_facility_id, ln.drug_id) for ln in lines})
        for line in lines:
            _move(
                note.to_facility_id,
                line.batch,
                line.quantity,
                in_kind,
                at=now,
                by=_user(actor),
                reason="签收",
                ref=("delivery_note", note.pk),
            )
            arrived[line.drug_id] = arrived.get(line.drug_id, Decimal(0)) + line.quantity
        for sh in Shortage.objects.filter(
            facility_id=note.to_facility_id,
            drug_id__in=list(arrived),
            status__in=[ShortageStatus.REGISTERED, ShortageStatus.SOURCING],
        ).order_by("registered_at"):
            if arrived[sh.drug_id] >= sh.quantity:
                arrived[sh.drug_id] -= sh.quantity
                Shortage.objects.filter(pk=sh.pk).update(
                    status=ShortageStatus.ARRIVED, arrived_at=now
                )
        audit.record(
            actor, audit.Action.UPDATE, "delivery_note", note.pk, detail={"confirmed": True}
        )
    note.refresh_from_db()
    return note


# --- 缺药登记 --------------------------------------------------------------------------------


@dataclass
class ShortageInput:
    mpi_id: str
    drug_code: str
    quantity: Decimal | str | float
    needed_by: date | None = None
    note: str = ""


def do_register_shortage(actor: Actor, data: ShortageInput) -> Shortage:
    _require(actor, Perm.REGISTER_SHORTAGE)
    if not actor.facility_id:
        raise Forbidden("缺药登记需在机构内进行", "Register at a facility")
    errors: list[FieldError] = []
    resident: Resident | None = None
    try:
        resident = get_resident_for(actor, data.mpi_id, purpose="shortage")
    except NotFound:
        errors.append(
            FieldError("mpi_id", "居民不存在或不在管辖范围", "Unknown resident", "unknown")
        )
    drug = _drug(data.drug_code, "drug_code", errors)
    qty = _qty(data.quantity, "quantity", errors)
    if data.needed_by is not None and data.needed_by < timezone.localdate():
        errors.append(FieldError("needed_by", "需用日期不能早于今天", "Needed-by is past"))
    _raise(errors)
    assert resident is not None
    now = timezone.now()
    with transaction.atomic():
        assert drug is not None
        sh = Shortage.objects.create(
            facility_id=actor.facility_id,
            resident=resident,
            drug=drug,
            quantity=qty,
            needed_by=data.needed_by,
            note=data.note[:200],
            registered_at=now,
            registered_by_id=_user(actor),
        )
        audit.record(actor, audit.Action.CREATE, "shortage", sh.pk, resident_id=resident.pk)
    return sh


def do_route_shortage(actor: Actor, shortage_id: int, route: str = "auto") -> Shortage:
    """The lead hospital sources a registered shortage: a transfer (调拨) from the member with
    the most spare unexpired stock when one covers it, else a purchase request."""
    sh = Shortage.objects.select_related("drug", "facility").filter(pk=shortage_id).first()
    if sh is None:
        raise NotFound("缺药登记")
    group_id = _group_manager(actor, sh.facility.group_id)
    if sh.status != ShortageStatus.REGISTERED:
        raise Conflict.single("status", "该登记已在处理", "Already being sourced", "routed")
    if route not in ("auto", ShortageRoute.TRANSFER, ShortageRoute.PROCUREMENT):
        raise DomainError.single("route", "筹措方式无效", "Invalid route")
    giver = None
    if route in ("auto", ShortageRoute.TRANSFER):
        today = timezone.localdate()
        giver = (
            StockBalance.objects.filter(
                facility__group_id=group_id, drug_id=sh.drug_id, expiry__gte=today
            )
            .exclude(facility_id=sh.facility_id)
            .values("facility_id")
            .annotate(q=Sum("quantity"))
            .filter(q__gte=sh.quantity)
            .order_by("-q", "facility_id")
            .values_list("facility_id", flat=True)
            .first()
        )
        if giver is None and route == ShortageRoute.TRANSFER:
            raise Conflict.single("route", "医共体内没有可调拨的库存", "No member can spare it")
    with transaction.atomic():
        if giver is not None:
            note = do_send_delivery(
                actor, giver, sh.facility_id, [(sh.drug_id, sh.quantity)], kind=NoteKind.TRANSFER
            )
            fields: dict[str, object] = {"route": ShortageRoute.TRANSFER, "delivery_note": note}
        else:
            req = _create_request(
                sh.facility, [(sh.drug, sh.quantity)], f"缺药登记 #{sh.pk}", actor
            )
            fields = {"route": ShortageRoute.PROCUREMENT, "purchase_request": req}
        n = Shortage.objects.filter(pk=sh.pk, status=ShortageStatus.REGISTERED).update(
            status=ShortageStatus.SOURCING,
            **fields,
        )
        if n != 1:
            raise Conflict.single("status", "该登记已在处理", "Already being sourced", "routed")
        audit.record(
            actor,
            audit.Action.UPDATE,
            "shortage",
            sh.pk,
            resident_id=sh.resident_id,
            detail={"route": str(fields["route"])},
        )
    sh.refresh_from_db()
    return sh


def do_hand_over_shortage(actor: Actor, shortage_id: int) -> Shortage:
    """The patient receives the drug (交付): dispensed from stock FEFO, on the timeline."""
    _require(actor, Perm.DISPENSE)
    sh = Shortage.objects.select_related("drug", "resident").filter(pk=shortage_id).first()
    if sh is None or not (actor.is_system or actor.facility_id == sh.facility_id):
        raise NotFound("缺药登记")
    if sh.status not in (
        ShortageStatus.ARRIVED,
        ShortageStatus.REGISTERED,
        ShortageStatus.SOURCING,
    ):
        raise Conflict.single("status", "该登记已交付或取消", "Already closed", "closed")
    now = timezone.now()
    with transaction.atomic():
        n = Shortage.objects.filter(pk=sh.pk, status=sh.status).update(
            status=ShortageStatus.HANDED_OVER,
            handed_over_at=now,
            arrived_at=sh.arrived_at or now,
        )
        if n != 1:
            raise Conflict.single("status", "该登记已交付", "Already handed over", "closed")
        _take_fefo(
            sh.facility_id,
            sh.drug,
            sh.quantity,
            MovementKind.DISPENSE,
            at=now,
            by=_user(actor),
            reason="缺药登记交付",
            ref=("shortage", sh.pk),
        )
        add_entry(
            sh.resident,
            kind="dispense",
            occurred_at=now,
            object_type="shortage",
            object_id=sh.pk,
            title=f"缺药登记交付：{sh.drug.generic_name}",
            summary=f"{sh.quantity:g}{sh.drug.unit}",
            facility_id=sh.facility_id,
        )
        audit.record(
            actor,
            audit.Action.UPDATE,
            "shortage",
            sh.pk,
            resident_id=sh.resident_id,
            detail={"handed_over": True},
        )
    sh.refresh_from_db()
    return sh


def do_cancel_shortage(actor: Actor, shortage_id: int, reason: str) -> Shortage:
    _require(actor, Perm.REGISTER_SHORTAGE)
    sh = Shortage.objects.filter(pk=shortage_id).first()
    if sh is None or not (actor.is_system or actor.facility_id == sh.facility_id):
        raise NotFound("缺药登记")
    if not (reason or "").strip():
        raise DomainError.single("reason", "请填写取消原因", "Reason required", "required")
    with transaction.atomic():
        n = Shortage.objects.filter(
            pk=sh.pk,
            status__in=[ShortageStatus.REGISTERED, ShortageStatus.SOURCING, ShortageStatus.ARRIVED],
        ).update(status=ShortageStatus.CANCELLED, note=reason[:200])
        if n != 1:
            raise Conflict.single("status", "该登记已关闭", "Already closed", "closed")
        audit.record(actor, audit.Action.VOID, "shortage", sh.pk, resident_id=sh.resident_id)
    sh.refresh_from_db()
    return sh


__all__ = ["group_of"]
