"""Give the Security admin role the compliance-report permission on databases whose roles were
created before the permission existed (ops.roles lists it for future syncs)."""

from django.db import migrations

PERMISSION = "view_compliance_report"
GROUP = "Security admin"


def grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    config = apps.get_app_config("atlassian")
    config.models_module = True
    create_permissions(config, verbosity=0)
    config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permission = Permission.objects.filter(
        content_type__app_label="atlassian", codename=PERMISSION
    ).first()
    group = Group.objects.filter(name=GROUP).first()
    if permission is not None and group is not None:
        group.permissions.add(permission)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for group in Group.objects.filter(name=GROUP):
        group.permissions.remove(
            *group.permissions.filter(content_type__app_label="atlassian", codename=PERMISSION)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("atlassian", "0002_compliance_report_permission"),
        ("portal", "0002_operations_roles"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
