"""Reliability row 12 on the wizard's side of the one OAuth callback: replayed and cross-session
states, a site of another tenant, and Atlassian failing during the checks. A refused consent
fails the case with its reason; a rate limit or an outage leaves the case as it was."""

from __future__ import annotations

import pytest
from django.test import Client

from portal.models import OAuthState, SecurityFlag
from tenants.models import AuditEvent, JiraSite, MigrationCase, OAuthGrant
from tests.connect.conftest import follow_authorize
from tests.factories import JiraSiteFactory, TenantFactory
from tests.wizard.conftest import authorize, wizard_url

S = MigrationCase.State


def start(client, world) -> str:
    response = client.post(wizard_url(world, "authorize/start"))
    assert response.status_code == 302
    return follow_authorize(response["Location"])


def test_the_wizards_state_carries_its_purpose_and_case(world, owner_client, wizard_sandbox):
    wizard_sandbox.consent_as(wizard_sandbox.admin, ["acme"])
    start(owner_client, world)

    state = OAuthState.objects.get()
    assert state.purpose == OAuthState.Purpose.MIGRATION
    assert state.migration_case == world.case and state.tenant == world.tenant


def test_a_replayed_wizard_callback_is_refused_audited_and_changes_nothing(
    world, owner_client, wizard_sandbox
):
    """Reliability row 12 through the wizard: a replayed state."""
    wizard_sandbox.consent_as(wizard_sandbox.admin, ["acme"])
    callback = start(owner_client, world)
    assert owner_client.get(callback)["Location"] == wizard_url(world, "verify")
    grant = OAuthGrant.objects.values_list("pk", "refresh_token_ciphertext").get()

    response = owner_client.get(callback)

    assert response.status_code == 400
    assert b'data-error-code="state_replayed"' in response.content
    assert OAuthGrant.objects.values_list("pk", "refresh_token_ciphertext").get() == grant
    assert MigrationCase.objects.get(pk=world.case.pk).state == S.VERIFIED
    event = AuditEvent.objects.get(action="connect.state_refused")
    assert event.summary["reason"] == "state_replayed"
    assert event.summary["purpose"] == "migration" and event.tenant == world.tenant


def test_a_wizard_state_from_another_session_is_refused(world, owner_client, wizard_sandbox):
    wizard_sandbox.consent_as(wizard_sandbox.admin, ["acme"])
    callback = start(owner_client, world)
    other_session = Client()
    other_session.force_login(world.owner)

    response = other_session.get(callback)

    assert response.status_code == 400
    assert b'data-error-code="state_other_session"' in response.content
    assert MigrationCase.objects.get(pk=world.case.pk).state == S.INVITED
    assert not OAuthGrant.objects.exists()
    assert AuditEvent.objects.filter(action="connect.state_refused").count() == 1


def test_a_rate_limit_during_the_admin_check_does_not_fail_the_case(
    world, owner_client, wizard_sandbox
):
    acme = wizard_sandbox.site("acme")
    wizard_sandbox.consent_as(wizard_sandbox.admin, ["acme"])
    callback = start(owner_client, world)
    wizard_sandbox.faults.error_rate(
        1.0,
        statuses=(429,),
        path_prefix=f"/ex/jira/{acme.cloud_id}/rest/api/3/mypermissions",
        retry_after=600,
    )

    response = owner_client.get(callback)

    assert response.status_code == 503
    assert b'data-error-code="atlassian_rate_limited"' in response.content
    assert b"not an administrator" not in response.content
    # "Try again" goes back to the wizard, not to the connect page.
    assert f'href="{wizard_url(world, "authorize")}"'.encode() in response.content
    case = MigrationCase.objects.get(pk=world.case.pk)
    assert (case.state, case.failure_reason) == (S.INVITED, "")
    assert not OAuthGrant.objects.exists()
    assert not AuditEvent.objects.filter(action="migration_case.verification_refused").exists()


def test_an_outage_during_the_test_read_does_not_fail_the_case(world, owner_client, wizard_sandbox):
    acme = wizard_sandbox.site("acme")
    wizard_sandbox.consent_as(wizard_sandbox.admin, ["acme"])
    callback = start(owner_client, world)
    wizard_sandbox.faults.error_rate(
        1.0,
        statuses=(503,),
        path_prefix=f"/ex/jira/{acme.cloud_id}/rest/api/3/myself",
        retry_after=0,
    )

    response = owner_client.get(callback)

    assert response.status_code == 502
    assert b'data-error-code="atlassian_unavailable"' in response.content
    assert MigrationCase.objects.get(pk=world.case.pk).state == S.INVITED
    assert not OAuthGrant.objects.exists()


def test_a_site_resolved_to_another_tenants_cloud_id_is_refused_flagged_and_fails_the_case(
    world, owner_client, wizard_sandbox
):
    acme = wizard_sandbox.site("acme")
    JiraSite.objects.filter(pk=world.site.pk).update(cloud_id="unresolved:acme.placeholder")
    JiraSite.objects.filter(pk=world.site.pk).update(url=acme.url)
    other = TenantFactory(slug="someone-else")
    JiraSiteFactory(tenant=other, cloud_id=acme.cloud_id, url=acme.url)

    response = authorize(owner_client, world, wizard_sandbox)

    assert response["Location"] == wizard_url(world, "authorize")
    case = MigrationCase.objects.get(pk=world.case.pk)
    assert case.state == S.FAILED and "another customer" in case.failure_reason
    assert JiraSite.objects.get(pk=world.site.pk).cloud_id == "unresolved:acme.placeholder"
    assert not OAuthGrant.objects.exists()
    assert SecurityFlag.objects.get().other_tenant == other
    assert AuditEvent.objects.filter(action="connect.site_refused_other_tenant").exists()


@pytest.mark.parametrize("role", ["viewer", None])
def test_a_callback_for_a_tenant_the_user_no_longer_manages_changes_nothing(
    world, owner_client, wizard_sandbox, role
):
    wizard_sandbox.consent_as(wizard_sandbox.admin, ["acme"])
    callback = start(owner_client, world)
    if role:
        world.owner.memberships.update(role=role)
    else:
        world.owner.memberships.all().delete()

    response = owner_client.get(callback)

    assert response.status_code == (403 if role else 404)
    assert MigrationCase.objects.get(pk=world.case.pk).state == S.INVITED
    assert not OAuthGrant.objects.exists()
    assert AuditEvent.objects.filter(action="connect.callback_refused").count() == 1
