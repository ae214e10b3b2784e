"""What tenants announces to the apps above it, which it never imports.

``sites_changed`` is sent, inside the transaction that changed them (their rows locked), when
sites were created, moved to another credential, or changed status. Receivers run synchronously
in that transaction; ``backups`` connects one in its ``AppConfig.ready()`` to keep each site's
schedule in step with the site."""

from __future__ import annotations

from django.dispatch import Signal

# Keyword argument: site_ids (a list of JiraSite primary keys).
sites_changed = Signal()
