"""Production mode refuses demo secrets (DESIGN.md, personal data)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[3]


def _start(env_extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("YGT_")}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "yigongti.settings",
            "PYTHONPATH": str(SRC),
            "YGT_VAR_DIR": str(SRC.parent / "var"),
        },
        **env_extra,
    )
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_production_refuses_the_default_secret():
    r = _start({"YGT_PRODUCTION": "1"})
    assert r.returncode != 0
    assert "YGT_SECRET_KEY" in r.stderr


def test_production_starts_with_a_real_secret():
    r = _start({"YGT_PRODUCTION": "1", "YGT_SECRET_KEY": "k" * 40})
    assert r.returncode == 0, r.stderr


def test_demo_commands_refuse_production(tmp_path):
    env = {"YGT_PRODUCTION": "1", "YGT_SECRET_KEY": "k" * 40, "YGT_VAR_DIR": str(tmp_path)}
    full = {k: v for k, v in os.environ.items() if not k.startswith("YGT_")}
    full.update(env, PYTHONPATH=str(SRC))
    r = subprocess.run(
        [sys.executable, str(SRC.parent / "manage.py"), "demo"],
        env=full,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert r.returncode != 0
    assert "production" in r.stderr
