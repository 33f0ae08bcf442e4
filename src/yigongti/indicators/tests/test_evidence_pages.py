"""Pages and REST endpoints of the evidence items with the Django test client: real multipart
uploads, the download roundtrip (bytes equal), error messages on the page naming the field,
double-posted forms, the review form, and the outsider refused everywhere."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from yigongti.core.errors import Forbidden, NotFound
from yigongti.core.models import AuditEntry
from yigongti.indicators import evidence
from yigongti.indicators.models import EvidenceAttachment, EvidenceItem, EvidenceReview

from . import evidence_fixtures as fx
from .evidence_fixtures import docx, jpeg, pdf, png, xlsx

home_group = fx.home_group
make_item = fx.make_item
other_admin = fx.other_admin
other_group = fx.other_group


def _upload(name: str, data: bytes, ctype: str = "application/octet-stream") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=ctype)


def _form(home_group, **kw):
    data = {
        "code": "tight_resources",
        "group": str(home_group.pk),
        "period": "2026",
        "title": "人财物统一管理",
        "description": "医共体统一财务核算中心于3月成立",
        "client_key": "page-key-1",
        "do": "submit",
    }
    data.update(kw)
    return data


# --- pages --------------------------------------------------------------------------------------


def test_upload_page_creates_an_item_and_download_returns_the_same_bytes(client_as, home_group):
    c = client_as("group_admin")
    page = c.get("/indicators/evidence/new/")
    assert page.status_code == 200
    body = page.content.decode()
    assert 'enctype="multipart/form-data"' in body and "资源统一管理" in body and "multiple" in body
    sheet = xlsx()  # (a workbook's zip carries the time it was written: made once)
    files = [_upload("财务制度.pdf", pdf("财务")), _upload("台账.xlsx", sheet)]
    r = c.post("/indicators/evidence/new/", {**_form(home_group), "files": files})
    assert r.status_code == 302, r.content.decode()[:2000]
    item = EvidenceItem.objects.get()
    assert (item.state, item.code, item.group_id) == ("submitted", "tight_resources", home_group.pk)
    detail = c.get(r["Location"]).content.decode()
    assert "财务制度.pdf" in detail and "台账.xlsx" in detail and "待评审" in detail
    for att in EvidenceAttachment.objects.filter(item=item):
        d = c.get(f"/indicators/evidence/{item.pk}/files/{att.pk}/")
        assert d.status_code == 200
        assert d.content == (pdf("财务") if att.name.endswith(".pdf") else sheet)
        assert hashlib.sha256(d.content).hexdigest() == att.sha256
        assert d["Content-Type"] == att.content_type
        assert d["Content-Disposition"].startswith("attachment;")
    assert (
        AuditEntry.objects.filter(
            action="export", object_type="indicator_evidence_file", username="group_admin"
        ).count()
        == 2
    )


def test_the_same_form_posted_twice_makes_one_item(client_as, home_group):
    c = client_as("group_admin")
    post = {**_form(home_group), "files": [_upload("a.pdf", pdf())]}
    r1 = c.post("/indicators/evidence/new/", post)
    post2 = {**_form(home_group), "files": [_upload("a.pdf", pdf())]}
    r2 = c.post("/indicators/evidence/new/", post2)
    assert r1.status_code == r2.status_code == 302 and r1["Location"] == r2["Location"]
    assert EvidenceItem.objects.count() == 1 and EvidenceAttachment.objects.count() == 1


@pytest.mark.parametrize(
    ("kw", "files", "message"),
    [
        ({"title": ""}, [("a.pdf", pdf())], "请填写标题"),
        ({"period": "2026年"}, [("a.pdf", pdf())], "统计期格式不正确"),
        ({"period": "2026Q2"}, [("a.pdf", pdf())], "按年度或半年度"),
        ({"code": "primary_visit_share"}, [("a.pdf", pdf())], "请选择紧密型定性指标"),
        ({}, [("病毒.exe", b"MZ\x90\x00")], "文件“病毒.exe”的类型不允许"),
        ({}, [("伪装.pdf", png())], "内容与扩展名 .pdf 不符"),
        ({}, [("a.pdf", pdf()), ("b.pdf", pdf())], "内容相同"),
        ({}, [], "提交评审至少需要一个附件"),
    ],
)
def test_upload_page_errors_name_the_field(client_as, home_group, kw, files, message):
    c = client_as("group_admin")
    post = {**_form(home_group, **kw), "files": [_upload(n, d) for n, d in files]}
    r = c.post("/indicators/evidence/new/", post)
    assert r.status_code == 200
    body = r.content.decode()
    assert message in body and "has-error" in body
    assert EvidenceItem.objects.count() == 0 and EvidenceAttachment.objects.count() == 0


@override_settings(YGT={"EVIDENCE_MAX_BYTES": 64})
def test_upload_page_refuses_a_file_too_big(client_as, home_group):
    big = pdf() + b"0" * 64
    r = client_as("group_admin").post(
        "/indicators/evidence/new/", {**_form(home_group), "files": [_upload("大.pdf", big)]}
    )
    assert r.status_code == 200 and "文件“大.pdf”过大" in r.content.decode()
    assert EvidenceItem.objects.count() == 0


def test_upload_page_refuses_too_many_files_before_reading_them(client_as, home_group):
    files = [_upload(f"p{i}.png", png(i)) for i in range(evidence.MAX_FILES_PER_ITEM + 1)]
    r = client_as("group_admin").post(
        "/indicators/evidence/new/", {**_form(home_group), "files": files}
    )
    assert r.status_code == 200 and "最多 20 个附件" in r.content.decode()
    assert EvidenceItem.objects.count() == 0


def test_upload_page_refuses_too_many_bytes_in_one_request(client_as, home_group, settings):
    settings.YGT = {**settings.YGT, "EVIDENCE_MAX_BYTES": 100}
    files = [_upload(f"p{i}.pdf", pdf(f"第{i}页" * 8)) for i in range(6)]  # 6 × 97 > 5 × 100
    r = client_as("group_admin").post(
        "/indicators/evidence/new/", {**_form(home_group), "files": files}
    )
    assert r.status_code == 200 and "合计不能超过" in r.content.decode()
    assert EvidenceItem.objects.count() == 0


def test_upload_page_refuses_another_group(client_as, home_group, other_group):
    r = client_as("group_admin").post(
        "/indicators/evidence/new/",
        {**_form(home_group, group=str(other_group.pk)), "files": [_upload("a.pdf", pdf())]},
    )
    assert r.status_code == 200
    assert "所选医共体" in r.content.decode() or "请选择医共体" in r.content.decode()
    assert EvidenceItem.objects.count() == 0


def test_draft_then_add_files_then_submit_on_the_page(client_as, home_group):
    c = client_as("group_admin")
    r = c.post(
        "/indicators/evidence/new/",
        {**_form(home_group, do="draft"), "files": [_upload("a.pdf", pdf())]},
    )
    item = EvidenceItem.objects.get()
    assert item.state == "draft"
    dup = c.post(f"/indicators/evidence/{item.pk}/files/", {"files": [_upload("b.pdf", pdf())]})
    assert dup.status_code == 422 and "内容相同" in dup.content.decode()
    ok = c.post(
        f"/indicators/evidence/{item.pk}/files/",
        {"files": [_upload("照片.jpg", jpeg()), _upload("制度.docx", docx())]},
    )
    assert ok.status_code == 302
    assert EvidenceAttachment.objects.filter(item=item).count() == 3
    bad = c.post(f"/indicators/evidence/{item.pk}/edit/", {"title": "", "description": "x"})
    assert bad.status_code == 422 and "请填写标题" in bad.content.decode()
    c.post(f"/indicators/evidence/{item.pk}/submit/")
    item.refresh_from_db()
    assert item.state == "submitted" and r.status_code == 302


def test_commission_reviews_on_the_page(client_as, make_item):
    item = make_item()
    c = client_as("commission")
    page = c.get(f"/indicators/evidence/{item.pk}/").content.decode()
    assert "保存评审结论" in page and "基本达标" in page
    missing = c.post(
        f"/indicators/evidence/{item.pk}/review/",
        {"judgement": "mostly", "comment": "", "seen_reviews": "0"},
    )
    assert missing.status_code == 422
    assert "评审结论为“基本达标”时须填写评审意见" in missing.content.decode()
    assert EvidenceReview.objects.count() == 0
    ok = c.post(
        f"/indicators/evidence/{item.pk}/review/",
        {"judgement": "mostly", "comment": "缺少信息统一", "seen_reviews": "0"},
    )
    assert ok.status_code == 302
    stale = c.post(
        f"/indicators/evidence/{item.pk}/review/", {"judgement": "met", "seen_reviews": "0"}
    )
    assert stale.status_code == 409 and "请刷新页面" in stale.content.decode()
    again = c.post(
        f"/indicators/evidence/{item.pk}/review/", {"judgement": "met", "seen_reviews": "1"}
    )
    assert again.status_code == 302
    page = c.get(f"/indicators/evidence/{item.pk}/").content.decode()
    assert "现行结论" in page and "缺少信息统一" in page and "得分系数 1.00" in page
    listing = c.get("/indicators/evidence/?period=2026").content.decode()
    assert "达标" in listing and item.title in listing


def test_list_page_shows_status_matrix_and_filters(client_as, make_item, home_group):
    make_item(code="tight_services")
    body = client_as("group_admin").get("/indicators/evidence/?period=2026").content.decode()
    assert "服务协同" in body and "待评审" in body and "未提交" in body and home_group.name in body
    bad = client_as("group_admin").get("/indicators/evidence/?period=abc")
    assert bad.status_code == 200 and "统计期格式不正确" in bad.content.decode()
    nav = client_as("commission").get("/").content.decode()
    assert "/indicators/evidence/" in nav and "佐证材料" in nav


@pytest.mark.parametrize("who", ["outsider_doctor", "village_doctor", "pharmacist", "sysadmin"])
def test_others_are_refused_every_page(client_as, make_item, who):
    item = make_item()
    att = item.attachments.get()
    c = client_as(who)
    for url in (
        "/indicators/evidence/",
        "/indicators/evidence/new/",
        f"/indicators/evidence/{item.pk}/",
        f"/indicators/evidence/{item.pk}/files/{att.pk}/",
    ):
        r = c.get(url)
        assert r.status_code == 403, url
        assert "党委会" not in r.content.decode()
    r = c.post(f"/indicators/evidence/{item.pk}/review/", {"judgement": "met"})
    assert r.status_code == 403
    assert EvidenceReview.objects.count() == 0
    assert AuditEntry.objects.filter(action="denied", username=who).count() >= 5


def test_other_group_admin_gets_404(client_as, make_item, other_admin):
    from django.contrib.auth import get_user_model
    from django.test import Client

    item = make_item()
    c = Client()
    c.force_login(get_user_model().objects.get(pk=other_admin.user_id))
    assert c.get(f"/indicators/evidence/{item.pk}/").status_code == 404
    att = item.attachments.get()
    assert c.get(f"/indicators/evidence/{item.pk}/files/{att.pk}/").status_code == 404


# --- REST ---------------------------------------------------------------------------------------


def test_api_create_upload_submit_review_download(api_as, home_group):
    g = api_as("group_admin")
    r = g.post(
        "/api/v1/indicators/evidence",
        {
            "code": "tight_services",
            "period": "2026H1",
            "title": "双向转诊协同机制",
            "client_key": "api-1",
            "files": [_upload("流程.pdf", pdf("流程"))],
        },
    )
    assert r.status_code == 201, r.content
    item = r.json()
    assert (item["state"], item["group_id"], len(item["attachments"])) == (
        "draft",
        home_group.pk,
        1,
    )
    again = g.post(
        "/api/v1/indicators/evidence",
        {
            "code": "tight_services",
            "period": "2026H1",
            "title": "双向转诊协同机制",
            "client_key": "api-1",
        },
    )
    assert again.status_code == 201 and again.json()["id"] == item["id"]
    up = g.post(
        f"/api/v1/indicators/evidence/{item['id']}/attachments",
        {"files": [_upload("照片.png", png(3)), _upload("台账.xlsx", xlsx())]},
    )
    assert up.status_code == 201 and len(up.json()["attachments"]) == 3
    dup = g.post(
        f"/api/v1/indicators/evidence/{item['id']}/attachments",
        {"files": [_upload("再传.png", png(3))]},
    )
    assert dup.status_code == 422
    assert dup.json()["detail"][0]["loc"] == ["body", "files", 0]
    sub = g.post(f"/api/v1/indicators/evidence/{item['id']}/submit")
    assert sub.status_code == 200 and sub.json()["state"] == "submitted"

    c = api_as("commission")
    bad = c.post(
        f"/api/v1/indicators/evidence/{item['id']}/review",
        {"judgement": "not_met"},
        content_type="application/json",
    )
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "comment"]
    ok = c.post(
        f"/api/v1/indicators/evidence/{item['id']}/review",
        {"judgement": "not_met", "comment": "未形成协同", "seen_reviews": 0},
        content_type="application/json",
    )
    assert ok.status_code == 200, ok.content
    assert ok.json()["fraction"] == 0 and ok.json()["reviews"][0]["judgement_label"] == "未达标"
    png_row = next(a for a in ok.json()["attachments"] if a["name"] == "照片.png")
    d = c.get(png_row["url"])
    assert d.status_code == 200 and d.content == png(3)
    st = c.get("/api/v1/indicators/evidence/status?period=2026H1").json()
    cell = next(x for x in st if x["code"] == "tight_services" and x["group_id"] == home_group.pk)
    assert (cell["status_label"], cell["fraction"], cell["items"]) == ("未达标", 0, 1)
    lst = c.get("/api/v1/indicators/evidence?period=2026H1&state=reviewed").json()
    assert lst["count"] == 1 and lst["items"][0]["n_files"] == 3


def test_api_errors(api_as, home_group, other_group, make_item):
    g = api_as("group_admin")
    r = g.post(
        "/api/v1/indicators/evidence",
        {
            "code": "tight_services",
            "period": "2026Q1",
            "title": "",
            "files": [_upload("x.exe", b"MZ")],
        },
    )
    assert r.status_code == 422
    locs = {tuple(e["loc"]) for e in r.json()["detail"]}
    assert {("body", "period"), ("body", "title"), ("body", "files", 0)} <= locs
    other = g.post(
        "/api/v1/indicators/evidence",
        {"code": "tight_services", "period": "2026", "title": "x", "group": other_group.pk},
    )
    assert other.status_code == 403 and other.json()["detail"][0]["loc"] == ["body", "group"]
    assert g.get("/api/v1/indicators/evidence?period=2026-07").status_code == 422
    item = make_item()
    assert (
        g.post(
            f"/api/v1/indicators/evidence/{item.pk}/review",
            {"judgement": "met"},
            content_type="application/json",
        ).status_code
        == 403
    )
    assert EvidenceItem.objects.count() == 1


@pytest.mark.parametrize("who", ["outsider_doctor", "village_doctor"])
def test_api_refuses_the_outsider(api_as, make_item, who):
    item = make_item()
    att = item.attachments.get()
    c = api_as(who)
    assert c.get("/api/v1/indicators/evidence").status_code == 403
    assert c.get(f"/api/v1/indicators/evidence/{item.pk}").status_code == 403
    assert c.get(f"/api/v1/indicators/evidence/{item.pk}/attachments/{att.pk}").status_code == 403
    assert c.get("/api/v1/indicators/evidence/status?period=2026").status_code == 403
    r = c.post(
        "/api/v1/indicators/evidence",
        {
            "code": "tight_services",
            "period": "2026",
            "title": "x",
            "files": [_upload("a.pdf", pdf("x"))],
        },
    )
    assert r.status_code == 403
    assert EvidenceItem.objects.count() == 1


# --- removing a wrong file from a draft ------------------------------------------------------


def test_a_wrong_file_is_removed_from_a_draft_on_the_page(client_as, make_item):
    item = make_item(submit=False, files=[fx.Upload.of("对的.pdf", pdf("对")),
                                          fx.Upload.of("错的.png", png(7))])  # fmt: skip
    wrong = item.attachments.get(name="错的.png")
    c = client_as("group_admin")
    page = c.get(f"/indicators/evidence/{item.pk}/").content.decode()
    assert "删除附件 错的.png" in page
    r = c.post(f"/indicators/evidence/{item.pk}/files/{wrong.pk}/remove/")
    assert r.status_code == 302
    assert list(item.attachments.values_list("name", flat=True)) == ["对的.pdf"]
    entry = AuditEntry.objects.filter(object_type="indicator_evidence", action="void").get()
    assert entry.detail["removed"] == "错的.png"


def test_files_of_a_submitted_item_stay_and_others_cannot_remove(
    client_as, api_as, make_item, other_admin
):
    item = make_item()  # submitted
    att = item.attachments.get()
    r = client_as("group_admin").post(f"/indicators/evidence/{item.pk}/files/{att.pk}/remove/")
    assert r.status_code == 409 and "尚未提交的草稿" in r.content.decode()
    draft = make_item(code="tight_services", submit=False)
    datt = draft.attachments.get()
    api = api_as("commission")  # reviewers do not edit the group's material
    assert (
        api.delete(f"/api/v1/indicators/evidence/{draft.pk}/attachments/{datt.pk}").status_code
        == 403
    )
    assert (
        api_as("outsider_doctor")
        .delete(f"/api/v1/indicators/evidence/{draft.pk}/attachments/{datt.pk}")
        .status_code
        == 403
    )
    with pytest.raises((NotFound, Forbidden)):  # another group's administrator
        evidence.do_remove_attachment(other_admin, draft.pk, datt.pk)
    own = api_as("group_admin")
    assert (
        own.delete(f"/api/v1/indicators/evidence/{draft.pk}/attachments/999999").status_code == 404
    )
    assert (
        own.delete(f"/api/v1/indicators/evidence/{draft.pk}/attachments/{datt.pk}").status_code
        == 204
    )
    assert item.attachments.count() == 1 and draft.attachments.count() == 0
