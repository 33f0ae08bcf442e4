"""On PostgreSQL the audit table refuses UPDATE and DELETE at the database level, so not
even a hand-written query can edit history quietly (the hash chain catches the rest)."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION ygt_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'core_auditentry is append-only (%% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER ygt_audit_append_only BEFORE UPDATE OR DELETE ON core_auditentry
    FOR EACH ROW EXECUTE FUNCTION ygt_audit_append_only();
"""
DROP = """
DROP TRIGGER IF EXISTS ygt_audit_append_only ON core_auditentry;
DROP FUNCTION IF EXISTS ygt_audit_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
