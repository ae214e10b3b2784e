import pytest
from django.core.files.storage import storages
from django.core.management import call_command
from django.core.management.base import CommandError

from tenants import crypto, keys
from tenants.fields import associated_data, encrypted_secrets, scope_of
from tenants.models import AuditEvent, DataKey, LegacyCredential, OAuthGrant
from tenants.services.encryption import count_by_key_id, data_keys_by_kek_id
from tests.factories import LegacyCredentialFactory, OAuthGrantFactory

pytestmark = pytest.mark.django_db

NEW_KEY = ("test2", b"N" * 32)
SECRET_NAMES = ("access_token", "refresh_token", "api_token", "client_secret")


def _as_v1(obj) -> None:
    """Store ``obj``'s secrets as they were before data keys: sealed with the first
    key-encryption key directly."""
    model = type(obj)
    values = {}
    for name, secret in encrypted_secrets(model).items():
        plaintext = getattr(obj, name)
        if plaintext:
            values[secret.column] = crypto.encrypt_v1(plaintext, aad=associated_data(obj, name))
    model.objects.filter(pk=obj.pk).update(**values)


@pytest.fixture
def secrets_on_old_keys(settings):
    """Grants and credentials whose data keys test1 wraps, one grant whose data key the older
    test0 wraps, and one grant and one credential from before data keys (``v1`` under test0)."""
    grants = OAuthGrantFactory.create_batch(3)
    credentials = [LegacyCredentialFactory(), LegacyCredentialFactory(customer_app=True)]
    keys_now = settings.FIELD_ENCRYPTION_KEYS
    settings.FIELD_ENCRYPTION_KEYS = [keys_now[1], keys_now[0]]
    grants.append(OAuthGrantFactory())
    old_grant, old_credential = OAuthGrantFactory(), LegacyCredentialFactory()
    _as_v1(old_grant)
    _as_v1(old_credential)
    settings.FIELD_ENCRYPTION_KEYS = keys_now
    return {
        (type(o), o.pk, name): getattr(o, name)
        for o in [*grants, *credentials, old_grant, old_credential]
        for name in SECRET_NAMES
        if hasattr(o, name)
    }


def _read_all(plaintexts):
    for (model, pk, name), expected in plaintexts.items():
        assert getattr(model.objects.get(pk=pk), name) == expected


def _ciphertexts():
    return {
        (model, pk): row
        for model in (OAuthGrant, LegacyCredential)
        for pk, *row in model.objects.values_list(
            "pk", *(s.column for s in encrypted_secrets(model).values())
        )
    }


def test_it_rewraps_every_data_key_and_the_old_keys_can_then_go(
    settings, secrets_on_old_keys, capsys
):
    old_keys = list(settings.FIELD_ENCRYPTION_KEYS)
    assert count_by_key_id() == {"test1": 10, "test0": 5}
    assert data_keys_by_kek_id() == {"test1": 5, "test0": 3}
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, *old_keys]

    call_command("rotate_encryption_keys", "--batch-size", "2")

    out = capsys.readouterr().out
    assert "before: test0=5, test1=10" in out
    assert "after: test2=15" in out
    assert "data keys after: test2=8" in out
    assert count_by_key_id() == {"test2": 15}
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]  # forgets this process's unwrapped keys too
    _read_all(secrets_on_old_keys)
    # The copies wrapped by the old keys are gone from the key store.
    store = storages["keys"]
    for scope, key_id in DataKey.objects.values_list("scope", "id"):
        assert store.listdir(f"{scope}/{key_id.hex}")[1] == ["test2.json"]


def test_it_rewraps_data_keys_without_rewriting_rows(settings, secrets_on_old_keys):
    call_command("rotate_encryption_keys")  # the v1 rows move to data keys first
    before = _ciphertexts()
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, *settings.FIELD_ENCRYPTION_KEYS]

    call_command("rotate_encryption_keys")

    assert _ciphertexts() == before
    assert data_keys_by_kek_id() == {"test2": 8}


def test_it_reseals_values_from_before_data_keys_with_their_rows_data_key(secrets_on_old_keys):
    call_command("rotate_encryption_keys")

    for (_, _), row in _ciphertexts().items():
        assert all(crypto.parse(token)[0] == "v2" for token in row if token)
    assert count_by_key_id() == {"test1": 15}
    _read_all(secrets_on_old_keys)


def test_running_it_twice_is_harmless(settings, secrets_on_old_keys, capsys):
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, *settings.FIELD_ENCRYPTION_KEYS]
    call_command("rotate_encryption_keys")
    first = _ciphertexts()
    capsys.readouterr()

    call_command("rotate_encryption_keys")

    assert "0 data keys re-wrapped and 0 rows re-sealed" in capsys.readouterr().out
    assert _ciphertexts() == first
    _read_all(secrets_on_old_keys)


def test_it_resumes_a_rotation_interrupted_after_writing_a_new_wrapped_copy(
    settings, secrets_on_old_keys
):
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, *settings.FIELD_ENCRYPTION_KEYS]
    record = DataKey.objects.filter(kek_id="test1").first()
    # The store got the new copy, then the process died before the registry said so.
    assert keys.rewrap(record.scope, record.id.hex, kek_id="test1") == "test2"

    call_command("rotate_encryption_keys")

    assert DataKey.objects.get(pk=record.pk).kek_id == "test2"
    assert storages["keys"].listdir(f"{record.scope}/{record.id.hex}")[1] == ["test2.json"]
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]
    _read_all(secrets_on_old_keys)


