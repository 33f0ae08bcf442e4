"""GET /fhir/metadata, authentication, and paths that do not exist."""

from __future__ import annotations

import pytest
from django.test import Client

from .helpers import FHIR_JSON, assert_valid, home_resident, issues

pytestmark = pytest.mark.django_db


def test_metadata_needs_no_login_and_lists_what_is_implemented(county):
    resp = Client().get("/fhir/metadata")
    assert resp.status_code == 200
    assert resp["Content-Type"].startswith(FHIR_JSON)
    cs = assert_valid(resp.json())
    assert cs["fhirVersion"] == "4.0.1" and cs["kind"] == "instance"
    resources = {r["type"]: r for r in cs["rest"][0]["resource"]}
    clinical = ("Encounter", "Condition", "Observation", "MedicationRequest", "DiagnosticReport")
    care = ("CareTeam", "CarePlan")
    referrals = ("ServiceRequest", "Task", "Schedule", "Slot", "Appointment")
    indicators = ("Location", "Measure", "MeasureReport")
    assert set(resources) == {
        "Patient",
        "Organization",
        "Practitioner",
        *clinical,
        *care,
        *referrals,
        *indicators,
    }
    codes = {t: {i["code"] for i in r["interaction"]} for t, r in resources.items()}
    assert codes == {
        "Patient": {"read", "search-type", "create", "update"},
        "Organization": {"read", "search-type"},
        "Practitioner": {"read", "search-type"},
        **{t: {"read", "search-type", "create"} for t in clinical},
        **{t: {"read", "search-type"} for t in care},
        **{t: {"read", "search-type"} for t in ("Task", "Schedule", "Slot")},
        **{t: {"read", "search-type", "create"} for t in ("ServiceRequest", "Appointment")},
        **{t: {"read", "search-type"} for t in indicators},
    }
    assert [i["code"] for i in cs["rest"][0]["interaction"]] == ["transaction"]
    assert resources["Patient"]["operation"][0]["name"] == "everything"
    assert resources["Measure"]["operation"][0]["name"] == "evaluate-measure"
    assert "Observation:patient" in resources["Observation"]["searchInclude"]
    assert "DiagnosticReport:result" in resources["DiagnosticReport"]["searchInclude"]
    params = {t: {p["name"] for p in r["searchParam"]} for t, r in resources.items()}
    assert params["Patient"] == {
        "_id",
        "identifier",
        "name",
        "birthdate",
        "gender",
        "_count",
        "_offset",
    }
    assert params["Organization"] >= {"name", "identifier", "type"}
    assert params["Practitioner"] >= {"name", "identifier"}
    assert params["Observation"] >= {"patient", "date", "code", "_count", "encounter"}


def test_every_declared_search_parameter_is_accepted(api_as):
    """Prefer: handling=strict refuses unknown parameters, so each declared one must pass."""
    cs = Client().get("/fhir/metadata").json()
    client = api_as("commission")
    samples = {
        "_count": "1",
        "_offset": "0",
        "birthdate": "ge1950",
        "gender": "male",
        "date": "ge2020",
        "recorded-date": "le2030-01",
        "authoredon": "2024",
        "authored": "ge2020",
        "start": "ge2020-01-01",
        "period": "2025",
    }
    for resource in cs["rest"][0]["resource"]:
        for param in resource["searchParam"]:
            value = samples.get(param["name"], "x")
            resp = client.get(
                f"/fhir/{resource['type']}",
                {param["name"]: value},
                headers={"Prefer": "handling=strict"},
            )
            assert resp.status_code == 200, (resource["type"], param["name"], resp.content)
            assert_valid(resp.json())


def test_without_a_token_the_answer_is_401(county, actor):
    mpi = home_resident(actor("village_doctor")).mpi_id
    for path in (f"/fhir/Patient/{mpi}", "/fhir/Patient?name=张", "/fhir/Organization"):
        resp = Client().get(path)
        assert resp.status_code == 401
        assert resp["WWW-Authenticate"].startswith("Bearer")
        assert issues(resp)[0]["code"] == "login"


def test_a_bad_token_is_401_even_for_a_write(county):
    bad = Client(headers={"Authorization": "Bearer not-a-token"})
    assert bad.get("/fhir/Patient").status_code == 401
    resp = bad.post("/fhir/Patient", {"resourceType": "Patient"}, content_type=FHIR_JSON)
    assert resp.status_code == 401
    assert "invalid_token" in resp["WWW-Authenticate"]


def test_unknown_types_and_methods_answer_with_operation_outcome(api_as):
    client = api_as("village_doctor")
    resp = client.get("/fhir/Immunization")
    assert resp.status_code == 404
    assert issues(resp)[0]["code"] == "not-supported"
    resp = client.delete("/fhir/Patient/123")
    assert resp.status_code == 405
    assert resp["Allow"] == "GET, PUT"
    assert issues(resp)[0]["code"] == "not-supported"
    assert client.get("/fhir/Patient?_format=xml").status_code == 406


def test_a_browser_session_reads_but_writes_only_with_csrf(personas, actor):
    session = Client(enforce_csrf_checks=True)
    session.force_login(personas["village_doctor"])  # type: ignore[arg-type]
    mpi = home_resident(actor("village_doctor")).mpi_id
    assert session.get(f"/fhir/Patient/{mpi}").status_code == 200
    resp = session.post("/fhir/Patient", {"resourceType": "Patient"}, content_type=FHIR_JSON)
    assert resp.status_code == 403
    assert issues(resp)[0]["code"] == "forbidden"
