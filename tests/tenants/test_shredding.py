"""Crypto-shredding (issue 23 item 7): once a legacy credential is purged, no copy of its secret
can be decrypted — not the old row versions still on the table's pages (and so in WAL and on
replicas), not a database dump taken before the purge.

Before data keys this failed: the purge set the ciphertext columns to NULL, but the row's old
version on the heap page still held ``v1:test1:…``, sealed with a key of FIELD_ENCRYPTION_KEYS
directly, and decrypting it with the live configuration gave the API token back (the first half
of ``test_a_purged_secret_cannot_be_decrypted_from_its_old_row_versions`` still shows that for a
value from before data keys, until the key-encryption key is rotated away)."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import psycopg
import pytest
from django.core.files.storage import FileSystemStorage, storages
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from tenants import crypto, keys, services
from tenants.fields import associated_data, scope_of, unseal
from tenants.models import AuditEvent, DataKey, LegacyCredential
from tenants.scopes import required_scopes
from tests.factories import (
    JiraSiteFactory,
    LegacyCredentialFactory,
    OAuthGrantFactory,
    TenantFactory,
    secret_value,
)
from tests.tenants.pgtools import run_pg_tool

LABEL = "tenants.LegacyCredential"
TOKEN = re.compile(rb"v[12]:[0-9A-Za-z]+:[A-Za-z0-9_=-]+")


def _decrypts(pk, token: str) -> bool:
    """Whether ``token`` (an ``api_token`` of credential ``pk``) opens with what a fresh process
    has: the configuration and the key store."""
    keys.forget_cached_keys()
    try:
        unseal(LABEL, str(pk), "api_token", token)
    except crypto.DecryptionError:
        return False
    return True


def _key_store_holds(scope: str) -> list[str]:
    store = storages["keys"]
    try:
        dirs, _ = store.listdir(scope)
    except FileNotFoundError:
        return []
    return [f"{d}/{f}" for d in dirs for f in store.listdir(f"{scope}/{d}")[1]]


@pytest.fixture
def before_cutoff(settings):
    settings.LEGACY_CUTOFF = timezone.now() + timedelta(days=30)


# --------------------------------------------------------------------------- the purge


@pytest.mark.django_db
def test_purging_destroys_the_credentials_data_key_once_it_commits(
    tenant, staff, django_capture_on_commit_callbacks
):
    credential = LegacyCredentialFactory(tenant=tenant)
    neighbour = LegacyCredentialFactory(tenant=tenant, customer_app=True)
    grant = OAuthGrantFactory()
    token = credential.api_token_ciphertext
    key_id = crypto.parse(token)[1]
    assert _decrypts(credential.pk, token)

    with django_capture_on_commit_callbacks(execute=True):
        services.legacy_credential_purge(credential=credential, reason="left", acting_user=staff)

    record = DataKey.objects.get(scope=scope_of(credential))
    assert (record.id.hex, record.state) == (key_id, "destroyed")
    assert record.destroyed_at is not None
    assert _key_store_holds(scope_of(credential)) == []
    assert not _decrypts(credential.pk, token)
    purged = AuditEvent.objects.get(action="legacy_credential.purged")
    assert purged.summary["data_keys_destroyed"] == [key_id]
    destroyed = AuditEvent.objects.get(action="data_keys.destroyed")
    assert destroyed.summary == {"scope": scope_of(credential), "data_keys": [key_id], "objects": 1}
    # Nothing else was lost: the tenant's other credential and the grants keep their keys.
    fresh = LegacyCredential.objects.get(pk=neighbour.pk)
    assert fresh.client_secret == neighbour.client_secret
    assert type(grant).objects.get(pk=grant.pk).refresh_token == grant.refresh_token


@pytest.mark.django_db
def test_a_purge_that_rolls_back_destroys_no_key(tenant, staff, django_capture_on_commit_callbacks):
    credential = LegacyCredentialFactory(tenant=tenant)
    secret = credential.api_token

    class Abort(Exception):
        pass

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(Abort):
        with transaction.atomic():
            services.legacy_credential_purge(credential=credential, acting_user=staff)
            raise Abort

    assert DataKey.objects.get(scope=scope_of(credential)).state == "active"
    assert LegacyCredential.objects.get(pk=credential.pk).api_token == secret


class _KeyStoreThatCannotDelete(FileSystemStorage):
    """The key store during an outage: reads work, deletes fail."""

    def delete(self, name):
        raise OSError("key store unavailable")


@pytest.mark.django_db
def test_a_key_store_outage_during_a_purge_is_finished_by_the_rotation_command(
    tenant, staff, settings, django_capture_on_commit_callbacks, caplog
):
    credential = LegacyCredentialFactory(tenant=tenant)
    token = credential.api_token_ciphertext
    working = settings.STORAGES
    settings.STORAGES = {
        **working,
        "keys": {
            "BACKEND": f"{__name__}._KeyStoreThatCannotDelete",
            "OPTIONS": working["keys"]["OPTIONS"],
        },
    }
    with django_capture_on_commit_callbacks(execute=True):
        assert services.legacy_credential_purge(credential=credential, acting_user=staff)

    assert LegacyCredential.objects.get(pk=credential.pk).status == "purged"
    assert DataKey.objects.get(scope=scope_of(credential)).state == "destroying"
    assert "not yet deleted from the key store" in caplog.text
    settings.STORAGES = working

    call_command("rotate_encryption_keys")

    assert DataKey.objects.get(scope=scope_of(credential)).state == "destroyed"
    assert _key_store_holds(scope_of(credential)) == []
    assert not _decrypts(credential.pk, token)


# --------------------------------------------------------------------------- old row versions


def _row_versions(pk: uuid.UUID) -> list[str]:
    """The ciphertexts in every version of credential ``pk`` still on the table's heap pages —
    live and dead tuples alike, read with ``pageinspect`` as an attacker with the data files (or
    WAL, or a replica) could."""
    table = LegacyCredential._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attnum, attname FROM pg_attribute WHERE attrelid = %s::regclass"
            " AND attnum > 0 ORDER BY attnum",
            [table],
        )
        columns = {name: attnum - 1 for attnum, name in cursor.fetchall()}
        cursor.execute("SELECT pg_relation_size(%s) / current_setting('block_size')::int", [table])
        pages = cursor.fetchone()[0]
        found = []
        for page in range(pages):
            cursor.execute(
                "SELECT tuple_data_split(%s::regclass, t_data, t_infomask, t_infomask2, t_bits)"
                " FROM heap_page_items(get_raw_page(%s, %s)) WHERE t_data IS NOT NULL",
                [table, table, page],
            )
            for (attributes,) in cursor.fetchall():
                if bytes(attributes[columns["id"]]) != pk.bytes:
                    continue
                raw = attributes[columns["api_token_ciphertext"]]
                if raw is not None:
                    found += [m.decode() for m in TOKEN.findall(bytes(raw))]
    return found


@pytest.fixture
def heap_pages(on_postgres):
    """pageinspect, and no autovacuum on the table while the test looks at its dead tuples."""
    table = LegacyCredential._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pageinspect")
        cursor.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
    yield
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} RESET (autovacuum_enabled)")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_purged_secret_cannot_be_decrypted_from_its_old_row_versions(
    heap_pages, settings, before_cutoff
):
    tenant = TenantFactory()
    api_token = secret_value("apitoken")
    credential = services.legacy_credential_create(
        tenant=tenant, kind="api_token", email="a@b.example", api_token=api_token, acting_user=None
    )
    # A credential from before data keys, its value still v1 (migration 0009 not yet run).
    old_token = secret_value("oldtoken")
    old = LegacyCredentialFactory(tenant=tenant, api_token=old_token)
    LegacyCredential.objects.filter(pk=old.pk).update(
        api_token_ciphertext=crypto.encrypt_v1(old_token, aad=associated_data(old, "api_token"))
    )
    neighbour = LegacyCredentialFactory(tenant=tenant, customer_app=True)

    # The page holds the live version; with the configuration and the key store it opens.
    (live,) = _row_versions(credential.pk)
    assert live.startswith("v2:") and _decrypts(credential.pk, live)

    services.legacy_credential_purge(credential=credential, acting_user=None)
    services.legacy_credential_purge(credential=old, acting_user=None)

    # The old version is still on the page, ciphertext and all (no VACUUM ran)...
    assert live in _row_versions(credential.pk)
    assert LegacyCredential.objects.get(pk=credential.pk).api_token_ciphertext is None
    # ...but it no longer decrypts: its data key is gone from the key store.
    assert DataKey.objects.get(scope=scope_of(credential)).state == "destroyed"
    assert not _decrypts(credential.pk, live)
    # Nor does any key-encryption key open it directly, as it opened a v1 value.
    for _, kek in settings.FIELD_ENCRYPTION_KEYS:
        with pytest.raises(crypto.DecryptionError):
            crypto.unseal_token(live, kek, aad=associated_data(credential, "api_token"))

    # The earlier failure, for the value from before data keys: its dead v1 version still opens
    # with the live key-encryption key...
    old_versions = _row_versions(old.pk)
    v1 = [t for t in old_versions if t.startswith("v1:")]
    assert v1 and _decrypts(old.pk, v1[0])
    assert not any(_decrypts(old.pk, t) for t in old_versions if t.startswith("v2:"))
    # ...until that key is rotated away (docs/encryption.md: rotate once after the upgrade).
    settings.FIELD_ENCRYPTION_KEYS = [("test2", b"R" * 32), *settings.FIELD_ENCRYPTION_KEYS]
    call_command("rotate_encryption_keys")
    settings.FIELD_ENCRYPTION_KEYS = settings.FIELD_ENCRYPTION_KEYS[:1]
    assert not any(_decrypts(old.pk, t) for t in old_versions)
    # The tenant's other secrets survived all of it.
    keys.forget_cached_keys()
    assert LegacyCredential.objects.get(pk=neighbour.pk).client_secret == neighbour.client_secret


# --------------------------------------------------------------------------- database backups


@pytest.fixture
def scratch_database(on_postgres):
    """An empty database next to the test database, for restoring a dump into."""
    name = f"scratch_{uuid.uuid4().hex[:12]}"
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    yield name
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')


def _read_restored(database: str, pk: uuid.UUID) -> str:
    db = connection.settings_dict
    with psycopg.connect(
        dbname=database,
        host=db.get("HOST") or None,
        port=db.get("PORT") or None,
        user=db.get("USER") or None,
        password=db.get("PASSWORD") or None,
    ) as restored:
        return restored.execute(
            "SELECT api_token_ciphertext FROM tenants_legacycredential WHERE id = %s", [pk]
        ).fetchone()[0]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_purged_secret_cannot_be_decrypted_from_a_dump_taken_before_the_purge(
    scratch_database, before_cutoff, tmp_path
):
    tenant = TenantFactory()
    credential = services.legacy_credential_create(
        tenant=tenant,
        kind="api_token",
        email="a@b.example",
        api_token=secret_value("apitoken"),
        acting_user=None,
    )
    backup = tmp_path / "before-purge.dump"
    run_pg_tool("pg_dump", "--format=custom", "--no-owner", f"--file={backup}")
    run_pg_tool("pg_restore", "--no-owner", str(backup), database=scratch_database)
    restored = _read_restored(scratch_database, credential.pk)
    assert restored == credential.api_token_ciphertext
    assert _decrypts(credential.pk, restored)  # the backup works, before the purge

    services.legacy_credential_purge(credential=credential, acting_user=None)

    assert not _decrypts(credential.pk, restored)


@pytest.mark.django_db
def test_revoking_a_grant_destroys_its_tokens_data_key_and_a_new_consent_gets_a_new_one(
    staff, django_capture_on_commit_callbacks
):
    grant = OAuthGrantFactory()
    token = grant.refresh_token_ciphertext
    old_key = crypto.parse(token)[1]

    with django_capture_on_commit_callbacks(execute=True):
        services.grant_revoke(grant=grant, reason="customer left", acting_user=staff)

    assert DataKey.objects.get(scope=scope_of(grant)).state == "destroyed"
    assert _key_store_holds(scope_of(grant)) == []
    keys.forget_cached_keys()
    with pytest.raises(crypto.DecryptionError):
        unseal("tenants.OAuthGrant", str(grant.pk), "refresh_token", token)
    revoked = AuditEvent.objects.get(action="grant.revoked")
    assert revoked.summary["data_keys_destroyed"] == 1

    # Consenting again seals the new tokens under a new data key.
    site = JiraSiteFactory()
    services.grant_upsert(
        account_id=grant.account_id,
        scopes=sorted(required_scopes()),
        access_token="new-access",
        refresh_token="new-refresh",
        access_token_expires_at=timezone.now() + timedelta(hours=1),
        sites=[(site, sorted(required_scopes()))],
        acting_user=None,
    )
    again = type(grant).objects.get(pk=grant.pk)
    assert again.status == "active"
    assert again.refresh_token == "new-refresh"
    assert crypto.parse(again.refresh_token_ciphertext)[1] != old_key
