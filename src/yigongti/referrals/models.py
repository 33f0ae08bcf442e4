"""Two-way referral (双向转诊): the referral note, its return note (回转单), and the chain of
state transitions. A booking or bed made on acceptance is linked from here; scheduling knows
nothing of referrals."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from yigongti.network.models import Department, Facility, Staff
from yigongti.records.models import ICD10Code, WorkflowStep
from yigongti.residents.models import Resident
from yigongti.scheduling.models import BedReservation, Booking


class Direction(models.TextChoices):
    UP = "up", "上转"
    DOWN = "down", "下转（回转）"


class Urgency(models.TextChoices):
    EMERGENCY = "emergency", "急诊"
    ROUTINE = "routine", "普通"


class State(models.TextChoices):
    DRAFT = "draft", "草稿"
    SUBMITTED = "submitted", "已提交"
    ACCEPTED = "accepted", "已接收"
    DECLINED = "declined", "已拒绝"
    EXPIRED = "expired", "超时未响应"
    ARRIVED = "arrived", "患者已到达"
    COMPLETED = "completed", "已完成"
    CANCELLED = "cancelled", "已撤销"


class ResponsePolicy(models.Model):
    """How long a receiving facility has to answer (local rule, configurable); with no row the
    defaults apply."""

    facility = models.OneToOneField(
        Facility, verbose_name="接收机构", on_delete=models.CASCADE, related_name="+"
    )
    routine_hours = models.PositiveIntegerField("普通转诊响应时限(小时)", default=48)
    emergency_hours = models.PositiveIntegerField("急诊转诊响应时限(小时)", default=2)
    followup_days = models.PositiveIntegerField("回转后随访时限(天)", default=14)

    class Meta:
        verbose_name = "转诊响应时限"
        verbose_name_plural = "转诊响应时限"

    def __str__(self) -> str:
        return f"{self.facility_id} 响应时限"


class Referral(models.Model):
    direction = models.CharField("方向", max_length=4, choices=Direction.choices)
    state = models.CharField("状态", max_length=10, choices=State.choices, default=State.DRAFT)
    resident = models.ForeignKey(
        Resident, verbose_name="居民", on_delete=models.PROTECT, related_name="+"
    )
    # sender
    from_facility = models.ForeignKey(
        Facility, verbose_name="转出机构", on_delete=models.PROTECT, related_name="+"
    )
    referring_doctor = models.CharField("转诊医生", max_length=30)
    referring_phone = models.CharField("转诊医生电话", max_length=20, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # destination
    to_facility = models.ForeignKey(
        Facility,
        verbose_name="接收机构",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    to_department = models.ForeignKey(
        Department,
        verbose_name="接收科室",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    to_doctor = models.ForeignKey(
        Staff,
        verbose_name="接诊医生",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    out_of_county = models.BooleanField("县外转诊", default=False)
    destination_name = models.CharField("县外接收医院", max_length=128, blank=True)
    # clinical
    urgency = models.CharField("紧急程度", max_length=10, choices=Urgency.choices)
    family_doctor = models.BooleanField("家庭医生转诊（优先）", default=False)
    initial_impression = models.CharField("初步印象", max_length=200, blank=True)
    diagnosis = models.ForeignKey(
        ICD10Code,
        verbose_name="诊断编码",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    reason = models.TextField("转诊原因/现病史")
    past_history = models.TextField("既往史", blank=True)
    treatment_so_far = models.TextField("已做治疗", blank=True)
    attachments = models.JSONField("附件（健康档案）", default=list, blank=True)
    client_key = models.CharField("提交幂等键", max_length=64, blank=True)
    # response
    respond_by = models.DateTimeField("应答截止", null=True, blank=True)
    decline_reason = models.CharField("拒绝原因", max_length=200, blank=True)
    cancel_reason = models.CharField("撤销原因", max_length=200, blank=True)
    booking = models.ForeignKey(
        Booking,
        verbose_name="预约",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    bed = models.ForeignKey(
        BedReservation,
        verbose_name="床位",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # return note (回转单), on a downward referral
    parent = models.ForeignKey(
        "self",
        verbose_name="原上转单",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="returns",
    )
    return_diagnosis = models.CharField("出院/门诊诊断", max_length=200, blank=True)
    inpatient_no = models.CharField("住院号", max_length=32, blank=True)
    findings = models.TextField("主要检查结果", blank=True)
    treatment = models.TextField("诊疗经过", blank=True)
    next_steps = models.TextField("下一步治疗方案", blank=True)
    rehab_advice = models.TextField("康复建议", blank=True)
    followup_due = models.DateField("随访截止日期", null=True, blank=True)
    followup_done_at = models.DateTimeField("随访完成时间", null=True, blank=True)
    followup_note = models.TextField("随访记录", blank=True)
    # times
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    submitted_at = models.DateTimeField("提交时间", null=True, blank=True)
    responded_at = models.DateTimeField("应答时间", null=True, blank=True)
    arrived_at = models.DateTimeField("到达时间", null=True, blank=True)
    completed_at = models.DateTimeField("完成时间", null=True, blank=True)

    class Meta:
        verbose_name = "转诊单"
        verbose_name_plural = "转诊单"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["to_facility", "state", "family_doctor"], name="ref_inbox"),
            models.Index(fields=["from_facility", "state"], name="ref_outbox"),
            models.Index(fields=["state", "respond_by"], name="ref_respond_by"),
            models.Index(fields=["direction", "state", "followup_due"], name="ref_followup"),
            models.Index(fields=["resident"], name="ref_resident"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(out_of_county=True, direction="up") & ~Q(destination_name="")
                | Q(out_of_county=False, to_facility__isnull=False),
                name="ref_has_destination",
            ),
            models.UniqueConstraint(
                fields=["resident", "to_facility"],
                condition=Q(direction="up", state__in=["submitted", "accepted", "arrived"]),
                name="ref_one_open_per_destination",
            ),
            models.UniqueConstraint(
                fields=["created_by", "client_key"],
                condition=~Q(client_key=""),
                name="ref_client_key_once",
            ),
        ]

    def __str__(self) -> str:
        return f"转诊单 {self.pk}"

    @property
    def destination(self) -> str:
        if self.out_of_county:
            return f"{self.destination_name}（县外）"
        dept = f" {self.to_department.name}" if self.to_department_id and self.to_department else ""
        return f"{self.to_facility.name if self.to_facility else ''}{dept}"


class Transition(WorkflowStep):
    """One step of a referral's chain, timestamped, with who and why."""

    referral = models.ForeignKey(
        Referral, verbose_name="转诊单", on_delete=models.CASCADE, related_name="transitions"
    )
    from_state = models.CharField("原状态", max_length=10, choices=State.choices, blank=True)
    to_state = models.CharField("新状态", max_length=10, choices=State.choices)

    class Meta:
        verbose_name = "转诊状态变更"
        verbose_name_plural = "转诊状态变更"
        ordering = ["at", "pk"]
