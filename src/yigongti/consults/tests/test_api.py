from __future__ import annotations

from datetime import date, datetime, timedelta

from django.utils import timezone

from yigongti.consults.models import Consultation, Secondment


def _body(resident, county_staff, **kw):
    body = {
        "mpi_id": resident.mpi_id,
        "to_facility_id": county_staff.facility_id,
        "to_department_id": county_staff.department_id,
        "urgency": "emergency",
        "consent": True,
        "consent_signer": "患者之子",
        "reason": "胸痛2小时，心电图ST段改变",
        "purpose": "是否需要急诊转运及溶栓",
        "case_summary": "男，70岁",
        "wanted_title": 1,
        "client_key": "api-1",
    }
    body.update(kw)
    return body


def test_api_journey_and_409(api_as, resident, county_staff):
    v, c = api_as("village_doctor"), api_as("county_doctor")
    r = v.post("/api/v1/consults", _body(resident, county_staff), content_type="application/json")
    assert r.status_code == 201, r.content
    cid = r.json()["id"]
    again = v.post(
        "/api/v1/consults", _body(resident, county_staff), content_type="application/json"
    )
    assert again.status_code == 201 and again.json()["id"] == cid
    inbox = c.get("/api/v1/consults?box=inbox").json()
    assert inbox[0]["id"] == cid and inbox[0]["overdue"] == ""
    ok = c.post(f"/api/v1/consults/{cid}/accept", {}, content_type="application/json")
    assert ok.status_code == 200 and ok.json()["state"] == "accepted", ok.content
    bad = c.post(
        f"/api/v1/consults/{cid}/decline", {"reason": "x"}, content_type="application/json"
    )
    assert bad.status_code == 409 and bad.json()["detail"][0]["loc"][-1] == "state"
    empty = c.post(
        f"/api/v1/consults/{cid}/opinion", {"opinion": " "}, content_type="application/json"
    )
    assert empty.status_code == 422 and empty.json()["detail"][0]["loc"][-1] == "opinion"
    c.post(
        f"/api/v1/consults/{cid}/opinion",
        {"opinion": "考虑急性下壁心肌梗死，立即转县医院胸痛中心"},
        content_type="application/json",
    )
    assert [x["id"] for x in v.get("/api/v1/consults?box=decide").json()] == [cid]
    done = v.post(
        f"/api/v1/consults/{cid}/close",
        {"final_decision": "已按建议急诊上转", "rating": 5},
        content_type="application/json",
    )
    assert done.status_code == 200, done.content
    d = v.get(f"/api/v1/consults/{cid}").json()
    assert d["state"] == "closed" and d["rating"] == 5
    assert [s["to_state"] for s in d["steps"]] == ["submitted", "accepted", "answered", "closed"]


def test_api_bad_input_outsider_and_permissions(api_as, resident, county_staff):
    v, o = api_as("village_doctor"), api_as("outsider_doctor")
    r = v.post(
        "/api/v1/consults",
        _body(resident, county_staff, consent=False, reason="", client_key=""),
        content_type="application/json",
    )
    assert r.status_code == 422
    assert {tuple(e["loc"]) for e in r.json()["detail"]} >= {
        ("body", "consent"),
        ("body", "reason"),
    }
    assert Consultation.objects.count() == 0
    # the outsider cannot request for this resident, nor read a request
    assert (
        o.post(
            "/api/v1/consults", _body(resident, county_staff), content_type="application/json"
        ).status_code
        == 404
    )
    cid = v.post(
        "/api/v1/consults", _body(resident, county_staff), content_type="application/json"
    ).json()["id"]
    assert o.get(f"/api/v1/consults/{cid}").status_code == 404
    assert (
        o.post(f"/api/v1/consults/{cid}/accept", {}, content_type="application/json").status_code
        == 404
    )
    assert o.get(f"/api/v1/consults/case-summary?mpi_id={resident.mpi_id}").status_code == 404
    assert api_as("pharmacist").get("/api/v1/consults").status_code == 403
    summary = v.get(f"/api/v1/consults/case-summary?mpi_id={resident.mpi_id}")
    assert summary.status_code == 200 and resident.name in summary.json()["case_summary"]


