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
