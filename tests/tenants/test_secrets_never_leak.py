"""Secrets must never appear in str/repr, the admin, logs or a database dump."""

import base64
import logging
from datetime import timedelta

import pytest
from django.contrib.admin.sites import site as admin_site
from django.urls import reverse
from django.utils import timezone

from tenants import crypto, keys, services
from tenants.fields import scope_of
from tenants.models import DataKey, GrantSite, LegacyCredential, OAuthGrant
from tenants.scopes import required_scopes
from tests.factories import (
    GrantSiteFactory,
    JiraSiteFactory,
    LegacyCredentialFactory,
    MigrationCaseFactory,
    TenantFactory,
    secret_value,
)
from tests.tenants.pgtools import run_pg_tool


def _secrets_of(*objects) -> list[str]:
    found = []
    for obj in objects:
        for name in ("access_token", "refresh_token", "api_token", "client_secret"):
            value = getattr(obj, name, None)
            if value:
                found.append(value)
    return found


def _assert_absent(text: str, secrets: list[str]) -> None:
    for secret in secrets:
        # not even partly: the random half alone must not appear either
        assert secret not in text
        assert secret.split("-", 1)[1][:12] not in text


@pytest.fixture
def secret_rows(db):
    tenant = TenantFactory()
    link = GrantSiteFactory(site__tenant=tenant, in_use=True)
    api = LegacyCredentialFactory(tenant=tenant)
    app = LegacyCredentialFactory(tenant=tenant, customer_app=True)
    MigrationCaseFactory(site__tenant=tenant, site__legacy_credential=api, legacy_credential=api)
    return link.grant, api, app


@pytest.mark.django_db
def test_no_secret_in_str_or_repr(secret_rows):
    for obj in secret_rows:
        _assert_absent(str(obj) + repr(obj), _secrets_of(obj))
        for column in ("access_token_ciphertext", "refresh_token_ciphertext"):
            token = getattr(obj, column, None)
            if token:
                assert token not in str(obj) + repr(obj)


@pytest.mark.django_db
def test_no_secret_on_any_admin_page(admin_client, secret_rows):
    grant, api, app = secret_rows
    secrets = _secrets_of(*secret_rows)
    ciphertexts = [
        getattr(o, c)
        for o in secret_rows
        for c in (
            "access_token_ciphertext",
            "refresh_token_ciphertext",
            "api_token_ciphertext",
            "client_secret_ciphertext",
        )
        if getattr(o, c, None)
    ]
    client = admin_client
    pages = []
    for model in admin_site._registry:
        opts = model._meta
        if opts.app_label != "tenants":
            continue
        pages.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        row = model._default_manager.first()
        if row is not None:
            pages.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[row.pk]))
    for obj in (grant, api, app, GrantSite.objects.first()):
        opts = obj._meta
        pages.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]))

    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        html = response.content.decode()
        _assert_absent(html, secrets)
        for token in ciphertexts:
            assert token.split(":")[2][:16] not in html, page
    html = client.get(reverse("admin:tenants_oauthgrant_change", args=[grant.pk])).content
    assert b"stored" in html


@pytest.mark.django_db
def test_no_secret_in_logs_at_debug(caplog, settings, tenant, staff):
    settings.DEBUG = True  # Django then logs every SQL statement at DEBUG too
    settings.LEGACY_CUTOFF = timezone.now() + timedelta(days=30)
    caplog.set_level(logging.DEBUG)
    secrets = [secret_value(p) for p in ("access", "refresh", "access2", "refresh2", "api", "cs")]
    site = JiraSiteFactory(tenant=tenant)

    grant = services.grant_upsert(
        account_id="acct",
        scopes=sorted(required_scopes()),
        access_token=secrets[0],
        refresh_token=secrets[1],
        access_token_expires_at=timezone.now() + timedelta(hours=1),
        sites=[(site, sorted(required_scopes()))],
        acting_user=staff,
    )
    services.grant_store_rotated_tokens(
        grant=grant,
        access_token=secrets[2],
        refresh_token=secrets[3],
        access_token_expires_at=timezone.now() + timedelta(hours=1),
        acting_user=None,
    )
    services.grant_mark_needs_reauth(grant=grant, reason="invalid_grant", acting_user=None)
    services.grant_revoke(grant=grant, reason="test", acting_user=staff)
    api = services.legacy_credential_create(
        tenant=tenant, kind="api_token", email="a@b.example", api_token=secrets[4], acting_user=None
    )
    app = services.legacy_credential_create(
        tenant=tenant,
        kind="customer_app",
        client_id="cid",
        client_secret=secrets[5],
        acting_user=None,
    )
    services.legacy_credential_purge(credential=api, acting_user=staff)
    services.legacy_credential_purge(credential=app, acting_user=staff)

    assert caplog.records, "expected some log output at DEBUG"
    _assert_absent(caplog.text, secrets)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_raw_database_dump_holds_no_plaintext_secret_and_no_data_key(on_postgres, settings):
    """Reliability row 11 (secrets leaking), the database-dump part: a ``pg_dump`` holds the
    rows and their ciphertexts, but no secret and no data key in any encoding, so the dump and
    FIELD_ENCRYPTION_KEYS alone open nothing (the data keys are in the key store)."""
    settings.LEGACY_CUTOFF = timezone.now() + timedelta(days=30)
    tenant = TenantFactory()
    site = JiraSiteFactory(tenant=tenant)
    secrets = [secret_value(p) for p in ("access", "refresh", "api", "cs", "lacc", "lref")]
    grant = services.grant_upsert(
        account_id="dump-acct",
        scopes=sorted(required_scopes()),
        access_token=secrets[0],
        refresh_token=secrets[1],
        access_token_expires_at=timezone.now() + timedelta(hours=1),
        sites=[(site, sorted(required_scopes()))],
        acting_user=None,
    )
    api = services.legacy_credential_create(
        tenant=tenant, kind="api_token", email="a@b.example", api_token=secrets[2], acting_user=None
    )
    app = services.legacy_credential_create(
        tenant=tenant,
        kind="customer_app",
        client_id="their-app",
        client_secret=secrets[3],
        access_token=secrets[4],
        refresh_token=secrets[5],
        acting_user=None,
    )
    data_keys = [
        keys.data_key(scope_of(row), crypto.parse(token)[1])
        for row, token in (
            (grant, grant.refresh_token_ciphertext),
            (api, api.api_token_ciphertext),
            (app, app.client_secret_ciphertext),
        )
    ]

    dump = run_pg_tool("pg_dump", "--data-only", "--no-owner")

    assert "dump-acct" in dump  # the rows are in the dump...
    assert OAuthGrant.objects.get(pk=grant.pk).refresh_token_ciphertext in dump
    assert str(DataKey.objects.filter(scope=scope_of(grant)).get().pk) in dump
    assert LegacyCredential.objects.count() == 2
    for secret in secrets:  # ...their secrets are not
        assert secret not in dump
    for key in data_keys:  # ...nor the keys that would open them
        for encoded in (
            key.hex(),
            base64.b64encode(key).decode(),
            base64.urlsafe_b64encode(key).decode(),
        ):
            assert encoded.rstrip("=") not in dump
