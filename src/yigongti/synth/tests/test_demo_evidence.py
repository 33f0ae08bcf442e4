"""The demo's evidence for the qualitative indicators: filed by the group administrator,
reviewed by the commission, shown as judgements, and filed once however often it runs."""

from __future__ import annotations

from yigongti.indicators import evidence
from yigongti.indicators.models import EvidenceItem
from yigongti.indicators.rules import parse_period
from yigongti.synth.evidence import load_demo_evidence


def test_demo_evidence_is_filed_reviewed_and_idempotent(actor):
    assert load_demo_evidence("2026H1") == 3
    assert load_demo_evidence("2026H1") == 0
    items = EvidenceItem.objects.filter(period="2026H1")
    assert items.count() == 3
    assert all(a.data[:5] == b"%PDF-" for it in items for a in it.attachments.all())
    group = actor("group_admin").group_id
    status = {
        r["code"]: r["status_label"]
        for r in evidence.evidence_status(parse_period("2026H1"), group)
    }
    assert status == {"tight_resources": "达标", "tight_decision": "基本达标",
                      "tight_services": "待评审"}  # fmt: skip
