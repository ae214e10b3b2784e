"""What tenants announces to the apps above it, which it never imports.

``sites_changed`` is sent, inside the transaction that changed them (their rows locked), when
sites were created, moved to another credential, or changed status. Receivers run synchronously
in that transaction; ``backups`` connects one in its ``AppConfig.ready()`` to keep each site's
schedule in step with the site and to give a newly connected site its protection policy.

Keyword arguments:

* ``site_ids`` — a list of ``JiraSite`` primary keys;
* ``reason`` — why, for the receivers' audit rows: ``connected`` (a consent put the site on the
  vendor grant), ``migrated`` (the wizard's cut-over from a legacy credential), ``imported``
  (the legacy import), ``credential`` (another credential change), ``status`` (a status
  change, e.g. a site reconnected or needing re-authorization), ``changed`` otherwise."""

from __future__ import annotations

from django.dispatch import Signal

REASONS = ("connected", "migrated", "imported", "credential", "status", "changed")

sites_changed = Signal()
