"""Pages with the Django test client: who sees what, and the outsider refused."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from yigongti.consults import actions
from yigongti.consults.models import Consultation, DispatchActivity, Secondment


def test_request_page_prefills_from_the_record_and_submits(client_as, resident, county_staff):
    c = client_as("village_doctor")
    page = c.get(f"/consults/new/?resident={resident.mpi_id}")
    assert page.status_code == 200
    body = page.content.decode()
    assert resident.mpi_id in body and f"患者{resident.name}" in body and "知情同意" in body
    post = {
        "resident": resident.mpi_id,
        "urgency": "routine",
        "to_department": f"{county_staff.facility_id}:{county_staff.department_id}",
        "wanted_title": "1",
        "reason": "血糖控制不佳",
        "purpose": "调整胰岛素方案",
        "case_summary": "女，58岁，2型糖尿病8年",
        "consent_signer": "患者本人",
        "requesting_doctor": "王德福",
        "client_key": "page-1",
    }
    # without consent: the field is named on the page, nothing written
    bad = c.post("/consults/new/", post)
    assert bad.status_code == 200 and "书面知情同意" in bad.content.decode()
    assert Consultation.objects.count() == 0
    r = c.post("/consults/new/", {**post, "consent": "on"})
    assert r.status_code == 302, r.content.decode()[:3000]
    x = Consultation.objects.get()
    assert x.wanted_title == 1 and x.to_department_id == county_staff.department_id


def test_outsider_cannot_prefill_a_resident_out_of_scope(client_as, resident):
    page = client_as("outsider_doctor").get(
        f"/consults/new/?resident={resident.mpi_id}", follow=True
    )
    assert page.status_code == 200
    body = page.content.decode()
    assert "不在您的服务范围" in body and resident.name not in body


def test_county_inbox_accept_opinion_then_requester_closes(
    client_as, actor, resident, consult_input
):
    x = actions.do_request_consultation(actor("village_doctor"), resident, consult_input())
    late = actions.do_request_consultation(
        actor("village_doctor"), resident, consult_input(reason="第二次")
    )
    Consultation.objects.filter(pk=late.pk).update(arrange_by=timezone.now() - timedelta(hours=2))
    cd = client_as("county_doctor")
    inbox = cd.get("/consults/").content.decode()
    assert "收到的会诊" in inbox and "超时未安排" in inbox and resident.name in inbox
    assert "超时 1" in inbox
    d = cd.get(f"/consults/{x.pk}/").content.decode()
    assert "受理并安排" in d and "拒绝" in d and "撤销申请" not in d
    cd.post(f"/consults/{x.pk}/act/", {"do": "accept", "expert_id": "", "scheduled_at": ""})
    assert Consultation.objects.get(pk=x.pk).state == "accepted"
    again = cd.post(f"/consults/{x.pk}/act/", {"do": "decline", "reason": "x"}, follow=True)
    assert "不能变更" in again.content.decode()
    empty = cd.post(f"/consults/{x.pk}/act/", {"do": "opinion", "opinion": ""}, follow=True)
    assert "请填写会诊意见" in empty.content.decode()
    cd.post(f"/consults/{x.pk}/act/", {"do": "opinion", "opinion": "建议加用二甲双胍"})
    v = client_as("village_doctor")
    assert str(x.pk) in v.get("/consults/?box=decide").content.decode()
    page = v.get(f"/consults/{x.pk}/").content.decode()
    assert "建议加用二甲双胍" in page and "记录决定并评价" in page
    v.post(
        f"/consults/{x.pk}/act/",
        {"do": "close", "final_decision": "采纳建议", "rating": "4", "rating_note": ""},
    )
    x.refresh_from_db()
    assert x.state == "closed" and x.rating == 4
    for box in ("sent", "overdue", "inbox", "nonsense"):
        assert v.get(f"/consults/?box={box}").status_code == 200
    # the group administrator sees the group's overdue list
    g = client_as("group_admin").get("/consults/").content.decode()
    assert "超时未安排" in g


def test_outsider_and_pharmacist_are_refused(client_as, actor, resident, consult_input):
    x = actions.do_request_consultation(actor("village_doctor"), resident, consult_input())
    o = client_as("outsider_doctor")
    assert o.get(f"/consults/{x.pk}/").status_code == 404
    o.post(f"/consults/{x.pk}/act/", {"do": "cancel", "reason": "x"})
    assert Consultation.objects.get(pk=x.pk).state == "submitted"
    assert resident.name not in o.get("/consults/?box=sent").content.decode()
    assert client_as("pharmacist").get("/consults/").status_code == 403
    assert client_as("commission").get("/consults/").status_code == 403
    assert client_as("county_doctor").get("/dispatch/").status_code == 403
    assert client_as("outsider_doctor").get("/dispatch/new/").status_code == 403


def test_group_admin_manages_the_roster(client_as, actor, county_staff):
    g = client_as("group_admin")
    today = timezone.localdate()
    home = actor("township_doctor").facility_id
    page = g.get("/dispatch/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "每万人口下沉中级及以上职称医师数" in body and "缺失" in body
    assert "陈建国" in g.get("/dispatch/new/").content.decode()
    bad = g.post(
        "/dispatch/new/",
        {
            "staff": county_staff.pk,
            "to_facility": home,
            "kind": "secondment",
            "starts_on": str(today),
            "ends_on": str(today - timedelta(days=1)),
        },
    )
    assert bad.status_code == 200 and "结束日期早于开始日期" in bad.content.decode()
    assert Secondment.objects.count() == 0
    r = g.post(
        "/dispatch/new/",
        {
            "staff": county_staff.pk,
            "to_facility": home,
            "kind": "secondment",
            "starts_on": str(today - timedelta(days=10)),
            "ends_on": str(today + timedelta(days=170)),
        },
    )
    assert r.status_code == 302
    s = Secondment.objects.get()
    d = g.post(
        f"/dispatch/{s.pk}/",
        {"do": "activity", "kind": "clinic", "day": str(today), "patients_seen": "17"},
    )
    assert d.status_code == 302
    assert DispatchActivity.objects.get().patients_seen == 17
    no = g.post(f"/dispatch/{s.pk}/", {"do": "activity", "kind": "training", "day": str(today)})
    assert no.status_code == 200 and "请填写参加人数" in no.content.decode()
    body = g.get("/dispatch/").content.decode()
    assert "陈建国" in body and "接诊 17" in body and "人/万人" in body
    assert g.get(f"/dispatch/{s.pk}/").status_code == 200
    g.post(f"/dispatch/{s.pk}/", {"do": "end", "ends_on": str(today)})
    s.refresh_from_db()
    assert s.ends_on == today
