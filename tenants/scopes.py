"""The scopes a vendor grant must carry: one check, used by every service that stores a grant
(``grant_upsert``) and by the customer-facing flows before they store anything.

A consent must carry every scope in ``ATLASSIAN_SCOPES``. Accessible-resources lists, per site,
only the product's own scopes, so each consented site must also carry every Jira scope: an
organisation can restrict an app's permissions on one site and not on another.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings

from tenants.exceptions import MissingScopes


def required_scopes() -> frozenset[str]:
    return frozenset(settings.ATLASSIAN_SCOPES.split())


def missing_scopes(
    *, granted: Iterable[str], site_scopes: Iterable[Iterable[str]] = ()
) -> list[str]:
    """The required scopes the consent lacks, sorted (empty when it carries them all).
    ``site_scopes`` holds the scopes listed for each consented site."""
    required = required_scopes()
    missing = required - set(granted)
    per_site = {scope for scope in required if "jira" in scope}
    for scopes in site_scopes:
        missing |= per_site - set(scopes)
    return sorted(missing)


def require_scopes(*, granted: Iterable[str], site_scopes: Iterable[Iterable[str]] = ()) -> None:
    """Raise ``MissingScopes`` naming what is missing; nothing else."""
    missing = missing_scopes(granted=granted, site_scopes=site_scopes)
    if missing:
        raise MissingScopes(missing)
