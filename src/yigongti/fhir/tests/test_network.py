"""Organization (facilities and medical groups) and Practitioner (staff): readable by any
signed-in staff member, never anonymously."""

from __future__ import annotations

import pytest
from django.test import Client

from yigongti.network.models import Facility, MedicalGroup, Staff

from .helpers import assert_valid, base, issues

pytestmark = pytest.mark.django_db


def bundle_ids(client, resource_type, **params):
    resp = client.get(f"/fhir/{resource_type}", params)
    assert resp.status_code == 200, resp.content
    bundle = assert_valid(resp.json())
    return bundle["total"], [e["resource"]["id"] for e in bundle.get("entry", [])]


@pytest.fixture
def clinic(personas):
    return (
        Staff.objects.select_related("facility__group")
        .get(licence_no="persona-village_doctor")
        .facility
    )


def test_a_village_clinic_is_part_of_its_medical_group(api_as, clinic):
    resp = api_as("outsider_doctor").get(f"/fhir/Organization/{clinic.code}")
    assert resp.status_code == 200
    org = assert_valid(resp.json())
    assert org["name"] == clinic.name and org["active"] is True
    assert org["identifier"] == [
        {"use": "official", "system": f"{base()}/facility", "value": clinic.code}
    ]
    assert {c["code"] for c in org["type"][0]["coding"]} == {"prov", "village_clinic"}
    assert org["partOf"]["reference"] == f"Organization/group-{clinic.group.code}"
    group = assert_valid(
        api_as("outsider_doctor").get(f"/fhir/{org['partOf']['reference']}").json()
    )
    assert group["name"] == clinic.group.name
    assert group["identifier"][0]["system"] == f"{base()}/medical-group"


def test_organization_search_by_name_identifier_type_and_group(api_as, clinic):
    client = api_as("pharmacist")
    n_facilities, n_groups = Facility.objects.count(), MedicalGroup.objects.count()
    assert bundle_ids(client, "Organization", _count=0)[0] == n_facilities + n_groups
    assert clinic.code in bundle_ids(client, "Organization", name=clinic.name[:2], _count=100)[1]
    assert bundle_ids(client, "Organization", **{"name:contains": "卫生室", "_count": 0})[0] == (
        Facility.objects.filter(name__contains="卫生室").count()
    )
    assert bundle_ids(client, "Organization", identifier=f"{base()}/facility|{clinic.code}")[1] == [
        clinic.code
    ]
    total, _ = bundle_ids(client, "Organization", type="village_clinic", _count=0)
    assert total == Facility.objects.filter(kind="village_clinic").count()
    _, groups = bundle_ids(client, "Organization", type="medical_group")
    assert len(groups) == n_groups and all(g.startswith("group-") for g in groups)
    total, members = bundle_ids(
        client, "Organization", partof=f"Organization/group-{clinic.group.code}", _count=100
    )
    assert total == clinic.group.members.count() and clinic.code in members


def test_organization_pages_run_over_groups_then_facilities(api_as):
    client = api_as("commission")
    total, _ = bundle_ids(client, "Organization", _count=0)
    seen = []
    for offset in range(0, total, 3):
        seen += bundle_ids(client, "Organization", _count=3, _offset=offset)[1]
    assert len(seen) == total == len(set(seen))
    assert seen[0].startswith("group-")


def test_unknown_organization_is_404_and_anonymous_is_401(api_as):
    assert api_as("commission").get("/fhir/Organization/NOPE").status_code == 404
    assert Client().get("/fhir/Organization/H01").status_code == 401


def test_a_practitioner_carries_licence_and_title(api_as):
    staff = Staff.objects.get(licence_no="persona-village_doctor")
    resp = api_as("outsider_doctor").get(f"/fhir/Practitioner/{staff.pk}")
    assert resp.status_code == 200
    p = assert_valid(resp.json())
    assert p["name"][0]["text"] == staff.name
    assert p["identifier"][0] == {
        "use": "official",
        "system": f"{base()}/practitioner-licence",
        "value": "persona-village_doctor",
    }
    assert p["qualification"] == [{"code": {"text": "乡村医生"}}]


def test_practitioner_search_by_name_and_identifier(api_as):
    client = api_as("township_doctor")
    staff = Staff.objects.get(licence_no="persona-county_doctor")
    assert str(staff.pk) in bundle_ids(client, "Practitioner", name=staff.name, _count=100)[1]
    assert bundle_ids(client, "Practitioner", identifier="persona-county_doctor")[1] == [
        str(staff.pk)
    ]
    total, _ = bundle_ids(client, "Practitioner", _count=0)
    assert total == Staff.objects.count()


def test_unknown_practitioner_is_404(api_as):
    resp = api_as("commission").get("/fhir/Practitioner/999999999")
    assert resp.status_code == 404 and issues(resp)[0]["code"] == "not-found"
