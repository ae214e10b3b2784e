import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tenants.models import AuditEvent, LegacyCredential, OAuthGrant
from tenants.services.encryption import count_by_key_id
from tests.factories import LegacyCredentialFactory, OAuthGrantFactory

pytestmark = pytest.mark.django_db

NEW_KEY = ("test2", b"N" * 32)


@pytest.fixture
def secrets_on_old_keys(settings):
    """Grants and credentials under test1, and one grant still under the older test0."""
    grants = OAuthGrantFactory.create_batch(3)
    credentials = [LegacyCredentialFactory(), LegacyCredentialFactory(customer_app=True)]
    keys = settings.FIELD_ENCRYPTION_KEYS
    settings.FIELD_ENCRYPTION_KEYS = [keys[1], keys[0]]
    grants.append(OAuthGrantFactory())
    settings.FIELD_ENCRYPTION_KEYS = keys
    plaintexts = {
        (type(o), o.pk, name): getattr(o, name)
        for o in [*grants, *credentials]
        for name in ("access_token", "refresh_token", "api_token", "client_secret")
        if hasattr(o, name)
    }
    return plaintexts


def _read_all(plaintexts):
    for (model, pk, name), expected in plaintexts.items():
        assert getattr(model.objects.get(pk=pk), name) == expected


def test_it_moves_every_secret_to_the_new_key_and_the_old_key_can_then_go(
    settings, secrets_on_old_keys, capsys
):
    old_keys = list(settings.FIELD_ENCRYPTION_KEYS)
    assert count_by_key_id() == {"test1": 10, "test0": 2}
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, *old_keys]

    call_command("rotate_encryption_keys", "--batch-size", "2")

    out = capsys.readouterr().out
    assert "before: test0=2, test1=10" in out
    assert "after: test2=12" in out
    assert count_by_key_id() == {"test2": 12}
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]
    _read_all(secrets_on_old_keys)


def test_running_it_twice_is_harmless(settings, secrets_on_old_keys, capsys):
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, *settings.FIELD_ENCRYPTION_KEYS]
    call_command("rotate_encryption_keys")
    first = dict(OAuthGrant.objects.values_list("pk", "refresh_token_ciphertext"))
    capsys.readouterr()

    call_command("rotate_encryption_keys")

    assert "0 rows re-encrypted" in capsys.readouterr().out
    assert dict(OAuthGrant.objects.values_list("pk", "refresh_token_ciphertext")) == first
    _read_all(secrets_on_old_keys)


def test_a_dry_run_only_counts(settings, secrets_on_old_keys, capsys):
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, *settings.FIELD_ENCRYPTION_KEYS]
    call_command("rotate_encryption_keys", "--dry-run")
    out = capsys.readouterr().out
    assert "12 ciphertexts would be re-encrypted" in out
    assert count_by_key_id() == {"test1": 10, "test0": 2}
    assert not AuditEvent.objects.filter(action="encryption.keys_rotated").exists()


def test_it_records_the_rotation_in_the_audit_log(settings, secrets_on_old_keys):
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, *settings.FIELD_ENCRYPTION_KEYS]
    call_command("rotate_encryption_keys")
    event = AuditEvent.objects.get(action="encryption.keys_rotated")
    assert event.actor is None
    assert event.summary["after"] == {"test2": 12}


def test_it_skips_purged_credentials_and_empty_columns(settings):
    LegacyCredentialFactory(purged=True)
    OAuthGrantFactory(revoked=True)
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, *settings.FIELD_ENCRYPTION_KEYS]
    call_command("rotate_encryption_keys")
    assert count_by_key_id() == {}
    assert LegacyCredential.objects.get().api_token is None


def test_it_stops_with_a_clear_error_on_a_secret_it_cannot_decrypt(settings):
    victim, other = OAuthGrantFactory(), OAuthGrantFactory()
    OAuthGrant.objects.filter(pk=other.pk).update(
        refresh_token_ciphertext=victim.refresh_token_ciphertext
    )
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, *settings.FIELD_ENCRYPTION_KEYS]
    with pytest.raises(CommandError, match=r"OAuthGrant\.refresh_token"):
        call_command("rotate_encryption_keys")


def test_it_refuses_a_batch_size_below_one():
    with pytest.raises(CommandError, match="batch-size"):
        call_command("rotate_encryption_keys", "--batch-size", "0")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_rotation_while_tokens_are_refreshed_loses_nothing(on_postgres, settings):
    import random
    import threading
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from tenants import services
    from tests.factories import secret_value

    grants = OAuthGrantFactory.create_batch(40)
    latest = {grant.pk: grant.refresh_token for grant in grants}
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY, *settings.FIELD_ENCRYPTION_KEYS]
    stop = threading.Event()
    errors = []

    def refresher():
        try:
            while not stop.is_set():
                grant = random.choice(grants)
                refresh = secret_value("refresh")
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

    thread = threading.Thread(target=refresher)
    thread.start()
    try:
        from tenants.services.encryption import encryption_rotate_keys

        encryption_rotate_keys(batch_size=5)
    finally:
        stop.set()
        thread.join(timeout=60)

    assert not errors
    assert set(count_by_key_id()) == {"test2"}
    settings.FIELD_ENCRYPTION_KEYS = [NEW_KEY]
    for pk, refresh in latest.items():
        assert OAuthGrant.objects.get(pk=pk).refresh_token == refresh
