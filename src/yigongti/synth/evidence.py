"""Demo evidence (佐证材料) for the qualitative 紧密型 indicators: the demo group administrator
files one item per indicator for the last ended half-year, each with a one-page PDF; the
commission reviews two of them (达标, 基本达标) and leaves the third waiting. The dashboard,
the report and the 1000-point scoring then show judgements instead of nothing."""

from __future__ import annotations

import io

from django.contrib.auth import get_user_model

from yigongti.accounts.actors import actor_for
from yigongti.indicators import evidence
from yigongti.indicators.models import EvidenceItem

ITEMS = (
    ("tight_resources", "人财物统一管理制度及执行台账", "met", ""),
    ("tight_decision", "医共体理事会议事规则与会议纪要", "mostly", "会议纪要缺少成员单位签字"),
    ("tight_services", "双向转诊与检查检验结果互认落实情况", None, ""),
)


def _pdf(title: str) -> bytes:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4)
    c.setFont("STSong-Light", 16)
    c.drawString(72, 760, title)
    c.setFont("STSong-Light", 11)
    c.drawString(72, 730, "示例佐证材料（演示数据）")
    c.save()
    return buf.getvalue()


def load_demo_evidence(period: str) -> int:
    """File and review the demo items for `period` (e.g. 2026H1); idempotent."""
    users = get_user_model().objects
    admin = actor_for(users.get(username="group_admin"))
    reviewer = actor_for(users.get(username="commission"))
    if admin is None or reviewer is None or admin.group_id is None:
        return 0
    made = 0
    for code, title, judgement, comment in ITEMS:
        key = f"demo-{code}-{period}"
        if EvidenceItem.objects.filter(client_key=key).exists():
            continue
        item = evidence.do_create_evidence(
            admin,
            code=code,
            group_id=admin.group_id,
            period=period,
            title=title,
            description="演示数据：医共体上传的佐证材料。",
            files=[evidence.Upload.of(f"{title}.pdf", _pdf(title))],
            submit=True,
            client_key=key,
        )
        if judgement:
            evidence.do_review_evidence(reviewer, item.pk, judgement=judgement, comment=comment)
        made += 1
    return made
