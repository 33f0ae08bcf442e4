"""Entries are written unsealed in their write's transaction and sealed into the chain right
after it commits: concurrent writers do not queue on the tip, and the chain still has no gap,
no fork and no entry left out."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from yigongti.core import audit
from yigongti.core.actor import Actor
from yigongti.core.models import AuditEntry
from yigongti.core.testing import run_together

pytestmark = pytest.mark.django_db(transaction=True)


def _write(i: int) -> None:
    a = Actor.system(f"writer{i}")
    for k in range(5):
        with transaction.atomic():
            audit.record(a, audit.Action.CREATE, "thing", f"{i}-{k}", detail={"k": k})


def test_an_entry_is_sealed_when_its_transaction_commits():
    a = Actor.system("test")
    with transaction.atomic():
        e = audit.record(a, audit.Action.READ, "resident", 1)
        assert AuditEntry.objects.get(pk=e.pk).seq is None  # not before the commit
    sealed = AuditEntry.objects.get(pk=e.pk)
    assert sealed.seq is not None and len(sealed.hash) == 64
    assert audit.verify_chain().ok


def test_a_rolled_back_write_leaves_no_entry_and_no_gap():
    a = Actor.system("test")
    with pytest.raises(RuntimeError), transaction.atomic():
        audit.record(a, audit.Action.CREATE, "thing", "gone")
        raise RuntimeError("the write failed")
    audit.record(a, audit.Action.CREATE, "thing", "kept")
    assert not AuditEntry.objects.filter(object_id="gone").exists()
    report = audit.verify_chain()
    assert report.ok, report


def test_eight_writers_at_once_give_one_unbroken_chain():
    before = AuditEntry.objects.count()
    results = run_together(8, _write)
    assert all(r is None for r in results), results
    assert AuditEntry.objects.count() == before + 40
    assert not AuditEntry.objects.filter(seq__isnull=True).exists()
    seqs = sorted(AuditEntry.objects.values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))
    report = audit.verify_chain()
    assert report.ok and report.checked == len(seqs)


def test_an_entry_left_unsealed_is_sealed_by_the_next_seal_in_id_order():
    a = Actor.system("test")
    with transaction.atomic():
        first = audit.record(a, audit.Action.READ, "resident", 1)
        second = audit.record(a, audit.Action.READ, "resident", 2)
        transaction.set_rollback(False)
    # both sealed by the one after-commit seal, oldest first
    s1, s2 = (AuditEntry.objects.get(pk=x.pk) for x in (first, second))
    assert s1.seq is not None and s2.seq == s1.seq + 1 and s2.prev_hash == s1.hash
    assert audit.seal() == 0  # nothing pending


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger is PostgreSQL's")
def test_the_database_lets_only_the_seal_through():
    a = Actor.system("test")
    e = audit.record(a, audit.Action.READ, "resident", 1)
    # a sealed entry cannot be re-sealed, edited or deleted
    for sql in (
        "UPDATE core_auditentry SET hash = 'x' WHERE id = %s",
        "UPDATE core_auditentry SET seq = NULL, hash = '' WHERE id = %s",
        "UPDATE core_auditentry SET username = 'someone' WHERE id = %s",
        "DELETE FROM core_auditentry WHERE id = %s",
    ):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql, [e.pk])
    # an unsealed entry cannot be edited while it waits for its seal either
    with transaction.atomic():
        pending = audit.record(a, audit.Action.READ, "resident", 2)
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
            cur.execute(
                "UPDATE core_auditentry SET seq = 999999, hash = %s, username = 'x' WHERE id = %s",
                ["f" * 64, pending.pk],
            )
    assert AuditEntry.objects.get(pk=pending.pk).username == "test"
    assert audit.verify_chain().ok
