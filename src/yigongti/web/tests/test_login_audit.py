"""Login, logout and the audit log pages."""

from __future__ import annotations

import pytest
from django.test import Client

from yigongti.conftest import TEST_PASSWORD
from yigongti.core.models import AuditEntry

pytestmark = pytest.mark.django_db


def test_login_page_is_chinese(county):
    r = Client().get("/login/")
    assert r.status_code == 200 and "用户名" in r.content.decode() and "密码" in r.content.decode()


def test_login_failure_is_audited_and_explained(county):
    r = Client().post("/login/", {"username": "village_doctor", "password": "wrong-pass"})
    assert r.status_code == 200
    assert "用户名或密码错误" in r.content.decode()
    entry = AuditEntry.objects.filter(action="login_failed", username="village_doctor").first()
    assert entry is not None and entry.detail == {"via": "web"} and entry.ip == "127.0.0.1"


def test_login_success_is_audited_and_lands_home(county):
    c = Client()
    r = c.post("/login/", {"username": "village_doctor", "password": TEST_PASSWORD})
    assert r.status_code == 302 and r["Location"] == "/"
    entry = AuditEntry.objects.filter(action="login", username="village_doctor").first()
    assert entry is not None and entry.role == "village_doctor" and entry.facility_id
    assert c.get("/").status_code == 200


def test_login_honours_next(county):
    r = Client().post(
        "/login/?next=/network/",
        {"username": "village_doctor", "password": TEST_PASSWORD, "next": "/network/"},
    )
    assert r["Location"] == "/network/"


def test_logout_is_a_post(client_as):
    c = client_as("village_doctor")
    r = c.post("/logout/")
    assert r.status_code == 302 and r["Location"] == "/login/"
    assert c.get("/").status_code == 302
    from yigongti.core.models import AuditEntry

    assert AuditEntry.objects.filter(action="logout", username="village_doctor").exists()


def test_audit_page_filters_and_shows_shanghai_time(client_as):
    Client().post("/login/", {"username": "nobody", "password": "x"})
    r = client_as("commission").get("/audit/", {"action": "login_failed", "username": "nobody"})
    assert r.status_code == 200
    rows = r.context["rows"]
    assert rows and all(e.action == "login_failed" and e.username == "nobody" for e in rows)
    html = r.content.decode()
    from zoneinfo import ZoneInfo

    shown = rows[0].at.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M:%S")
    assert shown in html and "登录失败" in html
    assert "校验审计链" not in html  # only the system administrator verifies


def test_audit_paging_by_entry_id(client_as):
    for i in range(60):
        Client().post("/login/", {"username": f"probe{i}", "password": "x"})
    c = client_as("sysadmin")
    first = c.get("/audit/", {"action": "login_failed"})
    assert len(first.context["rows"]) == 50 and first.context["older"]
    second = c.get("/audit/", {"action": "login_failed", "before": first.context["older"]})
    assert second.context["rows"][0].pk < first.context["rows"][-1].pk
    back = c.get("/audit/", {"action": "login_failed", "after": second.context["newer"]})
    assert [e.pk for e in back.context["rows"]] == [e.pk for e in first.context["rows"]]


def test_sysadmin_verifies_the_chain(client_as):
    c = client_as("sysadmin")
    assert "校验审计链" in c.get("/audit/").content.decode()
    r = c.post("/audit/verify/", follow=True)
    assert "审计链校验通过" in r.content.decode()


def test_commission_cannot_verify(client_as):
    assert client_as("commission").post("/audit/verify/").status_code == 403


def test_group_admin_sees_only_their_group(client_as, actor):
    client_as("outsider_doctor").get("/residents/", {"q": "zhang"})
    r = client_as("group_admin").get("/audit/", {"username": "outsider_doctor"})
    assert r.context["rows"] == []
