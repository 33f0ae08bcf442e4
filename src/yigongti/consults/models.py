"""Remote consultation (远程会诊) and expert dispatch (专家下沉/派驻), DOMAIN.md §7 and §10.

A consultation is asked by a township/village doctor for a resident in their care and answered
by a county department; the opinion is advice, the treating doctor records the final decision.
The dispatch roster lists doctors seconded from county hospitals to primary facilities, with
the sessions, teaching rounds and trainings they hold there."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from yigongti.network.models import Department, Facility, Staff
from yigongti.records.models import WorkflowStep
from yigongti.residents.models import Resident


class Urgency(models.TextChoices):
    EMERGENCY = "emergency", "急会诊"
    ROUTINE = "routine", "普通会诊"


class State(models.TextChoices):
    SUBMITTED = "submitted", "待受理"
    ACCEPTED = "accepted", "已受理"
    DECLINED = "declined", "已拒绝"
    ANSWERED = "answered", "已出具意见"
    CLOSED = "closed", "已评价结案"
    CANCELLED = "cancelled", "已撤销"


class TitleLevel(models.IntegerChoices):
    """Professional title levels (职称级别) a request may ask for."""

    ANY = 0, "不限"
    INTERMEDIATE = 1, "中级（主治医师）及以上"
    ASSOCIATE_SENIOR = 2, "副高（副主任医师）及以上"
    SENIOR = 3, "正高（主任医师）"


class ConsultPolicy(models.Model):
    """The consulted facility's time limits (DOMAIN.md §7, configurable). With no row the
    defaults of `settings.YGT` (or 48 h / 3 working days / 12 h) apply."""

    facility = models.OneToOneField(
        Facility, verbose_name="受邀机构", on_delete=models.CASCADE, related_name="+"
    )
    arrange_hours = models.PositiveIntegerField("安排时限(小时)", default=48)
    finish_working_days = models.PositiveIntegerField("完成时限(工作日)", default=3)
    emergency_hours = models.PositiveIntegerField("急会诊完成时限(小时)", default=12)

    class Meta:
        verbose_name = "会诊时限"
        verbose_name_plural = "会诊时限"

    def __str__(self) -> str:
        return f"{self.facility_id} 会诊时限"


class Consultation(models.Model):
    state = models.CharField("状态", max_length=10, choices=State.choices, default=State.SUBMITTED)
    urgency = models.CharField("紧急程度", max_length=10, choices=Urgency.choices)
    resident = models.ForeignKey(
        Resident, verbose_name="患者", on_delete=models.PROTECT, related_name="+"
    )
    # requesting side (the treating facility)
    from_facility = models.ForeignKey(
        Facility, verbose_name="申请机构", on_delete=models.PROTECT, related_name="+"
    )
    requesting_doctor = models.CharField("申请医生", max_length=30)
    requesting_phone = models.CharField("联系电话", max_length=20, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    consent = models.BooleanField("患者已书面知情同意", default=False)
    consent_signer = models.CharField("同意书签署人", max_length=30)
    reason = models.TextField("会诊原因")
    purpose = models.TextField("会诊目的")
    case_summary = models.TextField("病情摘要")
    proposed_at = models.DateTimeField("拟会诊时间", null=True, blank=True)
    client_key = models.CharField("提交幂等键", max_length=64, blank=True)
    # consulted side
    to_facility = models.ForeignKey(
        Facility, verbose_name="受邀机构", on_delete=models.PROTECT, related_name="+"
    )
    to_department = models.ForeignKey(
        Department,
        verbose_name="受邀科室",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    wanted_specialty = models.CharField("拟邀专业", max_length=64, blank=True)
    wanted_title = models.PositiveSmallIntegerField(
        "拟邀职称", choices=TitleLevel.choices, default=TitleLevel.ANY
    )
    arrange_by = models.DateTimeField("安排截止")
    finish_by = models.DateTimeField("完成截止")
    expert = models.ForeignKey(
        Staff,
        verbose_name="会诊专家",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    expert_name = models.CharField("会诊专家姓名", max_length=30, blank=True)
    expert_title = models.CharField("会诊专家职称", max_length=32, blank=True)
    scheduled_at = models.DateTimeField("会诊时间", null=True, blank=True)
    decline_reason = models.CharField("拒绝原因", max_length=200, blank=True)
    cancel_reason = models.CharField("撤销原因", max_length=200, blank=True)
    opinion = models.TextField("会诊意见", blank=True)
    advice = models.TextField("诊疗建议", blank=True)
    # back at the requesting side: the decision stays with the treating facility
    final_decision = models.TextField("经治医生最终处理决定", blank=True)
    rating = models.PositiveSmallIntegerField("评价(1-5)", null=True, blank=True)
    rating_note = models.CharField("评价说明", max_length=200, blank=True)
    # times
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    submitted_at = models.DateTimeField("申请时间")
    responded_at = models.DateTimeField("受理/拒绝时间", null=True, blank=True)
    answered_at = models.DateTimeField("出具意见时间", null=True, blank=True)
    closed_at = models.DateTimeField("结案时间", null=True, blank=True)

    class Meta:
        verbose_name = "远程会诊"
        verbose_name_plural = "远程会诊"
        ordering = ["-submitted_at", "-pk"]
        indexes = [
            models.Index(fields=["to_facility", "state", "arrange_by"], name="consult_inbox"),
            models.Index(fields=["from_facility", "state"], name="consult_outbox"),
            models.Index(fields=["state", "finish_by"], name="consult_finish_by"),
            models.Index(fields=["resident"], name="consult_resident"),
            models.Index(fields=["submitted_at"], name="consult_submitted"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(consent=True), name="consult_has_consent"),
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | Q(rating__gte=1, rating__lte=5),
                name="consult_rating_1_5",
            ),
            models.CheckConstraint(
                condition=~Q(from_facility=F("to_facility")), name="consult_other_facility"
            ),
            models.UniqueConstraint(
                fields=["created_by", "client_key"],
                condition=~Q(client_key=""),
                name="consult_client_key_once",
            ),
        ]

    def __str__(self) -> str:
        return f"会诊申请 {self.pk}"

    @property
    def destination(self) -> str:
        dept = self.to_department.name if self.to_department_id and self.to_department else ""
        return f"{self.to_facility.name} {dept}".strip()


class Step(WorkflowStep):
    """One step of a consultation, timestamped, with who and why."""

    consultation = models.ForeignKey(
        Consultation, verbose_name="会诊", on_delete=models.CASCADE, related_name="steps"
    )
    from_state = models.CharField("原状态", max_length=10, choices=State.choices, blank=True)
    to_state = models.CharField("新状态", max_length=10, choices=State.choices)

    class Meta:
        verbose_name = "会诊流转"
        verbose_name_plural = "会诊流转"
        ordering = ["at", "pk"]


# ---------------------------------------------------------------------------------------------
# expert dispatch (专家下沉)


class DispatchKind(models.TextChoices):
    SECONDMENT = "secondment", "长期派驻"
    SUPPORT = "support", "短期帮扶"
    MOBILE = "mobile", "巡回医疗"


class Secondment(models.Model):
    """A doctor of a county hospital working at a primary facility for a period. `title` and
    `from_facility` are copied from the staff row when entered (the title the indicator counts
    is the one held while seconded)."""

    staff = models.ForeignKey(
        Staff, verbose_name="下沉医生", on_delete=models.PROTECT, related_name="+"
    )
    title = models.CharField("职称", max_length=32, blank=True)
    kind = models.CharField("类型", max_length=12, choices=DispatchKind.choices)
    from_facility = models.ForeignKey(
        Facility, verbose_name="派出机构", on_delete=models.PROTECT, related_name="+"
    )
    to_facility = models.ForeignKey(
        Facility, verbose_name="派驻机构", on_delete=models.PROTECT, related_name="+"
    )
    starts_on = models.DateField("开始日期")
    ends_on = models.DateField("结束日期")
    note = models.CharField("说明", max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField("登记时间", auto_now_add=True)
    #: when the entry last changed (an early end): the indicator refresh finds it by this
    updated_at = models.DateTimeField("更新时间", auto_now=True, db_index=True)

    class Meta:
        verbose_name = "专家下沉登记"
        verbose_name_plural = "专家下沉登记"
        ordering = ["-starts_on", "-pk"]
        indexes = [
            models.Index(fields=["starts_on", "ends_on"], name="secondment_period"),
            models.Index(fields=["to_facility", "starts_on"], name="secondment_to"),
            models.Index(fields=["staff", "starts_on"], name="secondment_staff"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__gte=F("starts_on")), name="secondment_period_ordered"
            ),
            models.CheckConstraint(
                condition=~Q(from_facility=F("to_facility")), name="secondment_other_facility"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.staff_id} → {self.to_facility_id} {self.starts_on}"


class ActivityKind(models.TextChoices):
    CLINIC = "clinic", "坐诊"
    MOBILE_CLINIC = "mobile_clinic", "巡回义诊"
    TEACHING_ROUND = "teaching_round", "教学查房"
    TRAINING = "training", "业务培训"


#: Activities that see patients; the others count attendees.
PATIENT_KINDS = (ActivityKind.CLINIC, ActivityKind.MOBILE_CLINIC)


class DispatchActivity(models.Model):
    """A session, teaching round or training held by a seconded doctor at a primary facility."""

    secondment = models.ForeignKey(
        Secondment, verbose_name="下沉登记", on_delete=models.PROTECT, related_name="activities"
    )
    kind = models.CharField("类型", max_length=16, choices=ActivityKind.choices)
    facility = models.ForeignKey(
        Facility, verbose_name="开展机构", on_delete=models.PROTECT, related_name="+"
    )
    day = models.DateField("日期")
    patients_seen = models.PositiveIntegerField("接诊人次", default=0)
    attendees = models.PositiveIntegerField("参加人数", default=0)
    topic = models.CharField("主题/内容", max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField("登记时间", auto_now_add=True)

    class Meta:
        verbose_name = "下沉工作记录"
        verbose_name_plural = "下沉工作记录"
        ordering = ["-day", "-pk"]
        indexes = [
            models.Index(fields=["secondment", "day"], name="activity_secondment_day"),
            models.Index(fields=["facility", "day"], name="activity_facility_day"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.day}"
