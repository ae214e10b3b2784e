"""A permissions-only model: the staff operations that are not "change a row" (send
invitations, run backups, restore, purge legacy secrets...). It has no table; it exists so the
permissions have a content type and can be granted to groups (see ``ops.roles``).

Its permissions are ``ops.<codename>`` (they were ``portal.<codename>`` until the console moved
out of ``portal``; ``ops/migrations/0001_initial.py`` moved their content type, so groups kept them).
"""

from __future__ import annotations

from django.db import models

OPS_PERMISSIONS = [
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
]


class Operations(models.Model):
    class Meta:
        managed = False
        default_permissions = ()
        permissions = OPS_PERMISSIONS
        verbose_name = "operations dashboard"
        verbose_name_plural = "operations dashboard"

    def __str__(self) -> str:
        return "operations"
