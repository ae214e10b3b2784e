"""On PostgreSQL, refuse UPDATE and DELETE of audit events in the database itself, so not even
raw SQL or a future bug in the ORM guard can rewrite history. (TRUNCATE, which test teardown
uses, is a separate trigger event and stays allowed.)"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION tenants_auditevent_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'tenants_auditevent is append-only: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER tenants_auditevent_append_only
    BEFORE UPDATE OR DELETE ON tenants_auditevent
    FOR EACH ROW EXECUTE FUNCTION tenants_auditevent_refuse_change();
"""

DROP = """
DROP TRIGGER IF EXISTS tenants_auditevent_append_only ON tenants_auditevent;
DROP FUNCTION IF EXISTS tenants_auditevent_refuse_change();
"""


class PostgreSQLOnlyRunSQL(migrations.RunSQL):
    """RunSQL that does nothing on other databases (SQLite has no plpgsql)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    dependencies = [("tenants", "0002_domain_model")]

    operations = [PostgreSQLOnlyRunSQL(CREATE, DROP, elidable=False)]
