"""The REST surface: the right persona can, the outsider cannot, bad input names the field."""

from __future__ import annotations

import pytest

from yigongti.contracts.models import Contract, ServicePackage

pytestmark = pytest.mark.django_db
J = "application/json"


def body(resident, team, package, **over):
    b = {
        "mpi_id": resident.mpi_id,
        "team_id": team.pk,
        "package_id": package.pk,
        "consent": {"method": "online", "signer_name": "李某", "signer_relation": "子女"},
    }
    b.update(over)
    return b


def test_sign_read_and_terminate_over_the_api(api_as, resident, team, package):
    api = api_as("village_doctor")
    r = api.post("/api/v1/contracts", body(resident, team, package), content_type=J)
    assert r.status_code == 201, r.content
    c = r.json()
    assert c["status"] == "active" and c["signer_relation"] == "子女"
    assert {x["service"] for x in c["delivery"]["lines"]} == {
        "annual_check", "home_visit", "bp_followup", "consultation"
    }  # fmt: skip
    assert "*" in c["doc_number_masked"] or c["doc_number_masked"] == ""
    again = api.post("/api/v1/contracts", body(resident, team, package), content_type=J)
    assert again.status_code == 409
    assert again.json()["detail"][0]["loc"] == ["body", "resident"]
    r = api.get(f"/api/v1/contracts/{c['id']}")
    assert r.status_code == 200
    r = api.post(f"/api/v1/contracts/{c['id']}/terminate", {"reason": ""}, content_type=J)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "reason"]
    r = api.post(f"/api/v1/contracts/{c['id']}/terminate", {"reason": "死亡"}, content_type=J)
    assert r.status_code == 200 and r.json()["status"] == "terminated"


def test_outsider_is_refused(api_as, resident, team, package, sign):
    api = api_as("outsider_doctor")
    r = api.post("/api/v1/contracts", body(resident, team, package), content_type=J)
    assert r.status_code == 404  # the resident is not theirs: it looks absent
    c = sign(resident)
    assert api.get(f"/api/v1/contracts/{c.pk}").status_code == 404
    assert (
        api.post(f"/api/v1/contracts/{c.pk}/terminate", {"reason": "x"}, content_type=J).status_code
        == 404
    )
    assert api.get(f"/api/v1/contracts/teams/{team.pk}/unsigned-priority").status_code == 404
    assert api.get(f"/api/v1/contracts/teams/{team.pk}/expiring").status_code == 404
    assert api.get("/api/v1/contracts").json()["count"] == 0


def test_bad_term_names_the_field_and_writes_nothing(api_as, resident, team, package):
    api = api_as("village_doctor")
    b = body(resident, team, package, start_date="2026-01-01", end_date="2026-06-30")
    r = api.post("/api/v1/contracts", b, content_type=J)
    assert r.status_code == 422
    assert ["body", "end_date"] in [d["loc"] for d in r.json()["detail"]]
    assert not Contract.objects.filter(resident=resident).exists()


def test_lists_are_paged_and_masked(api_as, sign, doctor, team):
    from .conftest import unsigned

    for r in unsigned(doctor, 3):
        sign(r)
    api = api_as("village_doctor")
    page = api.get(f"/api/v1/contracts?team_id={team.pk}&limit=2").json()
    assert page["count"] == 3 and len(page["results"]) == 2
    assert all("doc_number" not in row for row in page["results"])
    pri = api.get(f"/api/v1/contracts/teams/{team.pk}/unsigned-priority?limit=5").json()
    assert pri["count"] > 0 and "建档立卡贫困人口" in pri["not_collected"]
    assert all(row["groups"] for row in pri["results"])
    bad = api.get(f"/api/v1/contracts/teams/{team.pk}/unsigned-priority?group=nope")
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "group"]


def test_packages_are_kept_by_group_admins(api_as):
    payload = {
        "code": "P-HTN",
        "name": "高血压个性化包",
        "kind": "personalised",
        "services": [{"service": "bp_followup", "count": 4}, {"service": "home_visit", "count": 2}],
        "fee": "200",
        "covered_share": "0.5",
    }
    assert (
        api_as("village_doctor")
        .post("/api/v1/contracts/packages", payload, content_type=J)
        .status_code
        == 403
    )
    api = api_as("group_admin")
    r = api.post("/api/v1/contracts/packages", payload, content_type=J)
    assert r.status_code == 201, r.content
    assert r.json()["resident_pays"] == "100.00"
    bad = {**payload, "code": "P-X", "covered_share": "1.5"}
    r = api.post("/api/v1/contracts/packages", bad, content_type=J)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "covered_share"]
    bad = {**payload, "code": "P-Y", "services": [{"service": "spa", "count": 1}]}
    r = api.post("/api/v1/contracts/packages", bad, content_type=J)
    assert r.json()["detail"][0]["loc"] == ["body", "services", 0, "service"]
    assert not ServicePackage.objects.filter(code__in=["P-X", "P-Y"]).exists()


def test_teams_and_coverage(api_as, team, doctor):
    api = api_as("group_admin")
    teams = api.get("/api/v1/contracts/teams").json()
    mine = next(t for t in teams if t["id"] == team.pk)
    assert {m["role"] for m in mine["members"]} == {"doctor", "public_health", "specialist"}
    cov = api.get("/api/v1/contracts/coverage?by=team").json()
    row = next(r for r in cov["rows"] if r["id"] == team.pk)
    assert row["denominator"] > 0 and row["numerator"] == 0 and row["rate"] == 0
    assert cov["definition"]
    assert api.get("/api/v1/contracts/coverage?by=township").status_code == 200
    assert api.get("/api/v1/contracts/coverage?by=x").status_code == 422
    assert api_as("outsider_doctor").get("/api/v1/contracts/coverage?by=team").json()["rows"] == []
