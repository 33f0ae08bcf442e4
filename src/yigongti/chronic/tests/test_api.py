"""REST endpoints of chronic."""

from __future__ import annotations

from yigongti.chronic.models import Followup, Registration

from .helpers import residents_of


def test_enrol_follow_up_and_read_over_the_api(api_as, actor):
    doc = actor("village_doctor")
    (r,) = residents_of(doc)
    api = api_as("village_doctor")
    resp = api.post(
        "/api/v1/chronic/registrations",
        {"mpi_id": r.mpi_id, "disease": "diabetes"},
        content_type="application/json",
    )
    assert resp.status_code == 201, resp.content
    pk = resp.json()["id"]
    assert "*" in resp.json()["id_number_masked"] or not r.doc_number
    again = api.post(
        "/api/v1/chronic/registrations",
        {"mpi_id": r.mpi_id, "disease": "diabetes"},
        content_type="application/json",
    )
    assert again.status_code == 409
    assert again.json()["detail"][0]["loc"][-1] == "disease"
    fu = api.post(
        f"/api/v1/chronic/registrations/{pk}/followups",
        {"glucose": 3.5, "dorsalis_pedis": "normal"},
        content_type="application/json",
    )
    assert fu.status_code == 201, fu.content
    body = fu.json()
    assert body["classification"] == "controlled"  # 3.5 < 7.0, yet an emergency (≤3.9)
    assert body["emergency"]["referral_url"].startswith("/referrals/new/?resident=")
    assert api.get("/api/v1/chronic/worklist").status_code == 200
    assert api.get(f"/api/v1/chronic/registrations/{pk}").json()["next_due"]


def test_api_errors_name_the_field_and_write_nothing(api_as, actor):
    doc = actor("village_doctor")
    (r,) = residents_of(doc)
    api = api_as("village_doctor")
    pk = api.post(
        "/api/v1/chronic/registrations",
        {"mpi_id": r.mpi_id, "disease": "hypertension"},
        content_type="application/json",
    ).json()["id"]
    bad = api.post(
        f"/api/v1/chronic/registrations/{pk}/followups",
        {"sbp": 140},
        content_type="application/json",
    )
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "dbp"]
    assert not Followup.objects.filter(registration_id=pk).exists()
    bad = api.post(
        "/api/v1/chronic/registrations",
        {"mpi_id": r.mpi_id, "disease": "gout"},
        content_type="application/json",
    )
    assert bad.status_code == 422


def test_outsider_gets_404_and_indicators_need_the_permission(api_as, actor):
    doc = actor("village_doctor")
    (r,) = residents_of(doc)
    pk = (
        api_as("village_doctor")
        .post(
            "/api/v1/chronic/registrations",
            {"mpi_id": r.mpi_id, "disease": "hypertension"},
            content_type="application/json",
        )
        .json()["id"]
    )
    out = api_as("outsider_doctor")
    assert out.get(f"/api/v1/chronic/registrations/{pk}").status_code == 404
    assert (
        out.post(
            f"/api/v1/chronic/registrations/{pk}/followups",
            {"sbp": 120, "dbp": 80},
            content_type="application/json",
        ).status_code
        == 404
    )
    assert (
        out.post(
            "/api/v1/chronic/registrations",
            {"mpi_id": r.mpi_id, "disease": "diabetes"},
            content_type="application/json",
        ).status_code
        == 404
    )
    assert not Registration.objects.filter(resident=r, disease="diabetes").exists()
    ind = api_as("commission").get("/api/v1/chronic/indicators?disease=hypertension&by=township")
    assert ind.status_code == 200
    assert "definition" in ind.json()["total"]["norm"]
    assert api_as("pharmacist").get("/api/v1/chronic/indicators").status_code == 403


def test_screening_over_the_api(api_as, actor):
    doc = actor("village_doctor")
    (r,) = residents_of(doc)
    api = api_as("village_doctor")
    ok = api.post(
        "/api/v1/chronic/screenings",
        {"mpi_id": r.mpi_id, "sbp": 150, "dbp": 85},
        content_type="application/json",
    )
    assert ok.status_code == 201 and ok.json()["outcome"] == "suspected"
    bad = api.post(
        "/api/v1/chronic/screenings",
        {"mpi_id": r.mpi_id, "disease": "diabetes"},
        content_type="application/json",
    )
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "glucose"
