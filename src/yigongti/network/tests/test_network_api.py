"""The care network: reading the tree, and who may add and edit facilities, departments, staff."""

from __future__ import annotations

import pytest

from yigongti.core.models import AuditEntry
from yigongti.network.models import Division, Facility, MedicalGroup
from yigongti.network.queries import catchment_township_ids, network_tree

pytestmark = pytest.mark.django_db


def test_every_staff_persona_reads_the_network(api_as):
    for who in ("village_doctor", "commission", "pharmacist", "outsider_doctor"):
        groups = api_as(who).get("/api/v1/groups").json()
        assert len(groups) == 2
        assert all(g["lead"] for g in groups)


def test_tree_has_township_centres_supervising_their_villages(county):
    group = MedicalGroup.objects.order_by("code").first()
    tree = network_tree(group)
    kinds = [node["facility"].kind for node in tree]
    assert kinds[0] == "county_hospital"
    centres = [n for n in tree if n["facility"].kind == "township_centre"]
    assert centres
    for node in centres:
        assert node["children"], "each centre supervises village clinics"
        for clinic in node["children"]:
            assert clinic.division.parent_id == node["facility"].division_id


def test_catchment_is_the_groups_townships(county):
    for group in MedicalGroup.objects.all():
        townships = catchment_township_ids(group.pk)
        centres = Facility.objects.filter(group=group, kind="township_centre")
        assert {c.division_id for c in centres} <= townships


def _new_village_clinic_body(group_code: str) -> dict[str, object]:
    centre = Facility.objects.filter(group__code=group_code, kind="township_centre").first()
    assert centre is not None
    village = Division.objects.filter(parent_id=centre.division_id, level="village").first()
    assert village is not None
    return {
        "code": "VTEST01",
        "name": f"{village.name}第二卫生室",
        "kind": "village_clinic",
        "group": group_code,
        "division_code": village.code,
        "supervisor": centre.code,
    }


def test_group_admin_adds_a_village_clinic(api_as):
    body = _new_village_clinic_body("G01")
    r = api_as("group_admin").post("/api/v1/facilities", body, content_type="application/json")
    assert r.status_code == 201, r.content
    assert r.json()["supervisor"] == body["supervisor"]
    assert AuditEntry.objects.filter(action="create", object_type="facility").exists()


def test_facility_must_sit_at_the_right_level(api_as):
    body = _new_village_clinic_body("G01")
    county = Division.objects.get(level="county")
    r = api_as("group_admin").post(
        "/api/v1/facilities", dict(body, division_code=county.code), content_type="application/json"
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"][-1] == "division"


def test_village_clinic_supervisor_must_be_its_township_centre(api_as):
    body = _new_village_clinic_body("G01")
    other = Facility.objects.filter(kind="county_hospital").first()
    r = api_as("group_admin").post(
        "/api/v1/facilities", dict(body, supervisor=other.code), content_type="application/json"
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"][-1] == "supervisor"


def test_duplicate_facility_code_names_the_field(api_as):
    body = _new_village_clinic_body("G01")
    c = api_as("group_admin")
    assert c.post("/api/v1/facilities", body, content_type="application/json").status_code == 201
    again = c.post("/api/v1/facilities", body, content_type="application/json")
    assert again.status_code == 422
    assert again.json()["detail"][0]["loc"][-1] == "code"


def test_group_admin_cannot_touch_another_group(api_as):
    body = _new_village_clinic_body("G02")
    r = api_as("group_admin").post("/api/v1/facilities", body, content_type="application/json")
    assert r.status_code == 403
    other = Facility.objects.filter(group__code="G02").first()
    r = api_as("group_admin").patch(
        f"/api/v1/facilities/{other.code}", {"phone": "0371-1"}, content_type="application/json"
    )
    assert r.status_code == 403


@pytest.mark.parametrize(
    "who",
    [
        "village_doctor",
        "township_doctor",
        "county_doctor",
        "outsider_doctor",
        "pharmacist",
        "commission",
    ],
)
def test_clinical_and_supervisor_roles_cannot_edit_the_network(api_as, who):
    body = _new_village_clinic_body("G01")
    r = api_as(who).post("/api/v1/facilities", body, content_type="application/json")
    assert r.status_code == 403


def test_departments_and_staff(api_as):
    lead = MedicalGroup.objects.get(code="G01").lead
    c = api_as("group_admin")
    d = c.post(
        f"/api/v1/facilities/{lead.code}/departments",
        {"name": "康复医学科"},
        content_type="application/json",
    )
    assert d.status_code == 201
    s = c.post(
        f"/api/v1/facilities/{lead.code}/staff",
        {
            "name": "何志强",
            "sex": "1",
            "department": "康复医学科",
            "title": "主治医师",
            "specialty": "康复医学",
        },
        content_type="application/json",
    )
    assert s.status_code == 201, s.content
    staff = c.get(f"/api/v1/facilities/{lead.code}/staff").json()
    assert any(x["name"] == "何志强" and x["department"] == "康复医学科" for x in staff)
    missing = c.post(
        f"/api/v1/facilities/{lead.code}/staff",
        {"name": "钱多", "department": "不存在科"},
        content_type="application/json",
    )
    assert missing.status_code == 422


def test_sysadmin_edits_any_group(api_as):
    other = Facility.objects.filter(group__code="G02", kind="township_centre").first()
    r = api_as("sysadmin").patch(
        f"/api/v1/facilities/{other.code}",
        {"phone": "03711234567"},
        content_type="application/json",
    )
    assert r.status_code == 200 and r.json()["phone"] == "03711234567"


def test_groupings_and_divisions(api_as):
    c = api_as("township_doctor")
    groupings = c.get("/api/v1/groupings").json()
    assert {g["kind"] for g in groupings} >= {"alliance", "grid"}
    villages = c.get("/api/v1/divisions", {"level": "village"}).json()
    assert all(len(v["code"]) == 12 and v["code"].startswith(v["parent_code"]) for v in villages)
