"""Pages render for the right personas, refuse others, and drive the actions."""

from __future__ import annotations

import pytest

from yigongti.pharmacy.models import Dispensation, Shortage

from .conftest import stock

PAGES = [
    "/pharmacy/",
    "/pharmacy/movements/",
    "/pharmacy/deliveries/",
    "/pharmacy/procurement/",
    "/pharmacy/shortages/",
    "/pharmacy/alerts/",
]


@pytest.mark.parametrize("url", PAGES)
@pytest.mark.parametrize("who", ["pharmacist", "group_admin", "village_doctor", "commission"])
def test_pages_render(county, client_as, url, who):
    r = client_as(who).get(url)
    assert r.status_code == 200, (who, url, r.content[:500])
    assert "药品" in r.content.decode() or "缺药" in r.content.decode()


def test_sysadmin_has_no_stock_pages(county, client_as):
    assert client_as("sysadmin").get("/pharmacy/").status_code == 403


def test_outsider_cannot_open_another_facility(county, actor, client_as):
    fid = actor("pharmacist").facility_id
    assert client_as("outsider_doctor").get(f"/pharmacy/?facility={fid}").status_code == 404


def test_stock_page_shows_batches(county, actor, client_as):
    ph = actor("pharmacist")
    mv = stock(ph.facility_id, 12)
    body = client_as("pharmacist").get("/pharmacy/").content.decode()
    assert mv.batch.batch_no in body


def test_dispense_page(county, actor, client_as, rx):
    ph = actor("pharmacist")
    stock(ph.facility_id, 5)
    p = rx(qty=2)
    c = client_as("pharmacist")
    assert p.drug_name in c.get("/pharmacy/dispense/").content.decode()
    r = c.post("/pharmacy/dispense/", {"prescription_id": p.pk})
    assert r.status_code == 302
    assert Dispensation.objects.filter(prescription=p).exists()
    assert client_as("commission").get("/pharmacy/dispense/").status_code == 403


def test_shortage_page_registers(county, actor, client_as):
    from yigongti.residents.queries import residents_visible_to

    res = residents_visible_to(actor("village_doctor")).first()
    c = client_as("village_doctor")
    n = Shortage.objects.count()
    c.post(
        "/pharmacy/shortages/",
        {"op": "register", "mpi_id": res.mpi_id, "drug_code": "YP0030", "quantity": "x"},
    )
    assert Shortage.objects.count() == n
    r = c.post(
        "/pharmacy/shortages/",
        {"op": "register", "mpi_id": res.mpi_id, "drug_code": "YP0030", "quantity": "1"},
        follow=True,
    )
    assert "已登记缺药" in r.content.decode()
    assert Shortage.objects.count() == n + 1
