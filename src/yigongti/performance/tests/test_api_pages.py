"""REST endpoints and pages: the right persona can, the others cannot; the editor's errors
sit next to their field; publish with confirmation; the Excel export."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from yigongti.core.audit import AuditEntry
from yigongti.performance import actions
from yigongti.performance.models import ScoreSnapshot, ScoringScheme

from .conftest import SYSTEM, TINY_ITEMS

BODY_ITEMS = [
    {"code": c, "weight": w, "rule": r, "basis": b, "full": f, "zero": z, "target": t}
    for c, w, r, b, f, z, t in TINY_ITEMS
]


def _body(group_id, **kw):
    return {"name": "接口方案", "facility_kind": "township_centre", "grain": "Y",
            "group_id": group_id, "items": BODY_ITEMS, **kw}  # fmt: skip


def test_scheme_crud_preview_publish_and_read_through_the_api(built, api_as):
    c = api_as("commission")
    r = c.post(
        "/api/v1/performance/schemes", _body(built.group.pk), content_type="application/json"
    )
    assert r.status_code == 201, r.content
    sid = r.json()["id"]
    assert r.json()["total_weight"] == 1000 and r.json()["status"] == "draft"
    assert r.json()["items"][0]["rule_text"] == "≥60 满分，≤20 零分，之间线性"
    assert [s["id"] for s in c.get("/api/v1/performance/schemes").json()] == [sid]
    r = c.post(f"/api/v1/performance/schemes/{sid}/status", {"status": "active"},
               content_type="application/json")  # fmt: skip
    assert r.status_code == 200 and r.json()["status"] == "active"
    r = c.get(f"/api/v1/performance/schemes/{sid}/preview?period=2025")
    assert r.status_code == 200
    top = r.json()["facilities"][0]
    assert (top["facility_id"], top["earned"], top["available"], top["normalised"]) == (
        built.centre1.pk, 503.32, 700, 719.03,
    )  # fmt: skip
    assert r.json()["mode"] == "preview" and r.json()["snapshot"] is None
    assert c.get(f"/api/v1/performance/schemes/{sid}/scores?period=2025").status_code == 404
    r = c.post(f"/api/v1/performance/schemes/{sid}/publish", {"period": "2025"},
               content_type="application/json")  # fmt: skip
    assert r.status_code == 201, r.content
    snap = r.json()["id"]
    r = c.post(f"/api/v1/performance/schemes/{sid}/publish", {"period": "2025"},
               content_type="application/json")  # fmt: skip
    assert r.status_code == 409 and r.json()["detail"][0]["loc"] == ["body", "reason"]
    got = c.get(f"/api/v1/performance/schemes/{sid}/scores?period=2025").json()
    assert got["mode"] == "published" and got["snapshot"]["id"] == snap
    assert got["facilities"][0]["rows"][0]["points"] == 150
    assert c.get(f"/api/v1/performance/snapshots/{snap}").json()["facilities"][1]["rank"] == 2
    assert len(c.get(f"/api/v1/performance/schemes/{sid}/snapshots").json()) == 1
    r = c.put(f"/api/v1/performance/schemes/{sid}", _body(built.group.pk, name="改名方案"),
              content_type="application/json")  # fmt: skip
    assert r.status_code == 200 and r.json()["name"] == "改名方案"
    assert c.delete(f"/api/v1/performance/schemes/{sid}").status_code == 409


def test_a_draft_is_deleted_through_the_api(built, api_as):
    c = api_as("commission")
    sid = c.post(
        "/api/v1/performance/schemes", _body(None), content_type="application/json"
    ).json()["id"]
    assert c.delete(f"/api/v1/performance/schemes/{sid}").status_code == 204
    assert not ScoringScheme.objects.filter(pk=sid).exists()


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"items": [{**BODY_ITEMS[0], "weight": -5}]}, ["body", "items", 0, "weight"]),
        ({"items": [BODY_ITEMS[0], {**BODY_ITEMS[1], "code": "nope"}]},
         ["body", "items", 1, "code"]),
        ({"items": [{**BODY_ITEMS[0], "full": 10, "zero": 50}]}, ["body", "items", 0, "full"]),
        ({"facility_kind": "castle"}, ["body", "facility_kind"]),
        ({"grain": "Q"}, ["body", "grain"]),
        ({"name": ""}, ["body", "name"]),
    ],
)  # fmt: skip
def test_bad_scheme_answers_422_naming_the_field(built, api_as, change, loc):
    r = api_as("commission").post("/api/v1/performance/schemes", _body(None, **change),
                                  content_type="application/json")  # fmt: skip
    assert r.status_code == 422
    assert loc in [d["loc"] for d in r.json()["detail"]]
    assert all(d["msg"] and d["msg_en"] for d in r.json()["detail"])
    assert not ScoringScheme.objects.exists()


def test_activating_an_incomplete_scheme_answers_422_on_items(built, api_as):
    c = api_as("commission")
    sid = c.post("/api/v1/performance/schemes", _body(None, items=BODY_ITEMS[:2]),
                 content_type="application/json").json()["id"]  # fmt: skip
    r = c.post(f"/api/v1/performance/schemes/{sid}/status", {"status": "active"},
               content_type="application/json")  # fmt: skip
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "items"]


@pytest.fixture
def published(scheme):
    return actions.do_publish(SYSTEM, scheme.pk, "2025")


def test_group_admin_reads_the_county_but_cannot_publish_another_groups_scheme(
    published, api_as, client_as
):
    c = api_as("group_admin")
    sid = published.scheme_id
    assert c.get(f"/api/v1/performance/snapshots/{published.pk}").status_code == 200
    assert c.get(f"/api/v1/performance/schemes/{sid}/preview?period=2025").status_code == 200
    r = c.post(f"/api/v1/performance/schemes/{sid}/publish", {"period": "2025", "reason": "x"},
               content_type="application/json")  # fmt: skip
    assert r.status_code == 403
    page = client_as("group_admin").get(f"/performance/schemes/{sid}/")
    assert page.status_code == 200 and "scheme-readonly" in page.content.decode()


@pytest.mark.parametrize("who", ["outsider_doctor", "village_doctor", "township_doctor",
                                 "pharmacist"])  # fmt: skip
def test_other_roles_are_refused_by_the_api_and_the_pages(published, api_as, client_as, who):
    c = api_as(who)
    sid = published.scheme_id
    assert c.get("/api/v1/performance/schemes").status_code == 403
    assert c.get(f"/api/v1/performance/schemes/{sid}/preview?period=2025").status_code == 403
    assert c.get(f"/api/v1/performance/snapshots/{published.pk}").status_code == 403
    r = c.post("/api/v1/performance/schemes", _body(None), content_type="application/json")
    assert r.status_code == 403
    r = c.post(f"/api/v1/performance/schemes/{sid}/publish", {"period": "2025", "reason": "x"},
               content_type="application/json")  # fmt: skip
    assert r.status_code == 403
    b = client_as(who)
    for url in ("/performance/", f"/performance/schemes/{sid}/scores/?period=2025",
                f"/performance/snapshots/{published.pk}/",
                f"/performance/snapshots/{published.pk}/export.xlsx"):  # fmt: skip
        assert b.get(url).status_code == 403, url
    assert b.post(f"/performance/schemes/{sid}/publish/",
                  {"period": "2025", "confirm": "1", "reason": "x"}).status_code == 403  # fmt: skip
    assert ScoreSnapshot.objects.count() == 1


# --- pages --------------------------------------------------------------------------------------


def test_scheme_list_and_navigation(scheme, client_as):
    html = client_as("commission").get("/performance/").content.decode()
    assert "千分制绩效考核" in html and scheme.name in html
    assert 'href="/performance/" class="active" aria-current="page">千分制考核</a>' in html


def test_preview_page_ranks_facilities_with_values_and_drilldown_links(scheme, built, client_as):
    r = client_as("commission").get(
        f"/performance/schemes/{scheme.pk}/scores/?period=2025&mode=preview"
    )
    html = r.content.decode()
    assert r.status_code == 200
    assert "实时预览" in html and "719.03" in html and "503.32 / 700" in html
    assert html.index("测试一镇卫生院") < html.index("测试二镇卫生院")
    assert (
        f"/indicators/htn_norm_rate/records/?period=2025&level=facility"
        f"&unit={built.centre1.pk}&part=numerator"
    ) in html
    assert "未采集" in html and "未评审" in html
    assert 'name="confirm"' in html  # the publish form (2025 has ended)


def test_scores_page_without_a_snapshot_falls_back_to_the_preview(scheme, client_as):
    html = (
        client_as("commission")
        .get(f"/performance/schemes/{scheme.pk}/scores/?period=2025")
        .content.decode()
    )
    assert "本期尚未发布" in html


def test_publish_from_the_page_needs_the_confirmation(scheme, client_as):
    c = client_as("commission")
    url = f"/performance/schemes/{scheme.pk}/publish/"
    r = c.post(url, {"period": "2025"}, follow=True)
    assert "请勾选“确认发布”" in r.content.decode()
    assert not ScoreSnapshot.objects.exists()
    r = c.post(url, {"period": "2025", "confirm": "1"})
    snap = ScoreSnapshot.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/performance/snapshots/{snap.pk}/"
    html = c.get(r["Location"]).content.decode()
    assert "已发布（冻结）" in html and "719.03" in html
    html = c.get(f"/performance/schemes/{scheme.pk}/scores/?period=2025").content.decode()
    assert "已发布（冻结）" in html
    r = c.post(url, {"period": "2025", "confirm": "1"}, follow=True)
    assert "重新发布须填写原因" in r.content.decode()
    assert ScoreSnapshot.objects.count() == 1


def test_snapshot_export_is_a_workbook_with_ranking_detail_and_scheme(published, client_as):
    before = AuditEntry.objects.filter(action="export").count()
    r = client_as("group_admin").get(f"/performance/snapshots/{published.pk}/export.xlsx")
    assert r.status_code == 200
    wb = load_workbook(io.BytesIO(r.content))
    assert wb.sheetnames == ["得分排名", "考核项明细", "考核方案"]
    ranking = list(wb["得分排名"].iter_rows(min_row=4, values_only=True))
    assert ranking[0][:8] == (1, "TC1", "测试一镇卫生院", "测试医共体", 503.32, 700, 719.03, 2)
    assert ranking[1][0] == 2 and ranking[1][6] == 0
    detail = list(wb["考核项明细"].iter_rows(min_row=4, values_only=True))
    tcm = next(row for row in detail if row[0] == "测试二镇卫生院" and row[1] == "tcm_visit_share")
    assert (tcm[4], tcm[10], tcm[11]) == (None, None, "未采集")  # missing, never 0
    assert AuditEntry.objects.filter(action="export").count() == before + 1


def test_editor_shows_errors_next_to_their_field_and_keeps_the_input(built, client_as):
    c = client_as("commission")
    form = {"name": "页面方案", "facility_kind": "township_centre", "grain": "H", "group_id": "",
            "items-0-code": "htn_norm_rate", "items-0-weight": "600", "items-0-rule": "linear",
            "items-0-basis": "facility", "items-0-full": "20", "items-0-zero": "60",
            "items-1-code": "", "items-1-weight": "", "items-1-rule": "linear",
            "items-1-basis": "facility",
            "items-2-code": "no_such", "items-2-weight": "400", "items-2-rule": "linear",
            "items-2-basis": "facility", "items-2-full": "1", "items-2-zero": "0"}  # fmt: skip
    r = c.post("/performance/schemes/new/", form)
    html = r.content.decode()
    assert r.status_code == 200 and "请按提示修改" in html
    assert "第1项：阈值颠倒" in html
    # the third form row is item 2 after the blank row was skipped: named as typed
    assert "第2项：指标编码“no_such”不在指标目录中" in html
    assert 'value="no_such"' in html and 'value="600"' in html
    assert not ScoringScheme.objects.exists()
    form["items-0-full"], form["items-0-zero"], form["items-2-code"] = (
        "60",
        "20",
        "htn_control_rate",
    )
    r = c.post("/performance/schemes/new/", form)
    scheme = ScoringScheme.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/performance/schemes/{scheme.pk}/"
    assert list(scheme.items.values_list("code", "weight")) == [
        ("htn_norm_rate", 600), ("htn_control_rate", 400),
    ]  # fmt: skip
    r = c.post(f"/performance/schemes/{scheme.pk}/status/", {"status": "active"}, follow=True)
    assert "启用" in r.content.decode()
    scheme.refresh_from_db()
    assert scheme.status == "active"
