"""Staff roles as Django groups. Each role includes the one before it; superusers are the
break-glass account and need no group.

* Support: view everything except the audit log; send invitations and reminders; run backups.
* Operator: also restore, retention (schedules), refresh grants, exempt cases, suspend tenants.
* Security admin: also purge legacy credentials, rotate keys, read the audit log and the
  compliance report.

``sync_roles`` is idempotent: the data migration calls it, and so does ``seed_demo``. It only
adds permissions to the three groups (and removes ones that no longer belong to a role), so a
hand-made group is left alone.
"""

from __future__ import annotations

SUPPORT = "Support"
OPERATOR = "Operator"
SECURITY_ADMIN = "Security admin"

# Apps whose every model Support may view (the audit log is the exception, below).
VIEWABLE_APPS = ("tenants", "backups", "atlassian", "portal", "ops", "django_celery_beat")
AUDIT_VIEW = "tenants.view_auditevent"

_SUPPORT_EXTRA = ["ops.view_dashboard", "ops.send_invitations", "ops.run_backups"]
_OPERATOR_EXTRA = [
    "ops.restore",
    "ops.manage_retention",
    "ops.refresh_grants",
    "ops.exempt_migration_cases",
    "ops.suspend_tenants",
    "backups.change_backupschedule",
]
_SECURITY_EXTRA = [
    "ops.purge_legacy_credentials",
    "ops.rotate_keys",
    AUDIT_VIEW,
    # The compliance report (ops.compliance; /admin/atlassian/callstat/compliance/).
    "atlassian.view_compliance_report",
]


def role_permissions(apps=None) -> dict[str, set[str]]:
    """``{group name: {"app_label.codename", ...}}`` for the three roles."""
    from django.apps import apps as global_apps

    registry = apps or global_apps
    views: set[str] = set()
    for label in VIEWABLE_APPS:
        try:
            config = registry.get_app_config(label)
        except LookupError:
            continue
        for model in config.get_models():
            views.add(f"{label}.view_{model._meta.model_name}")
    views.discard(AUDIT_VIEW)
    support = views | set(_SUPPORT_EXTRA)
    operator = support | set(_OPERATOR_EXTRA)
    security = operator | set(_SECURITY_EXTRA)
    return {SUPPORT: support, OPERATOR: operator, SECURITY_ADMIN: security}


def sync_roles(apps=None) -> dict[str, int]:
    """Create the groups and set their permissions; returns the permission count per group.
    ``apps`` is the migration state's registry inside a migration, else the live one."""
    from django.apps import apps as global_apps

    registry = apps or global_apps
    Group = registry.get_model("auth", "Group")
    Permission = registry.get_model("auth", "Permission")
    counts: dict[str, int] = {}
    for name, wanted in role_permissions(registry).items():
        group, _ = Group.objects.get_or_create(name=name)
        perms = []
        for dotted in sorted(wanted):
            app_label, codename = dotted.split(".", 1)
            perm = Permission.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            if perm is not None:
                perms.append(perm)
        group.permissions.set(perms)
        counts[name] = len(perms)
    return counts
