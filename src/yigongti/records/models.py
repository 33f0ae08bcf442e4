"""The shared health record: what happened to a resident at any member facility.

Every clinical row carries the same bookkeeping (`ClinicalBase`): who recorded it where,
where it came from (the UI, FHIR, a HIS file or message, a device), and its version state.
A wrong entry is never overwritten: an amendment is a new row that `replaces` the old one,
and the old one turns `amended` (or `entered_in_error` when voided), still readable in the
history. `Entry` is the timeline's spine: one row per thing a doctor sees in the record,
written by the action that writes the thing, indexed for the newest-first page."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from yigongti.network.models import Department, Facility, Staff
from yigongti.residents.models import Resident


class VersionStatus(models.TextChoices):
    CURRENT = "current", "有效"
    AMENDED = "amended", "已更正"
    ERROR = "entered_in_error", "已作废"


class Source(models.TextChoices):
    MANUAL = "manual", "手工录入"
    FHIR = "fhir", "FHIR 接口"
    CSV = "csv", "CSV 导入"
    HL7 = "hl7", "HL7 v2 消息"
    DEVICE = "device", "家用设备"
    SYNTH = "synth", "模拟数据"


# ---------------------------------------------------------------------------------------------
# Code tables


class ICD10Code(models.Model):
    """ICD-10 national clinical edition (国家临床版) diagnosis code."""

    code = models.CharField("编码", max_length=16, primary_key=True)
    name = models.CharField("名称", max_length=200)
    initials = models.CharField("拼音首字母", max_length=60, blank=True)
    chapter = models.CharField("章", max_length=10, blank=True)
    active = models.BooleanField("可用", default=True)

    class Meta:
        verbose_name = "ICD-10 诊断编码"
        verbose_name_plural = "ICD-10 诊断编码"
        ordering = ["code"]
        indexes = [
            models.Index(
                fields=["initials"], name="icd_initials", opclasses=["varchar_pattern_ops"]
            ),
            models.Index(fields=["name"], name="icd_name", opclasses=["varchar_pattern_ops"]),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class ItemKind(models.TextChoices):
    DRUG = "drug", "药品"
    CONSUMABLE = "consumable", "耗材"


class Drug(models.Model):
    """One catalogue item of the medical group (药品/耗材目录). Prescriptions name it;
    pharmacy keeps its stock. `code` is the group's own code; `insurance_code` the national
    医保 code where known."""

    code = models.CharField("目录编码", max_length=40, primary_key=True)
    kind = models.CharField("类别", max_length=12, choices=ItemKind.choices, default=ItemKind.DRUG)
    generic_name = models.CharField("通用名", max_length=120)
    brand_name = models.CharField("商品名", max_length=120, blank=True)
    initials = models.CharField("拼音首字母", max_length=60, blank=True)
    dosage_form = models.CharField("剂型", max_length=40, blank=True)
    strength = models.CharField("规格", max_length=60, blank=True)
    pack = models.CharField("包装", max_length=60, blank=True)
    unit = models.CharField("最小单位", max_length=12, default="片")
    dose_unit = models.CharField("剂量单位", max_length=12, default="mg")
    manufacturer = models.CharField("生产企业", max_length=120, blank=True)
    insurance_code = models.CharField("医保编码", max_length=40, blank=True)
    essential = models.BooleanField("国家基本药物", default=False)
    storage = models.CharField("贮藏", max_length=60, blank=True)
    active = models.BooleanField("可用", default=True)

    class Meta:
        verbose_name = "药品耗材目录"
        verbose_name_plural = "药品耗材目录"
        ordering = ["code"]
        indexes = [
            models.Index(
                fields=["initials"], name="drug_initials", opclasses=["varchar_pattern_ops"]
            ),
            models.Index(
                fields=["generic_name"], name="drug_name", opclasses=["varchar_pattern_ops"]
            ),
        ]

    def __str__(self) -> str:
        return f"{self.generic_name} {self.strength}".strip()


# ---------------------------------------------------------------------------------------------
# Clinical rows


class ClinicalBase(models.Model):
    # Foreign keys carry no single-column index of their own: every model has a composite
    # index that starts with the resident (and, where queried, the facility), and the rarely
    # set pointers get partial indexes. Fewer indexes keep bulk imports fast at 10 M rows.
    resident = models.ForeignKey(
        Resident, verbose_name="居民", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    facility = models.ForeignKey(
        Facility,
        verbose_name="机构",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    status = models.CharField(
        "版本状态", max_length=16, choices=VersionStatus.choices, default=VersionStatus.CURRENT
    )
    replaces = models.ForeignKey(
        "self",
        verbose_name="更正自",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    amend_reason = models.CharField("更正原因", max_length=200, blank=True)
    source = models.CharField("来源", max_length=10, choices=Source.choices, default=Source.MANUAL)
    source_system = models.CharField("来源系统", max_length=64, blank=True)
    source_id = models.CharField("来源标识", max_length=128, blank=True)
    digest = models.CharField("内容摘要", max_length=64, blank=True)  # sha256 of the input
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    recorded_at = models.DateTimeField("录入时间", auto_now_add=True)

    class Meta:
        abstract = True

    @property
    def is_current(self) -> bool:
        return self.status == VersionStatus.CURRENT


def _pointer_index(field: str, name: str) -> models.Index:
    """An index on a pointer that most rows leave empty (amendments, parts of a report)."""
    return models.Index(fields=[field], name=name, condition=Q(**{f"{field}__isnull": False}))


def _source_unique(name: str) -> models.UniqueConstraint:
    """Re-sending the same outside record finds the current version instead of a second one."""
    return models.UniqueConstraint(
        fields=["source_system", "source_id"],
        condition=Q(status="current") & ~Q(source_id=""),
        name=name,
    )


class EncounterKind(models.TextChoices):
    OUTPATIENT = "outpatient", "门诊"
    EMERGENCY = "emergency", "急诊"
    INPATIENT = "inpatient", "住院"
    HOME_VISIT = "home_visit", "上门服务"
    OTHER = "other", "其他"


class Encounter(ClinicalBase):
    """A visit or a stay (门诊/急诊/住院/上门). Its diagnoses, vitals and prescriptions
    hang on it; an amendment re-records the whole visit as a new version."""

    kind = models.CharField("就诊类型", max_length=12, choices=EncounterKind.choices)
    department = models.ForeignKey(
        Department,
        verbose_name="科室",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    doctor = models.ForeignKey(
        Staff,
        verbose_name="医生",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    started_at = models.DateTimeField("就诊/入院时间")
    ended_at = models.DateTimeField("出院时间", null=True, blank=True)
    complaint = models.CharField("主诉", max_length=500, blank=True)
    present_illness = models.TextField("现病史", blank=True)
    notes = models.TextField("处理意见", blank=True)

    class Meta:
        verbose_name = "就诊记录"
        verbose_name_plural = "就诊记录"
        constraints = [_source_unique("encounter_unique_source")]
        indexes = [
            models.Index(fields=["resident", "started_at"], name="encounter_resident_time"),
            models.Index(fields=["facility", "started_at"], name="encounter_facility_time"),
            # what was written since the last indicator refresh (indicators.facts.touched_months)
            models.Index(fields=["recorded_at"], name="encounter_recorded"),
            # a month's visits or a period's stays, county-wide (the indicator fact layer)
            models.Index(fields=["kind", "started_at"], name="encounter_kind_time"),
            _pointer_index("replaces", "encounter_replaces"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.started_at:%Y-%m-%d}"


class Diagnosis(models.Model):
    """One diagnosis of an encounter (ICD-10 national clinical edition)."""

    encounter = models.ForeignKey(Encounter, on_delete=models.PROTECT, related_name="diagnoses")
    resident = models.ForeignKey(
        Resident, on_delete=models.PROTECT, related_name="+", db_index=False
    )  # the (resident, code) index serves it
    code = models.ForeignKey(
        ICD10Code,
        verbose_name="ICD-10",
        on_delete=models.PROTECT,
        related_name="+",
        db_column="code",
    )
    name = models.CharField("诊断名称", max_length=200)
    is_primary = models.BooleanField("主要诊断", default=False)
    rank = models.PositiveSmallIntegerField("顺序", default=1)

    class Meta:
        verbose_name = "诊断"
        verbose_name_plural = "诊断"
        ordering = ["encounter_id", "rank"]
        indexes = [models.Index(fields=["resident", "code"], name="diagnosis_resident_code")]

    def __str__(self) -> str:
        return f"{self.code_id} {self.name}"


class ExamKind(models.TextChoices):
    ELDERLY = "elderly_annual", "老年人年度健康体检"
    GENERAL = "general", "一般健康体检"


class HealthExam(ClinicalBase):
    """A health examination (健康体检), e.g. the yearly check of people 65+ (DOMAIN.md §5).
    Measured vitals and tests are Observations pointing at it; the rest are `findings`."""

    kind = models.CharField("体检类型", max_length=16, choices=ExamKind.choices)
    exam_date = models.DateField("体检日期")
    findings = models.JSONField("体检项目", default=dict, blank=True)
    conclusion = models.TextField("健康评价", blank=True)
    guidance = models.TextField("健康指导", blank=True)

    class Meta:
        verbose_name = "健康体检"
        verbose_name_plural = "健康体检"
        constraints = [_source_unique("exam_unique_source")]
        indexes = [
            models.Index(fields=["resident", "exam_date"], name="exam_resident_date"),
            _pointer_index("replaces", "exam_replaces"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.exam_date}"


class ReportCategory(models.TextChoices):
    LAB = "lab", "检验"
    IMAGING = "imaging", "影像"
    ECG = "ecg", "心电"
    PATHOLOGY = "pathology", "病理"
    OTHER = "other", "其他"


class DiagnosticReport(ClinicalBase):
    """A report of tests (检验/影像/心电/病理): a conclusion with result observations."""

    encounter = models.ForeignKey(
        Encounter, null=True, blank=True, on_delete=models.PROTECT, related_name="reports"
    )
    category = models.CharField("类别", max_length=12, choices=ReportCategory.choices)
    code = models.CharField("项目编码", max_length=40, blank=True)
    name = models.CharField("项目名称", max_length=120)
    issued_at = models.DateTimeField("报告时间")
    conclusion = models.TextField("结论", blank=True)
    critical = models.BooleanField("危急值", default=False)

    class Meta:
        verbose_name = "检查检验报告"
        verbose_name_plural = "检查检验报告"
        constraints = [_source_unique("report_unique_source")]
        indexes = [
            models.Index(fields=["resident", "issued_at"], name="report_resident_time"),
            _pointer_index("replaces", "report_replaces"),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.issued_at:%Y-%m-%d}"


class Observation(ClinicalBase):
    """One measurement: a vital sign, a lab value, a device reading. `code` is LOINC where one
    exists (DESIGN.md: BP panel 85354-9, fasting glucose 14771-0). Blood pressure is one row:
    `value` systolic, `value2` diastolic."""

    encounter = models.ForeignKey(
        Encounter,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="observations",
        db_index=False,
    )
    exam = models.ForeignKey(
        HealthExam,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="observations",
        db_index=False,
    )
    report = models.ForeignKey(
        DiagnosticReport,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="results",
        db_index=False,
    )
    kind = models.CharField("项目", max_length=24)
    code = models.CharField("LOINC/项目编码", max_length=24)
    name = models.CharField("名称", max_length=80)
    value = models.FloatField("数值", null=True, blank=True)
    value2 = models.FloatField("数值2（舒张压）", null=True, blank=True)
    value_text = models.CharField("文字结果", max_length=200, blank=True)
    unit = models.CharField("单位", max_length=20, blank=True)
    flag = models.CharField("异常标识", max_length=2, blank=True)
    effective_at = models.DateTimeField("测量时间")
    device_serial = models.CharField("设备序列号", max_length=64, blank=True)

    class Meta:
        verbose_name = "观察/测量"
        verbose_name_plural = "观察/测量"
        constraints = [_source_unique("observation_unique_source")]
        indexes = [
            models.Index(
                fields=["resident", "kind", "effective_at"], name="obs_resident_kind_time"
            ),
            models.Index(fields=["resident", "effective_at"], name="obs_resident_time"),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.display_value}"

    @property
    def display_value(self) -> str:
        if self.value is None:
            return self.value_text
        if self.value2 is not None:
            return f"{self.value:g}/{self.value2:g} {self.unit}".strip()
        return f"{self.value:g} {self.unit}".strip()


class Prescription(ClinicalBase):
    """One prescribed item (处方明细): drug, dose, frequency, days."""

    encounter = models.ForeignKey(
        Encounter,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="prescriptions",
        db_index=False,
    )
    drug = models.ForeignKey(Drug, verbose_name="药品", on_delete=models.PROTECT, related_name="+")
    drug_name = models.CharField("药品名称", max_length=160)
    dose = models.DecimalField("单次剂量", max_digits=10, decimal_places=3)
    dose_unit = models.CharField("剂量单位", max_length=12)
    frequency = models.CharField("频次", max_length=8)
    route = models.CharField("用法", max_length=12, blank=True)
    days = models.PositiveSmallIntegerField("天数")
    quantity = models.DecimalField("总量", max_digits=10, decimal_places=2)
    prescribed_at = models.DateTimeField("开具时间")

    class Meta:
        verbose_name = "处方"
        verbose_name_plural = "处方"
        constraints = [_source_unique("prescription_unique_source")]
        indexes = [
            models.Index(fields=["resident", "prescribed_at"], name="rx_resident_time"),
            models.Index(fields=["facility", "prescribed_at"], name="rx_facility_time"),
            _pointer_index("encounter", "rx_encounter"),
            _pointer_index("replaces", "rx_replaces"),
        ]

    def __str__(self) -> str:
        return f"{self.drug_name} {self.dose:g}{self.dose_unit} {self.frequency}"


class BloodType(models.TextChoices):
    A = "A", "A型"
    B = "B", "B型"
    O = "O", "O型"  # noqa: E741
    AB = "AB", "AB型"
    UNKNOWN = "", "不详"


class HealthProfile(models.Model):
    """Personal basic information (个人基本信息表): one version per edit; the newest is current."""

    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="+")
    blood_type = models.CharField("血型", max_length=2, choices=BloodType.choices, blank=True)
    rh_negative = models.BooleanField("Rh阴性", null=True, blank=True)
    past_history = models.JSONField("既往史", default=list, blank=True)
    family_history = models.JSONField("家族史", default=list, blank=True)
    allergies = models.JSONField("过敏史", default=list, blank=True)
    disabilities = models.JSONField("残疾情况", default=list, blank=True)
    lifestyle = models.JSONField("生活方式", default=dict, blank=True)
    note = models.CharField("修改说明", max_length=200, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    facility = models.ForeignKey(
        Facility, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField("记录时间", auto_now_add=True)

    class Meta:
        verbose_name = "个人基本信息"
        verbose_name_plural = "个人基本信息"
        indexes = [models.Index(fields=["resident", "-id"], name="profile_resident_latest")]

    def __str__(self) -> str:
        return f"基本信息 {self.resident_id}"


class EntryKind(models.TextChoices):
    ENCOUNTER = "encounter", "就诊"
    OBSERVATION = "observation", "测量"
    REPORT = "report", "检查检验"
    EXAM = "exam", "健康体检"
    FOLLOWUP = "followup", "随访"
    REFERRAL = "referral", "转诊"
    CONSULT = "consult", "会诊"
    CONTRACT = "contract", "签约"
    DISPENSE = "dispense", "发药"


class Entry(models.Model):
    """The timeline's spine: one row per item of a resident's record, newest first.
    Written by the action that writes the item (this app's, or a care app's through
    `records.actions.add_entry`), never by a view."""

    resident = models.ForeignKey(
        Resident, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    occurred_at = models.DateTimeField("时间")
    kind = models.CharField("类型", max_length=12, choices=EntryKind.choices)
    facility = models.ForeignKey(
        Facility, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    object_type = models.CharField(max_length=24)
    object_id = models.BigIntegerField()
    title = models.CharField("标题", max_length=200)
    summary = models.CharField("摘要", max_length=500, blank=True)
    status = models.CharField(
        max_length=16, choices=VersionStatus.choices, default=VersionStatus.CURRENT
    )

    class Meta:
        verbose_name = "档案条目"
        verbose_name_plural = "档案条目"
        indexes = [
            models.Index(fields=["resident", "-occurred_at", "-id"], name="entry_timeline"),
            models.Index(fields=["object_type", "object_id"], name="entry_object"),
        ]

    def __str__(self) -> str:
        return self.title


class ImportKind(models.TextChoices):
    CSV = "csv", "CSV 文件"
    HL7 = "hl7", "HL7 v2 消息"
    NDJSON = "ndjson", "FHIR NDJSON"
    CODES = "codes", "编码表"


class ImportStatus(models.TextChoices):
    QUEUED = "queued", "排队中"
    RUNNING = "running", "导入中"
    DONE = "done", "已完成"
    FAILED = "failed", "失败"


class ImportJob(models.Model):
    """One import run (a HIS file, a batch of messages, an NDJSON file, a code table), with
    progress a page can poll and the per-row errors a user must fix."""

    kind = models.CharField("类型", max_length=8, choices=ImportKind.choices)
    name = models.CharField("文件/批次", max_length=200)
    sha256 = models.CharField(max_length=64, blank=True)
    source_system = models.CharField("来源系统", max_length=64, blank=True)
    facility = models.ForeignKey(
        Facility, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(
        "状态", max_length=8, choices=ImportStatus.choices, default=ImportStatus.QUEUED
    )
    total = models.PositiveIntegerField("总行数", default=0)
    processed = models.PositiveIntegerField("已处理", default=0)
    created = models.PositiveIntegerField("新增", default=0)
    updated = models.PositiveIntegerField("更正", default=0)
    unchanged = models.PositiveIntegerField("未变", default=0)
    failed = models.PositiveIntegerField("失败", default=0)
    errors = models.JSONField("错误明细", default=list, blank=True)
    message = models.CharField("说明", max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField("开始时间", auto_now_add=True)
    finished_at = models.DateTimeField("结束时间", null=True, blank=True)

    class Meta:
        verbose_name = "导入任务"
        verbose_name_plural = "导入任务"
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.name}"

    @property
    def percent(self) -> int:
        return 100 if not self.total else min(100, self.processed * 100 // self.total)


class WorkflowStep(models.Model):
    """One step of a request moving through its states (a referral's transitions, a
    consultation's steps), timestamped, with who and why. Abstract: each app's table adds
    its foreign key to the request and its own `from_state`/`to_state` choices;
    `records.workflow.log_step` writes the rows."""

    at = models.DateTimeField("时间")
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    by_name = models.CharField("操作人", max_length=60, blank=True)
    facility = models.ForeignKey(
        Facility,
        verbose_name="机构",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    note = models.CharField("说明", max_length=200, blank=True)
    from_state: str  # each app's table declares the two with its own state choices
    to_state: str

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.from_state}→{self.to_state}"
