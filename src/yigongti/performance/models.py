"""Scoring schemes (考核方案) and their frozen, published scores (得分快照).

A `ScoringScheme` applies to one kind of member facility, county-wide (`group` empty: the
health commission's scheme) or inside one medical group (the group's own 统一绩效 scheme),
for years or half-years. Its `ScoringItem`s carry the weights (points), rules and thresholds
(rules.py). Publishing a period writes a `ScoreSnapshot` with a frozen copy of the items,
one `FacilityScore` per facility (total and rank) and one `ScoreRow` per facility and item
(numerator, denominator, value, points, status, reason): later fact changes or scheme edits
never alter a published period.

Invariants kept by the database:
- one item per indicator in a scheme; weights above 0; thresholds not equal;
- at most one *current* snapshot per scheme and period (partial unique constraint).
  Publishing a period again needs a reason (actions.do_publish); the previous snapshot is
  kept, marked superseded and linked to the one that replaced it, for audit."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from yigongti.network.models import Facility, FacilityKind, MedicalGroup

from .rules import BASIS_LABELS, RULE_LABELS, STATUS_LABELS


class SchemeGrain(models.TextChoices):
    YEAR = "Y", "年度"
    HALF = "H", "半年"


class SchemeStatus(models.TextChoices):
    DRAFT = "draft", "草稿"
    ACTIVE = "active", "启用"
    RETIRED = "retired", "停用"


class ScoringScheme(models.Model):
    name = models.CharField("方案名称", max_length=100)
    facility_kind = models.CharField("适用机构类型", max_length=32, choices=FacilityKind.choices)
    group = models.ForeignKey(
        MedicalGroup,
        verbose_name="适用医共体（空：全县）",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="scoring_schemes",
    )
    grain = models.CharField("考核周期", max_length=1, choices=SchemeGrain.choices)
    status = models.CharField(
        "状态", max_length=10, choices=SchemeStatus.choices, default=SchemeStatus.DRAFT
    )
    note = models.CharField("说明", max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "考核方案"
        verbose_name_plural = "考核方案"
        ordering = ["facility_kind", "name"]
        constraints = [
            models.UniqueConstraint(fields=["name"], name="performance_scheme_name"),
            models.CheckConstraint(
                condition=Q(grain__in=SchemeGrain.values), name="performance_scheme_grain"
            ),
            models.CheckConstraint(
                condition=Q(status__in=SchemeStatus.values), name="performance_scheme_status"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ScoringItem(models.Model):
    scheme = models.ForeignKey(
        ScoringScheme, verbose_name="考核方案", on_delete=models.CASCADE, related_name="items"
    )
    order = models.PositiveIntegerField("序号", default=0)
    code = models.CharField("指标编码", max_length=40)
    name = models.CharField("考核项名称（空：指标名称）", max_length=100, blank=True)
    weight = models.DecimalField("分值", max_digits=6, decimal_places=1)
    rule = models.CharField(
        "计分规则", max_length=12, choices=[(k.value, v) for k, v in RULE_LABELS.items()]
    )
    full = models.DecimalField("满分阈值", max_digits=12, decimal_places=2, null=True, blank=True)
    zero = models.DecimalField("零分阈值", max_digits=12, decimal_places=2, null=True, blank=True)
    target = models.DecimalField(
        "目标值（空：指标目标值）", max_digits=12, decimal_places=2, null=True, blank=True
    )
    basis = models.CharField(
        "取值口径",
        max_length=10,
        choices=[(k.value, v) for k, v in BASIS_LABELS.items()],
        default="facility",
    )

    class Meta:
        verbose_name = "考核项"
        verbose_name_plural = "考核项"
        ordering = ["scheme", "order", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["scheme", "code"], name="performance_item_once"),
            models.CheckConstraint(condition=Q(weight__gt=0), name="performance_item_weight"),
            models.CheckConstraint(
                condition=Q(full__isnull=True) | Q(zero__isnull=True) | ~Q(full=models.F("zero")),
                name="performance_item_thresholds",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.weight}"


class SnapshotStatus(models.TextChoices):
    CURRENT = "current", "有效"
    SUPERSEDED = "superseded", "已被重新发布替代"


class ScoreSnapshot(models.Model):
    """The published scores of one scheme for one period, frozen."""

    scheme = models.ForeignKey(
        ScoringScheme, verbose_name="考核方案", on_delete=models.PROTECT, related_name="snapshots"
    )
    period_code = models.CharField("考核期", max_length=8)
    period_label = models.CharField("考核期名称", max_length=20)
    status = models.CharField(
        "状态", max_length=12, choices=SnapshotStatus.choices, default=SnapshotStatus.CURRENT
    )
    # a frozen copy of the scheme as it was published
    scheme_name = models.CharField("方案名称", max_length=100)
    facility_kind = models.CharField("适用机构类型", max_length=32)
    group_id_frozen = models.IntegerField("适用医共体", null=True, blank=True)
    items = models.JSONField("考核项（冻结副本）", default=list)
    published_at = models.DateTimeField("发布时间")
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_by_name = models.CharField("发布人", max_length=150)
    reason = models.CharField("重新发布原因", max_length=500, blank=True)
    facts_refreshed_at = models.DateTimeField("指标数据刷新时间", null=True, blank=True)
    superseded_by = models.ForeignKey(
        "self",
        verbose_name="替代它的发布",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        verbose_name = "得分快照"
        verbose_name_plural = "得分快照"
        ordering = ["-published_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["scheme", "period_code"],
                condition=Q(status="current"),
                name="performance_one_current_snapshot",
            ),
            models.CheckConstraint(
                condition=Q(status__in=SnapshotStatus.values), name="performance_snapshot_status"
            ),
        ]
        indexes = [
            models.Index(fields=["period_code", "status"], name="performance_snapshot_period")
        ]

    def __str__(self) -> str:
        return f"{self.scheme_name} {self.period_code}"


class FacilityScore(models.Model):
    """One facility's total in a snapshot."""

    snapshot = models.ForeignKey(
        ScoreSnapshot, verbose_name="得分快照", on_delete=models.CASCADE, related_name="facilities"
    )
    facility = models.ForeignKey(
        Facility, verbose_name="机构", on_delete=models.PROTECT, related_name="+"
    )
    facility_code = models.CharField("机构编码", max_length=32)
    facility_name = models.CharField("机构名称", max_length=128)
    group_id_frozen = models.IntegerField("所属医共体", null=True, blank=True)
    group_name = models.CharField("所属医共体名称", max_length=128, blank=True)
    earned = models.DecimalField("得分", max_digits=8, decimal_places=2)
    available = models.DecimalField("可得分", max_digits=8, decimal_places=2)
    normalised = models.DecimalField(
        "千分制得分", max_digits=8, decimal_places=2, null=True, blank=True
    )
    missing = models.PositiveIntegerField("缺失项数", default=0)
    rank = models.PositiveIntegerField("排名", null=True, blank=True)

    class Meta:
        verbose_name = "机构得分"
        verbose_name_plural = "机构得分"
        ordering = ["snapshot", "rank", "facility_code"]
        constraints = [
            models.UniqueConstraint(
                fields=["snapshot", "facility"], name="performance_score_facility_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.facility_name} {self.normalised}"


class ScoreRow(models.Model):
    """One item of one facility in a snapshot: the value read and the points it earned."""

    score = models.ForeignKey(
        FacilityScore, verbose_name="机构得分", on_delete=models.CASCADE, related_name="rows"
    )
    code = models.CharField("指标编码", max_length=40)
    level = models.CharField("取值层级", max_length=10, blank=True)
    unit_id = models.IntegerField("取值单位", null=True, blank=True)
    numerator = models.DecimalField("分子", max_digits=18, decimal_places=2, null=True)
    denominator = models.DecimalField("分母", max_digits=18, decimal_places=2, null=True)
    value = models.DecimalField("值", max_digits=18, decimal_places=2, null=True)
    target = models.DecimalField("目标值", max_digits=12, decimal_places=2, null=True)
    weight = models.DecimalField("分值", max_digits=6, decimal_places=1)
    points = models.DecimalField("得分", max_digits=8, decimal_places=2, null=True)
    status = models.CharField(
        "状态", max_length=16, choices=[(k.value, v) for k, v in STATUS_LABELS.items()]
    )
    reason = models.CharField("原因", max_length=200, blank=True)

    class Meta:
        verbose_name = "考核项得分"
        verbose_name_plural = "考核项得分"
        constraints = [
            models.UniqueConstraint(fields=["score", "code"], name="performance_row_once"),
            models.CheckConstraint(
                condition=Q(points__isnull=True) | Q(status="scored"),
                name="performance_row_points_scored",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.points}"
