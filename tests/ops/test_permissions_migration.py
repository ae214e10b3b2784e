"""The console moved from the ``portal`` app to ``ops``: its permissions move with their content
type, so a group or a user granted one before the move still holds it after."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.factories import UserFactory

BEFORE = [("portal", "0002_operations_roles"), ("ops", None)]
AFTER = [("ops", "0001_initial")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state([t for t in targets if t[1]]).apps


@pytest.mark.django_db(transaction=True)
def test_groups_and_users_keep_the_operations_permissions_across_the_move():
    apps = migrate(BEFORE)
    try:
        OldPermission = apps.get_model("auth", "Permission")
        OldGroup = apps.get_model("auth", "Group")
        before = OldPermission.objects.get(
            content_type__app_label="portal", codename="purge_legacy_credentials"
        )
        hand_made = OldGroup.objects.create(name="Key custodians")
        hand_made.permissions.add(before)
        user = UserFactory()
        apps.get_model("tenants", "User").objects.get(pk=user.pk).user_permissions.add(
            OldPermission.objects.get(content_type__app_label="portal", codename="rotate_keys")
        )

        migrate(AFTER)

        after = Permission.objects.get(pk=before.pk)
        assert (after.content_type.app_label, after.codename) == (
            "ops",
            "purge_legacy_credentials",
        )
        assert not Permission.objects.filter(content_type__app_label="portal").filter(
            codename__in=["view_dashboard", "rotate_keys", "purge_legacy_credentials"]
        )
        assert list(Group.objects.get(name="Key custodians").permissions.all()) == [after]
        user.refresh_from_db()
        assert user.has_perm("ops.rotate_keys")
        assert not user.has_perm("ops.purge_legacy_credentials")
        assert "ops.view_dashboard" in {
            f"{p.content_type.app_label}.{p.codename}"
            for p in Group.objects.get(name="Support").permissions.all()
        }
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
