from __future__ import annotations

from typing import Any

from django.db import models


class AuditEntry(models.Model):
    """One audited event. Append-only: each entry carries the hash of the one before
    (`prev_hash`) and its own (`hash`), so any edit or deletion breaks the chain that
    `manage.py verify_audit` walks. An entry is written unsealed (no `seq`, no hashes) in its
    write's transaction and sealed into the chain right after that commits
    (`core.audit.seal`), so concurrent writers never queue on the chain's tip."""

    seq = models.BigIntegerField("序号", unique=True, null=True, blank=True)
    at = models.DateTimeField("时间", db_index=True)
    user_id = models.BigIntegerField("用户ID", null=True, blank=True)
    username = models.CharField("用户", max_length=150)
    role = models.CharField("角色", max_length=32)
    facility_id = models.BigIntegerField("机构ID", null=True, blank=True)
    action = models.CharField("操作", max_length=32, db_index=True)
    object_type = models.CharField("对象类型", max_length=64)
    object_id = models.CharField("对象ID", max_length=64, blank=True)
    resident_id = models.BigIntegerField("居民ID", null=True, blank=True, db_index=True)
    detail = models.JSONField("详情", default=dict, blank=True)
    ip = models.CharField("来源地址", max_length=64, blank=True)
    prev_hash = models.CharField(max_length=64, blank=True, default="")
    hash = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        verbose_name = "审计日志"
        verbose_name_plural = "审计日志"
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["user_id", "-id"], name="audit_user_id"),
            models.Index(
                fields=["id"], condition=models.Q(seq__isnull=True), name="audit_unsealed"
            ),
        ]

    def __str__(self) -> str:
        seq = self.seq or "待封存"
        return f"#{seq} {self.username} {self.action} {self.object_type}:{self.object_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise RuntimeError("audit entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("audit entries are append-only")


class AuditHead(models.Model):
    """The chain's tip: one row, locked while pending entries are sealed onto it, so two
    sealers never chain onto the same predecessor."""

    last_seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="0" * 64)

    class Meta:
        verbose_name = "审计链头"

    def __str__(self) -> str:
        return f"#{self.last_seq} {self.last_hash[:12]}"


class Counter(models.Model):
    """Named sequences (resident index numbers) that work the same on SQLite and PostgreSQL
    and can hand out a block at once for bulk loads."""

    name = models.CharField(max_length=64, unique=True)
    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


class IdempotencyRecord(models.Model):
    """A client's retried write (same user, same Idempotency-Key) gets the first answer again."""

    user_id = models.BigIntegerField()
    key = models.CharField(max_length=128)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=512)
    status = models.PositiveSmallIntegerField(null=True)
    content_type = models.CharField(max_length=128, blank=True)
    location = models.CharField(max_length=512, blank=True)
    body = models.BinaryField(default=b"")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user_id", "key"], name="idempotency_user_key"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"
