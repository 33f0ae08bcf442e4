"""The indicator fact layer (事实表) and the configurable targets.

A `Fact` is one cell of one indicator: numerator and denominator for one period and one
attribution cell (facility, township, village, group — 0 where the indicator has no such
dimension). Additive indicators (counts of events) are stored per month and summed over any
period; indicators over people at a period's end (规范管理率, 签约覆盖率…) are not additive
over months and are stored once per month, quarter, half-year and year (`grain`). The
dashboard reads this table only; `facts.rebuild_facts` / `refresh_facts` write it.

Dimensions are plain integers, not foreign keys: the table is rebuilt in bulk, and a unique
key over them must not depend on NULL semantics (0 = "no such dimension")."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models

from .rules import Grain, Level

GRAIN_CHOICES = [(g.value, g.name.lower()) for g in Grain]
LEVEL_CHOICES = [(lv.value, lv.value) for lv in Level]


class Fact(models.Model):
    code = models.CharField("指标编码", max_length=40)
    grain = models.CharField("粒度", max_length=1, choices=GRAIN_CHOICES)
    period_start = models.DateField("期初")
    facility_id = models.IntegerField("机构", default=0)
    group_id = models.IntegerField("医共体", default=0)
    township_id = models.IntegerField("乡镇", default=0)
    village_id = models.IntegerField("村", default=0)
    numerator = models.DecimalField("分子", max_digits=18, decimal_places=2, default=0)
    denominator = models.DecimalField("分母", max_digits=18, decimal_places=2, default=0)
    refreshed_at = models.DateTimeField("刷新时间")

    class Meta:
        verbose_name = "指标事实"
        verbose_name_plural = "指标事实"
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "code",
                    "grain",
                    "period_start",
                    "facility_id",
                    "township_id",
                    "village_id",
                ],
                name="indicator_fact_cell",
            )
        ]
        indexes = [
            models.Index(fields=["grain", "period_start", "code"], name="indicator_fact_period"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.grain}{self.period_start} {self.numerator}/{self.denominator}"


class IndicatorTarget(models.Model):
    """A local target (目标值, DOMAIN.md §10 "targets are local (configurable)") overriding the
    catalogue's default, for all levels (`level` blank) or one level."""

    code = models.CharField("指标编码", max_length=40)
    level = models.CharField("层级", max_length=10, choices=LEVEL_CHOICES, blank=True)
    target = models.DecimalField("目标值", max_digits=12, decimal_places=2)
    note = models.CharField("依据", max_length=200, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "指标目标值"
        verbose_name_plural = "指标目标值"
        constraints = [
            models.UniqueConstraint(fields=["code", "level"], name="indicator_target_once")
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.level or '*'} {self.target}"


class RefreshRun(models.Model):
    """One run of the fact refresh; the last successful run's start is the next incremental
    refresh's watermark."""

    started_at = models.DateTimeField("开始时间")
    finished_at = models.DateTimeField("完成时间", null=True, blank=True)
    full = models.BooleanField("全量重建", default=False)
    since = models.DateTimeField("增量起点", null=True, blank=True)
    months = models.JSONField("重算月份", default=list, blank=True)
    facts_written = models.PositiveIntegerField("写入事实数", default=0)
    ok = models.BooleanField("成功", default=False)

    class Meta:
        verbose_name = "指标刷新记录"
        verbose_name_plural = "指标刷新记录"
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"刷新 {self.started_at:%Y-%m-%d %H:%M}"


# --- qualitative indicators: evidence items (佐证材料) ------------------------------------------


class EvidenceState(models.TextChoices):
    DRAFT = "draft", "草稿"
    SUBMITTED = "submitted", "待评审"
    RETURNED = "returned", "退回补充"
    REVIEWED = "reviewed", "已评审"


class Judgement(models.TextChoices):
    """A reviewer's judgement of the evidence (DOMAIN.md §10, 紧密型 aspect); `RETURNED` asks
    the group for more material and carries no fraction."""

    MET = "met", "达标"
    MOSTLY = "mostly", "基本达标"
    NOT_MET = "not_met", "未达标"
    RETURNED = "returned", "退回补充材料"


_JUDGED = [Judgement.MET, Judgement.MOSTLY, Judgement.NOT_MET]


class EvidenceItem(models.Model):
    """What a medical group did for one qualitative indicator in one period (a year `2026` or
    a half-year `2026H1`), with its attachments; submitted by the group's administrator and
    judged by the health commission. The latest judgement is kept on the item (`judgement`,
    `fraction`, `reviewed_*`) for the lists; every review stays in `EvidenceReview`."""

    code = models.CharField("指标编码", max_length=40)
    group = models.ForeignKey(
        "network.MedicalGroup", verbose_name="医共体", on_delete=models.PROTECT, related_name="+"
    )
    period = models.CharField("统计期", max_length=7)
    title = models.CharField("标题", max_length=200)
    description = models.TextField("工作开展情况", blank=True)
    state = models.CharField(
        "状态", max_length=10, choices=EvidenceState.choices, default=EvidenceState.DRAFT
    )
    round = models.PositiveSmallIntegerField("提交次数", default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="创建人", on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField("创建时间")
    client_key = models.CharField("提交幂等键", max_length=64, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="提交人",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    submitted_at = models.DateTimeField("提交时间", null=True, blank=True)
    judgement = models.CharField("评审结论", max_length=10, choices=Judgement.choices, blank=True)
    fraction = models.DecimalField(
        "得分系数", max_digits=3, decimal_places=2, null=True, blank=True
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="评审人",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    reviewed_at = models.DateTimeField("评审时间", null=True, blank=True)

    class Meta:
        verbose_name = "佐证材料"
        verbose_name_plural = "佐证材料"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(state__in=EvidenceState.values), name="evidence_state_known"
            ),
            models.CheckConstraint(
                condition=models.Q(period__regex=r"^[0-9]{4}(H[12])?$"),
                name="evidence_period_year_or_half",
            ),
            models.CheckConstraint(condition=~models.Q(title=""), name="evidence_title_given"),
            models.CheckConstraint(
                condition=models.Q(state=EvidenceState.DRAFT, round=0)
                | (
                    models.Q(round__gte=1)
                    & models.Q(submitted_at__isnull=False, submitted_by__isnull=False)
                ),
                name="evidence_submitted_has_submitter",
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(state=EvidenceState.REVIEWED, judgement__in=_JUDGED)
                    & models.Q(fraction__isnull=False, reviewed_at__isnull=False)
                    & models.Q(reviewed_by__isnull=False)
                )
                | (
                    ~models.Q(state=EvidenceState.REVIEWED)
                    & models.Q(judgement__in=["", Judgement.RETURNED], fraction__isnull=True)
                ),
                name="evidence_reviewed_has_judgement",
            ),
            models.UniqueConstraint(
                fields=["created_by", "client_key"],
                condition=~models.Q(client_key=""),
                name="evidence_client_key_once",
            ),
        ]
        indexes = [
            models.Index(fields=["period", "group", "code"], name="evidence_period_group"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.period} {self.title}"


class EvidenceAttachment(models.Model):
    """One file of an evidence item. The bytes live in the database so that a database backup
    holds them; the same file (sha256) is attached to an item once."""

    item = models.ForeignKey(
        EvidenceItem, verbose_name="佐证材料", on_delete=models.PROTECT, related_name="attachments"
    )
    name = models.CharField("文件名", max_length=200)
    content_type = models.CharField("文件类型", max_length=100)
    size = models.PositiveIntegerField("大小（字节）")
    sha256 = models.CharField("SHA-256", max_length=64)
    data = models.BinaryField("内容")
    round = models.PositiveSmallIntegerField("随第几次提交", default=0)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="上传人", on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField("上传时间")

    class Meta:
        verbose_name = "佐证材料附件"
        verbose_name_plural = "佐证材料附件"
        constraints = [
            models.UniqueConstraint(fields=["item", "sha256"], name="evidence_file_once_per_item"),
            models.CheckConstraint(condition=models.Q(size__gt=0), name="evidence_file_not_empty"),
            models.CheckConstraint(
                condition=models.Q(sha256__regex=r"^[0-9a-f]{64}$"), name="evidence_file_sha256"
            ),
            models.CheckConstraint(condition=~models.Q(name=""), name="evidence_file_named"),
        ]

    def __str__(self) -> str:
        return self.name


class EvidenceReview(models.Model):
    """One review of an evidence item, in order (`seq`); a later review supersedes the earlier
    ones, which stay as its history. Fractions for the scoring: 达标 1, 基本达标 0.5, 未达标 0;
    a return for more material has none. A comment is required unless 达标."""

    item = models.ForeignKey(
        EvidenceItem, verbose_name="佐证材料", on_delete=models.PROTECT, related_name="reviews"
    )
    seq = models.PositiveSmallIntegerField("序号")
    round = models.PositiveSmallIntegerField("针对第几次提交")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="评审人", on_delete=models.PROTECT, related_name="+"
    )
    judgement = models.CharField("评审结论", max_length=10, choices=Judgement.choices)
    fraction = models.DecimalField(
        "得分系数", max_digits=3, decimal_places=2, null=True, blank=True
    )
    comment = models.TextField("评审意见", blank=True)
    reviewed_at = models.DateTimeField("评审时间")

    class Meta:
        verbose_name = "佐证材料评审"
        verbose_name_plural = "佐证材料评审"
        ordering = ["item", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["item", "seq"], name="evidence_review_seq_once"),
            models.CheckConstraint(
                condition=models.Q(
                    judgement=Judgement.MET, fraction=Decimal(1), fraction__isnull=False
                )
                | models.Q(
                    judgement=Judgement.MOSTLY, fraction=Decimal("0.5"), fraction__isnull=False
                )
                | models.Q(judgement=Judgement.NOT_MET, fraction=Decimal(0), fraction__isnull=False)
                | models.Q(judgement=Judgement.RETURNED, fraction__isnull=True),
                name="evidence_review_fraction_matches",
            ),
            models.CheckConstraint(
                condition=models.Q(judgement=Judgement.MET) | ~models.Q(comment=""),
                name="evidence_review_comment_unless_met",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item_id}#{self.seq} {self.judgement}"
