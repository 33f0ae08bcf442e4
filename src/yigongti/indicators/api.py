"""REST endpoints of the indicator catalogue, values, dashboard, drill-down and refresh."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema

from yigongti.core.api import ErrorOut, actor_of

from . import actions, catalogue, queries
from .rules import UNIT_LABELS, Level, Period, parse_level, parse_period

router = Router(tags=["监测指标与绩效考核"])
ERRORS: dict[int, type[Schema]] = {403: ErrorOut, 404: ErrorOut, 422: ErrorOut}


class IndicatorOut(Schema):
    code: str
    name: str = Field(..., description="指标名称")
    aspect: str = Field(..., description="维度编码")
    aspect_label: str = Field(..., description="维度（紧密型/同质化/促分工/提效能/保健康/常用）")
    definition: str = Field(..., description="定义")
    numerator: str = Field(..., description="分子口径")
    denominator: str = Field(..., description="分母口径")
    unit: str = Field(..., description="单位：% / ‰ / per10k / count / ratio / yuan")
    unit_label: str
    source: str = Field(..., description="数据来源")
    direction: str = Field(..., description="higher 越高越好 / lower 越低越好 / none")
    default_target: float | None = Field(None, description="默认目标值（DOMAIN.md）")
    target_note: str = ""
    collected: bool = Field(..., description="平台是否采集该指标数据")
    missing_reason: str = Field("", description="未采集原因")
    additive: bool = Field(..., description="true: 按月可加；false: 期末状态指标，按期计算")
    attribution: str = Field(..., description="facility 按服务机构 / residence 按居住地")


class ValueOut(Schema):
    code: str
    name: str
    aspect: str
    aspect_label: str
    definition: str = Field(..., description="定义")
    numerator_text: str = Field(..., description="分子口径")
    denominator_text: str = Field(..., description="分母口径")
    source: str = Field(..., description="数据来源")
    unit: str
    unit_label: str
    direction: str
    period: str
    period_label: str
    level: str
    unit_id: int | None
    numerator: float | None = Field(None, description="分子（未采集时为空，不是 0）")
    denominator: float | None = Field(None, description="分母（计数类指标为空）")
    value: float | None = Field(None, description="指标值（分母为 0 或未采集时为空）")
    target: float | None
    met: bool | None = Field(None, description="是否达到目标（按指标方向）")
    status: str = Field(
        ...,
        description="ok / no_data / not_collected / not_applicable / qualitative（定性评审）",
    )
    reason: str
    judgement: str | None = Field(
        None,
        description="定性指标的评审结论（达标/基本达标/未达标/待评审/退回补充/未提交；全县为汇总）",
    )
    drillable: bool


class ComparedOut(ValueOut):
    unit_name: str


class AspectOut(Schema):
    aspect: str
    label: str
    indicators: list[ValueOut]


class DashboardOut(Schema):
    period: str
    period_label: str
    level: str
    unit_id: int | None
    unit_name: str
    refreshed_at: datetime | None
    aspects: list[AspectOut]


class DrillRow(Schema):
    id: int
    resident_id: int | None = Field(..., description="居民（名单为医师时为空）")
    name: str
    id_number: str = Field(..., description="身份证号（脱敏；医师名单为空）")
    mpi_id: str
    cells: list[str]


class DrillOut(Schema):
    code: str
    name: str
    part: str
    part_label: str
    part_text: str
    source: int
    source_label: str
    sources: list[str]
    period: str
    period_label: str
    level: str
    unit_id: int | None
    unit_name: str
    person: str = Field(..., description="resident（居民）或 staff（医师名单）")
    columns: list[str]
    total: int
    page: int
    pages: int
    rows: list[DrillRow]


class RefreshIn(Schema):
    full: bool = Field(False, description="全量重建")
    since: datetime | None = Field(None, description="增量起点（默认上次成功刷新）")


class RefreshOut(Schema):
    full: bool
    facts_written: int
    months: list[str]


class TargetIn(Schema):
    target: str | None = Field(None, description="目标值；空表示恢复默认")
    level: str = Field("", description="空：所有层级；或 county/group/facility/township/village")
    note: str = Field("", description="依据")


class TargetOut(Schema):
    code: str
    level: str
    target: float | None


def _def_out(d: catalogue.IndicatorDef) -> dict[str, Any]:
    return {
        "code": d.code,
        "name": d.name,
        "aspect": d.aspect,
        "aspect_label": d.aspect_label,
        "definition": d.definition,
        "numerator": d.numerator_text,
        "denominator": d.denominator_text,
        "unit": d.unit.value,
        "unit_label": UNIT_LABELS[d.unit],
        "source": d.source_text,
        "direction": d.direction.value,
        "default_target": float(d.target) if d.target is not None else None,
        "target_note": d.target_note,
        "collected": d.collected,
        "missing_reason": d.missing_reason,
        "additive": d.additive,
        "attribution": d.attribution,
    }


def _args(period: str, level: str) -> tuple[Period, Level]:
    return parse_period(period), parse_level(level)


@router.get("/indicators/catalogue", response={200: list[IndicatorOut], **ERRORS})
def catalogue_list(request: HttpRequest) -> Any:
    """指标目录：名称、维度、定义、分子、分母、单位、来源、方向、默认目标、是否采集。"""
    queries.check_can_view(actor_of(request), "catalogue")
    return [_def_out(d) for d in catalogue.all_defs()]


@router.get("/indicators/dashboard", response={200: DashboardOut, **ERRORS})
def dashboard(
    request: HttpRequest, period: str, level: str = "county", unit: int | None = None
) -> Any:
    """全部指标在一个统计期、一个单位的值（只读事实表）。

    period: 2026 / 2026H1 / 2026Q3 / 2026-07。"""
    p, lv = _args(period, level)
    return queries.dashboard(p, lv, unit, actor_of(request))


@router.get("/indicators/values/{code}", response={200: ValueOut, **ERRORS})
def value(
    request: HttpRequest, code: str, period: str, level: str = "county", unit: int | None = None
) -> Any:
    p, lv = _args(period, level)
    return queries.value_of(code, p, lv, unit, actor_of(request)).as_dict()


@router.get("/indicators/values/{code}/trend", response={200: list[ValueOut], **ERRORS})
def trend(
    request: HttpRequest, code: str, period: str, level: str = "county", unit: int | None = None
) -> Any:
    """期内逐月序列（月度统计期：截至该月的 12 个月）。"""
    p, lv = _args(period, level)
    return queries.trend(code, p, lv, unit, actor_of(request))


@router.get("/indicators/values/{code}/comparison", response={200: list[ComparedOut], **ERRORS})
def comparison(request: HttpRequest, code: str, period: str, by: str = "group") -> Any:
    """各医共体（或乡镇、机构、村）之间的比较。"""
    p, lv = _args(period, by)
    return queries.comparison(code, p, lv, actor_of(request))


@router.get("/indicators/values/{code}/drilldown", response={200: DrillOut, **ERRORS})
def drilldown(
    request: HttpRequest,
    code: str,
    period: str,
    level: str = "county",
    unit: int | None = None,
    part: str = "numerator",
    source: int = 0,
    page: int = 1,
) -> Any:
    """计入分子或分母的记录（按查看者权限范围，分页，身份证号脱敏，留痕）。"""
    p, lv = _args(period, level)
    return queries.drilldown(
        actor_of(request), code, p, lv, unit, part=part, source=source, page=page
    )


@router.post("/indicators/refresh", response={200: RefreshOut, **ERRORS})
def refresh(request: HttpRequest, body: RefreshIn) -> Any:
    """刷新事实表（需“管理监测指标”权限）。"""
    return actions.do_refresh_facts(actor_of(request), full=body.full, since=body.since)


@router.put("/indicators/targets/{code}", response={200: TargetOut, **ERRORS})
def set_target(request: HttpRequest, code: str, body: TargetIn) -> Any:
    """设置本地目标值（DOMAIN.md §10：目标值由地方确定）。"""
    row = actions.do_set_target(actor_of(request), code, body.target, body.level, body.note)
    return {
        "code": code,
        "level": body.level,
        "target": float(row.target) if row is not None else None,
    }
