"""The REST API: right persona can, outsider cannot, errors name the field."""

from __future__ import annotations

from .conftest import DRUG, stock


def test_stock_and_ledger_scoped(county, actor, api_as):
    ph = actor("pharmacist")
    mv = stock(ph.facility_id, 6)
    r = api_as("pharmacist").get(f"/api/v1/pharmacy/facilities/{ph.facility_id}/stock?q={DRUG}")
    assert r.status_code == 200, r.content
    row = next(x for x in r.json() if x["drug_code"] == DRUG)
    assert any(b["batch_id"] == mv.batch_id for b in row["batches"])
    r = api_as("pharmacist").get(f"/api/v1/pharmacy/facilities/{ph.facility_id}/movements")
    assert r.status_code == 200 and r.json()
    assert (
        api_as("outsider_doctor")
        .get(f"/api/v1/pharmacy/facilities/{ph.facility_id}/stock")
        .status_code
        == 404
    )


def test_dispense_endpoint_and_conflict(county, actor, api_as, rx):
    ph = actor("pharmacist")
    stock(ph.facility_id, 2)
    p = rx(qty=2)
    c = api_as("pharmacist")
    r = c.post(f"/api/v1/pharmacy/prescriptions/{p.pk}/dispense")
    assert r.status_code == 201, r.content
    r = c.post(f"/api/v1/pharmacy/prescriptions/{p.pk}/dispense")
    assert r.status_code == 409
    assert r.json()["detail"][0]["loc"][-1] == "prescription_id"
    assert (
        api_as("outsider_doctor")
        .post(f"/api/v1/pharmacy/prescriptions/{p.pk}/dispense")
        .status_code
        == 404
    )


def test_shortage_api(county, actor, api_as):
    from yigongti.residents.queries import residents_visible_to

    resident = residents_visible_to(actor("village_doctor")).first()
    c = api_as("village_doctor")
    bad = c.post(
        "/api/v1/pharmacy/shortages",
        {"mpi_id": resident.mpi_id, "drug_code": DRUG, "quantity": "0"},
        content_type="application/json",
    )
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"][-1] == "quantity"
    r = c.post(
        "/api/v1/pharmacy/shortages",
        {"mpi_id": resident.mpi_id, "drug_code": DRUG, "quantity": "1"},
        content_type="application/json",
    )
    assert r.status_code == 201, r.content
    sid = r.json()["id"]
    assert c.get(f"/api/v1/pharmacy/shortages/{sid}").status_code == 200
    assert api_as("outsider_doctor").get(f"/api/v1/pharmacy/shortages/{sid}").status_code == 404
    r = api_as("group_admin").post(
        f"/api/v1/pharmacy/shortages/{sid}/route",
        {"route": "procurement"},
        content_type="application/json",
    )
    assert r.status_code == 200 and r.json()["route"] == "procurement"
    assert c.get("/api/v1/pharmacy/shortages/stats").json()["registered"] >= 1
