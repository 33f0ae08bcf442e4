"""Login, tokens, roles and data scopes of the personas (DESIGN.md)."""

from __future__ import annotations

import pytest
from django.test import Client

from yigongti.conftest import TEST_PASSWORD
from yigongti.core.models import AuditEntry
from yigongti.residents.queries import residents_visible_to
from yigongti.synth.load import PERSONAS

pytestmark = pytest.mark.django_db


def test_token_login_and_me(api_as):
    me = api_as("township_doctor").get("/api/v1/me").json()
    assert me["role"] == "township_doctor" and me["role_label"] == "乡镇医生"
    assert me["facility"].endswith("卫生院") and me["scope"] == "townships"


def test_wrong_password_is_refused_and_audited(county):
    r = Client().post(
        "/api/v1/auth/token",
        {"username": "village_doctor", "password": "nope"},
        content_type="application/json",
    )
    assert r.status_code == 401
    assert r.json()["detail"][0]["msg"] == "用户名或密码错误"
    assert "用户名或密码错误".encode() in r.content  # readable UTF-8, not \\u escapes
    assert AuditEntry.objects.filter(action="login_failed", username="village_doctor").exists()


def test_no_token_and_bad_token(county):
    assert Client().get("/api/v1/residents?q=zw").status_code == 401
    bad = Client(headers={"Authorization": "Bearer ygt_not-a-token"}).get("/api/v1/me")
    assert bad.status_code == 401
    assert bad.json()["detail"][0]["msg"] == "令牌无效或已过期"


def test_session_write_needs_csrf(personas):
    c = Client(enforce_csrf_checks=True)
    c.force_login(personas["village_doctor"])
    r = c.post("/api/v1/residents", {}, content_type="application/json")
    assert r.status_code == 401  # refused before validation: no CSRF token


def test_password_login_works_for_every_persona(county):
    for name in PERSONAS:
        r = Client().post(
            "/api/v1/auth/token",
            {"username": name, "password": TEST_PASSWORD},
            content_type="application/json",
        )
        assert r.status_code == 200, name


def test_scopes_nest_as_designed(actor):
    def ids(name):
        return set(residents_visible_to(actor(name)).values_list("pk", flat=True))

    village, township = ids("village_doctor"), ids("township_doctor")
    county_doc, group_admin = ids("county_doctor"), ids("group_admin")
    everyone, outsider = ids("commission"), ids("outsider_doctor")
    assert village and outsider
    assert village < township <= county_doc == group_admin < everyone
    assert not (outsider & township)
    assert not (outsider & group_admin)  # the outsider works in another group
    assert ids("sysadmin") == everyone


def test_pharmacist_sees_the_township_but_cannot_write(actor):
    pharmacist = actor("pharmacist")
    assert pharmacist.can("view_residents") and not pharmacist.can("register_resident")
