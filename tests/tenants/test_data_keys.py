"""Data keys (tenants/keys.py): kept wrapped outside the database, cached briefly in memory."""

import base64
import json
import threading
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import connection, transaction

from tenants import crypto, keys
from tenants.fields import scope_of, unseal
from tenants.models import AuditEvent, DataKey, OAuthGrant
from tenants.services.encryption import encryption_sweep_data_keys
from tests.factories import LegacyCredentialFactory, OAuthGrantFactory


def _key_id(grant) -> str:
    return crypto.parse(grant.refresh_token_ciphertext)[1]


def _encodings(key: bytes) -> list[bytes]:
    return [
        key,
        key.hex().encode(),
        base64.b64encode(key),
        base64.urlsafe_b64encode(key),
        base64.b64encode(key).rstrip(b"="),
    ]


@pytest.mark.django_db
def test_the_database_holds_no_key_material_and_the_key_store_only_wrapped_keys():
    grant = OAuthGrantFactory()
    key_id = _key_id(grant)
    key = keys.data_key(scope_of(grant), key_id)
    record = DataKey.objects.get()
    assert (record.id.hex, record.scope, record.kek_id) == (key_id, scope_of(grant), "test1")

    in_database = json.dumps(list(DataKey.objects.values()), default=str).encode()
    stored = storages["keys"].open(f"{scope_of(grant)}/{key_id}/test1.json").read()
    for encoded in _encodings(key):
        assert encoded not in in_database
        assert encoded not in stored


@pytest.mark.django_db
def test_a_hot_decrypt_reads_neither_the_key_store_nor_the_database(django_assert_num_queries):
    grant = OAuthGrantFactory(refresh_token="hot-path")
    loaded = OAuthGrant.objects.get(pk=grant.pk)
    # Take the key store away: what this process unwrapped before still serves it...
    storages["keys"].delete(f"{scope_of(grant)}/{_key_id(grant)}/test1.json")
    with django_assert_num_queries(0):
        assert loaded.refresh_token == "hot-path"
    # ...until the cache lets go of it (DATA_KEY_CACHE_SECONDS, or a restart).
    keys.forget_cached_keys()
    with pytest.raises(crypto.DecryptionError, match="not in the key store"):
        loaded.refresh_token


@pytest.mark.django_db
def test_without_a_cache_every_decrypt_reads_the_key_store(settings):
    settings.DATA_KEY_CACHE_SECONDS = 0
    grant = OAuthGrantFactory()
    storages["keys"].delete(f"{scope_of(grant)}/{_key_id(grant)}/test1.json")
    with pytest.raises(crypto.DecryptionError, match="destroyed"):
        grant.refresh_token


@pytest.mark.django_db
def test_a_wrapped_key_moved_to_another_row_does_not_unwrap():
    victim, other = OAuthGrantFactory(), OAuthGrantFactory()
    store = storages["keys"]
    key_id = _key_id(victim)
    wrapped = store.open(f"{scope_of(victim)}/{key_id}/test1.json").read()
    store.save(f"{scope_of(other)}/{key_id}/test1.json", ContentFile(wrapped))
    OAuthGrant.objects.filter(pk=other.pk).update(
        refresh_token_ciphertext=victim.refresh_token_ciphertext
    )
    keys.forget_cached_keys()
    with pytest.raises(crypto.DecryptionError, match="failed authentication"):
        OAuthGrant.objects.get(pk=other.pk).refresh_token


@pytest.mark.django_db
def test_a_tampered_wrapped_key_is_refused(settings):
    grant = OAuthGrantFactory()
    path = storages["keys"].path(f"{scope_of(grant)}/{_key_id(grant)}/test1.json")
    with open(path) as stored:
        data = json.load(stored)
    raw = bytearray(base64.b64decode(data["wrapped"]))
    raw[-1] ^= 1
    data["wrapped"] = base64.b64encode(bytes(raw)).decode()
    with open(path, "w") as stored:
        json.dump(data, stored)
    keys.forget_cached_keys()
    with pytest.raises(crypto.DecryptionError, match="failed authentication"):
        OAuthGrant.objects.get(pk=grant.pk).refresh_token


@pytest.mark.django_db
def test_a_scope_must_be_a_plain_path():
    for bad in ["", "../etc", "secrets//x", "Secrets/X", "secrets/x/", "/abs"]:
        with pytest.raises(ValueError, match="not a data-key scope"):
            keys.active_key(bad)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_rows_sealing_their_first_secret_at_once_agree_on_one_key(on_postgres):
    scope = "secrets/tests.race/1"
    start = threading.Barrier(6)
    found, errors = [], []

    def seal():
        try:
            start.wait(timeout=30)
            with transaction.atomic():
                found.append(keys.active_key(scope).id)
        except Exception as exc:  # noqa: BLE001 (surfaced by the assertion below)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=seal) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors
    assert len(set(found)) == 1
    assert DataKey.objects.get(scope=scope).id.hex == found[0]
    # Losers deleted the keys they had stored before finding the winner's.
    store = storages["keys"]
    stored = [d for d in store.listdir(scope)[0] if store.listdir(f"{scope}/{d}")[1]]
    assert stored == [found[0]]


@pytest.fixture
def own_key_store(settings, tmp_path):
    """A key store of this test's own (the shared one holds keys of other tests' rolled-back
    transactions, which are orphans too)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "keys": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "keys"},
        },
    }


@pytest.mark.django_db
def test_the_sweep_destroys_the_keys_of_deleted_rows(
    own_key_store, django_capture_on_commit_callbacks
):
    gone, kept = OAuthGrantFactory(), OAuthGrantFactory()
    token = gone.refresh_token_ciphertext
    OAuthGrant.objects.filter(pk=gone.pk).delete()

    with django_capture_on_commit_callbacks(execute=True):
        assert encryption_sweep_data_keys(grace=timedelta(0)) == (1, 0)

    assert DataKey.objects.get(scope=scope_of(gone)).state == "destroyed"
    keys.forget_cached_keys()
    with pytest.raises(crypto.DecryptionError, match="destroyed"):
        unseal("tenants.OAuthGrant", str(gone.pk), "refresh_token", token)
    assert OAuthGrant.objects.get(pk=kept.pk).refresh_token == kept.refresh_token


@pytest.mark.django_db
def test_the_sweep_deletes_a_key_whose_transaction_rolled_back_once_it_is_old_enough(
    own_key_store,
):
    class Refused(Exception):
        pass

    with pytest.raises(Refused), transaction.atomic():
        refused = LegacyCredentialFactory()  # e.g. an import row refused after it was sealed
        token = refused.api_token_ciphertext
        raise Refused
    key_id = crypto.parse(token)[1]
    assert [k for _, k in keys.stored_keys("secrets")] == [key_id]

    # Too young: it could belong to a transaction still writing.
    assert encryption_sweep_data_keys() == (0, 0)
    assert encryption_sweep_data_keys(grace=timedelta(0)) == (0, 1)

    assert list(keys.stored_keys("secrets")) == []
    keys.forget_cached_keys()
    with pytest.raises(crypto.DecryptionError, match="destroyed"):
        unseal("tenants.LegacyCredential", str(refused.pk), "api_token", token)
    assert AuditEvent.objects.get(action="data_keys.orphans_deleted").summary == {
        "orphaned_keys": 1
    }
