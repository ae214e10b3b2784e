"""Every admin registration of the project (Django's autodiscovery imports this package).

The console module comes last: it subclasses the domain admins to add what spans domains (the
tenant page, "run a backup now" on tenants and sites, the dashboard's filters)."""

from ops.admin import (  # noqa: F401
    atlassian,
    backups,
    console,
    protection,
    restore,
    tenants,
)
