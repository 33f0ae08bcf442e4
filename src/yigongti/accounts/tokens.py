"""Bearer tokens for the APIs: random, stored only as SHA-256, expiring."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from .models import ApiToken


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def issue_token(user: AbstractBaseUser) -> tuple[str, ApiToken]:
    raw = "ygt_" + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user_id=user.pk,
        key_hash=_digest(raw),
        prefix=raw[4:12],
        expires_at=timezone.now() + timedelta(hours=int(settings.YGT["TOKEN_HOURS"])),
    )
    return raw, token


def user_for_token(raw: str) -> AbstractBaseUser | None:
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=_digest(raw.strip()), revoked=False, expires_at__gt=timezone.now())
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=5):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
