"""The scope check is one function (``tenants.scopes``), and the service that stores a grant
calls it: a consent without every scope backups and restores need is refused with the missing
scopes named, and nothing is stored, whoever calls the service."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tenants.exceptions import MissingScopes
from tenants.models import AuditEvent, GrantSite, OAuthGrant
from tenants.scopes import (
    SOFTWARE_SCOPES,
    missing_scopes,
    required_scopes,
    software_scopes_missing,
)
from tenants.services.grants import grant_upsert
from tests.factories import JiraSiteFactory, secret_value

pytestmark = pytest.mark.django_db

READ_ONLY = ["offline_access", "read:jira-work", "read:me"]


def consent(site, *, scopes, site_scopes):
    return grant_upsert(
        account_id="557058:scopes",
        scopes=scopes,
        access_token=secret_value("access"),
        refresh_token=secret_value("refresh"),
        access_token_expires_at=timezone.now() + timedelta(hours=1),
        sites=[(site, site_scopes)],
        acting_user=None,
    )


def test_a_read_only_consent_is_refused_by_the_service_and_nothing_is_stored():
    site = JiraSiteFactory()

    with pytest.raises(MissingScopes) as refused:
        consent(site, scopes=READ_ONLY, site_scopes=["read:jira-work"])

    assert refused.value.missing == [
        "manage:jira-configuration",
        "manage:jira-project",
        "read:jira-user",
        "write:jira-work",
    ]
    assert "write:jira-work" in str(refused.value)
    assert not OAuthGrant.objects.exists() and not GrantSite.objects.exists()
    assert not AuditEvent.objects.exists()


def test_a_site_whose_own_scopes_lack_a_jira_scope_is_refused_too():
    site = JiraSiteFactory()
    all_scopes = sorted(required_scopes())
    jira_read_only = [s for s in all_scopes if s.startswith("read:jira")]

    with pytest.raises(MissingScopes) as refused:
        consent(site, scopes=all_scopes, site_scopes=jira_read_only)

    assert "write:jira-work" in refused.value.missing
    assert "offline_access" not in refused.value.missing  # not a per-site scope
    assert not OAuthGrant.objects.exists()


def test_a_consent_with_every_scope_is_stored():
    site = JiraSiteFactory()
    all_scopes = sorted(required_scopes())

    grant = consent(site, scopes=all_scopes, site_scopes=[s for s in all_scopes if "jira" in s])

    assert grant.status == "active" and list(grant.sites.all()) == [site]


def test_the_required_scopes_are_the_ones_the_authorize_url_asks_for(settings):
    # Jira Software's are asked for too, but a consent without them is stored (issue 18).
    asked = frozenset(settings.ATLASSIAN_SCOPES.split())
    assert required_scopes() == asked - SOFTWARE_SCOPES
    assert SOFTWARE_SCOPES <= asked
    assert missing_scopes(granted=settings.ATLASSIAN_SCOPES.split()) == []
    assert missing_scopes(granted=required_scopes()) == []
    assert software_scopes_missing(required_scopes()) == sorted(SOFTWARE_SCOPES)
    assert software_scopes_missing(asked) == []
