"""Monitoring indicators as FHIR Measure and MeasureReport, on the tiny hand-built group of
indicators/tests/conftest.py whose 2025 values are worked out by hand there
(test_values.GROUP_2025): definitions, summary and subject-list reports, reporting units,
periods, not-collected indicators (never 0), errors naming the parameter, access and audit.
The HTTP surface is exercised with Django's client here and with fhirpy against the live
server in test_measures_live.py."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from yigongti.core.audit import AuditEntry
from yigongti.fhir import measures
from yigongti.indicators import catalogue, facts
from yigongti.indicators.rules import UNIT_LABELS
from yigongti.indicators.tests.conftest import YEAR_2025, _long_history, tiny  # noqa: F401
from yigongti.indicators.tests.test_values import GROUP_2025

from .helpers import assert_valid, base, issues

pytestmark = pytest.mark.django_db

GROUP = "Organization/group-TG"


@pytest.fixture
def county_2025(tiny):  # noqa: F811
    """The tiny group with its 2025 facts built (as indicators/tests/test_values.py `built`)."""
    facts.rebuild_facts(YEAR_2025)
    return tiny


def evaluate(client: Any, mid: str, start: str = "2025", end: str = "2025", **params: str) -> Any:
    return client.get(
        f"/fhir/Measure/{mid}/$evaluate-measure",
        {"periodStart": start, "periodEnd": end, **params},
    )


def report_of(resp: Any) -> dict[str, Any]:
    assert resp.status_code == 200, resp.content
    data = resp.json()
    assert data["resourceType"] == "MeasureReport"
    return assert_valid(data)


def counts(report: dict[str, Any]) -> dict[str, int | None]:
    return {
        p["code"]["coding"][0]["code"]: p.get("count") for p in report["group"][0]["population"]
    }


def score(report: dict[str, Any]) -> Any:
    return report["group"][0]["measureScore"].get("value")


def value_status(report: dict[str, Any]) -> str:
    ext = {e["url"]: e for e in report["extension"]}
    return str(ext[measures.value_status_extension()]["valueCoding"]["code"])


# --- Measure --------------------------------------------------------------------------------


def test_every_catalogue_entry_is_a_valid_measure(county_2025, api_as):
    resp = api_as("commission").get("/fhir/Measure", {"_count": "100"})
    assert resp.status_code == 200
    bundle = assert_valid(resp.json())
    defs = catalogue.all_defs()
    assert bundle["total"] == len(defs)
    by_id = {e["resource"]["id"]: e["resource"] for e in bundle["entry"]}
    assert set(by_id) == {d.code.replace("_", "-") for d in defs}
    for d in defs:
        m = by_id[d.code.replace("_", "-")]
        assert m["identifier"][0]["value"] == d.code
        assert m["title"] == d.name and m["description"] == d.definition
        assert m["topic"][0]["coding"][0]["code"] == d.aspect
        assert m["status"] == ("active" if d.collected else "draft")
        if not d.collected:
            assert d.missing_reason in m["purpose"]

    share = by_id["primary-visit-share"]
    assert share["url"].endswith("/fhir/Measure/primary-visit-share")
    assert share["name"] == "PrimaryVisitShare"
    assert share["scoring"]["coding"][0]["code"] == "proportion"
    assert share["improvementNotation"]["coding"][0]["code"] == "increase"
    pops = {
        p["code"]["coding"][0]["code"]: p["description"] for p in share["group"][0]["population"]
    }
    assert pops == {
        "initial-population": "县域内成员机构门急诊总人次",
        "denominator": "县域内成员机构门急诊总人次",
        "numerator": "基层医疗卫生机构门急诊人次",
    }
    assert by_id["outpatient-visits"]["scoring"]["coding"][0]["code"] == "cohort"
    assert by_id["down-up-ratio"]["scoring"]["coding"][0]["code"] == "ratio"
    assert by_id["remote-consult-turnaround"]["scoring"]["coding"][0]["code"] == (
        "continuous-variable"
    )
    assert by_id["remote-consult-turnaround"]["improvementNotation"]["coding"][0]["code"] == (
        "decrease"
    )
    assert "improvementNotation" not in by_id["outpatient-visits"]  # a volume has no side


def test_measure_read_and_search_parameters(county_2025, api_as):
    client = api_as("group_admin")
    m = client.get("/fhir/Measure/htn-control-rate")
    assert m.status_code == 200 and assert_valid(m.json())["title"] == "高血压患者血压控制率"
    assert client.get("/fhir/Measure/no-such-indicator").status_code == 404

    def ids(**params: str) -> list[str]:
        resp = client.get("/fhir/Measure", {"_count": "100", **params})
        assert resp.status_code == 200, resp.content
        return [e["resource"]["id"] for e in resp.json().get("entry", [])]

    not_collected = [d for d in catalogue.all_defs() if not d.collected]
    assert len(ids(status="draft")) == len(not_collected) > 0
    assert ids(_id="primary-visit-share") == ["primary-visit-share"]
    assert ids(identifier=f"{base()}/indicator|primary_visit_share") == ["primary-visit-share"]
    assert ids(name="PrimaryVisit") == ["primary-visit-share"]
    assert set(ids(**{"title:contains": "住院"})) >= {
        "inpatient-cost-per-case",
        "in-county-inpatient-share",
        "chronic-hospitalisation-rate",
        "inpatient-admissions",
    }
    health = {d.code.replace("_", "-") for d in catalogue.all_defs() if d.aspect == "health"}
    assert set(ids(topic=f"{base()}/indicator-aspect|health")) == health
    assert set(ids(topic="保健康")) == health


# --- $evaluate-measure: summary ---------------------------------------------------------------


@pytest.mark.parametrize(("code", "num", "den", "value"), GROUP_2025)
def test_summary_for_the_group_is_the_hand_computed_value(
    county_2025, api_as, code, num, den, value
):
    report = report_of(evaluate(api_as("commission"), code.replace("_", "-"), subject=GROUP))
    assert report["status"] == "complete" and report["type"] == "summary"
    assert report["period"] == {"start": "2025-01-01", "end": "2025-12-31"}
    assert report["reporter"] == {"reference": "Organization/group-TG", "display": "测试医共体"}
    assert report["measure"].endswith(f"/fhir/Measure/{code.replace('_', '-')}")
    assert value_status(report) == "ok"
    defn = catalogue.get(code)
    scoring = measures.scoring_of(defn)
    got = counts(report)
    if scoring in ("proportion", "ratio"):
        assert got == {"initial-population": den, "denominator": den, "numerator": num}
    elif scoring == "cohort":
        assert got == {"initial-population": num}
    else:  # continuous variable: the cases, and the sum the score averages
        assert got == {"initial-population": den, "measure-population": den,
                       "measure-observation": None}  # fmt: skip
        obs = report["group"][0]["population"][2]["extension"][0]["valueQuantity"]
        assert obs["value"] == num and obs["code"] == "h"
    assert Decimal(str(score(report))) == Decimal(value)
    assert report["group"][0]["measureScore"]["unit"] == UNIT_LABELS[defn.unit]


def test_summary_carries_the_target_and_whether_it_is_met(county_2025, api_as):
    report = report_of(evaluate(api_as("commission"), "primary-visit-share", subject=GROUP))
    ext = {e["url"]: e for e in report["group"][0]["extension"]}
    assert ext[measures.target_extension()]["valueQuantity"]["value"] == 55
    assert ext[measures.target_met_extension()]["valueBoolean"] is True  # 58.33 ≥ 55
    assert report["group"][0]["measureScore"]["code"] == "%"


def test_type_level_operation_and_the_default_unit_is_the_county(county_2025, api_as):
    client = api_as("commission")
    by_type = report_of(
        client.get(
            "/fhir/Measure/$evaluate-measure",
            {"measure": "Measure/primary-visit-share", "periodStart": "2025-01-01",
             "periodEnd": "2025-12-31", "subject": GROUP},
        )
    )  # fmt: skip
    assert counts(by_type)["numerator"] == 7
    county = report_of(evaluate(client, "primary-visit-share"))
    assert county["reporter"]["reference"].startswith("Location/")
    assert counts(county)["numerator"] >= 7  # the persona county's visits come on top


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("2025-03", "2025-03", 6),  # a month (23:30 on the 31st is March in Shanghai)
        ("2025-04-01", "2025-04-30", 1),
        ("2025-01", "2025-03", 6),  # a quarter
        ("2025-01-01", "2025-06-30", 12),  # a half-year
        ("2025-07", "2025-12", 0),  # a real zero: nothing happened, the data was collected
    ],
)
def test_any_whole_period(county_2025, api_as, start, end, expected):
    report = report_of(evaluate(api_as("commission"), "outpatient-visits", start, end,
                                subject=GROUP))  # fmt: skip
    assert counts(report) == {"initial-population": expected}


def test_township_village_and_facility_units(county_2025, api_as):
    client = api_as("commission")
    t1 = report_of(evaluate(client, "outpatient-visits", subject=f"Location/{county_2025.t1.code}"))
    assert counts(t1)["initial-population"] == 6
    assert t1["reporter"] == {"reference": f"Location/{county_2025.t1.code}", "display": "测试一镇"}
    v1 = report_of(evaluate(client, "outpatient-visits", subject=f"Location/{county_2025.v1.code}"))
    assert counts(v1)["initial-population"] == 2
    centre = report_of(evaluate(client, "primary-visit-share", subject="Organization/TC1"))
    assert (counts(centre)["numerator"], counts(centre)["denominator"], score(centre)) == (
        4,
        4,
        100,
    )
    # the Location a report points at can be read
    loc = client.get(f"/fhir/Location/{county_2025.t1.code}")
    assert loc.status_code == 200
    assert assert_valid(loc.json())["partOf"]["reference"].startswith("Location/")
    found = client.get("/fhir/Location", {"partof": f"Location/{county_2025.t1.code}"}).json()
    assert [e["resource"]["id"] for e in found["entry"]] == [county_2025.v1.code]


# --- never 0 for missing --------------------------------------------------------------------


@pytest.mark.parametrize("d", [d for d in catalogue.all_defs() if not d.collected],
                         ids=lambda d: d.code)  # fmt: skip
def test_not_collected_is_an_error_report_without_counts(county_2025, api_as, d):
    report = report_of(evaluate(api_as("commission"), d.code.replace("_", "-"), subject=GROUP))
    assert report["status"] == "error"
    assert value_status(report) == "not_collected"
    assert all("count" not in p for p in report["group"][0]["population"])
    absent = report["group"][0]["measureScore"]
    assert "value" not in absent
    assert absent["extension"] == [{"url": measures.DATA_ABSENT, "valueCode": "unsupported"}]
    reason = {e["url"]: e for e in report["extension"]}[measures.value_reason_extension()]
    assert reason["valueString"] == d.missing_reason


def test_nothing_to_divide_is_complete_with_an_absent_score(county_2025, api_as):
    report = report_of(evaluate(api_as("commission"), "dm-norm-rate", subject=GROUP))
    assert report["status"] == "complete" and value_status(report) == "no_data"
    assert counts(report) == {"initial-population": 0, "denominator": 0, "numerator": 0}
    assert report["group"][0]["measureScore"] == {
        "extension": [{"url": measures.DATA_ABSENT, "valueCode": "not-a-number"}]
    }


def test_a_residence_indicator_at_a_facility_is_not_applicable(county_2025, api_as):
    report = report_of(
        evaluate(api_as("commission"), "priority-contract-coverage", subject="Organization/TC1")
    )
    assert report["status"] == "error" and value_status(report) == "not_applicable"
    assert "value" not in report["group"][0]["measureScore"]


# --- subject-list ---------------------------------------------------------------------------


def _list(report: dict[str, Any], population: str) -> dict[str, Any]:
    pop = next(
        p for p in report["group"][0]["population"] if p["code"]["coding"][0]["code"] == population
    )
    ref = pop["subjectResults"]["reference"]
    assert ref.startswith("#")
    return next(c for c in report["contained"] if c["id"] == ref[1:])


def test_subject_list_has_one_patient_entry_per_counted_record(county_2025, api_as):
    before = AuditEntry.objects.count()
    report = report_of(
        evaluate(api_as("commission"), "primary-visit-share", subject=GROUP,
                 reportType="subject-list")
    )  # fmt: skip
    assert report["type"] == "subject-list"
    numerator, denominator = _list(report, "numerator"), _list(report, "denominator")
    assert _list(report, "initial-population") is denominator
    assert len(numerator["entry"]) == counts(report)["numerator"] == 7
    assert len(denominator["entry"]) == counts(report)["denominator"] == 12
    # centre1: b ×4, clinic1: e ×2, centre2: c (the amended visit's current version) ×1
    people = county_2025.people
    expected = sorted([people["b"].mpi_id] * 4 + [people["e"].mpi_id] * 2 + [people["c"].mpi_id])
    assert sorted(e["item"]["reference"].removeprefix("Patient/") for e in numerator["entry"]) == (
        expected
    )
    record = numerator["entry"][0]["extension"][0]
    assert record["url"] == measures.counted_record_extension()
    assert record["valueReference"]["reference"].startswith("Encounter/")
    assert AuditEntry.objects.filter(
        pk__gt=before, username="commission", object_type="indicator_drilldown",
        object_id__in=["primary_visit_share:numerator", "primary_visit_share:denominator"],
    ).count() == 2  # fmt: skip


def test_subject_list_for_a_count_and_for_a_resident_based_rate(county_2025, api_as):
    client = api_as("commission")
    visits = report_of(evaluate(client, "outpatient-visits", subject=GROUP,
                                reportType="subject-list"))  # fmt: skip
    assert len(_list(visits, "initial-population")["entry"]) == 12
    coverage = report_of(evaluate(client, "priority-contract-coverage", subject=GROUP,
                                  reportType="subject-list"))  # fmt: skip
    refs = [e["item"]["reference"] for e in _list(coverage, "numerator")["entry"]]
    assert refs == [f"Patient/{county_2025.people['e'].mpi_id}"]  # 1 of 4: only e is contracted
    assert len(_list(coverage, "denominator")["entry"]) == 4


def test_subject_list_is_paged(county_2025, api_as):
    client = api_as("commission")
    first = report_of(evaluate(client, "outpatient-visits", subject=GROUP,
                               reportType="subject-list", _count="5"))  # fmt: skip
    page1 = _list(first, "initial-population")
    assert len(page1["entry"]) == 5 and counts(first)["initial-population"] == 12
    next_url = page1["extension"][0]["valueUri"]
    assert "_offset=5" in next_url and "第 1–5 条" in page1["note"][0]["text"]
    last = report_of(evaluate(client, "outpatient-visits", subject=GROUP,
                              reportType="subject-list", _count="5", _offset="10"))  # fmt: skip
    page3 = _list(last, "initial-population")
    assert len(page3["entry"]) == 2 and "extension" not in page3


def test_a_group_admin_gets_counts_but_no_people_of_another_group(county_2025, api_as, actor):
    assert actor("group_admin").group_id != county_2025.group.pk
    report = report_of(
        evaluate(api_as("group_admin"), "primary-visit-share", subject=GROUP,
                 reportType="subject-list")
    )  # fmt: skip
    assert counts(report)["numerator"] == 7  # aggregates are not personal data
    lst = _list(report, "numerator")
    assert "entry" not in lst
    assert lst["emptyReason"]["coding"][0]["code"] == "withheld"
    assert "不在您的权限范围" in lst["note"][0]["text"]


def test_not_collected_subject_list_has_no_lists(county_2025, api_as):
    report = report_of(evaluate(api_as("commission"), "premature-mortality", subject=GROUP,
                                reportType="subject-list"))  # fmt: skip
    assert report["status"] == "error" and "contained" not in report


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expression"),
    [
        ({"periodStart": "2025-01-15", "periodEnd": "2025-03-31"}, "periodStart"),
        ({"periodStart": "2025-01-01", "periodEnd": "2025-02-28"}, "periodEnd"),
        ({"periodStart": "2025-02-01", "periodEnd": "2025-04-30"}, "periodEnd"),  # not a quarter
        ({"periodStart": "2025-01-01", "periodEnd": "2026-12-31"}, "periodEnd"),  # two years
        ({"periodStart": "2025-01-01"}, "periodEnd"),
        ({"periodEnd": "2025-12-31"}, "periodStart"),
        ({"periodStart": "yesterday", "periodEnd": "2025"}, "periodStart"),
        ({"periodStart": "2025", "periodEnd": "2025", "subject": "Organization/nope"}, "subject"),
        ({"periodStart": "2025", "periodEnd": "2025", "subject": "Location/000"}, "subject"),
        ({"periodStart": "2025", "periodEnd": "2025", "subject": "Patient/T1"}, "subject"),
        ({"periodStart": "2025", "periodEnd": "2025", "reportType": "individual"}, "reportType"),
        ({"periodStart": "2025", "periodEnd": "2025", "reportType": "everything"}, "reportType"),
        ({"periodStart": "2025", "periodEnd": "2025", "_count": "0"}, ""),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(county_2025, api_as, params, expression):
    resp = api_as("commission").get("/fhir/Measure/primary-visit-share/$evaluate-measure", params)
    assert resp.status_code == 400
    found = issues(resp)
    if expression:
        assert found[0]["expression"] == [expression]
        assert f"参数 {expression}" in found[0]["diagnostics"]
    else:
        assert "_count" in found[0]["diagnostics"]


def test_unknown_measure_is_404_and_a_missing_one_400(county_2025, api_as):
    client = api_as("commission")
    resp = client.get("/fhir/Measure/nope/$evaluate-measure", {"periodStart": "2025",
                                                               "periodEnd": "2025"})  # fmt: skip
    assert resp.status_code == 404 and issues(resp)[0]["code"] == "not-found"
    resp = client.get(
        "/fhir/Measure/$evaluate-measure", {"periodStart": "2025", "periodEnd": "2025"}
    )
    assert resp.status_code == 400 and issues(resp)[0]["expression"] == ["measure"]
    assert client.post("/fhir/Measure/primary-visit-share/$evaluate-measure").status_code == 405


# --- MeasureReport search and read ------------------------------------------------------------


def test_measure_report_search_and_read(county_2025, api_as):
    client = api_as("commission")
    resp = client.get(
        "/fhir/MeasureReport",
        {"period": "2025", "measure": "Measure/primary-visit-share,outpatient_visits",
         "reporter": GROUP},
    )  # fmt: skip
    bundle = assert_valid(resp.json())
    assert bundle["total"] == 2
    reports = {e["resource"]["measure"].rsplit("/", 1)[1]: e["resource"] for e in bundle["entry"]}
    assert counts(reports["primary-visit-share"])["numerator"] == 7
    assert counts(reports["outpatient-visits"])["initial-population"] == 12
    # the id reads back the same figures
    rid = reports["primary-visit-share"]["id"]
    assert rid == "primary-visit-share.2025.group-TG"
    again = client.get(f"/fhir/MeasureReport/{rid}")
    assert counts(report_of(again)) == counts(reports["primary-visit-share"])
    assert client.get("/fhir/MeasureReport/primary-visit-share.2025.nowhere").status_code == 404

    # a period as two bounds; every measure when none is named
    h1 = client.get(
        f"/fhir/MeasureReport?period=ge2025-01-01&period=le2025-06-30&reporter={GROUP}&_count=100"
    )
    h1b = assert_valid(h1.json())
    assert h1b["total"] == len(catalogue.all_defs())
    visits = next(
        e["resource"] for e in h1b["entry"] if e["resource"]["id"].startswith("outpatient-visits.")
    )
    assert visits["period"] == {"start": "2025-01-01", "end": "2025-06-30"}
    assert counts(visits)["initial-population"] == 12
    # not-collected ones are in the search too, as error reports without counts
    missing = [e["resource"] for e in h1b["entry"] if e["resource"]["status"] == "error"]
    assert missing and all("count" not in p for r in missing for p in r["group"][0]["population"])


def test_measure_report_search_needs_a_whole_period(county_2025, api_as):
    client = api_as("commission")
    resp = client.get("/fhir/MeasureReport", {"measure": "primary-visit-share"})
    bundle = assert_valid(resp.json())
    assert bundle["total"] == 0
    outcome = bundle["entry"][0]
    assert outcome["search"]["mode"] == "outcome"
    assert outcome["resource"]["issue"][0]["expression"] == ["period"]
    for bad in ("2025-02-30", "2025-13", "ge2025-01-01", "2025-01-15", "soon"):
        resp = client.get("/fhir/MeasureReport", {"period": bad})
        assert resp.status_code == 400, bad
        assert issues(resp)[0]["expression"] == ["period"]


# --- access ---------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["outsider_doctor", "village_doctor", "county_doctor"])
def test_clinicians_and_the_outsider_are_refused(county_2025, api_as, who):
    client = api_as(who)
    for path, params in (
        ("/fhir/Measure", {}),
        ("/fhir/Measure/primary-visit-share", {}),
        ("/fhir/Measure/primary-visit-share/$evaluate-measure",
         {"periodStart": "2025", "periodEnd": "2025", "reportType": "subject-list"}),
        ("/fhir/MeasureReport", {"period": "2025"}),
        ("/fhir/MeasureReport/primary-visit-share.2025.group-TG", {}),
    ):  # fmt: skip
        resp = client.get(path, params)
        assert resp.status_code == 403, path
        assert issues(resp)[0]["code"] == "forbidden"
    assert (
        AuditEntry.objects.filter(username=who, action="denied", object_type="indicator").count()
        == 5
    )
    assert not AuditEntry.objects.filter(username=who, object_type="indicator_drilldown").exists()


def test_a_report_id_stays_a_valid_fhir_id_for_long_unit_codes():
    from yigongti.indicators.rules import Level, parse_period

    long_code = "F" * 32
    unit = measures.ReportUnit(Level.FACILITY, 42, long_code, {"display": "x"})
    defn = catalogue.get("out_of_county_referral_share")
    rid = measures.report_id(defn, parse_period("2025Q1"), unit)
    assert rid == "out-of-county-referral-share.2025Q1.facility-42"
    short = measures.ReportUnit(Level.FACILITY, 42, "TC1", {"display": "x"})
    assert measures.report_id(defn, parse_period("2025Q1"), short).endswith(".TC1")


def test_subject_list_of_seconded_doctors_references_practitioners(county_2025, api_as):
    from datetime import date

    from yigongti.consults.models import Secondment
    from yigongti.network.models import Staff

    t = county_2025
    doctor = Staff.objects.create(name="派驻医师", facility=t.hospital, title="主治医师")
    Secondment.objects.create(
        staff=doctor, title="主治医师", kind="secondment", from_facility=t.hospital,
        to_facility=t.centre1, starts_on=date(2025, 3, 1), ends_on=date(2025, 8, 31),
    )  # fmt: skip
    facts.rebuild_facts(YEAR_2025)
    report = report_of(
        evaluate(api_as("commission"), "seconded-per-10k", subject=GROUP,
                 reportType="subject-list")
    )  # fmt: skip
    assert counts(report) == {"initial-population": 6, "denominator": 6, "numerator": 1}
    assert [e["item"]["reference"] for e in _list(report, "numerator")["entry"]] == [
        f"Practitioner/{doctor.pk}"
    ]
