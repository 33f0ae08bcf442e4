from __future__ import annotations

from urllib.parse import urlencode

from yigongti.referrals import actions
from yigongti.referrals.models import Referral


def test_new_referral_prefill_and_submit(client_as, resident, county_staff):
    c = client_as("village_doctor")
    q = urlencode(
        {"resident": resident.mpi_id, "reason": "血压≥180/110伴胸痛", "urgency": "emergency"}
    )
    page = c.get(f"/referrals/new/?{q}")
    assert page.status_code == 200
    body = page.content.decode()
    assert resident.mpi_id in body and "血压≥180/110伴胸痛" in body
    assert 'value="emergency" selected' in body
    r = c.post(
        "/referrals/new/",
        {
            "resident": resident.mpi_id,
            "urgency": "emergency",
            "to_department": f"{county_staff.facility_id}:{county_staff.department_id}",
            "reason": "血压≥180/110伴胸痛",
            "referring_doctor": "村医",
            "family_doctor": "on",
            "client_key": "abc",
        },
    )
    assert r.status_code == 302, r.content.decode()[:2000]
    ref = Referral.objects.get()
    assert ref.family_doctor and ref.urgency == "emergency"
    # bad input: error named on the page, nothing written
    bad = c.post(
        "/referrals/new/",
        {"resident": resident.mpi_id, "urgency": "routine", "reason": "x", "referring_doctor": "a"},
    )
    assert bad.status_code == 200 and "请选择县级医院" in bad.content.decode()
    assert Referral.objects.count() == 1


def test_worklists_detail_and_actions(client_as, actor, resident, up_input, ward):
    r = actions.do_create_referral(actor("village_doctor"), resident, up_input(family_doctor=True))
    cd = client_as("county_doctor")
    inbox = cd.get("/referrals/?box=received")
    assert inbox.status_code == 200 and "家庭医生优先" in inbox.content.decode()
    d = cd.get(f"/referrals/{r.pk}/")
    assert d.status_code == 200 and "流转记录" in d.content.decode()
    cd.post(f"/referrals/{r.pk}/act/", {"do": "accept", "ward_id": ward.pk})
    assert Referral.objects.get(pk=r.pk).state == "accepted"
    resp = cd.post(f"/referrals/{r.pk}/act/", {"do": "decline", "reason": "x"}, follow=True)
    assert "不能变更" in resp.content.decode()
    cd.post(f"/referrals/{r.pk}/act/", {"do": "arrived"})
    ret = cd.post(
        f"/referrals/{r.pk}/return/",
        {"return_diagnosis": "高血压3级", "next_steps": "继续服药"},
    )
    assert ret.status_code == 302
    v = client_as("village_doctor")
    assert "回转待随访" in v.get("/referrals/?box=followups").content.decode()
    down = Referral.objects.get(direction="down")
    page = v.get(f"/referrals/{down.pk}/").content.decode()
    assert "康复建议" in page and "记录随访" in page
    v.post(f"/referrals/{down.pk}/act/", {"do": "followup", "reason": "血压稳定"})
    down.refresh_from_db()
    assert down.state == "completed" and down.followup_done_at is not None
    assert Referral.objects.get(pk=r.pk).state == "completed"
    for box in ("sent", "waiting", "overdue"):
        assert v.get(f"/referrals/?box={box}").status_code == 200


def test_outsider_and_summary_pages(client_as, actor, resident, up_input):
    r = actions.do_create_referral(actor("village_doctor"), resident, up_input())
    assert client_as("outsider_doctor").get(f"/referrals/{r.pk}/").status_code == 404
    assert client_as("commission").get("/referrals/out-of-county/").status_code == 200
    assert client_as("pharmacist").get("/referrals/").status_code == 403
