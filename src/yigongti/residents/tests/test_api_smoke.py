def test_village_doctor_finds_own_village_residents(api_as):
    c = api_as("village_doctor")
    r = c.get("/api/v1/me")
    assert r.status_code == 200
    assert r.json()["scope"] == "villages"
