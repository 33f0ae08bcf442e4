"""Files and people for the evidence tests: real file bytes of each allowed type, a second
group's administrator and a second commission reviewer, and a helper that makes an item."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from openpyxl import Workbook

from yigongti.accounts.actors import actor_for
from yigongti.accounts.models import Account
from yigongti.accounts.rules import Role
from yigongti.core.actor import Actor
from yigongti.indicators import evidence
from yigongti.indicators.evidence import Upload
from yigongti.indicators.models import EvidenceItem
from yigongti.network.models import MedicalGroup


def pdf(text: str = "会议纪要") -> bytes:
    return b"%PDF-1.4\n1 0 obj <<>> endobj\n% " + text.encode() + b"\n%%EOF\n"


def png(n: int = 1) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes([n]) * 13


def jpeg(n: int = 1) -> bytes:
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes([n]) * 20 + b"\xff\xd9"


def docx() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    return buf.getvalue()


def xlsx() -> bytes:
    wb = Workbook()
    wb.active.append(["成员单位", "统一管理事项"])  # type: ignore[union-attr]
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def ole2() -> bytes:
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504


def _account(username: str, role: str, group: MedicalGroup | None = None) -> Actor:
    user, _ = get_user_model().objects.get_or_create(username=username)
    Account.objects.update_or_create(user=user, defaults={"role": role, "group": group})
    a = actor_for(user, ip="127.0.0.1")
    assert a is not None
    return a


@pytest.fixture
def home_group(actor: Callable[[str], Actor]) -> MedicalGroup:
    """The group of the `group_admin` persona."""
    return MedicalGroup.objects.get(pk=actor("group_admin").group_id or 0)


@pytest.fixture
def other_group(home_group: MedicalGroup) -> MedicalGroup:
    return MedicalGroup.objects.exclude(pk=home_group.pk).order_by("code").first()  # type: ignore[return-value]


@pytest.fixture
def other_admin(other_group: MedicalGroup) -> Actor:
    """The administrator of the other medical group."""
    return _account("group_admin_2", Role.GROUP_ADMIN, other_group)


@pytest.fixture
def second_reviewer(county: Any) -> Actor:
    return _account("commission_2", Role.COMMISSION)


@pytest.fixture
def make_item(
    actor: Callable[[str], Actor], home_group: MedicalGroup
) -> Callable[..., EvidenceItem]:
    """An item of the home group for 2026 with one PDF, submitted unless `submit=False`."""

    def make(
        code: str = "tight_decision",
        period: str = "2026",
        submit: bool = True,
        files: list[Upload] | None = None,
        who: Actor | None = None,
        title: str = "党委会、院长办公会议事规则及会议纪要",
    ) -> EvidenceItem:
        return evidence.do_create_evidence(
            who or actor("group_admin"),
            code=code,
            group_id=(who or actor("group_admin")).group_id,
            period=period,
            title=title,
            description="建立医共体理事会，重大事项集体决策。",
            files=files if files is not None else [Upload.of("纪要.pdf", pdf(title))],
            submit=submit,
        )

    return make
