"""The customer journeys, one plain function per step (django-allauth's ``internal/flows`` is the
model). Views, the demo seeder and commands call these; none of them repeats a step.

- ``oauth``: the steps every 3LO consent shares: mint a one-time ``state``, check it on the
  way back, exchange the code, check scopes, a site's administrator and a test read.
- ``callback``: the one callback handler, for the connect page and the migration wizard alike
  (state → code exchange → scopes → accessible resources → admin check per site → store through
  the tenants services → audit), and the choice of sites when a consent reaches several.
- ``migration``: the wizard's journey; its only step in the callback is the case's own (the
  expected site, the case's states).

Who may take these steps is ``portal.access.require_tenant_manager``.
"""
