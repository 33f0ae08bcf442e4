from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from yigongti.diagnostics.models import Centre, CriticalValue, Study


def _body(centre: Centre, resident, **kw):
    b = {
        "mpi_id": resident.mpi_id,
        "centre_id": centre.pk,
        "exam_code": "DR-CHEST",
        "exam_name": "胸部正位片",
        "body_part": "胸部",
        "urgency": 0,
        "clinical_info": "咳嗽发热3天",
        "client_key": "k1",
    }
    b.update(kw)
    return b


def test_api_request_queue_claim_report_critical_ack(api_as, centres, resident):
    v, c = api_as("village_doctor"), api_as("county_doctor")
    img = centres["imaging"]
    r = v.post("/api/v1/diagnostics/studies", _body(img, resident), content_type="application/json")
    assert r.status_code == 201, r.content
    sid = r.json()["id"]
    again = v.post(
        "/api/v1/diagnostics/studies", _body(img, resident), content_type="application/json"
    )
    assert again.status_code == 201 and again.json()["id"] == sid
    assert [x["id"] for x in v.get("/api/v1/diagnostics/centres").json()] == [
        x.pk for x in Centre.objects.order_by("kind", "pk")
    ]
    q = c.get(f"/api/v1/diagnostics/centres/{img.pk}/queue").json()
    assert [x["id"] for x in q["items"]] == [sid] and q["next"] is None
    assert c.post(f"/api/v1/diagnostics/studies/{sid}/claim").status_code == 200
    again = api_as("group_admin").post(f"/api/v1/diagnostics/studies/{sid}/claim")
    assert again.status_code == 409 and again.json()["detail"][0]["loc"][-1] == "state"
    bad = c.post(
        f"/api/v1/diagnostics/studies/{sid}/report",
        {"findings": "右下肺片状影", "impression": "", "critical": True},
        content_type="application/json",
    )
    assert bad.status_code == 422
    assert {e["loc"][-1] for e in bad.json()["detail"]} == {"impression", "critical_text"}
    ok = c.post(
        f"/api/v1/diagnostics/studies/{sid}/report",
        {
            "findings": "右侧气胸，肺组织压缩约50%",
            "impression": "右侧气胸",
            "critical": True,
            "critical_text": "张力性气胸可能",
        },
        content_type="application/json",
    )
    assert ok.status_code == 200, ok.content
    d = ok.json()
    assert d["state"] == "reported" and d["reports"][0]["critical"]
    cv_id = d["critical_value"]["id"]
    work = v.get("/api/v1/diagnostics/critical-values").json()
    assert [x["id"] for x in work] == [cv_id]
    a1 = v.post(
        f"/api/v1/diagnostics/critical-values/{cv_id}/acknowledge",
        {},
        content_type="application/json",
    )
    a2 = v.post(
        f"/api/v1/diagnostics/critical-values/{cv_id}/acknowledge",
        {},
        content_type="application/json",
    )
    assert a1.status_code == a2.status_code == 200
    assert a1.json()["acknowledged_at"] == a2.json()["acknowledged_at"]
    res = v.post(
        f"/api/v1/diagnostics/critical-values/{cv_id}/resolve",
        {"action_taken": "已通知患者急诊转县医院"},
        content_type="application/json",
    )
    assert res.status_code == 200 and res.json()["resolved_at"]
    assert v.get(f"/api/v1/diagnostics/studies/{sid}").json()["critical_value"]["resolved_by"]


def test_api_recognition_warning_then_reason(api_as, centres, resident, reported):
    s = reported("lab")
    Study.objects.filter(pk=s.pk).update(reported_at=timezone.now() - timedelta(days=3))
    v = api_as("village_doctor")
    body = _body(centres["lab"], resident, exam_code="CBC", exam_name="血常规", client_key="")
    w = v.post("/api/v1/diagnostics/studies", body, content_type="application/json")
    assert w.status_code == 200, w.content
    assert w.json()["prior_study_id"] == s.pk and w.json()["window_days"] == 30
    assert Study.objects.count() == 1
    body["still_needed_reason"] = "发热加重需复查"
    ok = v.post("/api/v1/diagnostics/studies", body, content_type="application/json")
    assert ok.status_code == 201 and ok.json()["prior_study_id"] == s.pk


