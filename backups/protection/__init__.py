"""Every connected site is protected, and someone is told when one is not.

* ``policy``  — the vendor default (settings) and a tenant's override; applied to sites when they
  are connected, migrated, imported or reconnected (``backups.apps`` receives
  ``tenants.signals.sites_changed``).
* ``state``   — the one definition of a site's protection state, stored per site, and the
  selectors every page and command reads it through.
* ``outcomes`` — the one place job outcomes (succeeded, failed, paused) reach protection: a beat
  pass reads job rows; the engine is not touched.
* ``incidents``, ``notify`` — incidents as rows; e-mails to the customer, a webhook for staff.
* ``verify_sampling`` — daily verification of a bounded sample.
* ``tasks``   — the beat tasks.
"""
