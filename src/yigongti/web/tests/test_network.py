"""The network pages and the forms that maintain it."""

from __future__ import annotations

import pytest

from yigongti.network.models import Department, Facility, FacilityKind, MedicalGroup, Staff

pytestmark = pytest.mark.django_db


def test_tree_shows_hospitals_centres_and_villages(client_as):
    group = MedicalGroup.objects.order_by("code").first()
    r = client_as("village_doctor").get(f"/network/groups/{group.code}/")
    assert r.status_code == 200
    html = r.content.decode()
    tree = r.context["tree"]
    assert tree[0]["facility"].kind == FacilityKind.COUNTY_HOSPITAL
    centre = next(n for n in tree if n["facility"].kind == FacilityKind.TOWNSHIP_CENTRE)
    assert centre["facility"].name in html
    assert centre["children"] and centre["children"][0].name in html


def test_unknown_group_is_404(client_as):
    assert client_as("village_doctor").get("/network/groups/NOPE/").status_code == 404


def test_facility_page_lists_departments_staff_and_groupings(client_as):
    f = Facility.objects.filter(kind=FacilityKind.COUNTY_HOSPITAL).first()
    r = client_as("pharmacist").get(f"/network/facilities/{f.code}/")
    html = r.content.decode()
    assert r.status_code == 200 and f.name in html
    staff = Staff.objects.filter(facility=f, active=True).first()
    if staff:
        assert staff.name in html
    assert "编辑机构" not in html  # read-only for the pharmacist


def test_groupings_page(client_as):
    r = client_as("village_doctor").get("/network/groupings/")
    assert r.status_code == 200 and "协作组织" in r.content.decode()


def test_group_admin_adds_a_department_with_field_errors_first(client_as, actor):
    f = Facility.objects.filter(group_id=actor("group_admin").group_id).first()
    c = client_as("group_admin")
    r = c.post(f"/network/facilities/{f.code}/departments/new/", {"name": "", "code": "K1"})
    assert r.status_code == 200 and r.context["form"].errors["name"]
    assert 'value="K1"' in r.content.decode()
    r = c.post(f"/network/facilities/{f.code}/departments/new/", {"name": "康复科", "code": "K1"})
    assert r.status_code == 302
    assert Department.objects.filter(facility=f, name="康复科").exists()
    r = c.post(f"/network/facilities/{f.code}/departments/new/", {"name": "康复科"})
    assert r.status_code == 200 and r.context["form"].errors["name"]


def test_group_admin_adds_staff(client_as, actor):
    f = Facility.objects.filter(group_id=actor("group_admin").group_id).first()
    c = client_as("group_admin")
    r = c.post(
        f"/network/facilities/{f.code}/staff/new/",
        {"name": "周晓岚", "sex": "2", "title": "主治医师", "specialty": "全科医学"},
    )
    assert r.status_code == 302
    page = c.get(f"/network/facilities/{f.code}/").content.decode()
    assert "周晓岚" in page and "主治医师" in page


def test_sysadmin_adds_a_facility_and_sees_division_errors(client_as):
    group = MedicalGroup.objects.order_by("code").first()
    centre = Facility.objects.filter(group=group, kind=FacilityKind.TOWNSHIP_CENTRE).first()
    c = client_as("sysadmin")
    data = {
        "code": "TEST-VC-1",
        "name": "测试村卫生室",
        "kind": FacilityKind.VILLAGE_CLINIC,
        "group": group.code,
        "division": centre.division.code,  # a township: wrong level for a village clinic
        "supervisor": centre.code,
        "active": "on",
    }
    r = c.post("/network/facilities/new/", data)
    assert r.status_code == 200
    assert "村卫生室应位于村级区划" in r.context["form"].errors["division"][0]
    assert 'value="TEST-VC-1"' in r.content.decode()
    village = centre.division.children.first()
    r = c.post("/network/facilities/new/", {**data, "division": village.code})
    assert r.status_code == 302 and r["Location"] == "/network/facilities/TEST-VC-1/"
    created = Facility.objects.get(code="TEST-VC-1")
    assert created.supervisor_id == centre.pk
    r = c.post(
        "/network/facilities/TEST-VC-1/edit/",
        {**data, "division": village.code, "name": "改名卫生室"},
    )
    assert r.status_code == 302
    created.refresh_from_db()
    assert created.name == "改名卫生室" and created.code == "TEST-VC-1"


def test_group_admin_only_offers_own_group(client_as, actor):
    form = client_as("group_admin").get("/network/facilities/new/").context["form"]
    group = MedicalGroup.objects.get(pk=actor("group_admin").group_id)
    assert form.fields["group"].choices == [(group.code, group.name)]
