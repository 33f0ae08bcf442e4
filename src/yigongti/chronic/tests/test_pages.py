"""The Chinese pages: register, follow-up form with its classification, worklist, screening,
indicators with drill-down, devices and quarantine."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from yigongti.chronic.actions import (
    DeviceInput,
    FollowupInput,
    do_record_followup,
    do_register_device,
)
from yigongti.chronic.ingest import ingest_reading
from yigongti.chronic.models import Device, Followup, Registration

from .helpers import enrol, residents_of


def test_enrol_on_the_register_page_then_follow_up_and_see_the_classification(client_as, actor):
    doc = actor("village_doctor")
    (r,) = residents_of(doc)
    c = client_as("village_doctor")
    assert c.get("/chronic/registers/").status_code == 200
    resp = c.post(
        "/chronic/registers/",
        {
            "mpi_id": r.mpi_id,
            "disease": "hypertension",
            "diagnosed_on": timezone.localdate().isoformat(),
            "diagnosis_source": "screening",
            "level": "1",
        },
    )
    assert resp.status_code == 302
    reg = Registration.objects.get(resident=r, disease="hypertension")
    assert c.get(f"/chronic/registers/{reg.pk}/").status_code == 200
    form = c.get(f"/chronic/registers/{reg.pk}/followups/new/")
    assert "急症征象" in form.content.decode()
    resp = c.post(
        f"/chronic/registers/{reg.pk}/followups/new/",
        {
            "followup_date": timezone.localdate().isoformat(),
            "method": "clinic",
            "sbp": "186",
            "dbp": "100",
            "adverse_reaction": "none",
            "complication": "none",
            "signs": ["chest_tightness"],
        },
    )
    html = resp.content.decode()
    assert resp.status_code == 201, html
    assert "控制不满意" in html and "发起紧急转诊" in html and "/referrals/new/?resident=" in html
    assert Followup.objects.filter(registration=reg).count() == 1


def test_bad_followup_comes_back_with_the_field_marked(client_as, actor):
    doc = actor("village_doctor")
    (r,) = residents_of(doc)
    reg = enrol(doc, r)
    resp = client_as("village_doctor").post(
        f"/chronic/registers/{reg.pk}/followups/new/",
        {
            "followup_date": timezone.localdate().isoformat(),
            "method": "clinic",
            "sbp": "999",
            "dbp": "5",
            "adverse_reaction": "none",
            "complication": "none",
        },
    )
    assert resp.status_code == 422
    assert "收缩压" in resp.content.decode()
    assert not Followup.objects.filter(registration=reg).exists()


def test_worklist_screening_and_indicator_pages(client_as, actor):
    doc = actor("village_doctor")
    (r,) = residents_of(doc)
    reg = enrol(doc, r)
    year = timezone.localdate().year
    do_record_followup(
        doc,
        reg,
        FollowupInput(followup_date=timezone.localdate() - timedelta(days=30), sbp=150, dbp=92),
    )
    c = client_as("village_doctor")
    page = c.get("/chronic/")
    assert page.status_code == 200 and r.name in page.content.decode()
    for which in ("due", "confirm", "high_risk"):
        assert c.get(f"/chronic/screening/?list={which}").status_code == 200
    ind = c.get(f"/chronic/indicators/?disease=hypertension&by=village&start={year}-01-01")
    assert ind.status_code == 200 and "规范管理率" in ind.content.decode()
    drill = c.get(
        f"/chronic/indicators/residents/?disease=hypertension&by=village&unit={r.village_id}&measure=norm&part=denominator&start={year}-01-01"
    )
    assert drill.status_code == 200 and r.name in drill.content.decode()
    assert r.doc_number not in drill.content.decode() or not r.doc_number


def test_outsider_and_pharmacist_are_kept_out(client_as, actor):
    doc = actor("village_doctor")
    (r,) = residents_of(doc)
    reg = enrol(doc, r)
    assert client_as("outsider_doctor").get(f"/chronic/registers/{reg.pk}/").status_code == 404
    assert (
        client_as("outsider_doctor").get(f"/chronic/registers/{reg.pk}/followups/new/").status_code
        == 404
    )
    assert client_as("pharmacist").get("/chronic/").status_code == 403
    assert client_as("pharmacist").get("/devices/").status_code == 403
    assert client_as("commission").get("/chronic/indicators/").status_code == 200


def test_device_pages_register_bind_and_assign_quarantine(client_as, actor):
    doc = actor("village_doctor")
    (r,) = residents_of(doc)
    c = client_as("village_doctor")
    resp = c.post("/devices/", {"serial": "BP-P-1", "type": "bp_meter", "mpi_id": r.mpi_id})
    assert resp.status_code == 200 and "仅显示一次" in resp.content.decode()
    assert Device.objects.get(serial="BP-P-1").resident_id == r.pk
    assert c.get("/devices/BP-P-1/").status_code == 200
    assert c.post("/devices/BP-P-1/", {"action": "unbind"}).status_code == 302
    do_register_device(doc, DeviceInput(serial="BP-P-2", type="bp_meter"))
    res = ingest_reading(
        {
            "serial": "LOST-P",
            "type": "bp_meter",
            "measured_at": (timezone.now() - timedelta(minutes=3)).isoformat(),
            "systolic": 130,
            "diastolic": 80,
        }
    )
    q = c.get("/devices/quarantine/")
    assert "LOST-P" in q.content.decode()
    resp = c.post(
        "/devices/quarantine/", {"reading": res.record_id, "action": "assign", "mpi_id": r.mpi_id}
    )
    assert resp.status_code == 302
    assert "LOST-P" not in c.get("/devices/quarantine/").content.decode().split("最近拒收")[0]
    assert client_as("outsider_doctor").get("/devices/BP-P-2/").status_code == 404


def test_nav_shows_the_entries_by_permission(client_as):
    html = client_as("village_doctor").get("/chronic/").content.decode()
    assert "慢病随访" in html and "家用设备" in html
    html = client_as("commission").get("/chronic/indicators/").content.decode()
    assert "慢病指标" in html and "慢病随访" not in html


def test_followup_preview_shows_the_classification_before_saving(client_as, actor):
    doc = actor("village_doctor")
    (r,) = residents_of(doc)
    reg = enrol(doc, r)
    c = client_as("village_doctor")
    html = c.get(f"/chronic/registers/{reg.pk}/followups/preview/?sbp=140&dbp=80").content.decode()
    assert "控制不满意" in html and "紧急转诊" not in html
    html = c.get(f"/chronic/registers/{reg.pk}/followups/preview/?sbp=182&dbp=80").content.decode()
    assert "紧急转诊" in html
    assert not Followup.objects.filter(registration=reg).exists()
    out = client_as("outsider_doctor").get(f"/chronic/registers/{reg.pk}/followups/preview/?sbp=1")
    assert out.status_code == 404
