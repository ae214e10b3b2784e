from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from tenants import services
from tenants.exceptions import DomainError
from tenants.models import JiraSite, LegacyCredential
from tests.factories import JiraSiteFactory, LegacyCredentialFactory, secret_value

pytestmark = pytest.mark.django_db


@pytest.fixture
def before_cutoff(settings):
    settings.LEGACY_CUTOFF = timezone.now() + timedelta(days=30)


def test_it_imports_an_api_token_encrypted_and_audits_it(tenant, before_cutoff, audited):
    token = secret_value("apitoken")
    credential = services.legacy_credential_create(
        tenant=tenant,
        kind="api_token",
        site_url="https://acme.atlassian.net/",
        email="jira@acme.example",
        api_token=token,
        acting_user=None,
    )
    assert LegacyCredential.objects.get().api_token == token
    assert token not in LegacyCredential.objects.values_list("api_token_ciphertext", flat=True)[0]
    event = audited("legacy_credential.created", actor=None, tenant=tenant, secrets=[token])
    assert event.summary["secret_stored"] is True
    assert credential.site_url == "https://acme.atlassian.net"


def test_it_imports_a_customer_app_with_its_secret_and_tokens(tenant, before_cutoff, audited):
    secrets = [secret_value("clientsecret"), secret_value("access"), secret_value("refresh")]
    credential = services.legacy_credential_create(
        tenant=tenant,
        kind="customer_app",
        client_id="their-client-id",
        client_secret=secrets[0],
        access_token=secrets[1],
        refresh_token=secrets[2],
        acting_user=None,
    )
    fresh = LegacyCredential.objects.get(pk=credential.pk)
    assert [fresh.client_secret, fresh.access_token, fresh.refresh_token] == secrets
    audited("legacy_credential.created", actor=None, tenant=tenant, secrets=secrets)


def test_after_the_cutoff_it_records_the_connection_but_refuses_the_secret(
    tenant, settings, audited, caplog
):
    settings.LEGACY_CUTOFF = timezone.now() - timedelta(days=1)
    token = secret_value("apitoken")
    credential = services.legacy_credential_create(
        tenant=tenant,
        kind="api_token",
        site_url="https://acme.atlassian.net",
        email="jira@acme.example",
        api_token=token,
        acting_user=None,
    )
    stored = LegacyCredential.objects.get(pk=credential.pk)
    assert stored.secret_withheld is True
    assert stored.api_token is None and not stored.has_secret
    event = audited("legacy_credential.created", actor=None, tenant=tenant, secrets=[token])
    assert event.summary["secret_withheld_after_cutoff"] is True
    assert "without its secret" in caplog.text and token not in caplog.text


def test_it_refuses_a_credential_of_the_wrong_shape(tenant, before_cutoff):
    with pytest.raises(DomainError, match="e-mail"):
        services.legacy_credential_create(
            tenant=tenant, kind="api_token", api_token="t", acting_user=None
        )
    with pytest.raises(DomainError, match="client id"):
        services.legacy_credential_create(tenant=tenant, kind="customer_app", acting_user=None)
    with pytest.raises(DomainError, match="unknown"):
        services.legacy_credential_create(tenant=tenant, kind="basic", acting_user=None)


def test_purging_shreds_the_ciphertext_not_just_a_flag(tenant, staff, audited):
    credential = LegacyCredentialFactory(tenant=tenant, customer_app=True)
    secrets = [credential.client_secret, credential.access_token, credential.refresh_token]

    assert services.legacy_credential_purge(credential=credential, acting_user=staff) is True

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT api_token_ciphertext, client_secret_ciphertext, access_token_ciphertext,"
            " refresh_token_ciphertext, status FROM tenants_legacycredential WHERE id = %s",
            [credential.pk.hex if connection.vendor == "sqlite" else credential.pk],
        )
        assert cursor.fetchone() == (None, None, None, None, "purged")
    assert credential.client_secret_ciphertext is None  # the caller's copy too
    event = audited("legacy_credential.purged", actor=staff, tenant=tenant, secrets=secrets)
    assert sorted(event.summary["secrets_destroyed"]) == [
        "access_token",
        "client_secret",
        "refresh_token",
    ]


def test_purging_twice_is_harmless(tenant, staff):
    credential = LegacyCredentialFactory(tenant=tenant)
    assert services.legacy_credential_purge(credential=credential, acting_user=staff)
    assert not services.legacy_credential_purge(credential=credential, acting_user=staff)
    assert tenant.audit_events.filter(action="legacy_credential.purged").count() == 1


def test_purging_a_credential_still_in_use_leaves_its_sites_needing_reauth(tenant, staff):
    site = JiraSiteFactory(tenant=tenant, legacy=True)
    services.legacy_credential_purge(credential=site.legacy_credential, acting_user=staff)
    site = JiraSite.objects.get(pk=site.pk)
    assert site.legacy_credential is None
    assert site.status == "needs_reauth" and "purged" in site.status_reason
