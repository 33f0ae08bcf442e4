"""Who may open which page (STYLE.md §5: every page is checked for access and denial)."""

from __future__ import annotations

import pytest

from yigongti.core.models import AuditEntry
from yigongti.network.models import Facility, MedicalGroup
from yigongti.residents.queries import residents_visible_to
from yigongti.synth.load import PERSONAS

pytestmark = pytest.mark.django_db


def test_anonymous_visitor_is_sent_to_login(county):
    from django.test import Client

    for url in ("/", "/residents/", "/network/", "/audit/", "/residents/new/"):
        r = Client().get(url)
        assert r.status_code == 302 and r["Location"].startswith("/login/?next="), url


@pytest.mark.parametrize("name", PERSONAS)
def test_every_persona_has_a_home_page(client_as, actor, name):
    r = client_as(name).get("/")
    assert r.status_code == 200
    html = r.content.decode()
    a = actor(name)
    assert a.role_label in html and "医共体信息平台" in html
    if a.facility_name:
        assert a.facility_name in html


def test_village_doctor_home_lists_own_village_masked(client_as, actor):
    a = actor("village_doctor")
    r = client_as("village_doctor").get("/")
    html = r.content.decode()
    first = r.context["rows"][0]
    assert first.name in html
    if first.doc_number:
        assert first.doc_number not in html  # masked in lists
        assert first.doc_number[:6] + "********" + first.doc_number[-4:] in html
    assert all(row.village_id in a.scope.division_ids for row in r.context["rows"])
    assert AuditEntry.objects.filter(
        username="village_doctor", object_type="resident_list"
    ).exists()


def test_township_home_counts_villages(client_as):
    r = client_as("township_doctor").get("/")
    rows = r.context["village_rows"]
    assert rows and sum(x["n"] for x in rows) == r.context["total"] > 0


def test_admin_and_commission_homes_show_the_network(client_as):
    group = MedicalGroup.objects.order_by("code").first()
    for name in ("sysadmin", "group_admin", "commission"):
        html = client_as(name).get("/").content.decode()
        assert group.name in html, name
    assert "待审核疑似重复" in client_as("group_admin").get("/").content.decode()
    assert "在档居民" in client_as("commission").get("/").content.decode()


@pytest.mark.parametrize(
    ("name", "url"),
    [
        ("village_doctor", "/residents/?q=wang"),
        ("village_doctor", "/residents/new/"),
        ("village_doctor", "/cards/scan/"),
        ("village_doctor", "/network/"),
        ("pharmacist", "/residents/?q=li"),
        ("commission", "/audit/"),
        ("group_admin", "/audit/"),
        ("sysadmin", "/audit/"),
        ("group_admin", "/residents/duplicates/"),
        ("sysadmin", "/residents/duplicates/"),
        ("group_admin", "/network/facilities/new/"),
        ("sysadmin", "/network/facilities/new/"),
        ("commission", "/network/groupings/"),
    ],
)
def test_page_opens_for_the_right_persona(client_as, name, url):
    assert client_as(name).get(url).status_code == 200


@pytest.mark.parametrize(
    ("name", "url"),
    [
        ("village_doctor", "/audit/"),
        ("village_doctor", "/residents/duplicates/"),
        ("township_doctor", "/residents/duplicates/"),
        ("pharmacist", "/residents/new/"),
        ("commission", "/residents/new/"),
        ("commission", "/network/facilities/new/"),
        ("county_doctor", "/network/facilities/new/"),
        ("pharmacist", "/audit/"),
    ],
)
def test_page_is_refused_to_the_wrong_persona(client_as, name, url):
    r = client_as(name).get(url)
    assert r.status_code == 403
    assert "无权" in r.content.decode()


def test_pharmacist_sees_no_register_link_and_cannot_post(client_as, actor):
    c = client_as("pharmacist")
    html = c.get("/").content.decode()
    assert "/residents/new/" not in html and "建档" not in html
    village = residents_visible_to(actor("township_doctor")).first().village
    before = residents_visible_to(actor("township_doctor")).count()
    r = c.post("/residents/new/", {"name": "药师建档", "sex": "1", "village_code": village.code})
    assert r.status_code == 403
    assert residents_visible_to(actor("township_doctor")).count() == before


def test_navigation_follows_permissions(client_as):
    village = client_as("village_doctor").get("/").content.decode()
    assert 'href="/audit/"' not in village and 'href="/residents/duplicates/"' not in village
    assert 'href="/residents/new/"' in village
    admin = client_as("sysadmin").get("/").content.decode()
    for href in ("/audit/", "/residents/duplicates/", "/network/"):
        assert f'href="{href}"' in admin


def test_outsider_cannot_open_a_resident_of_another_village(client_as, actor):
    r = residents_visible_to(actor("village_doctor")).first()
    resp = client_as("outsider_doctor").get(f"/residents/{r.mpi_id}/")
    assert resp.status_code == 404
    html = resp.content.decode()
    assert "未找到居民档案" in html and r.name not in html
    assert AuditEntry.objects.filter(
        username="outsider_doctor", action="denied", object_id=r.mpi_id
    ).exists()
    # nor edit it, nor ask for its dynamic QR
    assert client_as("outsider_doctor").get(f"/residents/{r.mpi_id}/edit/").status_code == 404
    assert (
        client_as("outsider_doctor").post(f"/residents/{r.mpi_id}/dynamic-qr/").status_code == 404
    )


def test_unknown_resident_and_facility_give_the_chinese_404(client_as):
    c = client_as("village_doctor")
    r = c.get("/residents/999999999999999999/")
    assert r.status_code == 404 and "未找到" in r.content.decode()
    r = c.get("/network/facilities/NOPE/")
    assert r.status_code == 404 and "未找到医疗机构" in r.content.decode()


def test_group_admin_cannot_edit_a_facility_of_another_group(client_as, actor):
    other = Facility.objects.exclude(group_id=actor("group_admin").group_id).first()
    c = client_as("group_admin")
    assert c.get(f"/network/facilities/{other.code}/").status_code == 200
    assert c.get(f"/network/facilities/{other.code}/edit/").status_code == 403
    assert (
        c.post(f"/network/facilities/{other.code}/departments/new/", {"name": "x"}).status_code
        == 403
    )


def test_action_endpoints_refuse_get(client_as):
    assert client_as("group_admin").get("/residents/duplicates/1/merge/").status_code == 405
