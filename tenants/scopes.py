"""The scopes a vendor grant must carry: one check, used by every service that stores a grant
(``grant_upsert``) and by the customer-facing flows before they store anything.

A consent must carry every scope in ``ATLASSIAN_SCOPES`` except Jira Software's
(``SOFTWARE_SCOPES``). Accessible-resources lists, per site, only the product's own scopes, so
each consented site must also carry every Jira scope: an organisation can restrict an app's
permissions on one site and not on another.

Jira Software's scopes came later (boards, sprints and rank, issue 18): a grant without them
is not refused and keeps working for everything else; it needs re-consent for that part only
(``software_scopes_missing``), and backups and restores say what they left out because of it.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings

from tenants.exceptions import MissingScopes

# What the Jira Software API (/rest/agile/1.0) needs, with the granular platform scopes
# Atlassian lists on its operations.
SOFTWARE_SCOPES = frozenset(
    {
        "read:board-scope:jira-software",
        "write:board-scope:jira-software",
        "read:board-scope.admin:jira-software",
        "read:sprint:jira-software",
        "write:sprint:jira-software",
        "read:epic:jira-software",
        "write:issue:jira-software",
        "read:issue-details:jira",
        "read:jql:jira",
        "read:project:jira",
    }
)


def requested_scopes() -> frozenset[str]:
    """Everything the app asks for in a consent."""
    return frozenset(settings.ATLASSIAN_SCOPES.split())


def required_scopes() -> frozenset[str]:
    """What a consent must carry to be stored (Jira Software's part may be missing)."""
    return requested_scopes() - SOFTWARE_SCOPES


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


def software_scopes_missing(granted: Iterable[str]) -> list[str]:
    """Jira Software's scopes the app asks for that ``granted`` lacks (sorted)."""
    return sorted((requested_scopes() & SOFTWARE_SCOPES) - set(granted))


def site_software_scopes_missing(site) -> list[str]:
    """Jira Software's scopes the site's current grant lacks; empty for a site without a
    grant (a legacy credential is not scoped)."""
    grant = getattr(site, "grant", None)
    if grant is None:
        return []
    return software_scopes_missing(grant.scopes or [])
