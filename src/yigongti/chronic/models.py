"""Chronic-disease registers (慢病管理档案), follow-ups (随访), screening results (筛查),
home devices (家用设备) and the readings that could not be filed (待认领 / 已拒收).

A disease is a code of `rules.DISEASES` (hypertension, diabetes, and any added by
configuration). One resident has at most one *active* registration per disease (a partial
unique constraint); an exited registration stays, with its reason."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from yigongti.network.models import Division, Facility
from yigongti.residents.models import Resident


class RegistrationStatus(models.TextChoices):
    ACTIVE = "active", "管理中"
    EXITED = "exited", "已结案"


class DiagnosisSource(models.TextChoices):
    SCREENING = "screening", "筛查确诊"
    REFERRAL = "referral", "转诊上级医院确诊"
    HOSPITAL = "hospital", "医院诊断"
    SELF_REPORTED = "reported", "既往确诊"


class ExitReason(models.TextChoices):
    DEATH = "death", "死亡"
    MOVED = "moved", "迁出"
    CURED = "cured", "治愈/排除诊断"
    REFUSED = "refused", "拒绝管理"


class ManagementLevel(models.TextChoices):
    ONE = "1", "一级管理"
    TWO = "2", "二级管理"
    THREE = "3", "三级管理"


class Registration(models.Model):
    """A resident on one disease register (慢病登记管理)."""

    resident = models.ForeignKey(
        Resident, verbose_name="居民", on_delete=models.PROTECT, related_name="+"
    )
    disease = models.CharField("病种", max_length=24)
    status = models.CharField(
        "状态", max_length=8, choices=RegistrationStatus.choices, default=RegistrationStatus.ACTIVE
    )
    diagnosed_on = models.DateField("确诊日期")
    diagnosis_source = models.CharField(
        "确诊方式",
        max_length=10,
        choices=DiagnosisSource.choices,
        default=DiagnosisSource.SCREENING,
    )
    diagnosis_note = models.CharField("确诊说明", max_length=200, blank=True)
    enrolled_on = models.DateField("纳入管理日期")
    level = models.CharField(
        "管理级别", max_length=1, choices=ManagementLevel.choices, default=ManagementLevel.ONE
    )
    facility = models.ForeignKey(
        Facility, verbose_name="管理机构", on_delete=models.PROTECT, related_name="+"
    )
    # The resident's village and township, copied at enrolment (`save`) and kept in step when
    # the resident moves (`chronic.signals`): scoped worklists filter and sort on this table
    # alone, so a township's worklist in the 1 M county is one index range.
    village = models.ForeignKey(
        Division, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    township = models.ForeignKey(
        Division, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    # the worklist's state, kept by the follow-up action
    last_followup_on = models.DateField("最近随访", null=True, blank=True)
    last_classification = models.CharField("最近评价", max_length=12, blank=True)
    risk = models.PositiveSmallIntegerField("风险序", default=1)
    next_due = models.DateField("下次随访")
    alert = models.CharField("家庭监测提醒", max_length=200, blank=True)
    alert_at = models.DateTimeField("提醒时间", null=True, blank=True)
    exited_on = models.DateField("结案日期", null=True, blank=True)
    exit_reason = models.CharField("结案原因", max_length=8, choices=ExitReason.choices, blank=True)
    exit_note = models.CharField("结案说明", max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField("登记时间", auto_now_add=True)

    class Meta:
        verbose_name = "慢病登记"
        verbose_name_plural = "慢病登记"
        constraints = [
            models.UniqueConstraint(
                fields=["resident", "disease"],
                condition=Q(status="active"),
                name="chronic_one_active_registration",
            ),
            models.CheckConstraint(
                condition=Q(status="active") | ~Q(exit_reason=""), name="chronic_exit_has_reason"
            ),
        ]
        indexes = [
            models.Index(fields=["disease", "status", "next_due"], name="chronic_reg_due"),
            models.Index(fields=["resident", "disease"], name="chronic_reg_resident"),
            # the worklist's order (riskiest, then longest overdue) per area, open ones only
            models.Index(
                fields=["township", "-risk", "next_due", "id"],
                condition=Q(status="active"),
                name="chronic_reg_township_work",
            ),
            models.Index(
                fields=["village", "-risk", "next_due", "id"],
                condition=Q(status="active"),
                name="chronic_reg_village_work",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.disease} {self.resident_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.village_id is None and self.resident_id is not None:
            self.village_id, self.township_id = (
                Resident.objects.filter(pk=self.resident_id)
                .values_list("village_id", "township_id")
                .get()
            )
        super().save(*args, **kwargs)


class ScreeningOutcome(models.TextChoices):
    NORMAL = "normal", "正常"
    HIGH_RISK = "high_risk", "高危"
    SUSPECTED = "suspected", "疑似（待确诊）"


class Screening(models.Model):
    """One screening result (35+ annual BP, diabetes high-risk fasting glucose)."""

    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="+")
    disease = models.CharField("病种", max_length=24)
    screened_on = models.DateField("筛查日期")
    outcome = models.CharField("结果", max_length=10, choices=ScreeningOutcome.choices)
    sbp = models.FloatField("收缩压", null=True, blank=True)
    dbp = models.FloatField("舒张压", null=True, blank=True)
    glucose = models.FloatField("空腹血糖", null=True, blank=True)
    reasons = models.JSONField("高危因素", default=list, blank=True)
    facility = models.ForeignKey(Facility, on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "筛查记录"
        verbose_name_plural = "筛查记录"
        indexes = [
            models.Index(fields=["resident", "disease", "screened_on"], name="chronic_screen_res"),
            models.Index(fields=["disease", "outcome"], name="chronic_screen_outcome"),
        ]

    def __str__(self) -> str:
        return f"{self.disease} {self.screened_on} {self.outcome}"


class FollowupMethod(models.TextChoices):
    CLINIC = "clinic", "门诊"
    HOME = "home", "家庭"
    PHONE = "phone", "电话"


class Followup(models.Model):
    """One follow-up (随访) per the norm, with the classification the platform computed."""

    registration = models.ForeignKey(
        Registration, on_delete=models.PROTECT, related_name="followups"
    )
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="+")
    disease = models.CharField("病种", max_length=24)
    followup_date = models.DateField("随访日期")
    method = models.CharField(
        "随访方式", max_length=8, choices=FollowupMethod.choices, default=FollowupMethod.CLINIC
    )
    facility = models.ForeignKey(Facility, on_delete=models.PROTECT, related_name="+")
    sbp = models.FloatField("收缩压", null=True, blank=True)
    dbp = models.FloatField("舒张压", null=True, blank=True)
    glucose = models.FloatField("空腹血糖", null=True, blank=True)
    weight = models.FloatField("体重", null=True, blank=True)
    height = models.FloatField("身高", null=True, blank=True)
    bmi = models.FloatField("体质指数", null=True, blank=True)
    waist = models.FloatField("腰围", null=True, blank=True)
    heart_rate = models.FloatField("心率", null=True, blank=True)
    temperature = models.FloatField("体温", null=True, blank=True)
    symptoms = models.JSONField("症状", default=list, blank=True)
    signs = models.JSONField("急症征象", default=list, blank=True)
    adherence = models.CharField("服药依从性", max_length=12, blank=True)
    adverse_reaction = models.CharField("药物不良反应", max_length=8, default="none")
    adverse_note = models.CharField("不良反应说明", max_length=200, blank=True)
    complication = models.CharField("并发症", max_length=14, default="none")
    lifestyle = models.JSONField("生活方式", default=dict, blank=True)
    dorsalis_pedis = models.CharField("足背动脉搏动", max_length=8, blank=True)
    pregnant = models.BooleanField("妊娠或哺乳期", default=False)
    notes = models.CharField("备注", max_length=500, blank=True)
    controlled = models.BooleanField("达标", null=True)
    classification = models.CharField("评价", max_length=12)
    reasons = models.JSONField("评价依据", default=list, blank=True)
    next_due = models.DateField("下次随访")
    emergency = models.JSONField("紧急转诊指征", default=list, blank=True)
    #: days since the registration's previous follow-up (kept by the action) and its date:
    #: the "no gap over 3 months" test of 规范管理 becomes one MAX in SQL
    prev_date = models.DateField("上次随访", null=True, blank=True)
    gap_days = models.PositiveIntegerField("间隔天数", null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "随访记录"
        verbose_name_plural = "随访记录"
        constraints = [
            models.UniqueConstraint(
                fields=["registration", "followup_date"], name="chronic_one_followup_a_day"
            )
        ]
        indexes = [
            models.Index(fields=["registration", "followup_date"], name="chronic_fu_reg_date"),
            models.Index(fields=["resident", "followup_date"], name="chronic_fu_res_date"),
            models.Index(fields=["disease", "followup_date"], name="chronic_fu_disease_date"),
            # what was written since the last indicator refresh (indicators.facts.touched_months)
            models.Index(fields=["recorded_at"], name="chronic_fu_recorded"),
        ]

    def __str__(self) -> str:
        return f"随访 {self.followup_date}"


# --- home devices ------------------------------------------------------------------------------


class DeviceType(models.TextChoices):
    BP_METER = "bp_meter", "电子血压计"
    GLUCOMETER = "glucometer", "血糖仪"


class Device(models.Model):
    """A home device (家用血压计/血糖仪), bound to at most one resident at a time."""

    serial = models.CharField("序列号", max_length=64, unique=True)
    type = models.CharField("类型", max_length=12, choices=DeviceType.choices)
    model_name = models.CharField("型号", max_length=60, blank=True)
    resident = models.ForeignKey(
        Resident, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    bound_at = models.DateTimeField("绑定时间", null=True, blank=True)
    facility = models.ForeignKey(
        Facility, verbose_name="登记机构", on_delete=models.PROTECT, related_name="+"
    )
    secret_hash = models.CharField("设备密钥摘要", max_length=64, blank=True)
    active = models.BooleanField("启用", default=True)
    last_seen_at = models.DateTimeField("最近上传", null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "家用设备"
        verbose_name_plural = "家用设备"
        indexes = [models.Index(fields=["resident"], name="chronic_device_resident")]

    def __str__(self) -> str:
        return f"{self.get_type_display()} {self.serial}"


class DeviceBinding(models.Model):
    """The binding history: one row per bind, closed by unbind or rebind."""

    device = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="bindings")
    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="+")
    bound_at = models.DateTimeField("绑定时间")
    unbound_at = models.DateTimeField("解绑时间", null=True, blank=True)
    reason = models.CharField("说明", max_length=200, blank=True)
    bound_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = "设备绑定记录"
        verbose_name_plural = "设备绑定记录"
        constraints = [
            models.UniqueConstraint(
                fields=["device"], condition=Q(unbound_at=None), name="chronic_one_open_binding"
            )
        ]

    def __str__(self) -> str:
        return f"{self.device_id} → {self.resident_id}"


class Channel(models.TextChoices):
    MQTT = "mqtt", "MQTT"
    HTTP = "http", "HTTP"
    FHIR = "fhir", "FHIR"


class QuarantineStatus(models.TextChoices):
    PENDING = "pending", "待认领"
    ASSIGNED = "assigned", "已归档"
    DISCARDED = "discarded", "已丢弃"


class QuarantinedReading(models.Model):
    """A reading from an unknown or unbound device: kept, listed, assignable later."""

    serial = models.CharField("序列号", max_length=64)
    device = models.ForeignKey(Device, null=True, blank=True, on_delete=models.PROTECT)
    channel = models.CharField("通道", max_length=6, choices=Channel.choices)
    reason = models.CharField("原因", max_length=16)  # unknown_device / unbound / inactive
    measured_at = models.DateTimeField("测量时间", null=True, blank=True)
    payload = models.JSONField("原始数据")
    received_at = models.DateTimeField("接收时间", auto_now_add=True)
    status = models.CharField(
        "状态", max_length=10, choices=QuarantineStatus.choices, default=QuarantineStatus.PENDING
    )
    resident = models.ForeignKey(
        Resident, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "待认领读数"
        verbose_name_plural = "待认领读数"
        indexes = [models.Index(fields=["status", "received_at"], name="chronic_quar_status")]

    def __str__(self) -> str:
        return f"{self.serial} {self.reason}"


class RejectedReading(models.Model):
    """A reading refused (out of physical range, malformed), with the reason."""

    serial = models.CharField("序列号", max_length=64, blank=True)
    channel = models.CharField("通道", max_length=6, choices=Channel.choices)
    reason = models.CharField("原因", max_length=300)
    payload = models.JSONField("原始数据")
    received_at = models.DateTimeField("接收时间", auto_now_add=True)

    class Meta:
        verbose_name = "拒收读数"
        verbose_name_plural = "拒收读数"
        indexes = [models.Index(fields=["received_at"], name="chronic_rej_time")]

    def __str__(self) -> str:
        return f"{self.serial} {self.reason}"
