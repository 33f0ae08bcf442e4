"""Stock of the group's one drug/consumable catalogue (`records.Drug`): suppliers, batches, the
movement ledger and per-batch balances, procurement, delivery notes and 缺药登记.

Invariants held by the database: a balance is never negative (check constraint), one balance
row per (facility, batch), one dispensation per prescription."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from yigongti.network.models import Facility, MedicalGroup
from yigongti.records.models import Drug, Prescription
from yigongti.residents.models import Resident

QTY = {"max_digits": 12, "decimal_places": 2}


class Supplier(models.Model):
    """A supplier (供应商) with its business licence (经营许可证) and its expiry."""

    group = models.ForeignKey(
        MedicalGroup, verbose_name="医共体", on_delete=models.PROTECT, related_name="+"
    )
    name = models.CharField("名称", max_length=128)
    licence_no = models.CharField("药品经营许可证号", max_length=64)
    licence_expiry = models.DateField("许可证有效期至")
    active = models.BooleanField("启用", default=True)

    class Meta:
        verbose_name = "供应商"
        verbose_name_plural = "供应商"
        constraints = [
            models.UniqueConstraint(fields=["group", "name"], name="supplier_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class Batch(models.Model):
    """One manufacturing batch (批号) of a catalogue item with its expiry (有效期)."""

    drug = models.ForeignKey(Drug, verbose_name="药品", on_delete=models.PROTECT, related_name="+")
    batch_no = models.CharField("批号", max_length=40)
    expiry = models.DateField("有效期至")
    supplier = models.ForeignKey(
        Supplier, verbose_name="供应商", null=True, blank=True, on_delete=models.PROTECT
    )
    unit_price = models.DecimalField("单价", max_digits=12, decimal_places=4, default=0)

    class Meta:
        verbose_name = "批次"
        verbose_name_plural = "批次"
        constraints = [models.UniqueConstraint(fields=["drug", "batch_no"], name="batch_unique_no")]

    def __str__(self) -> str:
        return f"{self.batch_no} ({self.expiry})"


class MovementKind(models.TextChoices):
    RECEIPT = "receipt", "入库"
    DISPENSE = "dispense", "发药"
    RETURN = "return", "退药"
    TRANSFER_OUT = "transfer_out", "调出"
    TRANSFER_IN = "transfer_in", "调入"
    DISTRIBUTION_OUT = "distribution_out", "配送出库"
    DISTRIBUTION_IN = "distribution_in", "配送入库"
    LOSS = "loss", "报损"
    ADJUSTMENT = "adjustment", "盘点调整"


class StockBalance(models.Model):
    """The quantity of one batch at one facility, in the drug's dispensing unit. Updated only
    with a movement, in the same transaction."""

    facility = models.ForeignKey(Facility, on_delete=models.PROTECT, related_name="+")
    drug = models.ForeignKey(Drug, on_delete=models.PROTECT, related_name="+")
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="+")
    expiry = models.DateField("有效期至")  # copied from the batch: FEFO and near-expiry lists
    quantity = models.DecimalField("结存", default=0, **QTY)  # type: ignore[arg-type]

    class Meta:
        verbose_name = "库存结存"
        verbose_name_plural = "库存结存"
        constraints = [
            models.UniqueConstraint(fields=["facility", "batch"], name="balance_unique_batch"),
            models.CheckConstraint(condition=Q(quantity__gte=0), name="balance_not_negative"),
        ]
        indexes = [
            models.Index(fields=["facility", "drug", "expiry"], name="balance_fefo"),
            models.Index(fields=["expiry"], name="balance_expiry"),
        ]

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} #{self.pk}"


class StockMovement(models.Model):
    """One row of the ledger (出入库流水). Never edited; corrections are new rows."""

    facility = models.ForeignKey(Facility, on_delete=models.PROTECT, related_name="+")
    drug = models.ForeignKey(Drug, on_delete=models.PROTECT, related_name="+")
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField("类型", max_length=20, choices=MovementKind.choices)
    quantity = models.DecimalField("数量(±)", **QTY)  # type: ignore[arg-type]
    balance_after = models.DecimalField("变动后结存", **QTY)  # type: ignore[arg-type]
    at = models.DateTimeField("时间", db_index=False)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField("原因", max_length=200, blank=True)
    ref_type = models.CharField("单据类型", max_length=32, blank=True)
    ref_id = models.BigIntegerField("单据号", null=True, blank=True)

    class Meta:
        verbose_name = "出入库流水"
        verbose_name_plural = "出入库流水"
        indexes = [
            models.Index(fields=["facility", "at"], name="movement_facility_at"),
            models.Index(fields=["facility", "batch"], name="movement_facility_batch"),
            models.Index(fields=["ref_type", "ref_id"], name="movement_ref"),
        ]

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} #{self.pk}"


class StockMinimum(models.Model):
    """Low-stock threshold (库存下限) of one item at one facility."""

    facility = models.ForeignKey(Facility, on_delete=models.CASCADE, related_name="+")
    drug = models.ForeignKey(Drug, on_delete=models.CASCADE, related_name="+")
    minimum = models.DecimalField("库存下限", **QTY)  # type: ignore[arg-type]

    class Meta:
        verbose_name = "库存下限"
        verbose_name_plural = "库存下限"
        constraints = [
            models.UniqueConstraint(fields=["facility", "drug"], name="minimum_unique"),
            models.CheckConstraint(condition=Q(minimum__gte=0), name="minimum_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} #{self.pk}"


class Dispensation(models.Model):
    """A prescription fulfilled (发药记录); at most one per prescription."""

    prescription = models.OneToOneField(
        Prescription, verbose_name="处方", on_delete=models.PROTECT, related_name="+"
    )
    facility = models.ForeignKey(Facility, on_delete=models.PROTECT, related_name="+")
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField("数量", **QTY)  # type: ignore[arg-type]
    at = models.DateTimeField("发药时间")
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = "发药记录"
        verbose_name_plural = "发药记录"

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} #{self.pk}"


class StockTake(models.Model):
    """A stock take (盘点): counted quantities; each variance became an adjustment movement."""

    facility = models.ForeignKey(Facility, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField("盘点时间")
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = "盘点"
        verbose_name_plural = "盘点"

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} #{self.pk}"


class StockTakeLine(models.Model):
    take = models.ForeignKey(StockTake, on_delete=models.CASCADE, related_name="lines")
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="+")
    expected = models.DecimalField("账面数", **QTY)  # type: ignore[arg-type]
    counted = models.DecimalField("实盘数", **QTY)  # type: ignore[arg-type]
    variance = models.DecimalField("差异", **QTY)  # type: ignore[arg-type]

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} #{self.pk}"


# ---------------------------------------------------------------------------------------------
# Procurement (统一采购) and distribution (统一配送)


class RequestStatus(models.TextChoices):
    SUBMITTED = "submitted", "待审核"
    APPROVED = "approved", "已审核"
    REJECTED = "rejected", "已驳回"
    ORDERED = "ordered", "已采购"


class PurchaseRequest(models.Model):
    """A member's purchase request (请领/采购申请) to the lead hospital."""

    group = models.ForeignKey(MedicalGroup, on_delete=models.PROTECT, related_name="+")
    facility = models.ForeignKey(
        Facility, verbose_name="申请机构", on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(
        "状态", max_length=12, choices=RequestStatus.choices, default=RequestStatus.SUBMITTED
    )
    note = models.CharField("说明", max_length=200, blank=True)
    created_at = models.DateTimeField("申请时间")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField("审核时间", null=True, blank=True)

    class Meta:
        verbose_name = "采购申请"
        verbose_name_plural = "采购申请"
        indexes = [models.Index(fields=["group", "status"], name="request_group_status")]

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} #{self.pk}"


