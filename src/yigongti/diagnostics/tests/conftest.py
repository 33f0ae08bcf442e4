from __future__ import annotations

import pytest

from yigongti.diagnostics import actions
from yigongti.diagnostics.models import Centre, CentreKind
from yigongti.residents.models import Resident
from yigongti.residents.queries import residents_visible_to


@pytest.fixture
def centres(actor) -> dict[str, Centre]:
    """One centre of each kind at the county doctor's hospital (group 0's lead)."""
    host = actor("county_doctor").facility_id
    return {
        k: Centre.objects.create(name=f"{label}中心", kind=k, facility_id=host)
        for k, label in CentreKind.choices
    }


@pytest.fixture
def resident(actor) -> Resident:
    return residents_visible_to(actor("village_doctor")).order_by("pk").first()  # type: ignore[return-value]


@pytest.fixture
def ask(actor, centres, resident):
    """Request a study as the village doctor (or `who`) and return the study."""

    def make(kind: str = "ecg", who: str = "village_doctor", **kw):
        base = {
            "centre_id": centres[kind].pk,
            "exam_code": {"ecg": "ECG12", "imaging": "DR-CHEST", "lab": "CBC", "pathology": "HP"}[
                kind
            ],
            "exam_name": {
                "ecg": "常规12导联心电图",
                "imaging": "胸部正位片",
                "lab": "血常规",
                "pathology": "组织病理",
            }[kind],
            "body_part": "胸部" if kind == "imaging" else "",
            "clinical_info": "胸闷2天",
        }
        base.update(kw)
        res = actions.do_request_study(actor(who), resident, actions.StudyInput(**base))
        return res

    return make


@pytest.fixture
def reported(actor, ask):
    """A study claimed and reported by the county doctor."""

    def make(kind: str = "ecg", critical: bool = False, **kw):
        s = ask(kind, **kw).study
        c = actor("county_doctor")
        actions.do_claim_study(c, s.pk)
        actions.do_report_study(
            c,
            s.pk,
            actions.ReportInput(
                findings="窦性心律，ST段抬高" if critical else "窦性心律",
                impression="急性下壁心肌梗死可能" if critical else "正常心电图",
                critical=critical,
                critical_text="ST段抬高，疑急性心梗" if critical else "",
            ),
        )
        s.refresh_from_db()
        return s

    return make
