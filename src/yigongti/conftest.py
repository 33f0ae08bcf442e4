"""The persona cast over one tiny synthetic county (STYLE.md §5), shared by every app's tests.

`county` builds the county once per database (again after a transactional test flushed it);
`personas` gives the users; `actor(name)` gives an Actor for calling actions and queries."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.conf import settings
from django.test import Client

from yigongti.accounts.actors import actor_for
from yigongti.core.actor import Actor
from yigongti.network.models import Division
from yigongti.synth.load import PERSONAS, build_county
from yigongti.synth.plan import CountyPlan, build_plan

TEST_PASSWORD = "persona-pass-2026"  # noqa: S105
SEED = 7


def _ensure_county() -> CountyPlan:
    if not Division.objects.exists():
        build_county(size="tiny", seed=SEED, password=TEST_PASSWORD)
    return build_plan(SEED, "tiny")


@pytest.fixture(autouse=True)
def _fast_hashing(settings: pytest.FixtureRequest) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: object) -> None:  # type: ignore[override]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        _ensure_county()


@pytest.fixture
def county(db: None) -> CountyPlan:
    return _ensure_county()


@pytest.fixture
def personas(county: CountyPlan) -> dict[str, object]:
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.in_bulk(list(PERSONAS), field_name="username")
    return dict(users)


@pytest.fixture
def actor(personas: dict[str, object]) -> Callable[[str], Actor]:
    def make(name: str) -> Actor:
        a = actor_for(personas[name], ip="127.0.0.1")  # type: ignore[arg-type]
        assert a is not None, name
        return a

    return make


@pytest.fixture
def client_as(personas: dict[str, object]) -> Callable[[str], Client]:
    """A logged-in browser-session client for a persona."""

    def make(name: str) -> Client:
        c = Client()
        c.force_login(personas[name])  # type: ignore[arg-type]
        return c

    return make


@pytest.fixture
def api_as(personas: dict[str, object]) -> Callable[[str], Client]:
    """A client that authenticates like an API program: token from /api/v1/auth/token."""

    def make(name: str) -> Client:
        c = Client()
        r = c.post(
            "/api/v1/auth/token",
            {"username": name, "password": TEST_PASSWORD},
            content_type="application/json",
        )
        assert r.status_code == 200, r.content
        token = r.json()["token"]
        return Client(headers={"Authorization": f"Bearer {token}"})

    return make
