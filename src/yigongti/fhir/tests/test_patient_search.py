"""Searching Patients: identifier, name (characters, pinyin, initials), birthdate, gender,
paging, scope and audit."""

from __future__ import annotations

from datetime import date

import pytest

from yigongti.core.models import AuditEntry
from yigongti.fhir import systems
from yigongti.residents.models import Resident
from yigongti.residents.queries import residents_visible_to

from .helpers import assert_valid, base, home_resident, issues

pytestmark = pytest.mark.django_db


def search(client, **params):
    resp = client.get("/fhir/Patient", params)
    assert resp.status_code == 200, resp.content
    bundle = assert_valid(resp.json())
    assert bundle["type"] == "searchset"
    for entry in bundle.get("entry", []):
        assert entry["search"] == {"mode": "match"}
        assert entry["fullUrl"] == f"http://testserver/fhir/Patient/{entry['resource']['id']}"
    return bundle


def ids(bundle):
    return [e["resource"]["id"] for e in bundle.get("entry", [])]


@pytest.fixture
def doctor(api_as):
    return api_as("village_doctor")


@pytest.fixture
def resident(actor):
    return home_resident(actor("village_doctor"))


def test_by_id_number_with_the_national_system(doctor, resident):
    bundle = search(doctor, identifier=f"{systems.ID_CARD_SYSTEM}|{resident.doc_number}")
    assert bundle["total"] == 1 and ids(bundle) == [resident.mpi_id]


def test_by_a_bare_id_number_or_index_number(doctor, resident):
    assert ids(search(doctor, identifier=resident.doc_number)) == [resident.mpi_id]
    assert ids(search(doctor, identifier=resident.mpi_id)) == [resident.mpi_id]
    assert ids(search(doctor, identifier=f"{base()}/mpi|{resident.mpi_id}")) == [resident.mpi_id]
    assert ids(search(doctor, _id=resident.mpi_id)) == [resident.mpi_id]


def test_by_health_card(doctor, resident):
    card = resident.cards.first()
    assert card is not None
    found = search(doctor, identifier=f"{base()}/health-card|{card.card_id.lower()}")
    assert ids(found) == [resident.mpi_id]


def test_an_unknown_identifier_system_matches_nobody(doctor, resident):
    bundle = search(doctor, identifier=f"urn:oid:1.2.3|{resident.doc_number}")
    assert bundle["total"] == 0 and "entry" not in bundle


def test_search_results_leave_out_document_phone_and_cards(doctor, resident):
    [entry] = search(doctor, identifier=resident.doc_number)["entry"]
    p = entry["resource"]
    assert p["meta"]["tag"][0]["code"] == "SUBSETTED"
    assert {i["system"] for i in p["identifier"]} == {f"{base()}/mpi"}
    assert "telecom" not in p
    assert resident.doc_number not in str(entry)


def test_the_outsider_finds_nobody_of_another_township(api_as, resident):
    bundle = search(api_as("outsider_doctor"), identifier=resident.doc_number)
    assert bundle["total"] == 0


def test_by_name_in_characters_pinyin_and_initials(doctor, resident):
    for query in (resident.name, resident.name[:1], resident.name_pinyin, resident.name_initials):
        found = ids(search(doctor, name=query, _count=100))
        assert resident.mpi_id in found, query
    assert ids(search(doctor, name=resident.name, _count=100))[0] == resident.mpi_id  # exact first
    exact = search(doctor, **{"name:exact": resident.name, "_count": 100})
    assert all(e["resource"]["name"][0]["text"] == resident.name for e in exact["entry"])


def test_name_search_stays_inside_the_area(doctor, actor):
    visible = set(residents_visible_to(actor("village_doctor")).values_list("mpi_id", flat=True))
    outside = Resident.objects.exclude(mpi_id__in=visible).filter(status="active").first()
    assert outside is not None
    assert outside.mpi_id not in ids(search(doctor, name=outside.name, _count=100))


def test_by_birthdate_with_prefixes(doctor, resident):
    day = resident.birth_date
    assert resident.mpi_id in ids(search(doctor, birthdate=day.isoformat(), _count=100))
    assert resident.mpi_id in ids(search(doctor, birthdate=str(day.year), _count=100))
    ranged = search(doctor, birthdate=[f"ge{day.year}-01-01", f"lt{day.year + 1}"], _count=100)
    born = [date.fromisoformat(e["resource"]["birthDate"]) for e in ranged["entry"]]
    assert born and all(b.year == day.year for b in born)
    after = search(doctor, birthdate=f"gt{day.isoformat()}", _count=100)
    assert all(e["resource"]["birthDate"] > day.isoformat() for e in after.get("entry", []))
    before = search(doctor, birthdate=f"le{day.isoformat()}", _count=100)
    assert resident.mpi_id in ids(before)


def test_by_gender(doctor, actor):
    visible = residents_visible_to(actor("village_doctor"))
    women = search(doctor, gender="female", _count=100)
    assert women["total"] == visible.filter(sex="2").count()
    assert {e["resource"]["gender"] for e in women["entry"]} == {"female"}
    both = search(doctor, gender="male,female", _count=0)
    assert both["total"] == visible.filter(sex__in=["1", "2"]).count()


@pytest.mark.parametrize(
    ("param", "value"),
    [("gender", "robot"), ("birthdate", "last-year"), ("birthdate", "sa2000"), ("_count", "x")],
)
def test_bad_parameter_values_are_400(doctor, param, value):
    resp = doctor.get("/fhir/Patient", {param: value})
    assert resp.status_code == 400
    assert param in issues(resp)[0]["diagnostics"]


def test_unknown_parameters_are_ignored_unless_strict(doctor):
    bundle = search(doctor, frobnicate="1", _count=1)
    assert "frobnicate" not in bundle["link"][0]["url"]
    resp = doctor.get("/fhir/Patient", {"frobnicate": "1"}, headers={"Prefer": "handling=strict"})
    assert resp.status_code == 400


def test_paging_follows_next_links_without_overlap(doctor, actor):
    total = residents_visible_to(actor("village_doctor")).count()
    assert total > 6
    seen = list[str]()
    bundle = search(doctor, _count=5)
    while True:
        assert bundle["total"] == total
        seen += ids(bundle)
        links = {link["relation"]: link["url"] for link in bundle["link"]}
        if "next" not in links:
            break
        resp = doctor.get(links["next"].removeprefix("http://testserver"))
        bundle = assert_valid(resp.json())
    assert len(seen) == total == len(set(seen))


def test_count_zero_gives_only_the_total(doctor, actor):
    bundle = search(doctor, _count=0)
    assert bundle["total"] == residents_visible_to(actor("village_doctor")).count()
    assert "entry" not in bundle


def test_searches_are_audited_with_the_document_number_masked(doctor, resident):
    search(doctor, identifier=resident.doc_number)
    entry = AuditEntry.objects.filter(action="search", username="village_doctor").last()
    assert entry is not None and entry.detail["via"] == "fhir"
    assert entry.detail["returned"] == [resident.mpi_id]
    assert resident.doc_number not in str(entry.detail)