class PurchaseRequestLine(models.Model):
    request = models.ForeignKey(PurchaseRequest, on_delete=models.CASCADE, related_name="lines")
    drug = models.ForeignKey(Drug, on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField("申请数量", **QTY)  # type: ignore[arg-type]
    approved_quantity = models.DecimalField("核定数量", null=True, blank=True, **QTY)  # type: ignore[arg-type]
    order_line = models.ForeignKey(
        "PurchaseOrderLine", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="request_line_positive")
        ]

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} #{self.pk}"


class OrderStatus(models.TextChoices):
    ORDERED = "ordered", "已下单"
    RECEIVED = "received", "已到货"


class PurchaseOrder(models.Model):
    """A consolidated purchase order (采购订单) of the lead hospital to one supplier."""

    group = models.ForeignKey(MedicalGroup, on_delete=models.PROTECT, related_name="+")
    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        "状态", max_length=12, choices=OrderStatus.choices, default=OrderStatus.ORDERED
    )
    ordered_at = models.DateTimeField("下单时间")
    ordered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = "采购订单"
        verbose_name_plural = "采购订单"

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} #{self.pk}"


class PurchaseOrderLine(models.Model):
    order = models.ForeignKey(PurchaseOrder, on_delete=models.CASCADE, related_name="lines")
    drug = models.ForeignKey(Drug, on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField("订购数量", **QTY)  # type: ignore[arg-type]
    received_quantity = models.DecimalField("已到货数量", default=0, **QTY)  # type: ignore[arg-type]

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} #{self.pk}"


