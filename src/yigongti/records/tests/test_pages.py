from __future__ import annotations

from yigongti.records import actions
from yigongti.records.models import Encounter, HealthExam, HealthProfile

from .helpers import resident_of, visit


def _form(**over):
    body = {
        "kind": "outpatient",
        "complaint": "头晕两天",
        "sbp": "158",
        "dbp": "98",
        "pulse": "82",
        "dx_0": "I10 特发性（原发性）高血压",
        "rx_0_drug": "YP0002 苯磺酸氨氯地平片 5mg",
        "rx_0_dose": "1",
        "rx_0_freq": "qd",
        "rx_0_route": "po",
        "rx_0_days": "14",
    }
    body.update(over)
    return body


def test_village_doctor_records_a_visit_on_the_page_and_sees_it_on_the_timeline(client_as, actor):
    r = resident_of(actor("village_doctor"))
    c = client_as("village_doctor")
    res = c.post(f"/residents/{r.mpi_id}/health/encounters/new/", _form())
    assert res.status_code == 302, res.content.decode()[:2000]
    enc = Encounter.objects.filter(resident=r).latest("pk")
    assert enc.prescriptions.get().quantity == 14
    page = c.get(f"/residents/{r.mpi_id}/health/").content.decode()
    assert "高血压" in page and "158/98 mmHg" in page
    detail = c.get(f"/records/encounters/{enc.pk}/").content.decode()
    assert "苯磺酸氨氯地平片" in detail and "更正" in detail


def test_a_bp_of_999_over_5_comes_back_on_the_form_next_to_the_field(client_as, actor):
    r = resident_of(actor("village_doctor"))
    before = Encounter.objects.count()
    res = client_as("village_doctor").post(
        f"/residents/{r.mpi_id}/health/encounters/new/", _form(sbp="999", dbp="5")
    )
    assert res.status_code == 422
    assert "收缩压 999 mmHg 超出可能范围" in res.content.decode()
    assert Encounter.objects.count() == before


def test_amend_on_the_page_keeps_both_versions(client_as, actor):
    doctor = actor("village_doctor")
    r = resident_of(doctor)
    enc = actions.do_record_encounter(doctor, r, visit())
    c = client_as("village_doctor")
    res = c.post(f"/records/encounters/{enc.pk}/amend/", _form(sbp="140", dbp="88", reason="复测"))
    assert res.status_code == 302
    new = Encounter.objects.get(replaces=enc)
    text = c.get(f"/records/encounters/{new.pk}/").content.decode()
    assert "版本历史" in text and f"#{enc.pk}" in text and "复测" in text
    refused = c.post(f"/records/encounters/{enc.pk}/amend/", _form(reason="again"))
    assert refused.status_code == 422  # the old version is no longer current


def test_timeline_filters_by_kind_and_pages_with_a_cursor(client_as, actor):
    doctor = actor("village_doctor")
    r = resident_of(doctor)
    for _ in range(35):
        actions.do_record_encounter(doctor, r, visit())
    actions.do_record_observation(
        doctor, r, actions.ObservationInput(kind="glucose_fasting", value=6.1)
    )
    c = client_as("village_doctor")
    page = c.get(f"/residents/{r.mpi_id}/health/").content.decode()
    assert "加载更早的记录" in page
    only_obs = c.get(f"/residents/{r.mpi_id}/health/?kind=observation").content.decode()
    assert "空腹血糖 6.1 mmol/L" in only_obs and "门诊 ·" not in only_obs


def test_profile_and_exam_forms_save_new_versions(client_as, actor):
    r = resident_of(actor("village_doctor"))
    c = client_as("village_doctor")
    res = c.post(
        f"/residents/{r.mpi_id}/health/profile/",
        {
            "blood_type": "A",
            "rh_negative": "unknown",
            "past_history": "高血压 I10 2015",
            "allergies": "青霉素，磺胺",
            "smoking": "former",
        },
    )
    assert res.status_code == 302
    p = HealthProfile.objects.filter(resident=r).latest("pk")
    assert p.allergies == ["青霉素", "磺胺"] and p.past_history[0] == {
        "condition": "高血压",
        "icd": "I10",
        "year": 2015,
    }
    bad = c.post(f"/residents/{r.mpi_id}/health/profile/", {"past_history": "怪病 Q99.999"})
    assert bad.status_code == 422
    res = c.post(
        f"/residents/{r.mpi_id}/health/exams/new/",
        {
            "kind": "elderly_annual",
            "exam_date": "2026-01-05",
            "sbp": "135",
            "dbp": "85",
            "height": "165",
            "weight": "70",
            "f_ecg": "正常",
            "conclusion": "血压正常高值",
        },
    )
    assert res.status_code == 302
    exam = HealthExam.objects.filter(resident=r).latest("pk")
    assert exam.findings == {"ecg": "正常"}
    assert {o.kind for o in exam.observations.all()} == {"bp", "height", "weight", "bmi"}


def test_outsider_gets_404_on_the_record_pages(client_as, actor):
    doctor = actor("village_doctor")
    r = resident_of(doctor)
    enc = actions.do_record_encounter(doctor, r, visit())
    c = client_as("outsider_doctor")
    assert c.get(f"/residents/{r.mpi_id}/health/").status_code == 404
    assert c.get(f"/records/encounters/{enc.pk}/").status_code == 404
    assert c.post(f"/residents/{r.mpi_id}/health/encounters/new/", _form()).status_code == 404


def test_code_lookups_answer_datalist_options(client_as):
    c = client_as("village_doctor")
    assert 'value="I10 ' in c.get("/records/codes/icd10/?dx_0=gxy").content.decode()
    assert "YP0009" in c.get("/records/codes/drugs/?rx_0_drug=二甲双胍").content.decode()
