"""REST API of the 1000-point performance scoring (千分制绩效考核): schemes (CRUD and
status), the live preview, publishing a period (a frozen snapshot) and reading snapshots."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from yigongti.core.api import ErrorOut, actor_of
from yigongti.core.errors import NotFound

from . import actions, queries

router = Router(tags=["绩效考核"])
ERRORS: dict[int, type[Schema]] = {403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}

Num = str | float | int | None


class ItemIn(Schema):
    code: str = Field(..., description="指标编码（指标目录）")
    weight: str | float | int = Field(..., description="分值（各项合计 1000）")
    rule: str = Field("linear", description="linear 线性插值 / pass_fail 达标得分 / judgement 评审")
    basis: str = Field("facility", description="facility 本机构 / area 服务区域")
    name: str = Field("", description="考核项名称（空：用指标名称）")
    full: Num = Field(None, description="线性：满分阈值（在指标的好方向一侧）")
    zero: Num = Field(None, description="线性：零分阈值")
    target: Num = Field(None, description="达标得分：目标值（空：用指标的目标值）")


class SchemeIn(Schema):
    name: str = Field(..., description="方案名称")
    facility_kind: str = Field(
        ..., description="适用机构类型：county_hospital/branch/township_centre/village_clinic/other"
    )
    grain: str = Field(..., description="考核周期：Y 年度 / H 半年")
    group_id: int | None = Field(None, description="适用医共体；空为全县")
    note: str = ""
    items: list[ItemIn] = Field(default_factory=list)


class StatusIn(Schema):
    status: str = Field(
        ..., description="draft 草稿 / active 启用（分值合计须为 1000） / retired 停用"
    )


class PublishIn(Schema):
    period: str = Field(..., description="考核期：年度方案 2026，半年方案 2026H1/2026H2")
    reason: str = Field("", description="重新发布已发布的考核期时必填")


class ItemOut(Schema):
    code: str
    name: str
    indicator_name: str
    weight: float
    rule: str
    rule_label: str
    rule_text: str = Field(..., description="规则说明")
    basis: str
    basis_label: str
    full: float | None
    zero: float | None
    target: float | None
    unit: str
    unit_label: str
    direction: str
    definition: str = Field(..., description="指标定义")
    numerator_text: str = Field(..., description="分子口径")
    denominator_text: str = Field(..., description="分母口径")


class SchemeBrief(Schema):
    id: int
    name: str
    facility_kind: str
    facility_kind_label: str
    group_id: int | None
    group_name: str
    grain: str
    grain_label: str
    status: str
    status_label: str


class SchemeListOut(SchemeBrief):
    items: int = Field(..., description="考核项数")
    total_weight: float = Field(..., description="分值合计")


class SchemeOut(SchemeBrief):
    note: str
    total_weight: float
    items: list[ItemOut]


class RowOut(Schema):
    code: str
    name: str
    weight: float = Field(..., description="分值")
    level: str = Field(..., description="取值层级 facility/township/village/group")
    unit_id: int | None
    numerator: float | None = Field(None, description="分子（缺失时为空，不是 0）")
    denominator: float | None
    value: float | None
    target: float | None
    points: float | None = Field(None, description="得分；缺失项为空且不计入可得分")
    status: str = Field(
        ..., description="scored/not_collected/no_data/not_applicable/not_reviewed/no_target"
    )
    status_label: str
    reason: str


class FacilityOut(Schema):
    facility_id: int
    code: str
    name: str
    group_id: int | None
    group_name: str
    earned: float = Field(..., description="得分")
    available: float = Field(..., description="可得分（有数据的考核项分值之和）")
    normalised: float | None = Field(None, description="千分制得分 = 得分 ÷ 可得分 × 1000")
    missing: int = Field(..., description="缺失项数")
    rank: int | None = Field(None, description="排名（同分同名次）")
    rows: list[RowOut]


class SnapshotMetaOut(Schema):
    id: int
    scheme_id: int
    period: str
    period_label: str
    status: str = Field(..., description="current 有效 / superseded 已被重新发布替代")
    status_label: str
    published_at: datetime
    published_by: str
    reason: str
    facts_refreshed_at: datetime | None
    superseded_by_id: int | None


class ScoresOut(Schema):
    mode: str = Field(..., description="preview 实时预览 / published 已发布（冻结）")
    scheme: SchemeBrief
    period: str
    period_label: str
    items: list[ItemOut]
    total_weight: float
    facilities: list[FacilityOut]
    snapshot: SnapshotMetaOut | None
    current_snapshot_id: int | None
    refreshed_at: datetime | None


def _input(body: SchemeIn) -> actions.SchemeInput:
    return actions.SchemeInput(
        name=body.name,
        facility_kind=body.facility_kind,
        grain=body.grain,
        group_id=body.group_id,
        note=body.note,
        items=[
            actions.ItemInput(
                code=i.code, weight=i.weight, rule=i.rule, basis=i.basis, name=i.name,
                full=i.full, zero=i.zero, target=i.target,
            )
            for i in body.items
        ],
    )  # fmt: skip


@router.get("/performance/schemes", response={200: list[SchemeListOut], **ERRORS})
def scheme_list(request: HttpRequest) -> Any:
    """考核方案列表。"""
    return [
        {
            **queries.scheme_out(s),
            "items": s.n_items,  # type: ignore[attr-defined]
            "total_weight": s.total or 0,  # type: ignore[attr-defined]
        }
        for s in queries.schemes_visible_to(actor_of(request))
    ]


@router.post("/performance/schemes", response={201: SchemeOut, **ERRORS})
def scheme_create(request: HttpRequest, body: SchemeIn) -> Any:
    """新建考核方案（草稿；分值合计可暂不为 1000）。"""
    actor = actor_of(request)
    scheme = actions.do_create_scheme(actor, _input(body))
    return Status(201, queries.scheme_detail(actor, scheme.pk))


@router.get("/performance/schemes/{scheme_id}", response={200: SchemeOut, **ERRORS})
def scheme_get(request: HttpRequest, scheme_id: int) -> Any:
    return queries.scheme_detail(actor_of(request), scheme_id)


@router.put("/performance/schemes/{scheme_id}", response={200: SchemeOut, **ERRORS})
def scheme_put(request: HttpRequest, scheme_id: int, body: SchemeIn) -> Any:
    """修改方案及其全部考核项（启用中的方案分值合计须保持 1000；已发布的得分不受影响）。"""
    actor = actor_of(request)
    actions.do_update_scheme(actor, scheme_id, _input(body))
    return queries.scheme_detail(actor, scheme_id)


@router.delete("/performance/schemes/{scheme_id}", response={204: None, **ERRORS})
def scheme_delete(request: HttpRequest, scheme_id: int) -> Any:
    """删除从未发布过的草稿方案（其他方案请停用）。"""
    actions.do_delete_scheme(actor_of(request), scheme_id)
    return Status(204, None)


@router.post("/performance/schemes/{scheme_id}/status", response={200: SchemeOut, **ERRORS})
def scheme_status(request: HttpRequest, scheme_id: int, body: StatusIn) -> Any:
    actor = actor_of(request)
    actions.do_set_scheme_status(actor, scheme_id, body.status)
    return queries.scheme_detail(actor, scheme_id)


@router.get("/performance/schemes/{scheme_id}/preview", response={200: ScoresOut, **ERRORS})
def preview(request: HttpRequest, scheme_id: int, period: str) -> Any:
    """按当前指标数据实时计算的得分与排名（未冻结）。"""
    return queries.preview(actor_of(request), scheme_id, period)


@router.post("/performance/schemes/{scheme_id}/publish", response={201: SnapshotMetaOut, **ERRORS})
def publish(request: HttpRequest, scheme_id: int, body: PublishIn) -> Any:
    """发布考核期得分（冻结快照）。已发布的考核期须填写原因才能重新发布（409）。"""
    snap = actions.do_publish(actor_of(request), scheme_id, body.period, body.reason)
    return Status(201, queries.snapshot_out(snap))


@router.get(
    "/performance/schemes/{scheme_id}/snapshots", response={200: list[SnapshotMetaOut], **ERRORS}
)
def snapshots(request: HttpRequest, scheme_id: int) -> Any:
    """该方案的全部发布记录（含已被替代的）。"""
    return queries.snapshots_of(actor_of(request), scheme_id)


@router.get("/performance/schemes/{scheme_id}/scores", response={200: ScoresOut, **ERRORS})
def scores(request: HttpRequest, scheme_id: int, period: str) -> Any:
    """某考核期当前有效的已发布得分。"""
    actor = actor_of(request)
    scheme = queries.get_scheme_for(actor, scheme_id)
    p = queries.check_period(scheme, period)
    pk = queries.current_snapshot_id(scheme_id, p.code)
    if pk is None:
        raise NotFound("该考核期的已发布得分")
    return queries.get_snapshot_for(actor, pk)


@router.get("/performance/snapshots/{snapshot_id}", response={200: ScoresOut, **ERRORS})
def snapshot(request: HttpRequest, snapshot_id: int) -> Any:
    """一次发布的冻结得分。"""
    return queries.get_snapshot_for(actor_of(request), snapshot_id)
