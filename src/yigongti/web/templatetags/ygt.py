"""Display helpers for the pages: age, masking, QR codes as inline SVG, labels."""

from __future__ import annotations

from datetime import date
from typing import Any

import segno
from django import template
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from yigongti.accounts.rules import ROLE_LABELS
from yigongti.core.dates import age_on
from yigongti.residents import rules

register = template.Library()

ACTION_LABELS = {
    "read": "查看",
    "search": "检索",
    "create": "新建",
    "update": "修改",
    "merge": "合并",
    "unmerge": "撤销合并",
    "denied": "拒绝访问",
    "login": "登录",
    "login_failed": "登录失败",
    "logout": "退出登录",
    "export": "导出",
    "resolve": "扫码",
    "amend": "更正",
    "void": "作废",
    "import": "导入",
}


@register.filter
def age(birth_date: date | None) -> str:
    if birth_date is None:
        return ""
    return f"{age_on(birth_date, timezone.localdate())}岁"


@register.filter
def masked_id(value: str | None) -> str:
    return rules.mask_id_number(value) if value else "—"


@register.filter
def masked_phone(value: str | None) -> str:
    return rules.mask_phone(value) if value else "—"


@register.filter
def role_label(role: str) -> str:
    return ROLE_LABELS.get(role, {"anonymous": "未登录", "system": "系统"}.get(role, role))


@register.filter
def action_label(action: str) -> str:
    return ACTION_LABELS.get(action, action)


@register.filter
def qr_svg(text: str, scale: int = 4) -> SafeString:
    """A QR code as inline SVG (segno writes only its own markup, nothing from the text)."""
    svg = segno.make(text, error="m").svg_inline(
        scale=int(scale), dark="#111", light="#fff", title="电子健康卡二维码"
    )
    return mark_safe(svg)  # noqa: S308


@register.filter
def get_item(mapping: dict[str, Any], key: str) -> Any:
    return mapping.get(key)


@register.filter
def static_qr(card_id: str) -> str:
    """The static QR text of a health card ("CARD_ID:1")."""
    return rules.static_qr_text(card_id)


OBJECT_LABELS = {
    "resident": "居民",
    "resident_list": "居民列表",
    "health_card": "电子健康卡",
    "duplicate_candidate": "疑似重复",
    "user": "用户",
    "facility": "机构",
    "department": "科室",
    "staff": "人员",
    "grouping": "协作组织",
    "consultation": "远程会诊",
    "secondment": "专家下沉登记",
    "dispatch_activity": "下沉工作记录",
    "consult_policy": "会诊时限",
    "study": "诊断中心检查",
    "critical_value": "危急值",
    "study_report": "诊断报告",
    "study_review": "报告质控",
    "diag_centre": "诊断中心",
    "diag_template": "报告模板",
}


@register.filter
def object_label(object_type: str) -> str:
    return OBJECT_LABELS.get(object_type, object_type)


@register.filter
def detail_text(detail: object) -> str:
    """An audit entry's detail as short "key=value" pairs (producers mask personal data)."""
    if not isinstance(detail, dict) or not detail:
        return ""
    parts = []
    for key, value in detail.items():
        shown = "、".join(map(str, value)) if isinstance(value, list) else str(value)
        parts.append(f"{key}={shown}")
    return " ".join(parts)[:200]