class NoteKind(models.TextChoices):
    DISTRIBUTION = "distribution", "配送"
    TRANSFER = "transfer", "调拨"


class NoteStatus(models.TextChoices):
    IN_TRANSIT = "in_transit", "在途"
    CONFIRMED = "confirmed", "已签收"


class DeliveryNote(models.Model):
    """Goods leaving one facility for another (配送单 from the central store, 调拨单 between
    members). Leaving takes the stock out of the sender; it enters the receiver only when the
    receiver confirms arrival; in between it is in transit."""

    group = models.ForeignKey(MedicalGroup, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField("类型", max_length=16, choices=NoteKind.choices)
    from_facility = models.ForeignKey(
        Facility, verbose_name="发出机构", on_delete=models.PROTECT, related_name="+"
    )
    to_facility = models.ForeignKey(
        Facility, verbose_name="接收机构", on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(
        "状态", max_length=12, choices=NoteStatus.choices, default=NoteStatus.IN_TRANSIT
    )
    sent_at = models.DateTimeField("发出时间")
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    confirmed_at = models.DateTimeField("签收时间", null=True, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = "配送/调拨单"
        verbose_name_plural = "配送/调拨单"
        indexes = [models.Index(fields=["to_facility", "status"], name="note_to_status")]

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} #{self.pk}"


class DeliveryLine(models.Model):
    note = models.ForeignKey(DeliveryNote, on_delete=models.CASCADE, related_name="lines")
    drug = models.ForeignKey(Drug, on_delete=models.PROTECT, related_name="+")
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField("数量", **QTY)  # type: ignore[arg-type]

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} #{self.pk}"


# ---------------------------------------------------------------------------------------------
# 缺药登记


class ShortageStatus(models.TextChoices):
    REGISTERED = "registered", "已登记"
    SOURCING = "sourcing", "筹措中"
    ARRIVED = "arrived", "已到货"
    HANDED_OVER = "handed_over", "已交付"
    CANCELLED = "cancelled", "已取消"


class ShortageRoute(models.TextChoices):
    NONE = "", "未安排"
    TRANSFER = "transfer", "调拨"
    PROCUREMENT = "procurement", "采购"


class Shortage(models.Model):
    """A drug a named patient needs and the clinic lacks (缺药登记), tracked to hand-over."""

    facility = models.ForeignKey(
        Facility, verbose_name="登记机构", on_delete=models.PROTECT, related_name="+"
    )
    resident = models.ForeignKey(
        Resident, verbose_name="患者", on_delete=models.PROTECT, related_name="+"
    )
    drug = models.ForeignKey(Drug, verbose_name="药品", on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField("数量", **QTY)  # type: ignore[arg-type]
    needed_by = models.DateField("需用日期", null=True, blank=True)
    note = models.CharField("说明", max_length=200, blank=True)
    status = models.CharField(
        "状态", max_length=12, choices=ShortageStatus.choices, default=ShortageStatus.REGISTERED
    )
    route = models.CharField(
        "筹措方式", max_length=12, choices=ShortageRoute.choices, blank=True, default=""
    )
    delivery_note = models.ForeignKey(
        DeliveryNote, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    purchase_request = models.ForeignKey(
        PurchaseRequest, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    registered_at = models.DateTimeField("登记时间")
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    arrived_at = models.DateTimeField("到货时间", null=True, blank=True)
    handed_over_at = models.DateTimeField("交付时间", null=True, blank=True)

    class Meta:
        verbose_name = "缺药登记"
        verbose_name_plural = "缺药登记"
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="shortage_positive")
        ]
        indexes = [models.Index(fields=["facility", "status"], name="shortage_facility_status")]

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} #{self.pk}"
