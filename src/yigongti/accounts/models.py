from __future__ import annotations

from django.conf import settings
from django.db import models

from yigongti.network.models import Division, MedicalGroup, Staff

from .rules import ROLE_LABELS, Role


class Account(models.Model):
    """A login's role and where it works. Clinical roles hang off a Staff row (and so a
    facility); the commission and the system administrator are bound to a county; a group
    administrator to a medical group."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="account"
    )
    role = models.CharField(
        "角色", max_length=32, choices=[(r.value, ROLE_LABELS[r]) for r in Role]
    )
    staff = models.ForeignKey(
        Staff,
        verbose_name="人员",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="accounts",
    )
    group = models.ForeignKey(
        MedicalGroup,
        verbose_name="医共体",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="admin_accounts",
    )
    county = models.ForeignKey(
        Division,
        verbose_name="县",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        verbose_name = "账号"
        verbose_name_plural = "账号"

    def __str__(self) -> str:
        return f"{self.user} ({self.role})"


class ApiToken(models.Model):
    """A bearer token for the REST and FHIR APIs; only its SHA-256 is stored."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked = models.BooleanField(default=False)

    class Meta:
        verbose_name = "API令牌"
        verbose_name_plural = "API令牌"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"
