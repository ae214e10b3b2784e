from django.db import migrations, models


def move_permissions_from_portal(apps, schema_editor):
    """The console moved from ``portal`` to ``ops``: its content type moves with it, so every
    permission row (and every group or user holding one) stays as it was, only renamed
    ``ops.<codename>``. On a new database the roles are created here (``ops.roles``)."""
    from django.contrib.auth.management import create_permissions

    from ops.roles import sync_roles

    ContentType = apps.get_model("contenttypes", "ContentType")
    old = ContentType.objects.filter(app_label="portal", model="operations").first()
    if old is not None and not ContentType.objects.filter(
        app_label="ops", model="operations"
    ).exists():
        old.app_label = "ops"
        old.save(update_fields=["app_label"])
    # Permissions are normally created after migrate; create every app's now so the roles can
    # be given them.
    for config in apps.get_app_configs():
        config.models_module = True
        create_permissions(config, verbosity=0)
        config.models_module = None
    sync_roles(apps)


def move_permissions_back(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="ops", model="operations").update(app_label="portal")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("portal", "0003_operations_moved_to_ops"),
        ("atlassian", "0003_compliance_report_role"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.CreateModel(
            name="Operations",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
            ],
            options={
                "verbose_name": "operations dashboard",
                "verbose_name_plural": "operations dashboard",
                "permissions": [
                    ("view_dashboard", "Can view the operations dashboard"),
                    ("send_invitations", "Can send migration invitations and reminders"),
                    ("run_backups", "Can run a backup now"),
                    ("refresh_grants", "Can refresh a vendor grant now"),
                    ("exempt_migration_cases", "Can exempt a site from migration"),
                    ("suspend_tenants", "Can suspend a tenant"),
                    ("restore", "Can start a restore"),
                    ("manage_retention", "Can change backup schedules and retention"),
                    ("purge_legacy_credentials", "Can purge (crypto-shred) legacy credentials"),
                    ("rotate_keys", "Can rotate the field-encryption keys"),
                ],
                "managed": False,
                "default_permissions": (),
            },
        ),
        migrations.RunPython(move_permissions_from_portal, move_permissions_back),
    ]