def test_api_outsider_bad_input_and_permissions(api_as, centres, resident, ask):
    v, o = api_as("village_doctor"), api_as("outsider_doctor")
    bad = v.post(
        "/api/v1/diagnostics/studies",
        _body(centres["imaging"], resident, exam_name="", body_part="", urgency=7),
        content_type="application/json",
    )
    assert bad.status_code == 422
    assert {e["loc"][-1] for e in bad.json()["detail"]} == {"exam_name", "body_part", "urgency"}
    assert Study.objects.count() == 0
    s = ask("ecg").study
    assert o.get(f"/api/v1/diagnostics/studies/{s.pk}").status_code == 404
    assert (
        o.post(
            f"/api/v1/diagnostics/studies/{s.pk}/cancel",
            {"reason": "x"},
            content_type="application/json",
        ).status_code
        == 404
    )
    assert (
        o.post(
            "/api/v1/diagnostics/studies",
            _body(centres["ecg"], resident),
            content_type="application/json",
        ).status_code
        == 404
    )
    assert api_as("pharmacist").get("/api/v1/diagnostics/studies").status_code == 403
    assert v.post(f"/api/v1/diagnostics/studies/{s.pk}/claim").status_code == 403
    assert o.get(f"/api/v1/diagnostics/centres/{centres['ecg'].pk}/queue").status_code == 403
    assert (
        api_as("county_doctor")
        .get(f"/api/v1/diagnostics/centres/{centres['ecg'].pk}/queue")
        .json()["items"]
    )


def test_api_quality_and_templates(api_as, actor, centres, reported):
    from yigongti.diagnostics import actions

    g = actor("group_admin")
    for i, (ok, grade) in enumerate([(True, "A"), (True, "B"), (False, "A"), (True, "C")]):
        s = reported("imaging", exam_code=f"DR{i}")
        actions.do_review_study(g, s.pk, consistent=ok, film_grade=grade)
    s = reported("ecg")
    actions.do_review_study(g, s.pk, consistent=True)
    q = api_as("commission").get("/api/v1/diagnostics/quality").json()
    rows = {r["kind"]: r for r in q["by_centre"]}
    assert (rows["imaging"]["consistent"], rows["imaging"]["reviewed"]) == (3, 4)
    assert rows["imaging"]["consistency_rate"] == 0.75
    assert (rows["imaging"]["grade_a"], rows["imaging"]["graded"]) == (2, 4)
    assert rows["ecg"]["grade_a_rate"] is None  # no graded films: missing, not zero
    assert "lab" not in rows
    assert api_as("pharmacist").get("/api/v1/diagnostics/quality").status_code == 403
    c = api_as("county_doctor")
    t = c.post(
        f"/api/v1/diagnostics/centres/{centres['imaging'].pk}/templates",
        {"name": "正常胸片", "findings": "双肺纹理清晰，心影不大", "impression": "胸部未见异常"},
        content_type="application/json",
    )
    assert t.status_code == 201
    assert [
        x["name"]
        for x in c.get(f"/api/v1/diagnostics/centres/{centres['imaging'].pk}/templates").json()
    ] == ["正常胸片"]
    assert (
        api_as("township_doctor")
        .post(
            f"/api/v1/diagnostics/centres/{centres['imaging'].pk}/templates",
            {"name": "x", "findings": "y"},
            content_type="application/json",
        )
        .status_code
        == 403
    )


def test_api_group_admin_opens_a_centre(api_as, actor):
    g = api_as("group_admin")
    host = actor("county_doctor").facility_id
    body = {"name": "远程心电中心", "kind": "ecg", "facility_id": host, "ack_minutes": 15}
    r = g.post("/api/v1/diagnostics/centres", body, content_type="application/json")
    assert r.status_code == 201 and r.json()["ack_minutes"] == 15
    dup = g.post("/api/v1/diagnostics/centres", body, content_type="application/json")
    assert dup.status_code == 409
    bad = g.post(
        "/api/v1/diagnostics/centres",
        {
            "name": "",
            "kind": "xray",
            "facility_id": actor("village_doctor").facility_id,
            "ack_minutes": 0,
        },
        content_type="application/json",
    )
    assert bad.status_code == 422
    assert {e["loc"][-1] for e in bad.json()["detail"]} == {
        "name",
        "kind",
        "facility_id",
        "ack_minutes",
    }
    assert (
        api_as("county_doctor")
        .post("/api/v1/diagnostics/centres", body, content_type="application/json")
        .status_code
        == 403
    )
    assert Centre.objects.count() == 1
    assert CriticalValue.objects.count() == 0