def test_a_dry_run_only_counts(settings, secrets_on_old_keys, capsys):
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, *settings.FIELD_ENCRYPTION_KEYS]
    call_command("rotate_encryption_keys", "--dry-run")
    out = capsys.readouterr().out
    assert "8 data keys would be re-wrapped and 3 values would be re-sealed" in out
    assert count_by_key_id() == {"test1": 10, "test0": 5}
    assert not AuditEvent.objects.filter(action="encryption.keys_rotated").exists()


def test_it_records_the_rotation_in_the_audit_log(settings, secrets_on_old_keys):
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, *settings.FIELD_ENCRYPTION_KEYS]
    call_command("rotate_encryption_keys")
    event = AuditEvent.objects.get(action="encryption.keys_rotated")
    assert event.actor is None
    assert event.summary["after"] == {"test2": 15}
    assert event.summary["data_keys_after"] == {"test2": 8}
    assert event.summary["data_keys_rewrapped"] == 8


def test_it_skips_purged_credentials_and_empty_columns(settings):
    LegacyCredentialFactory(purged=True)
    OAuthGrantFactory(revoked=True)
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, *settings.FIELD_ENCRYPTION_KEYS]
    call_command("rotate_encryption_keys")
    assert count_by_key_id() == {}
    assert LegacyCredential.objects.get().api_token is None


def test_it_stops_with_a_clear_error_on_a_secret_it_cannot_decrypt(settings):
    victim, other = OAuthGrantFactory(), OAuthGrantFactory()
    _as_v1(victim)
    OAuthGrant.objects.filter(pk=other.pk).update(
        refresh_token_ciphertext=OAuthGrant.objects.get(pk=victim.pk).refresh_token_ciphertext
    )
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, *settings.FIELD_ENCRYPTION_KEYS]
    with pytest.raises(CommandError, match=r"OAuthGrant\.refresh_token"):
        call_command("rotate_encryption_keys")


def test_it_refuses_a_batch_size_below_one():
    with pytest.raises(CommandError, match="batch-size"):
        call_command("rotate_encryption_keys", "--batch-size", "0")


def test_it_reports_a_data_key_it_cannot_unwrap_and_leaves_it_as_it_was(settings, capsys):
    grant = OAuthGrantFactory()
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]  # test1 removed before the rotation ran
    with pytest.raises(CommandError, match=r"wrapped only by KEK ids \['test1'\]"):
        call_command("rotate_encryption_keys")
    assert DataKey.objects.get(scope=scope_of(grant)).kek_id == "test1"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_rotation_while_jobs_run_keeps_every_secret_readable_and_leaves_none_on_the_old_key(
    on_postgres, settings
):
    """Reliability row 10 (key rotation while jobs run): token refreshes keep writing and cold
    readers (a fresh process each round: no cached data key) keep decrypting while the
    key-encryption key is rotated; every read succeeds with a value that was written, and
    afterwards nothing is left on the old keys, which can then go. (The other half of row 10,
    "the app refuses to start without a key", is ``test_startup``.)"""
    import random
    import threading
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from tenants import services
    from tenants.services.encryption import encryption_rotate_keys
    from tests.factories import secret_value

    grants = OAuthGrantFactory.create_batch(30)
    for grant in grants[:6]:
        _as_v1(grant)  # values from before data keys are re-sealed on the way
    credentials = LegacyCredentialFactory.create_batch(4)
    written = {grant.pk: {grant.refresh_token} for grant in grants}
    latest = {grant.pk: grant.refresh_token for grant in grants}
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, *settings.FIELD_ENCRYPTION_KEYS]
    stop = threading.Event()
    errors, reads = [], []

    def refresher():
        try:
            while not stop.is_set():
                grant = random.choice(grants)
                refresh = secret_value("refresh")
                written[grant.pk].add(refresh)
                services.grant_store_rotated_tokens(
                    grant=OAuthGrant.objects.get(pk=grant.pk),
                    access_token=secret_value("access"),
                    refresh_token=refresh,
                    access_token_expires_at=timezone.now() + timedelta(hours=1),
                    acting_user=None,
                )
                latest[grant.pk] = refresh
        except Exception as exc:  # noqa: BLE001 (surfaced by the assertion below)
            errors.append(exc)
        finally:
            connection.close()

    def reader():
        try:
            while not stop.is_set():
                keys.forget_cached_keys()
                for grant in OAuthGrant.objects.all():
                    assert grant.refresh_token in written[grant.pk]
                    assert grant.access_token
                for credential in LegacyCredential.objects.all():
                    assert credential.api_token
                reads.append(1)
        except Exception as exc:  # noqa: BLE001 (surfaced by the assertion below)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=refresher), threading.Thread(target=reader)]
    for thread in threads:
        thread.start()
    try:
        encryption_rotate_keys(batch_size=3)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)

    assert not errors
    assert reads
    assert count_by_key_id() == {"test2": 2 * len(grants) + len(credentials)}
    assert data_keys_by_kek_id() == {"test2": len(grants) + len(credentials)}
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]
    for pk, refresh in latest.items():
        assert OAuthGrant.objects.get(pk=pk).refresh_token == refresh
    for credential in credentials:
        assert LegacyCredential.objects.get(pk=credential.pk).api_token == credential.api_token
