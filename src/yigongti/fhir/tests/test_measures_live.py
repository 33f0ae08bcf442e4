"""A provincial platform pulling the indicators with a real FHIR client (fhirpy) from the
live server: the Measures, one $evaluate-measure summary and subject-list, a MeasureReport
search, the errors, and a refused outsider. Figures from the tiny hand-built group
(indicators/tests/conftest.py; test_values.GROUP_2025: primary_visit_share 7/12 = 58.33)."""

from __future__ import annotations

import pytest
from fhirpy.base.exceptions import ForbiddenError, OperationOutcome

from yigongti.fhir.validation import validate_resource
from yigongti.indicators import catalogue, facts
from yigongti.indicators.tests.conftest import YEAR_2025, _long_history, tiny  # noqa: F401

from .test_fhirpy_live import connect

GROUP = "Organization/group-TG"


@pytest.fixture
def county_2025(tiny):  # noqa: F811
    """The tiny group with its 2025 facts built (as indicators/tests/test_values.py `built`)."""
    facts.rebuild_facts(YEAR_2025)
    return tiny


def _counts(report: dict) -> dict[str, int | None]:
    return {
        p["code"]["coding"][0]["code"]: p.get("count") for p in report["group"][0]["population"]
    }


def test_a_provincial_platform_pulls_measures_and_reports(
    transactional_db, county, county_2025, live_server
):
    client = connect(live_server, "commission")

    # definitions
    share = client.reference("Measure", "primary-visit-share").to_resource()
    validate_resource(share.serialize(), "Measure")
    assert share["title"] == "县域内基层医疗卫生机构门急诊人次占比"
    assert share["scoring"]["coding"][0]["code"] == "proportion"
    drafts = client.resources("Measure").search(status="draft").limit(5).fetch_all()
    assert sorted(m.id for m in drafts) == sorted(
        d.code.replace("_", "-") for d in catalogue.all_defs() if not d.collected
    )

    # the operation: summary, then the people counted
    op = client.reference("Measure", "primary-visit-share")
    summary = op.execute(
        "$evaluate-measure",
        method="get",
        params={"periodStart": "2025-01-01", "periodEnd": "2025-12-31", "subject": GROUP},
    )
    validate_resource(summary, "MeasureReport")
    assert _counts(summary) == {"initial-population": 12, "denominator": 12, "numerator": 7}
    assert summary["group"][0]["measureScore"]["value"] == 58.33
    listed = op.execute(
        "$evaluate-measure",
        method="get",
        params={"periodStart": "2025", "periodEnd": "2025", "subject": GROUP,
                "reportType": "subject-list"},
    )  # fmt: skip
    validate_resource(listed, "MeasureReport")
    lists = {c["id"]: c for c in listed["contained"]}
    assert len(lists["numerator"]["entry"]) == 7 and len(lists["denominator"]["entry"]) == 12
    mpi = lists["numerator"]["entry"][0]["item"]["reference"].removeprefix("Patient/")
    assert mpi in {p.mpi_id for p in county_2025.people.values()}

    # a not-collected indicator: an error report, no counts, never 0
    missing = client.reference("Measure", "premature-mortality").execute(
        "$evaluate-measure", method="get", params={"periodStart": "2025", "periodEnd": "2025"}
    )
    assert missing["status"] == "error"
    assert all("count" not in p for p in missing["group"][0]["population"])
    assert missing["group"][0]["measureScore"]["extension"][0]["valueCode"] == "unsupported"

    # search, computed on the fly
    found = (
        client.resources("MeasureReport")
        .search(period="2025", reporter=GROUP, measure="Measure/primary-visit-share")
        .fetch()
    )
    assert len(found) == 1 and _counts(found[0])["numerator"] == 7
    validate_resource(found[0].serialize(), "MeasureReport")

    # a period that is not a whole reporting period names the parameter
    with pytest.raises(OperationOutcome) as excinfo:
        op.execute(
            "$evaluate-measure",
            method="get",
            params={"periodStart": "2025-01-01", "periodEnd": "2025-02-28"},
        )
    assert excinfo.value.resource["issue"][0]["expression"] == ["periodEnd"]

    # the outsider is refused
    outsider = connect(live_server, "outsider_doctor")
    with pytest.raises(ForbiddenError):
        outsider.reference("Measure", "primary-visit-share").execute(
            "$evaluate-measure",
            method="get",
            params={"periodStart": "2025", "periodEnd": "2025", "reportType": "subject-list"},
        )
    with pytest.raises(ForbiddenError):
        outsider.resources("Measure").fetch()
