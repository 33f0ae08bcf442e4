"""Shared diagnosis centres (共享诊断中心, DOMAIN.md §7): township facilities acquire, the county
centre reads and reports; critical values are acknowledged and acted on (closed loop); results
are mutually recognised across member facilities; report consistency and film quality are
reviewed."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from yigongti.network.models import Facility
from yigongti.residents.models import Resident


class CentreKind(models.TextChoices):
    IMAGING = "imaging", "影像"
    ECG = "ecg", "心电"
    LAB = "lab", "检验"
    PATHOLOGY = "pathology", "病理"


class Urgency(models.IntegerChoices):
    """Lower sorts first in the reading queue."""

    STAT = 0, "急诊"
    URGENT = 1, "加急"
    ROUTINE = 2, "普通"


class StudyState(models.TextChoices):
    REQUESTED = "requested", "待阅"
    CLAIMED = "claimed", "阅片/审核中"
    REPORTED = "reported", "已报告"
    REVIEWED = "reviewed", "已质控"
    CANCELLED = "cancelled", "已撤销"


class FilmGrade(models.TextChoices):
    A = "A", "甲级片"
    B = "B", "乙级片"
    C = "C", "丙级片（废片）"


#: The states a reading queue shows (the partial index below covers exactly these).
OPEN_STATES = (StudyState.REQUESTED, StudyState.CLAIMED)


class Centre(models.Model):
    """A shared centre hosted by a county facility. It serves every facility of the host's
    medical group (`serves_group`) and the facilities listed in `members`. The time limits and
    the mutual-recognition window are local rules (configurable) and live here."""

    name = models.CharField("名称", max_length=64)
    kind = models.CharField("类别", max_length=12, choices=CentreKind.choices)
    facility = models.ForeignKey(
        Facility, verbose_name="承办机构", on_delete=models.PROTECT, related_name="+"
    )
    serves_group = models.BooleanField("服务本医共体全部成员单位", default=True)
    members = models.ManyToManyField(
        Facility, verbose_name="其他服务机构", blank=True, related_name="+"
    )
    ack_minutes = models.PositiveIntegerField("危急值确认时限(分钟)", default=30)
    escalate_minutes = models.PositiveIntegerField("再次升级间隔(分钟)", default=30)
    recognition_days = models.PositiveIntegerField(
        "结果互认窗口(天)", null=True, blank=True, help_text="空：按类别默认；0：不提示"
    )
    active = models.BooleanField("启用", default=True)

    class Meta:
        verbose_name = "共享诊断中心"
        verbose_name_plural = "共享诊断中心"
        ordering = ["facility_id", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["facility", "kind"], name="diag_centre_once"),
            models.CheckConstraint(condition=Q(ack_minutes__gt=0), name="diag_centre_ack_pos"),
            models.CheckConstraint(condition=Q(escalate_minutes__gt=0), name="diag_centre_esc_pos"),
        ]

    def __str__(self) -> str:
        return self.name


class ReportTemplate(models.Model):
    """A report template of a centre (e.g. 正常胸部正位片): findings and impression text the
    reader starts from."""

    centre = models.ForeignKey(
        Centre, verbose_name="诊断中心", on_delete=models.CASCADE, related_name="templates"
    )
    name = models.CharField("模板名称", max_length=64)
    exam_code = models.CharField("适用项目编码", max_length=40, blank=True)
    findings = models.TextField("所见模板")
    impression = models.TextField("印象/结论模板", blank=True)
    active = models.BooleanField("启用", default=True)

    class Meta:
        verbose_name = "报告模板"
        verbose_name_plural = "报告模板"
        ordering = ["centre_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["centre", "name"], name="diag_template_name_once")
        ]

    def __str__(self) -> str:
        return self.name


class Study(models.Model):
    """One reading requested from a centre (an exam acquired at a member facility)."""

    centre = models.ForeignKey(
        Centre, verbose_name="诊断中心", on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField("类别", max_length=12, choices=CentreKind.choices)
    resident = models.ForeignKey(
        Resident, verbose_name="居民", on_delete=models.PROTECT, related_name="+"
    )
    requesting_facility = models.ForeignKey(
        Facility, verbose_name="申请机构", on_delete=models.PROTECT, related_name="+"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="申请人账号",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    requesting_doctor = models.CharField("申请医生", max_length=30)
    exam_code = models.CharField("项目编码", max_length=40)
    exam_name = models.CharField("项目名称", max_length=120)
    body_part = models.CharField("检查部位", max_length=60, blank=True)
    urgency = models.PositiveSmallIntegerField(
        "紧急程度", choices=Urgency.choices, default=Urgency.ROUTINE
    )
    clinical_info = models.TextField("临床信息", blank=True)
    state = models.CharField(
        "状态", max_length=10, choices=StudyState.choices, default=StudyState.REQUESTED
    )
    requested_at = models.DateTimeField("申请时间")
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="阅片医生账号",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    claimed_at = models.DateTimeField("领取时间", null=True, blank=True)
    reported_at = models.DateTimeField("报告时间", null=True, blank=True)
    reviewed_at = models.DateTimeField("质控时间", null=True, blank=True)
    cancelled_at = models.DateTimeField("撤销时间", null=True, blank=True)
    cancel_reason = models.CharField("撤销原因", max_length=200, blank=True)
    # mutual recognition (结果互认): the earlier report warned about, and why it is still needed
    prior_study = models.ForeignKey(
        "self",
        verbose_name="可互认的既往检查",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    still_needed_reason = models.CharField("仍需检查的理由", max_length=200, blank=True)
    client_key = models.CharField("提交幂等键", max_length=64, blank=True)

    class Meta:
        verbose_name = "诊断申请"
        verbose_name_plural = "诊断申请"
        indexes = [
            # The reading queue: one centre's open studies by urgency then waiting time, read
            # with LIMIT (keyset on the same columns). Partial, so it holds only open rows.
            models.Index(
                fields=["centre", "urgency", "requested_at", "id"],
                condition=Q(state__in=["requested", "claimed"]),
                name="diag_queue",
            ),
            models.Index(fields=["requesting_facility", "-requested_at"], name="diag_requester"),
            models.Index(fields=["resident", "exam_code", "reported_at"], name="diag_recognition"),
            models.Index(fields=["centre", "reported_at"], name="diag_centre_reported"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["requested_by", "client_key"],
                condition=~Q(client_key=""),
                name="diag_client_key_once",
            ),
            models.CheckConstraint(
                condition=Q(state__in=["requested", "cancelled"]) | Q(claimed_at__isnull=False),
                name="diag_claimed_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.exam_name} #{self.pk}"


class Report(models.Model):
    """The reader's report. An amendment adds a version; the earlier ones stay (is_current
    False), so the history is visible."""

    study = models.ForeignKey(
        Study, verbose_name="诊断申请", on_delete=models.PROTECT, related_name="reports"
    )
    version = models.PositiveSmallIntegerField("版本", default=1)
    is_current = models.BooleanField("当前版本", default=True)
    findings = models.TextField("检查所见")
    impression = models.TextField("诊断意见/结论")
    critical = models.BooleanField("危急值", default=False)
    critical_text = models.CharField("危急值项目", max_length=200, blank=True)
    template = models.ForeignKey(
        ReportTemplate,
        verbose_name="使用模板",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reader = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="报告医生账号",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reader_name = models.CharField("报告医生", max_length=30)
    signed_at = models.DateTimeField("签发时间")
    amend_reason = models.CharField("更正原因", max_length=200, blank=True)
    record_report_id = models.BigIntegerField("健康档案报告编号", null=True, blank=True)

    class Meta:
        verbose_name = "诊断报告"
        verbose_name_plural = "诊断报告"
        ordering = ["study_id", "version"]
        constraints = [
            models.UniqueConstraint(fields=["study", "version"], name="diag_report_version_once"),
            models.UniqueConstraint(
                fields=["study"], condition=Q(is_current=True), name="diag_report_one_current"
            ),
            models.CheckConstraint(
                condition=Q(critical=False) | ~Q(critical_text=""),
                name="diag_report_critical_named",
            ),
        ]

    def __str__(self) -> str:
        return f"报告 {self.study_id} v{self.version}"


class CriticalValue(models.Model):
    """The closed loop of one critical value (危急值): flagged by the reader, acknowledged by the
    requesting side, resolved with the action taken; escalated while unacknowledged."""

    study = models.OneToOneField(
        Study, verbose_name="诊断申请", on_delete=models.PROTECT, related_name="critical_value"
    )
    resident = models.ForeignKey(
        Resident, verbose_name="居民", on_delete=models.PROTECT, related_name="+"
    )
    requesting_facility = models.ForeignKey(
        Facility, verbose_name="申请机构", on_delete=models.PROTECT, related_name="+"
    )
    item = models.CharField("危急值项目", max_length=200)
    flagged_at = models.DateTimeField("报告时间")
    flagged_by_name = models.CharField("报告人", max_length=30)
    ack_due_at = models.DateTimeField("确认截止")
    acknowledged_at = models.DateTimeField("确认时间", null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="确认人账号",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    acknowledged_by_name = models.CharField("确认人", max_length=30, blank=True)
    resolved_at = models.DateTimeField("处置时间", null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="处置人账号",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    resolved_by_name = models.CharField("处置人", max_length=30, blank=True)
    action_taken = models.TextField("处置措施", blank=True)
    escalation_level = models.PositiveSmallIntegerField("升级级别", default=0)
    escalated_at = models.DateTimeField("最近升级时间", null=True, blank=True)

    class Meta:
        verbose_name = "危急值"
        verbose_name_plural = "危急值"
        indexes = [
            models.Index(
                fields=["requesting_facility", "flagged_at"],
                condition=Q(resolved_at__isnull=True),
                name="diag_cv_open",
            ),
            models.Index(
                fields=["ack_due_at"],
                condition=Q(acknowledged_at__isnull=True),
                name="diag_cv_unacked",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True) | Q(acknowledged_at__isnull=False),
                name="diag_cv_ack_before_resolve",
            ),
        ]

    def __str__(self) -> str:
        return f"危急值 {self.item}"


class QualityReview(models.Model):
    """A quality review of a reported study: is the report consistent on review (诊断符合), and
    for imaging the film grade (甲/乙/丙级片)."""

    study = models.OneToOneField(
        Study, verbose_name="诊断申请", on_delete=models.PROTECT, related_name="review"
    )
    centre = models.ForeignKey(
        Centre, verbose_name="诊断中心", on_delete=models.PROTECT, related_name="+"
    )
    requesting_facility = models.ForeignKey(
        Facility, verbose_name="申请机构", on_delete=models.PROTECT, related_name="+"
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="质控医生账号",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reviewer_name = models.CharField("质控医生", max_length=30)
    reviewed_at = models.DateTimeField("质控时间")
    consistent = models.BooleanField("诊断符合")
    film_grade = models.CharField("胶片等级", max_length=1, choices=FilmGrade.choices, blank=True)
    note = models.CharField("说明", max_length=200, blank=True)

    class Meta:
        verbose_name = "质控评价"
        verbose_name_plural = "质控评价"
        indexes = [
            models.Index(fields=["centre", "reviewed_at"], name="diag_review_centre"),
            models.Index(fields=["requesting_facility", "reviewed_at"], name="diag_review_fac"),
        ]

    def __str__(self) -> str:
        return f"质控 {self.study_id}"
