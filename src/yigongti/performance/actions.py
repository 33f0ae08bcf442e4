"""Writes of the 1000-point scoring: schemes (create, edit, activate/retire, delete a draft)
and publishing a period's scores as a frozen snapshot. Each is one transaction with its audit
entry; errors name the field (`items.2.weight`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from yigongti.core import audit
from yigongti.core.actor import Actor
from yigongti.core.errors import Conflict, DomainError, FieldError, NotFound
from yigongti.indicators import catalogue
from yigongti.indicators.catalogue import IndicatorDef
from yigongti.indicators.models import IndicatorTarget
from yigongti.indicators.queries import has_facility_dimension
from yigongti.indicators.rules import Direction, Period, Unit
from yigongti.network.models import FacilityKind, MedicalGroup

from . import queries
from .models import (
    FacilityScore,
    SchemeGrain,
    SchemeStatus,
    ScoreRow,
    ScoreSnapshot,
    ScoringItem,
    ScoringScheme,
    SnapshotStatus,
)
from .rules import (
    SCHEME_TOTAL,
    WEIGHT_STEP,
    Basis,
    RuleKind,
    better_is_higher,
    thresholds_ok,
    weights_sum,
)

MAX_ITEMS = 60


@dataclass
class ItemInput:
    """One item as typed in the editor or sent to the API (numbers as text or Decimal)."""

    code: str
    weight: str | Decimal | int | float | None
    rule: str = RuleKind.LINEAR.value
    basis: str = Basis.FACILITY.value
    name: str = ""
    full: str | Decimal | int | float | None = None
    zero: str | Decimal | int | float | None = None
    target: str | Decimal | int | float | None = None


@dataclass
class SchemeInput:
    name: str
    facility_kind: str
    grain: str
    group_id: int | None = None
    note: str = ""
    items: list[ItemInput] = field(default_factory=list)


def is_qualitative(defn: IndicatorDef) -> bool:
    """The 紧密型 indicators the platform does not compute: scored by evidence review."""
    return defn.aspect == "tight" and not defn.collected


#: thresholds and targets are stored as numeric(12, 2): larger or finer values are refused
NUMBER_LIMIT = Decimal("1e10")


def _number(raw: Any, path: str, label: str, errors: list[FieldError]) -> Decimal | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        errors.append(FieldError(path, f"{label}须为数字", f"{label}: not a number"))
        return None
    if not value.is_finite():
        errors.append(FieldError(path, f"{label}须为数字", f"{label}: not a number"))
        return None
    if abs(value) >= NUMBER_LIMIT:
        errors.append(
            FieldError(path, f"{label}过大（应小于 10 000 000 000）", f"{label}: too large")
        )
        return None
    if value != value.quantize(Decimal("0.01"), rounding=ROUND_DOWN):
        errors.append(FieldError(path, f"{label}最多保留两位小数", f"{label}: at most 2 decimals"))
        return None
    return value


def _has_target(defn: IndicatorDef) -> bool:
    return defn.target is not None or IndicatorTarget.objects.filter(code=defn.code).exists()


def _validate_item(
    i: int, it: ItemInput, kind: str, seen: dict[str, int], errors: list[FieldError]
) -> dict[str, Any] | None:
    p = f"items.{i}"
    n = i + 1
    code = (it.code or "").strip()
    defn = catalogue.get(code) if code else None
    if not code:
        errors.append(
            FieldError(f"{p}.code", f"第{n}项：请填写指标编码", "code required", "missing")
        )
    elif defn is None:
        errors.append(
            FieldError(f"{p}.code", f"第{n}项：指标编码“{code}”不在指标目录中", "unknown indicator")
        )
    elif code in seen:
        errors.append(
            FieldError(
                f"{p}.code",
                f"第{n}项：指标“{defn.name}”与第{seen[code] + 1}项重复",
                "duplicate item",
                "duplicate",
            )
        )
    else:
        seen[code] = i
    name = (it.name or "").strip()
    if len(name) > 100:
        errors.append(FieldError(f"{p}.name", f"第{n}项：名称不能超过 100 字", "name too long"))
    weight = _number(it.weight, f"{p}.weight", f"第{n}项：分值", errors)
    if weight is None and not any(e.field == f"{p}.weight" for e in errors):
        errors.append(
            FieldError(f"{p}.weight", f"第{n}项：请填写分值", "weight required", "missing")
        )
    elif weight is not None and not (0 < weight <= SCHEME_TOTAL):
        errors.append(
            FieldError(f"{p}.weight", f"第{n}项：分值应大于 0 且不超过 1000", "weight out of range")
        )
    elif weight is not None and weight % WEIGHT_STEP:
        errors.append(
            FieldError(f"{p}.weight", f"第{n}项：分值最多保留一位小数", "at most one decimal")
        )
    try:
        rule = RuleKind(it.rule)
    except ValueError:
        errors.append(FieldError(f"{p}.rule", f"第{n}项：计分规则无效", "unknown rule"))
        return None
    try:
        basis = Basis(it.basis or Basis.FACILITY.value)
    except ValueError:
        errors.append(FieldError(f"{p}.basis", f"第{n}项：取值口径无效", "unknown basis"))
        return None
    full = _number(it.full, f"{p}.full", f"第{n}项：满分阈值", errors)
    zero = _number(it.zero, f"{p}.zero", f"第{n}项：零分阈值", errors)
    target = _number(it.target, f"{p}.target", f"第{n}项：目标值", errors)
    if defn is None:
        return None
    if rule == RuleKind.JUDGEMENT:
        if not is_qualitative(defn):
            errors.append(
                FieldError(
                    f"{p}.rule",
                    f"第{n}项：“评审”只用于紧密型定性指标，“{defn.name}”请用线性插值或达标得分",
                    "judgement is for the qualitative indicators only",
                )
            )
        full = zero = target = None
        basis = Basis.FACILITY
    elif is_qualitative(defn):
        errors.append(
            FieldError(
                f"{p}.rule",
                f"第{n}项：“{defn.name}”是定性指标，只能按佐证材料评审计分",
                "qualitative indicators are scored by judgement",
            )
        )
    elif rule == RuleKind.LINEAR:
        _check_linear(p, n, defn, full, zero, errors)
        target = None
    else:
        full = zero = None
        if target is None and not _has_target(defn):
            errors.append(
                FieldError(
                    f"{p}.target",
                    f"第{n}项：“{defn.name}”没有目标值，请填写目标值",
                    "no target for a pass/fail item",
                    "missing",
                )
            )
        elif target is not None:
            _check_range(f"{p}.target", n, "目标值", defn, target, errors)
    if rule != RuleKind.JUDGEMENT:
        if basis == Basis.FACILITY and not has_facility_dimension(defn):
            errors.append(
                FieldError(
                    f"{p}.basis",
                    f"第{n}项：“{defn.name}”按居住地统计，没有机构维度，请选择“服务区域”",
                    "residence-attributed indicator: read it at the area served",
                )
            )
        if basis == Basis.AREA and kind not in queries.AREA_LEVEL:
            errors.append(
                FieldError(
                    f"{p}.basis",
                    f"第{n}项：该类机构没有服务区域，请选择“本机构”",
                    "this facility kind serves no area",
                )
            )
    return {
        "code": code,
        "name": name,
        "weight": weight,
        "rule": rule.value,
        "basis": basis.value,
        "full": full,
        "zero": zero,
        "target": target,
    }


def _check_range(
    path: str, n: int, label: str, defn: IndicatorDef, v: Decimal, errors: list[FieldError]
) -> None:
    if v < 0:
        errors.append(FieldError(path, f"第{n}项：{label}不能为负数", f"{label} below 0"))
    elif defn.unit == Unit.PERCENT and v > 100:
        errors.append(FieldError(path, f"第{n}项：百分比{label}不能超过 100", f"{label} above 100"))


def _check_linear(
    p: str,
    n: int,
    defn: IndicatorDef,
    full: Decimal | None,
    zero: Decimal | None,
    errors: list[FieldError],
) -> None:
    if any(e.field in (f"{p}.full", f"{p}.zero") for e in errors):
        return
    if full is None:
        errors.append(
            FieldError(f"{p}.full", f"第{n}项：请填写满分阈值", "full required", "missing")
        )
    if zero is None:
        errors.append(
            FieldError(f"{p}.zero", f"第{n}项：请填写零分阈值", "zero required", "missing")
        )
    if full is None or zero is None:
        return
    _check_range(f"{p}.full", n, "满分阈值", defn, full, errors)
    _check_range(f"{p}.zero", n, "零分阈值", defn, zero, errors)
    if not thresholds_ok(defn.direction, full, zero):
        if better_is_higher(defn.direction):
            side = "越高越好" if defn.direction == Direction.HIGHER else "按“越多越好”计分"
            msg = f"第{n}项：阈值颠倒：“{defn.name}”{side}，满分阈值应大于零分阈值"
        else:
            msg = f"第{n}项：阈值颠倒：“{defn.name}”越低越好，满分阈值应小于零分阈值"
        errors.append(FieldError(f"{p}.full", msg, "thresholds inverted", "inverted"))


def _validate(
    data: SchemeInput, *, scheme: ScoringScheme | None, status: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    errors: list[FieldError] = []
    name = (data.name or "").strip()
    if not name:
        errors.append(FieldError("name", "请填写方案名称", "name required", "missing"))
    elif len(name) > 100:
        errors.append(FieldError("name", "方案名称不能超过 100 字", "name too long"))
    elif ScoringScheme.objects.filter(name=name).exclude(pk=scheme.pk if scheme else 0).exists():
        errors.append(FieldError("name", "已有同名的考核方案", "name taken", "duplicate"))
    if data.facility_kind not in FacilityKind.values:
        errors.append(FieldError("facility_kind", "请选择适用机构类型", "unknown facility kind"))
    if data.grain not in SchemeGrain.values:
        errors.append(FieldError("grain", "考核周期应为年度或半年", "grain must be Y or H"))
    if data.group_id is not None and not MedicalGroup.objects.filter(pk=data.group_id).exists():
        errors.append(FieldError("group_id", "请选择有效的医共体", "unknown group"))
    note = (data.note or "").strip()
    if len(note) > 500:
        errors.append(FieldError("note", "说明不能超过 500 字", "note too long"))
    if len(data.items) > MAX_ITEMS:
        errors.append(FieldError("items", f"考核项不能超过 {MAX_ITEMS} 项", "too many items"))
    seen: dict[str, int] = {}
    items = []
    for i, it in enumerate(data.items[:MAX_ITEMS]):
        clean = _validate_item(i, it, data.facility_kind, seen, errors)
        if clean is not None:
            items.append(clean)
    if status == SchemeStatus.ACTIVE and not errors:
        total = weights_sum(i["weight"] for i in items)
        if not items:
            errors.append(
                FieldError("items", "启用的方案至少要有一项考核项", "no items", "missing")
            )
        elif total != SCHEME_TOTAL:
            errors.append(
                FieldError(
                    "items",
                    f"各项分值合计为 {total:f}，启用的方案应正好为 1000 分",
                    f"weights sum to {total}, an active scheme needs 1000",
                    "total",
                )
            )
    if errors:
        raise DomainError(errors)
    fields = {
        "name": name,
        "facility_kind": data.facility_kind,
        "grain": data.grain,
        "group_id": data.group_id,
        "note": note,
    }
    return fields, items


def _write_items(scheme: ScoringScheme, items: list[dict[str, Any]]) -> None:
    scheme.items.all().delete()
    ScoringItem.objects.bulk_create(
        [ScoringItem(scheme=scheme, order=i, **it) for i, it in enumerate(items)]
    )


def do_create_scheme(actor: Actor, data: SchemeInput) -> ScoringScheme:
    """A new scheme, saved as a draft (its weights need not sum to 1000 yet)."""
    queries.check_can_manage(actor, data.group_id, "scheme:create")
    fields, items = _validate(data, scheme=None, status=SchemeStatus.DRAFT)
    with transaction.atomic():
        scheme = ScoringScheme.objects.create(
            **fields, status=SchemeStatus.DRAFT, created_by_id=actor.user_id
        )
        _write_items(scheme, items)
        audit.record(
            actor, audit.Action.CREATE, "scoring_scheme", scheme.pk,
            detail={"name": scheme.name, "items": len(items)},
        )  # fmt: skip
    return scheme


def _get(pk: int, lock: bool = False) -> ScoringScheme:
    qs = ScoringScheme.objects.select_for_update() if lock else ScoringScheme.objects
    scheme = qs.filter(pk=pk).first()
    if scheme is None:
        raise NotFound("考核方案")
    return scheme


def do_update_scheme(actor: Actor, scheme_id: int, data: SchemeInput) -> ScoringScheme:
    """Replace a scheme's fields and items. An active scheme must still total 1000; a retired
    one is read-only. Published snapshots keep their frozen copy."""
    scheme = _get(scheme_id)
    queries.check_can_manage(actor, scheme.group_id, f"scheme:{scheme_id}")
    if data.group_id != scheme.group_id:
        queries.check_can_manage(actor, data.group_id, f"scheme:{scheme_id}")
    if scheme.status == SchemeStatus.RETIRED:
        raise Conflict(
            FieldError("status", "已停用的方案不能修改，请先重新启用或另建方案", "retired scheme")
        )
    with transaction.atomic():
        scheme = _get(scheme_id, lock=True)  # an activation at the same time waits
        fields, items = _validate(data, scheme=scheme, status=scheme.status)
        if scheme.snapshots.exists():
            # published scores name the scheme's group, facility kind and period length
            for name, label in (("group_id", "适用医共体"), ("facility_kind", "适用机构类型"),
                                ("grain", "考核周期")):  # fmt: skip
                if name in fields and fields[name] != getattr(scheme, name):
                    raise Conflict(
                        FieldError(
                            name.removesuffix("_id"),
                            f"方案已发布过得分，不能修改{label}；请另建方案",
                            f"{name} of a published scheme cannot change",
                        )
                    )
        for k, v in fields.items():
            setattr(scheme, k, v)
        scheme.save()
        _write_items(scheme, items)
        audit.record(
            actor, audit.Action.UPDATE, "scoring_scheme", scheme.pk,
            detail={"name": scheme.name, "items": len(items), "status": scheme.status},
        )  # fmt: skip
    return scheme


def _input_of(scheme: ScoringScheme) -> SchemeInput:
    return SchemeInput(
        name=scheme.name,
        facility_kind=scheme.facility_kind,
        grain=scheme.grain,
        group_id=scheme.group_id,
        note=scheme.note,
        items=[
            ItemInput(i.code, i.weight, i.rule, i.basis, i.name, i.full, i.zero, i.target)
            for i in queries.items_of(scheme)
        ],
    )


def do_set_scheme_status(actor: Actor, scheme_id: int, status: str) -> ScoringScheme:
    """Activate (the items must be valid and total exactly 1000), retire, or set back to
    draft."""
    scheme = _get(scheme_id)
    queries.check_can_manage(actor, scheme.group_id, f"scheme:{scheme_id}")
    if status not in SchemeStatus.values:
        raise DomainError(FieldError("status", "状态应为草稿、启用或停用", "unknown status"))
    with transaction.atomic():
        scheme = _get(scheme_id, lock=True)
        if status == SchemeStatus.ACTIVE:  # the items as they are under the lock
            _validate(_input_of(scheme), scheme=scheme, status=SchemeStatus.ACTIVE)
        before = scheme.status
        scheme.status = status
        scheme.save(update_fields=["status", "updated_at"])
        audit.record(
            actor, audit.Action.UPDATE, "scoring_scheme", scheme.pk,
            detail={"status": status, "before": before},
        )  # fmt: skip
    return scheme


def do_delete_scheme(actor: Actor, scheme_id: int) -> None:
    """Only a draft that was never published can be deleted; others are retired."""
    scheme = _get(scheme_id)
    queries.check_can_manage(actor, scheme.group_id, f"scheme:{scheme_id}")
    if scheme.status != SchemeStatus.DRAFT or scheme.snapshots.exists():
        raise Conflict(
            FieldError(
                "status",
                "只能删除从未发布过的草稿方案；其他方案请停用",
                "only an unpublished draft can be deleted",
            )
        )
    with transaction.atomic():
        name = scheme.name
        scheme.delete()
        audit.record(actor, audit.Action.VOID, "scoring_scheme", scheme_id, detail={"name": name})


def do_publish(actor: Actor, scheme_id: int, period_text: str, reason: str = "") -> ScoreSnapshot:
    """Score the period from the current facts and freeze the result.

    A period already published is refused (409) unless a reason is given; then the previous
    snapshot is kept, marked superseded and linked to the new one. Two publications at once
    are serialised on the scheme's row (and the database allows one current snapshot per
    scheme and period): one wins, the other is refused or, with a reason, supersedes it."""
    scheme = _get(scheme_id)
    queries.check_can_manage(actor, scheme.group_id, f"publish:{scheme_id}")
    period = queries.check_period(scheme, period_text)
    reason = (reason or "").strip()
    errors: list[FieldError] = []
    if scheme.status != SchemeStatus.ACTIVE:
        raise Conflict(FieldError("status", "只有启用中的方案可以发布得分", "scheme not active"))
    if period.end >= timezone.localdate():
        errors.append(
            FieldError(
                "period",
                f"{period.label}尚未结束，不能发布（可先预览）",
                "the period has not ended yet",
            )
        )
    if len(reason) > 500:
        errors.append(FieldError("reason", "原因不能超过 500 字", "reason too long"))
    if errors:
        raise DomainError(errors)
    try:
        with transaction.atomic():
            scheme = _get(scheme_id, lock=True)  # publishers of one scheme queue here
            if scheme.status != SchemeStatus.ACTIVE:
                raise Conflict(FieldError("status", "只有启用中的方案可以发布得分", "not active"))
            previous = (
                ScoreSnapshot.objects.select_for_update()
                .filter(scheme=scheme, period_code=period.code, status=SnapshotStatus.CURRENT)
                .first()
            )
            if previous is not None and not reason:
                when = timezone.localtime(previous.published_at).strftime("%Y-%m-%d %H:%M")
                raise Conflict(
                    FieldError(
                        "reason",
                        f"{period.label}已于 {when} 发布；重新发布须填写原因",
                        "already published: give a reason to publish again",
                        "published",
                    ),
                    extra={"snapshot": previous.pk},
                )
            if previous is not None:  # at most one current snapshot: retire it first
                previous.status = SnapshotStatus.SUPERSEDED
                previous.save(update_fields=["status"])
            snap, n = _write_snapshot(actor, scheme, period, reason)
            if previous is not None:
                previous.superseded_by = snap
                previous.save(update_fields=["superseded_by"])
            audit.record(
                actor, audit.Action.CREATE, "performance_snapshot", snap.pk,
                detail={
                    "scheme": scheme.pk, "period": period.code, "reason": reason,
                    "replaces": previous.pk if previous else None,
                    "facilities": n,
                },
            )  # fmt: skip
    except IntegrityError:
        raise Conflict(
            FieldError("period", "该期得分刚刚已由他人发布，请刷新后再试", "published meanwhile")
        ) from None
    return snap


def _write_snapshot(
    actor: Actor, scheme: ScoringScheme, period: Period, reason: str
) -> tuple[ScoreSnapshot, int]:
    """Compute the scores now and store the snapshot, its facility totals and rows (three
    inserts, bulk). Returns the snapshot and the number of facilities scored."""
    specs = [queries.spec_of(i) for i in queries.items_of(scheme)]
    results = queries.compute(scheme.facility_kind, scheme.group_id, specs, period)
    snap = ScoreSnapshot.objects.create(
        scheme=scheme,
        period_code=period.code,
        period_label=period.label,
        status=SnapshotStatus.CURRENT,
        scheme_name=scheme.name,
        facility_kind=scheme.facility_kind,
        group_id_frozen=scheme.group_id,
        items=[queries.describe_item(s) for s in specs],
        published_at=timezone.now(),
        published_by_id=actor.user_id,
        published_by_name=actor.username,
        reason=reason,
        facts_refreshed_at=queries.last_refresh(),
    )
    scores = FacilityScore.objects.bulk_create(
        [
            FacilityScore(
                snapshot=snap,
                facility_id=r["facility_id"],
                facility_code=r["code"],
                facility_name=r["name"],
                group_id_frozen=r["group_id"],
                group_name=r["group_name"],
                earned=r["earned"],
                available=r["available"],
                normalised=r["normalised"],
                missing=r["missing"],
                rank=r["rank"],
            )
            for r in results
        ]
    )
    ScoreRow.objects.bulk_create(
        [
            ScoreRow(
                score=fs,
                code=row["code"],
                level=row["level"],
                unit_id=row["unit_id"],
                numerator=row["numerator"],
                denominator=row["denominator"],
                value=row["value"],
                target=row["target"],
                weight=row["weight"],
                points=row["points"],
                status=row["status"],
                reason=row["reason"][:200],
            )
            for fs, r in zip(scores, results, strict=True)
            for row in r["rows"]
        ],
        batch_size=2000,
    )
    return snap, len(results)
