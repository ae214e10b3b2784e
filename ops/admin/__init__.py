"""Every admin registration of the project (Django's autodiscovery imports this package).

The console module comes last: it subclasses the domain admins to add what spans domains (the
tenant page, "run a backup now" on tenants and sites, the dashboard's filters)."""

from django.contrib import admin

from ops.admin import (  # noqa: F401
    atlassian,
    backups,
    console,
    governance,
    protection,
    restore,
    rollback,
    tenants,
)

# One name for the console, in its header and every page title (not "Django administration").
admin.site.site_header = "Jira Backup — operations"
admin.site.site_title = "Jira Backup — operations"
admin.site.index_title = "Operations console"
