"""The stock-keeping pages: losses and returns, stock takes, minimums, whole-visit
dispensing, cancelling a shortage, and the delivery form's facility pickers. Each: the right
persona can, outsider_doctor cannot, bad input names the field and writes nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from yigongti.pharmacy import queries
from yigongti.pharmacy.actions import ShortageInput, do_register_shortage
from yigongti.pharmacy.models import (
    DeliveryNote,
    Dispensation,
    MovementKind,
    Shortage,
    ShortageStatus,
    StockBalance,
    StockMinimum,
    StockMovement,
    StockTake,
)
from yigongti.pharmacy.scope import lead_of
from yigongti.records.actions import EncounterInput, PrescriptionInput, do_record_encounter
from yigongti.records.models import Drug

from .conftest import DRUG, resident_for, stock


def _body(r) -> str:
    return r.content.decode()


def _other_drug() -> str:
    return (
        Drug.objects.filter(active=True)
        .exclude(pk=DRUG)
        .order_by("pk")
        .values_list("pk", flat=True)[0]
    )


MANAGE_PAGES = ["/pharmacy/adjust/", "/pharmacy/stock-take/", "/pharmacy/minimums/"]


@pytest.mark.parametrize("url", MANAGE_PAGES)
@pytest.mark.parametrize(
    ("who", "code"),
    [("pharmacist", 200), ("group_admin", 200), ("village_doctor", 403), ("commission", 403)],
)
def test_stock_keeping_pages_need_manage_stock(county, client_as, url, who, code):
    r = client_as(who).get(url)
    assert r.status_code == code, (who, url)
    if code == 200:
        assert "<form" in _body(r)


# --- 报损 / 退回 ---------------------------------------------------------------------------


def test_loss_and_return_page(county, actor, client_as):
    ph = actor("pharmacist")
    mv = stock(ph.facility_id, 10)
    c = client_as("pharmacist")
    page = c.get("/pharmacy/adjust/")
    assert page.status_code == 200
    assert mv.batch.batch_no in _body(page)
    r = c.post(
        "/pharmacy/adjust/",
        {"kind": "loss", "batch": mv.batch_id, "quantity": "3", "reason": "破损"},
        follow=True,
    )
    assert "已报损：3，结存 7" in _body(r)
    loss = StockMovement.objects.filter(batch=mv.batch, kind=MovementKind.LOSS).get()
    assert loss.quantity == Decimal("-3") and loss.reason == "破损"
    r = c.post(
        "/pharmacy/adjust/",
        {"kind": "return", "batch": mv.batch_id, "quantity": "1", "reason": "患者退药"},
    )
    assert r.status_code == 302
    bal = StockBalance.objects.get(facility_id=ph.facility_id, batch=mv.batch)
    assert bal.quantity == Decimal("8")


def test_stock_page_links_a_batch_to_its_loss_form(county, actor, client_as):
    ph = actor("pharmacist")
    mv = stock(ph.facility_id, 3)
    c = client_as("pharmacist")
    body = _body(c.get(f"/pharmacy/?q={DRUG}"))
    link = f"/pharmacy/adjust/?facility={ph.facility_id}&amp;q={DRUG}&amp;batch={mv.batch_id}"
    assert link in body
    form = _body(c.get(link.replace("&amp;", "&")))
    assert f'<option value="{mv.batch_id}" selected>' in form
    vd_page = _body(client_as("village_doctor").get("/pharmacy/"))
    assert "/pharmacy/stock-take/" not in vd_page and "/pharmacy/adjust/" not in vd_page


def test_loss_bad_input_names_fields_and_writes_nothing(county, actor, client_as):
    ph = actor("pharmacist")
    mv = stock(ph.facility_id, 2)
    n = StockMovement.objects.count()
    c = client_as("pharmacist")
    r = c.post("/pharmacy/adjust/", {"kind": "loss", "batch": mv.batch_id, "quantity": "x"})
    assert r.status_code == 422
    form = r.context["form"]
    assert "数量必须是数字" in form.errors["quantity"][0]
    assert "请填写原因" in form.errors["reason"][0]
    r = c.post(
        "/pharmacy/adjust/",
        {"kind": "loss", "batch": mv.batch_id, "quantity": "5", "reason": "过期"},
    )
    assert r.status_code == 422
    assert "库存不足" in r.context["form"].errors["quantity"][0]
    r = c.post("/pharmacy/adjust/", {"kind": "loss", "quantity": "1", "reason": "丢失"})
    assert r.status_code == 422 and "batch" in r.context["form"].errors
    assert StockMovement.objects.count() == n


def test_invalid_form_choice_writes_nothing(county, actor, client_as):
    ph = actor("pharmacist")
    mv = stock(ph.facility_id, 5)
    n = StockMovement.objects.count()
    c = client_as("pharmacist")
    r = c.post(
        "/pharmacy/adjust/",
        {"kind": "steal", "batch": mv.batch_id, "quantity": "1", "reason": "x"},
    )
    assert r.status_code == 422 and "kind" in r.context["form"].errors
    other = stock(ph.facility_id, 5)
    r = c.post(
        "/pharmacy/stock-take/",
        {"q": DRUG, f"count_{mv.batch_id}": "4", f"count_{other.batch_id}": "1" * 25},
    )
    assert r.status_code == 422 and f"count_{other.batch_id}" in r.context["form"].errors
    assert StockMovement.objects.count() == n + 1  # only the second receipt
    assert not StockTake.objects.filter(facility_id=ph.facility_id).exists()


def test_outsider_cannot_record_loss(county, actor, client_as):
    ph = actor("pharmacist")
    mv = stock(ph.facility_id, 4)
    c = client_as("outsider_doctor")
    assert c.get("/pharmacy/adjust/").status_code == 403
    r = c.post(
        f"/pharmacy/adjust/?facility={ph.facility_id}",
        {"kind": "loss", "batch": mv.batch_id, "quantity": "1", "reason": "破损"},
    )
    assert r.status_code == 403
    assert not StockMovement.objects.filter(batch=mv.batch, kind=MovementKind.LOSS).exists()


def test_pharmacist_cannot_adjust_another_facility(county, actor, client_as):
    out = actor("outsider_doctor")
    mv = stock(out.facility_id, 4)
    r = client_as("pharmacist").post(
        f"/pharmacy/adjust/?facility={out.facility_id}",
        {"kind": "loss", "batch": mv.batch_id, "quantity": "1", "reason": "破损"},
    )
    assert r.status_code == 404
    assert not StockMovement.objects.filter(batch=mv.batch, kind=MovementKind.LOSS).exists()


# --- 盘点 ----------------------------------------------------------------------------------


def test_stock_take_records_and_shows_variance(county, actor, client_as):
    ph = actor("pharmacist")
    a = stock(ph.facility_id, 10)
    b = stock(ph.facility_id, 6)
    c = client_as("pharmacist")
    page = c.get(f"/pharmacy/stock-take/?q={DRUG}")
    assert page.status_code == 200 and a.batch.batch_no in _body(page)
    r = c.post(
        "/pharmacy/stock-take/",
        {"q": DRUG, f"count_{a.batch_id}": "7", f"count_{b.batch_id}": "6"},
    )
    assert r.status_code == 302
    take = StockTake.objects.filter(facility_id=ph.facility_id).latest("pk")
    assert r["Location"] == f"/pharmacy/stock-take/{take.pk}/"
    lines = {ln.batch_id: ln for ln in queries.stock_take_lines(take)}
    assert set(lines) == {a.batch_id, b.batch_id}
    assert lines[a.batch_id].variance == Decimal("-3") and lines[b.batch_id].variance == 0
    adj = StockMovement.objects.get(kind=MovementKind.ADJUSTMENT, ref_id=take.pk)
    assert adj.batch_id == a.batch_id and adj.quantity == Decimal("-3")
    result = c.get(r["Location"])
    assert result.status_code == 200
    assert "盘亏 -3" in _body(result) and "1 个有差异" in _body(result)


def test_stock_take_bad_count_names_the_batch_and_writes_nothing(county, actor, client_as):
    ph = actor("pharmacist")
    a = stock(ph.facility_id, 10)
    b = stock(ph.facility_id, 3)
    n_takes, n_moves = StockTake.objects.count(), StockMovement.objects.count()
    c = client_as("pharmacist")
    r = c.post(
        "/pharmacy/stock-take/",
        {"q": DRUG, f"count_{a.batch_id}": "8", f"count_{b.batch_id}": "-1"},
    )
    assert r.status_code == 422
    errors = r.context["form"].errors
    assert f"count_{b.batch_id}" in errors and f"count_{a.batch_id}" not in errors
    r = c.post("/pharmacy/stock-take/", {"q": DRUG})
    assert r.status_code == 422 and "请至少盘点一个批次" in _body(r)
    assert (StockTake.objects.count(), StockMovement.objects.count()) == (n_takes, n_moves)


def test_outsider_cannot_take_stock_or_see_a_take(county, actor, client_as):
    ph = actor("pharmacist")
    a = stock(ph.facility_id, 5)
    client_as("pharmacist").post("/pharmacy/stock-take/", {"q": DRUG, f"count_{a.batch_id}": "5"})
    take = StockTake.objects.filter(facility_id=ph.facility_id).latest("pk")
    c = client_as("outsider_doctor")
    n = StockTake.objects.count()
    assert c.get("/pharmacy/stock-take/").status_code == 403
    assert c.post("/pharmacy/stock-take/", {f"count_{a.batch_id}": "1"}).status_code == 403
    assert c.get(f"/pharmacy/stock-take/{take.pk}/").status_code == 403
    assert StockTake.objects.count() == n


def test_stock_take_of_another_facility_is_not_found(county, actor, client_as):
    out = actor("outsider_doctor")
    stock(out.facility_id, 5)
    c = client_as("pharmacist")
    assert c.get(f"/pharmacy/stock-take/?facility={out.facility_id}").status_code == 404


def test_stock_take_query_is_scoped(county, actor):
    ph = actor("pharmacist")
    a = stock(ph.facility_id, 5)
    from yigongti.pharmacy.actions import do_stock_take

    take = do_stock_take(ph, ph.facility_id, [(a.batch_id, "4")])
    assert queries.get_stock_take_for(ph, take.pk) == take
    from yigongti.core.errors import NotFound

    with pytest.raises(NotFound):
        queries.get_stock_take_for(actor("outsider_doctor"), take.pk)
    assert a.batch_id in {b.batch_id for b in queries.balances_at(ph, ph.facility_id, q=DRUG)}
    with pytest.raises(NotFound):
        queries.balances_at(actor("outsider_doctor"), ph.facility_id)


# --- 库存下限 ------------------------------------------------------------------------------


def test_minimum_page_sets_level_and_drives_low_stock(county, actor, client_as):
    ph = actor("pharmacist")
    stock(ph.facility_id, 3)
    c = client_as("pharmacist")
    assert c.get("/pharmacy/minimums/").status_code == 200
    r = c.post("/pharmacy/minimums/", {"drug_code": DRUG, "minimum": "50000"}, follow=True)
    assert f"已设置 {DRUG} 的库存下限为 50000" in _body(r)
    row = StockMinimum.objects.get(facility_id=ph.facility_id, drug_id=DRUG)
    assert row.minimum == Decimal("50000")
    assert DRUG in _body(c.get("/pharmacy/minimums/"))
    edit = _body(c.get(f"/pharmacy/minimums/?drug={DRUG}"))
    assert 'name="minimum" value="50000"' in edit
    low = queries.low_stock(ph)
    assert any(x.drug_code == DRUG and x.facility_id == ph.facility_id for x in low)
    alerts = _body(c.get("/pharmacy/alerts/"))
    assert "50000" in alerts


def test_minimum_bad_input_names_fields(county, actor, client_as):
    c = client_as("pharmacist")
    n = StockMinimum.objects.count()
    r = c.post("/pharmacy/minimums/", {"drug_code": "NOPE", "minimum": "-1"})
    assert r.status_code == 422
    errors = r.context["form"].errors
    assert "目录中没有该药品" in errors["drug_code"][0]
    assert "minimum" in errors
    assert StockMinimum.objects.count() == n


def test_outsider_cannot_set_minimum(county, actor, client_as):
    ph = actor("pharmacist")
    c = client_as("outsider_doctor")
    n = StockMinimum.objects.count()
    assert c.get("/pharmacy/minimums/").status_code == 403
    r = c.post(
        f"/pharmacy/minimums/?facility={ph.facility_id}", {"drug_code": DRUG, "minimum": "1"}
    )
    assert r.status_code == 403
    assert StockMinimum.objects.count() == n


# --- 整张处方发药 -------------------------------------------------------------------------


def _visit(doctor, qty_a=2, qty_b=1):
    other = _other_drug()
    enc = do_record_encounter(
        doctor,
        resident_for(doctor),
        EncounterInput(
            prescriptions=[
                PrescriptionInput(
                    drug_code=code,
                    dose="1",
                    dose_unit="片",
                    frequency="tid",
                    days=3,
                    route="po",
                    quantity=Decimal(str(q)),
                )
                for code, q in ((DRUG, qty_a), (other, qty_b))
            ]
        ),
    )
    return enc, other


def test_village_doctor_dispenses_a_whole_visit(county, actor, client_as):
    vd = actor("village_doctor")
    enc, other = _visit(vd)
    stock(vd.facility_id, 5)
    stock(vd.facility_id, 5, drug=other)
    c = client_as("village_doctor")
    page = _body(c.get("/pharmacy/dispense/"))
    assert f'name="encounter_id" value="{enc.pk}"' in page and "整张处方发药（2 项）" in page
    r = c.post("/pharmacy/dispense/", {"encounter_id": enc.pk}, follow=True)
    assert "已按整张处方发药（2 项）" in _body(r)
    assert Dispensation.objects.filter(prescription__encounter=enc).count() == 2


def test_whole_visit_short_of_one_item_dispenses_nothing(county, actor, client_as):
    vd = actor("village_doctor")
    enc, _ = _visit(vd, qty_a=2, qty_b=10_000)
    stock(vd.facility_id, 5)
    n = StockMovement.objects.count()
    r = client_as("village_doctor").post("/pharmacy/dispense/", {"encounter_id": enc.pk})
    assert r.status_code == 422 and "库存不足" in _body(r)
    assert not Dispensation.objects.filter(prescription__encounter=enc).exists()
    assert StockMovement.objects.count() == n
    r = client_as("village_doctor").post("/pharmacy/dispense/", {"encounter_id": "x"})
    assert r.status_code == 422 and "请选择要发药的处方" in _body(r)


def test_outsider_cannot_dispense_the_visit(county, actor, client_as):
    vd = actor("village_doctor")
    enc, other = _visit(vd)
    stock(vd.facility_id, 5)
    stock(vd.facility_id, 5, drug=other)
    r = client_as("outsider_doctor").post("/pharmacy/dispense/", {"encounter_id": enc.pk})
    assert r.status_code == 404
    assert not Dispensation.objects.filter(prescription__encounter=enc).exists()
    assert f'value="{enc.pk}"' not in _body(client_as("outsider_doctor").get("/pharmacy/dispense/"))


# --- 取消缺药登记 -------------------------------------------------------------------------


def _shortage(doctor) -> Shortage:
    return do_register_shortage(
        doctor, ShortageInput(resident_for(doctor).mpi_id, DRUG, Decimal(1), None, "")
    )


def test_cancel_shortage_on_its_page(county, actor, client_as):
    vd = actor("village_doctor")
    sh = _shortage(vd)
    c = client_as("village_doctor")
    page = c.get(f"/pharmacy/shortages/{sh.pk}/")
    assert page.status_code == 200 and "取消该登记" in _body(page)
    assert f"/pharmacy/shortages/{sh.pk}/" in _body(c.get("/pharmacy/shortages/"))
    r = c.post(f"/pharmacy/shortages/{sh.pk}/", {"reason": "患者已自行购买"}, follow=True)
    assert f"缺药登记 #{sh.pk} 已取消" in _body(r)
    sh.refresh_from_db()
    assert sh.status == ShortageStatus.CANCELLED and sh.note == "患者已自行购买"
    r = c.post(f"/pharmacy/shortages/{sh.pk}/", {"reason": "再次"})
    assert r.status_code == 422 and "该登记已关闭" in _body(r)


def test_cancel_shortage_needs_a_reason(county, actor, client_as):
    sh = _shortage(actor("pharmacist"))
    r = client_as("pharmacist").post(f"/pharmacy/shortages/{sh.pk}/", {"reason": "  "})
    assert r.status_code == 422
    assert "请填写取消原因" in r.context["form"].errors["reason"][0]
    sh.refresh_from_db()
    assert sh.status == ShortageStatus.REGISTERED


def test_outsider_cannot_open_or_cancel_a_shortage(county, actor, client_as):
    sh = _shortage(actor("village_doctor"))
    c = client_as("outsider_doctor")
    assert c.get(f"/pharmacy/shortages/{sh.pk}/").status_code == 404
    assert c.post(f"/pharmacy/shortages/{sh.pk}/", {"reason": "x"}).status_code == 404
    sh.refresh_from_db()
    assert sh.status == ShortageStatus.REGISTERED


# --- 配送单: facility pickers --------------------------------------------------------------


def test_delivery_form_picks_facilities(county, actor, client_as):
    ga = actor("group_admin")
    ph = actor("pharmacist")
    lead = lead_of(ga.group_id)
    stock(lead, 20)
    c = client_as("group_admin")
    page = _body(c.get("/pharmacy/deliveries/"))
    assert '<select name="from_facility"' in page and f'value="{ph.facility_id}"' in page
    assert f'value="{actor("outsider_doctor").facility_id}"' not in page
    r = c.post(
        "/pharmacy/deliveries/",
        {
            "op": "send",
            "kind": "distribution",
            "from_facility": lead,
            "to_facility": ph.facility_id,
            "drug_code": DRUG,
            "quantity": "4",
        },
        follow=True,
    )
    assert "已发出，在途" in _body(r)
    note = DeliveryNote.objects.filter(from_facility_id=lead, to_facility_id=ph.facility_id).latest(
        "pk"
    )
    assert sum(ln.quantity for ln in note.lines.all()) == Decimal("4")


def test_delivery_form_bad_input_names_fields(county, actor, client_as):
    ga = actor("group_admin")
    lead = lead_of(ga.group_id)
    n = DeliveryNote.objects.count()
    c = client_as("group_admin")
    r = c.post("/pharmacy/deliveries/", {"op": "send", "kind": "distribution"})
    assert r.status_code == 422 and "from_facility" in r.context["form"].errors
    r = c.post(
        "/pharmacy/deliveries/",
        {
            "op": "send",
            "kind": "distribution",
            "from_facility": lead,
            "to_facility": actor("outsider_doctor").facility_id,
            "drug_code": DRUG,
            "quantity": "1",
        },
    )
    assert r.status_code == 422 and "to_facility" in r.context["form"].errors
    r = c.post(
        "/pharmacy/deliveries/",
        {
            "op": "send",
            "kind": "distribution",
            "from_facility": lead,
            "to_facility": actor("pharmacist").facility_id,
            "drug_code": "NOPE",
            "quantity": "y",
        },
    )
    errors = r.context["form"].errors
    assert r.status_code == 422 and "drug_code" in errors and "quantity" in errors
    assert DeliveryNote.objects.count() == n


def test_outsider_cannot_send_a_delivery(county, actor, client_as):
    ga = actor("group_admin")
    lead = lead_of(ga.group_id)
    stock(lead, 5)
    n = DeliveryNote.objects.count()
    c = client_as("outsider_doctor")
    assert '<select name="from_facility"' not in _body(c.get("/pharmacy/deliveries/"))
    r = c.post(
        "/pharmacy/deliveries/",
        {
            "op": "send",
            "kind": "distribution",
            "from_facility": lead,
            "to_facility": actor("pharmacist").facility_id,
            "drug_code": DRUG,
            "quantity": "1",
        },
    )
    assert r.status_code == 403
    assert DeliveryNote.objects.count() == n
