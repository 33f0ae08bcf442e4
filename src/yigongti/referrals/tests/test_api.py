from __future__ import annotations

from yigongti.referrals.models import Referral


def test_api_create_accept_and_409(api_as, resident, county_staff, slot):
    v, c = api_as("village_doctor"), api_as("county_doctor")
    body = {
        "mpi_id": resident.mpi_id,
        "reason": "血压≥180/110伴剧烈头痛",
        "urgency": "emergency",
        "to_facility_id": county_staff.facility_id,
        "to_department_id": county_staff.department_id,
        "family_doctor": True,
        "client_key": "k1",
    }
    r = v.post("/api/v1/referrals", body, content_type="application/json")
    assert r.status_code == 201, r.content
    rid = r.json()["id"]
    again = v.post("/api/v1/referrals", body, content_type="application/json")
    assert again.status_code == 201 and again.json()["id"] == rid
    assert c.get("/api/v1/referrals?box=received").json()[0]["id"] == rid
    ok = c.post(
        f"/api/v1/referrals/{rid}/accept", {"slot_id": slot.pk}, content_type="application/json"
    )
    assert ok.status_code == 200, ok.content
    assert ok.json()["state"] == "accepted" and ok.json()["booking_id"]
    bad = c.post(
        f"/api/v1/referrals/{rid}/decline", {"reason": "x"}, content_type="application/json"
    )
    assert bad.status_code == 409
    assert bad.json()["detail"][0]["loc"][-1] == "state"
    d = v.get(f"/api/v1/referrals/{rid}").json()
    assert [t["to_state"] for t in d["transitions"]] == ["draft", "submitted", "accepted"]


def test_api_outsider_and_bad_input(api_as, resident, county_staff):
    v, o = api_as("village_doctor"), api_as("outsider_doctor")
    r = v.post(
        "/api/v1/referrals",
        {
            "mpi_id": resident.mpi_id,
            "reason": "",
            "urgency": "soon",
            "to_facility_id": county_staff.facility_id,
        },
        content_type="application/json",
    )
    assert r.status_code == 422
    assert {tuple(e["loc"]) for e in r.json()["detail"]} >= {
        ("body", "reason"),
        ("body", "urgency"),
    }
    assert Referral.objects.count() == 0
    r = v.post(
        "/api/v1/referrals",
        {"mpi_id": resident.mpi_id, "reason": "复查", "to_facility_id": county_staff.facility_id},
        content_type="application/json",
    )
    rid = r.json()["id"]
    assert o.get(f"/api/v1/referrals/{rid}").status_code == 404
    assert (
        o.post(
            f"/api/v1/referrals/{rid}/cancel", {"reason": "x"}, content_type="application/json"
        ).status_code
        == 404
    )
    assert api_as("commission").get("/api/v1/referrals/out-of-county").json()["total"] == 1
    assert api_as("pharmacist").get("/api/v1/referrals/out-of-county").status_code == 403
