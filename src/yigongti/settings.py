"""Django settings. Every value a deployment changes comes from a YGT_* environment variable
(listed in the README); the defaults run the embedded demo on SQLite."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BASE_DIR.parent.parent
VAR_DIR = Path(os.environ.get("YGT_VAR_DIR", PROJECT_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEFAULT_SECRET_KEY = "insecure-demo-key-change-me-in-production-0123456789"  # noqa: S105
DEFAULT_DEMO_PASSWORD = "demo-pass-2026"  # noqa: S105

PRODUCTION = os.environ.get("YGT_PRODUCTION", "") in {"1", "true", "yes"}
SECRET_KEY = os.environ.get("YGT_SECRET_KEY", DEFAULT_SECRET_KEY)
DEMO_PASSWORD = os.environ.get("YGT_DEMO_PASSWORD", DEFAULT_DEMO_PASSWORD)
MQTT_URL = os.environ.get("YGT_MQTT_URL", "mqtt://127.0.0.1:1883")

if PRODUCTION:
    if SECRET_KEY == DEFAULT_SECRET_KEY or len(SECRET_KEY) < 32:
        raise ImproperlyConfigured(
            "YGT_PRODUCTION is set: give YGT_SECRET_KEY a real secret (32+ chars)"
        )
    if "YGT_DEMO_PASSWORD" not in os.environ or DEMO_PASSWORD == DEFAULT_DEMO_PASSWORD:
        # The demo command refuses to run in production anyway; this catches a copied .env.
        DEMO_PASSWORD = ""

DEBUG = os.environ.get("YGT_DEBUG", "" if PRODUCTION else "1") in {"1", "true", "yes"}
ALLOWED_HOSTS = [
    h for h in os.environ.get("YGT_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h
]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("YGT_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "yigongti.core",
    "yigongti.network",
    "yigongti.accounts",
    "yigongti.residents",
    "yigongti.records",
    "yigongti.scheduling",
    "yigongti.chronic",
    "yigongti.contracts",
    "yigongti.referrals",
    "yigongti.pharmacy",
    "yigongti.consults",
    "yigongti.diagnostics",
    "yigongti.indicators",
    "yigongti.performance",
    "yigongti.fhir",
    "yigongti.synth",
    "yigongti.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "yigongti.accounts.middleware.BearerTokenMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "yigongti.core.middleware.RequestContextMiddleware",
]

ROOT_URLCONF = "yigongti.urls"
WSGI_APPLICATION = "yigongti.wsgi.application"
ASGI_APPLICATION = "yigongti.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "yigongti.web.context.navigation",
            ],
        },
    },
]

_default_db = f"sqlite:///{VAR_DIR / 'yigongti.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("YGT_DATABASE_URL", _default_db), conn_max_age=60
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + a busy timeout let the dev server and background commands share the file.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # Tests use a file, not shared-cache memory, so concurrent tests wait for locks like the
    # real thing instead of failing with "table is locked".
    # One file per test process, so two test runs on one machine never share a database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# Uploads: evidence files (at most 20 an item) and HIS import files; more files than this in
# one request are refused by Django before any is read
DATA_UPLOAD_MAX_NUMBER_FILES = 25

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = 8 * 3600
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION

# Platform settings (configurable per county, DOMAIN.md).
YGT: dict[str, Any] = {
    # How long a dynamic health-card QR text stays valid.
    "DYNAMIC_QR_SECONDS": int(os.environ.get("YGT_DYNAMIC_QR_SECONDS", "300")),
    # API bearer tokens expire after this many hours.
    "TOKEN_HOURS": int(os.environ.get("YGT_TOKEN_HOURS", "12")),
    # Score (0-100) from which two residents are listed as possible duplicates.
    "DUPLICATE_THRESHOLD": int(os.environ.get("YGT_DUPLICATE_THRESHOLD", "75")),
    # Base URL of the platform's own identifier systems (docs/fhir.md).
    "IDENTIFIER_BASE": os.environ.get(
        "YGT_IDENTIFIER_BASE", "https://yigongti.example.org/fhir/sid"
    ),
    # Family-doctor contracts appear on the team's "expiring" list this many days ahead.
    "CONTRACT_EXPIRING_DAYS": int(os.environ.get("YGT_CONTRACT_EXPIRING_DAYS", "30")),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("YGT_LOG_LEVEL", "WARNING")},
}
