"""A command's dry run of a job (restore plan, roll-back diff) keeps nothing in the database —
except a refresh token Atlassian rotated while it ran (the old one works for ten more minutes
only): a token about to expire is refreshed before, and if a rotation still happened inside,
the grant is refreshed again at once from the stored token, inside Atlassian's reuse
interval."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from kit.commands import rolled_back
from tenants.models import JiraSite, OAuthGrant
from tenants.tokens import (
    SiteNeedsReauthorization,
    TokenUnavailable,
    access_token_for_site,
    refresh_grant,
)


@contextmanager
def rolled_back_keeping_tokens(site: JiraSite) -> Iterator[None]:
    """Run the block and roll back everything it wrote, but not a rotation of the site's
    tokens (see the module)."""
    if site.grant_id:
        try:
            access_token_for_site(site)
        except (SiteNeedsReauthorization, TokenUnavailable):
            pass  # the dry run reports it
    before = _rotated_at(site)
    with rolled_back():
        yield
        rotated = _rotated_at(site) != before
    if rotated:
        refresh_grant(site.grant_id, force=True)


def _rotated_at(site: JiraSite):
    """When the site's vendor grant last rotated its tokens (None without a grant)."""
    if not site.grant_id:
        return None
    return (
        OAuthGrant.objects.filter(pk=site.grant_id)
        .values_list("last_rotated_at", flat=True)
        .first()
    )