def test_api_dispatch(api_as, actor, county_staff):
    g = api_as("group_admin")
    today = timezone.localdate()
    body = {
        "staff_id": county_staff.pk,
        "to_facility_id": actor("township_doctor").facility_id,
        "kind": "secondment",
        "starts_on": str(today - timedelta(days=30)),
        "ends_on": str(today + timedelta(days=150)),
    }
    r = g.post("/api/v1/dispatch/secondments", body, content_type="application/json")
    assert r.status_code == 201, r.content
    sid = r.json()["id"]
    assert r.json()["title"] == "主治医师"
    clash = g.post("/api/v1/dispatch/secondments", body, content_type="application/json")
    assert clash.status_code == 409
    a = g.post(
        f"/api/v1/dispatch/secondments/{sid}/activities",
        {"kind": "teaching_round", "day": str(today), "attendees": 12},
        content_type="application/json",
    )
    assert a.status_code == 201, a.content
    bad = g.post(
        f"/api/v1/dispatch/secondments/{sid}/activities",
        {"kind": "clinic", "day": str(today)},
        content_type="application/json",
    )
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "patients_seen"
    assert [x["id"] for x in g.get(f"/api/v1/dispatch/secondments?on={today}").json()] == [sid]
    assert len(g.get(f"/api/v1/dispatch/secondments/{sid}").json()["activities"]) == 1
    gid = actor("group_admin").group_id
    ind = g.get(f"/api/v1/dispatch/indicator?area=group&area_id={gid}").json()
    assert ind["numerator"] == 1 and ind["denominator"] > 0 and ind["value"] > 0
    assert api_as("commission").get("/api/v1/dispatch/indicator").status_code == 200
    assert api_as("pharmacist").get("/api/v1/dispatch/indicator").status_code == 403
    assert api_as("county_doctor").get("/api/v1/dispatch/secondments").status_code == 403
    assert (
        api_as("county_doctor")
        .post("/api/v1/dispatch/secondments", body, content_type="application/json")
        .status_code
        == 403
    )
    end = g.post(
        f"/api/v1/dispatch/secondments/{sid}/end",
        {"ends_on": str(today)},
        content_type="application/json",
    )
    assert end.status_code == 200 and end.json()["ends_on"] == str(today)
    assert Secondment.objects.get(pk=sid).ends_on == today
    assert date.fromisoformat(ind["until"]) == today


def test_api_policy(api_as, actor, county_staff, resident):
    fid = county_staff.facility_id
    v, g = api_as("village_doctor"), api_as("group_admin")
    assert v.get(f"/api/v1/consults/policy/{fid}").json()["arrange_hours"] == 48
    body = {"arrange_hours": 24, "finish_working_days": 2, "emergency_hours": 6}
    assert (
        v.put(f"/api/v1/consults/policy/{fid}", body, content_type="application/json").status_code
        == 403
    )
    bad = g.put(
        f"/api/v1/consults/policy/{fid}",
        {**body, "emergency_hours": 0, "finish_working_days": 99},
        content_type="application/json",
    )
    assert bad.status_code == 422
    assert {e["loc"][-1] for e in bad.json()["detail"]} == {
        "emergency_hours",
        "finish_working_days",
    }
    township = actor("township_doctor").facility_id
    wrong = g.put(f"/api/v1/consults/policy/{township}", body, content_type="application/json")
    assert wrong.status_code == 422 and wrong.json()["detail"][0]["loc"][-1] == "facility_id"
    other = actor("outsider_doctor").facility_id  # a facility of another group
    assert (
        g.put(f"/api/v1/consults/policy/{other}", body, content_type="application/json").status_code
        == 404
    )
    ok = g.put(f"/api/v1/consults/policy/{fid}", body, content_type="application/json")
    assert ok.status_code == 200 and ok.json()["emergency_hours"] == 6
    r = v.post(
        "/api/v1/consults",
        _body(resident, county_staff, client_key="p"),
        content_type="application/json",
    ).json()
    assert (
        datetime.fromisoformat(r["finish_by"]) - datetime.fromisoformat(r["submitted_at"])
    ) == timedelta(hours=6)
