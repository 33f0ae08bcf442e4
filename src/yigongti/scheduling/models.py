"""Expert sessions with reserved slots, beds with reserved shares, bookings (预约与号源).

Counters live on the capacity row (Slot, Ward) and are changed only by conditional UPDATEs
(`... WHERE booked < capacity`) that the database checks again with CHECK constraints, so two
requests can never take the same last seat."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from yigongti.network.models import Department, Facility, Staff
from yigongti.residents.models import Resident


class QuotaPolicy(models.Model):
    """The configurable numbers (DOMAIN.md §4: "one county reports 20% of expert slots and 10% of
    beds (configurable)"). A row for a department wins over a row for its facility (department
    empty); with no row the field defaults below apply."""

    facility = models.ForeignKey(
        Facility, verbose_name="机构", on_delete=models.CASCADE, related_name="+"
    )
    department = models.OneToOneField(
        Department,
        verbose_name="科室",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    reserved_slot_pct = models.PositiveSmallIntegerField("号源预留比例(%)", default=20)
    release_hours_ahead = models.PositiveIntegerField("预留号提前释放(小时)", default=48)
    reserved_bed_pct = models.PositiveSmallIntegerField("床位预留比例(%)", default=10)
    noshow_limit = models.PositiveSmallIntegerField("爽约次数上限", default=3)
    noshow_window_days = models.PositiveSmallIntegerField("爽约统计天数", default=90)

    class Meta:
        verbose_name = "号源与床位预留规则"
        verbose_name_plural = "号源与床位预留规则"
        constraints = [
            models.CheckConstraint(
                condition=Q(reserved_slot_pct__lte=100) & Q(reserved_bed_pct__lte=100),
                name="quota_pct_le_100",
            ),
            models.UniqueConstraint(
                fields=["facility"],
                condition=Q(department__isnull=True),
                name="quota_one_default_per_facility",
            ),
        ]

    def __str__(self) -> str:
        return f"预留规则 {self.department_id or self.facility_id}"


class ExpertSession(models.Model):
    """A published expert clinic (专家门诊) of a county department on one day."""

    department = models.ForeignKey(
        Department, verbose_name="科室", on_delete=models.PROTECT, related_name="+"
    )
    doctor = models.ForeignKey(
        Staff, verbose_name="出诊专家", on_delete=models.PROTECT, related_name="+"
    )
    day = models.DateField("出诊日期")
    note = models.CharField("说明", max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField("发布时间", auto_now_add=True)

    class Meta:
        verbose_name = "专家出诊"
        verbose_name_plural = "专家出诊"
        ordering = ["day", "department_id"]
        indexes = [models.Index(fields=["department", "day"], name="session_dept_day")]
        constraints = [
            models.UniqueConstraint(fields=["doctor", "day"], name="session_doctor_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.doctor_id}"


class Slot(models.Model):
    """One time slot of a session. `reserved` seats are kept for family-doctor referrals until
    the release time; releasing sets `reserved = booked_reserved` so the unused seats fall into
    the public pool. Public seats = capacity - reserved."""

    session = models.ForeignKey(
        ExpertSession, verbose_name="出诊", on_delete=models.CASCADE, related_name="slots"
    )
    starts_at = models.DateTimeField("开始")
    ends_at = models.DateTimeField("结束")
    capacity = models.PositiveSmallIntegerField("号源数")
    reserved = models.PositiveSmallIntegerField("预留号数", default=0)
    booked_reserved = models.PositiveSmallIntegerField("已约预留号", default=0)
    booked_public = models.PositiveSmallIntegerField("已约普通号", default=0)
    released_at = models.DateTimeField("预留号释放时间", null=True, blank=True)

    class Meta:
        verbose_name = "号源时段"
        verbose_name_plural = "号源时段"
        ordering = ["starts_at"]
        indexes = [models.Index(fields=["starts_at"], name="slot_starts_at")]
        constraints = [
            models.CheckConstraint(
                condition=Q(reserved__lte=F("capacity")), name="slot_res_le_cap"
            ),
            models.CheckConstraint(
                condition=Q(booked_reserved__lte=F("reserved")), name="slot_booked_res_le_res"
            ),
            models.CheckConstraint(
                condition=Q(booked_public__lte=F("capacity") - F("reserved")),
                name="slot_booked_pub_le_public",
            ),
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="slot_ends_after"),
        ]

    def __str__(self) -> str:
        return f"{self.starts_at:%Y-%m-%d %H:%M} ({self.capacity})"

    @property
    def public_free(self) -> int:
        return self.capacity - self.reserved - self.booked_public

    @property
    def reserved_free(self) -> int:
        return self.reserved - self.booked_reserved


class Pool(models.TextChoices):
    RESERVED = "reserved", "家庭医生转诊预留"
    PUBLIC = "public", "普通"


class BookingSource(models.TextChoices):
    DIRECT = "direct", "直接预约"
    REFERRAL = "referral", "转诊预约"


class BookingStatus(models.TextChoices):
    BOOKED = "booked", "已预约"
    CANCELLED = "cancelled", "已取消"
    ATTENDED = "attended", "已就诊"
    NO_SHOW = "no_show", "爽约"


class Booking(models.Model):
    slot = models.ForeignKey(Slot, verbose_name="号源", on_delete=models.PROTECT, related_name="+")
    resident = models.ForeignKey(
        Resident, verbose_name="居民", on_delete=models.PROTECT, related_name="+"
    )
    pool = models.CharField("号源类别", max_length=10, choices=Pool.choices)
    source = models.CharField("来源", max_length=10, choices=BookingSource.choices)
    status = models.CharField(
        "状态", max_length=10, choices=BookingStatus.choices, default=BookingStatus.BOOKED
    )
    facility = models.ForeignKey(
        Facility, verbose_name="预约机构", null=True, on_delete=models.PROTECT, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField("预约时间", auto_now_add=True)
    closed_at = models.DateTimeField("取消/标记时间", null=True, blank=True)
    cancel_reason = models.CharField("取消原因", max_length=200, blank=True)

    class Meta:
        verbose_name = "预约"
        verbose_name_plural = "预约"
        indexes = [
            models.Index(fields=["resident", "status", "created_at"], name="booking_res_status"),
            models.Index(fields=["slot", "status"], name="booking_slot_status"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["slot", "resident"],
                condition=Q(status="booked"),
                name="booking_one_live_per_slot",
            )
        ]

    def __str__(self) -> str:
        return f"预约 {self.pk}"


class Ward(models.Model):
    """A ward's beds (病区床位), one per department. `reserved` beds are for referred admissions."""

    department = models.OneToOneField(
        Department, verbose_name="科室", on_delete=models.PROTECT, related_name="+"
    )
    beds = models.PositiveSmallIntegerField("床位数")
    reserved = models.PositiveSmallIntegerField("转诊预留床位", default=0)
    used_reserved = models.PositiveSmallIntegerField("占用预留床位", default=0)
    used_public = models.PositiveSmallIntegerField("占用普通床位", default=0)

    class Meta:
        verbose_name = "病区床位"
        verbose_name_plural = "病区床位"
        constraints = [
            models.CheckConstraint(condition=Q(reserved__lte=F("beds")), name="ward_res_le_beds"),
            models.CheckConstraint(
                condition=Q(used_reserved__lte=F("reserved")), name="ward_used_res_le_res"
            ),
            models.CheckConstraint(
                condition=Q(used_public__lte=F("beds") - F("reserved")),
                name="ward_used_pub_le_public",
            ),
        ]

    def __str__(self) -> str:
        return f"病区 {self.department_id}"

    @property
    def public_free(self) -> int:
        return self.beds - self.reserved - self.used_public

    @property
    def reserved_free(self) -> int:
        return self.reserved - self.used_reserved


class BedStatus(models.TextChoices):
    HELD = "held", "已预留"
    RELEASED = "released", "已出院/释放"
    CANCELLED = "cancelled", "已取消"


class BedReservation(models.Model):
    ward = models.ForeignKey(Ward, verbose_name="病区", on_delete=models.PROTECT, related_name="+")
    resident = models.ForeignKey(
        Resident, verbose_name="居民", on_delete=models.PROTECT, related_name="+"
    )
    pool = models.CharField("床位类别", max_length=10, choices=Pool.choices)
    source = models.CharField("来源", max_length=10, choices=BookingSource.choices)
    status = models.CharField(
        "状态", max_length=10, choices=BedStatus.choices, default=BedStatus.HELD
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField("预留时间", auto_now_add=True)
    closed_at = models.DateTimeField("释放时间", null=True, blank=True)

    class Meta:
        verbose_name = "床位预留"
        verbose_name_plural = "床位预留"
        constraints = [
            models.UniqueConstraint(
                fields=["ward", "resident"], condition=Q(status="held"), name="bed_one_live"
            )
        ]

    def __str__(self) -> str:
        return f"床位预留 {self.pk}"
