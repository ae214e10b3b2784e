from django.db import migrations


class Migration(migrations.Migration):
    """The staff operations' permissions-only model moved to the ``ops`` app (no table: only the
    migration state changes; ``ops.0001_initial`` moves its content type and permissions)."""

    dependencies = [
        ("portal", "0002_operations_roles"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="Operations")],
            database_operations=[],
        ),
    ]
