"""The audit log is append-only and hash-chained; the chain check finds any edit."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from yigongti.core import audit
from yigongti.core.actor import Actor
from yigongti.core.models import AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def tamper():
    """What an attacker with database rights would do first on PostgreSQL: switch off the
    append-only trigger. (SQLite has no trigger; the chain check is the guard there.)"""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("ALTER TABLE core_auditentry DISABLE TRIGGER ygt_audit_append_only")


def _some_entries(n: int = 5) -> None:
    """n entries, sealed into the chain (in a test's wrapping transaction nothing commits, so
    the after-commit seal is run here by hand)."""
    a = Actor.system("test")
    for i in range(n):
        audit.record(a, audit.Action.READ, "resident", i, resident_id=i, detail={"i": i})
    audit.seal()


def test_chain_verifies():
    _some_entries()
    report = audit.verify_chain()
    assert report.ok and report.checked >= 5
    call_command("verify_audit")


def test_edited_entry_breaks_the_chain(tamper):
    _some_entries()
    victim = AuditEntry.objects.order_by("seq")[2]
    AuditEntry.objects.filter(pk=victim.pk).update(username="someone_else")
    report = audit.verify_chain()
    assert not report.ok and report.first_bad_seq == victim.seq
    with pytest.raises(CommandError, match="BROKEN"):
        call_command("verify_audit")


def test_deleted_entry_breaks_the_chain(tamper):
    _some_entries()
    victim = AuditEntry.objects.order_by("seq")[1]
    AuditEntry.objects.filter(pk=victim.pk)._raw_delete(AuditEntry.objects.db)  # type: ignore[attr-defined]
    assert not audit.verify_chain().ok


def test_removed_tail_is_noticed(tamper):
    _some_entries()
    last = AuditEntry.objects.order_by("-seq").first()  # sealed by _some_entries
    AuditEntry.objects.filter(pk=last.pk)._raw_delete(AuditEntry.objects.db)  # type: ignore[attr-defined,union-attr]
    assert not audit.verify_chain().ok


def test_entries_cannot_be_changed_through_the_model():
    _some_entries(1)
    e = AuditEntry.objects.first()
    e.detail = {"changed": True}
    with pytest.raises(RuntimeError):
        e.save()
    with pytest.raises(RuntimeError):
        e.delete()


def test_reading_a_record_is_audited_with_who_and_where(api_as, actor):
    from yigongti.residents.queries import residents_visible_to

    r = residents_visible_to(actor("village_doctor")).first()
    resp = api_as("village_doctor").get(f"/api/v1/residents/{r.mpi_id}")
    assert resp.status_code == 200
    e = AuditEntry.objects.filter(action="read", resident_id=r.pk).latest("id")
    assert e.username == "village_doctor" and e.role == "village_doctor"
    assert e.facility_id == actor("village_doctor").facility_id
    assert e.ip == "127.0.0.1"


def test_outsider_attempt_is_audited_as_denied(api_as, actor):
    from yigongti.residents.queries import residents_visible_to

    r = residents_visible_to(actor("village_doctor")).first()
    resp = api_as("outsider_doctor").get(f"/api/v1/residents/{r.mpi_id}")
    assert resp.status_code == 404
    e = AuditEntry.objects.filter(action="denied", username="outsider_doctor").latest("id")
    assert e.resident_id == r.pk


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("sysadmin", 200),
        ("commission", 200),
        ("group_admin", 200),
        ("village_doctor", 403),
        ("outsider_doctor", 403),
        ("pharmacist", 403),
    ],
)
def test_audit_api_access(api_as, who, status):
    assert api_as(who).get("/api/v1/audit").status_code == status


def test_audit_verify_over_api(api_as):
    assert api_as("sysadmin").get("/api/v1/audit/verify").json()["ok"] is True
    assert api_as("commission").get("/api/v1/audit/verify").status_code == 403


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger is PostgreSQL's")
def test_postgres_refuses_update_and_delete_of_audit_rows():
    _some_entries(1)
    for stmt in ("UPDATE core_auditentry SET username = 'x'", "DELETE FROM core_auditentry"):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cur,
        ):
            cur.execute(stmt)
