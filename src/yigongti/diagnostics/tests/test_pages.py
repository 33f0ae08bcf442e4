from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from yigongti.diagnostics.models import CriticalValue, ReportTemplate, Study


def test_request_page_with_recognition_warning(client_as, centres, resident, reported):
    c = client_as("village_doctor")
    assert c.get(f"/diagnostics/new/?resident={resident.mpi_id}").status_code == 200
    form = {
        "resident": resident.mpi_id,
        "centre_id": centres["ecg"].pk,
        "exam_code": "ECG12",
        "exam_name": "常规12导联心电图",
        "urgency": 1,
        "requesting_doctor": "村医",
        "client_key": "p1",
    }
    r = c.post("/diagnostics/new/", form)
    assert r.status_code == 302, r.content.decode()[:2000]
    s = Study.objects.get()
    # bad input: error on the page, nothing written
    bad = c.post("/diagnostics/new/", {**form, "exam_name": "", "client_key": "p2"})
    assert bad.status_code == 200 and "检查项目" in bad.content.decode()
    assert Study.objects.count() == 1
    # a reported study of the same code → warning naming it
    done = reported("ecg")
    Study.objects.filter(pk=done.pk).update(reported_at=timezone.now() - timedelta(days=2))
    w = c.post("/diagnostics/new/", {**form, "client_key": "p3"})
    body = w.content.decode()
    assert w.status_code == 200 and "结果互认提示" in body and f"{done.pk}号" in body
    ok = c.post(
        "/diagnostics/new/", {**form, "client_key": "p4", "still_needed_reason": "胸痛再发"}
    )
    assert ok.status_code == 302
    assert Study.objects.exclude(pk__in=[s.pk, done.pk]).get().still_needed_reason == "胸痛再发"


def test_reader_queue_report_with_template_and_requester_acknowledges(client_as, centres, ask):
    s = ask("imaging", urgency=0).study
    ReportTemplate.objects.create(
        centre=centres["imaging"], name="正常胸片", findings="双肺纹理清晰", impression="未见异常"
    )
    cd = client_as("county_doctor")
    q = cd.get(f"/diagnostics/queue/?centre={centres['imaging'].pk}").content.decode()
    assert "急诊" in q and "领取" in q
    cd.post(f"/diagnostics/{s.pk}/act/", {"do": "claim"})
    t = ReportTemplate.objects.get()
    page = cd.get(f"/diagnostics/{s.pk}/?template={t.pk}").content.decode()
    assert "双肺纹理清晰" in page and "签发报告" in page
    cd.post(
        f"/diagnostics/{s.pk}/act/",
        {
            "do": "report",
            "findings": "右侧气胸",
            "impression": "右侧气胸",
            "critical": "on",
            "critical_text": "气胸压缩50%",
            "template_id": t.pk,
        },
    )
    assert Study.objects.get(pk=s.pk).state == "reported"
    v = client_as("village_doctor")
    home = v.get("/diagnostics/").content.decode()
    assert "气胸压缩50%" in home and "未确认" in home
    cv = CriticalValue.objects.get()
    v.post(f"/diagnostics/{s.pk}/act/", {"do": "ack", "cv": cv.pk})
    v.post(f"/diagnostics/{s.pk}/act/", {"do": "resolve", "cv": cv.pk, "action_taken": "已转诊"})
    cv.refresh_from_db()
    assert cv.acknowledged_at and cv.resolved_at
    g = client_as("group_admin")
    g.post(f"/diagnostics/{s.pk}/act/", {"do": "review", "consistent": "yes", "film_grade": "A"})
    assert Study.objects.get(pk=s.pk).state == "reviewed"
    qual = g.get("/diagnostics/quality/").content.decode()
    assert "100%" in qual and "1/1" in qual


def test_outsider_and_permissions_on_pages(client_as, ask):
    s = ask("ecg").study
    assert client_as("outsider_doctor").get(f"/diagnostics/{s.pk}/").status_code == 404
    assert client_as("pharmacist").get("/diagnostics/").status_code == 403
    assert client_as("pharmacist").get(f"/diagnostics/{s.pk}/").status_code == 403
    assert client_as("village_doctor").get("/diagnostics/queue/").status_code == 403
    assert client_as("commission").get("/diagnostics/quality/").status_code == 200
    r = client_as("outsider_doctor").post(
        f"/diagnostics/{s.pk}/act/", {"do": "cancel", "reason": "x"}
    )
    assert r.status_code == 404
    assert Study.objects.get(pk=s.pk).state == "requested"
