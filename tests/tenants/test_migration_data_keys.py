import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tenants import crypto
from tenants.models import DataKey, LegacyCredential, OAuthGrant

BEFORE = [("tenants", "0008_datakey")]
AFTER = [("tenants", "0009_secrets_on_data_keys")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_migration_0009_reseals_values_from_before_data_keys_and_back():
    old = _migrate(BEFORE)
    try:
        tenant = old.get_model("tenants", "Tenant").objects.create(name="Old", slug="old")
        grant = old.get_model("tenants", "OAuthGrant")(account_id="old-acct")
        grant.refresh_token_ciphertext = crypto.encrypt_v1(
            "refresh-old", aad=f"tenants.OAuthGrant.refresh_token:{grant.pk}".encode()
        )
        grant.save()
        credential = old.get_model("tenants", "LegacyCredential")(
            tenant=tenant, kind="api_token", email="a@b.example"
        )
        credential.api_token_ciphertext = crypto.encrypt_v1(
            "token-old", aad=f"tenants.LegacyCredential.api_token:{credential.pk}".encode()
        )
        credential.save()

        _migrate(AFTER)

        grant_now = OAuthGrant.objects.get(pk=grant.pk)
        credential_now = LegacyCredential.objects.get(pk=credential.pk)
        assert grant_now.refresh_token_ciphertext.startswith("v2:")
        assert credential_now.api_token_ciphertext.startswith("v2:")
        assert (grant_now.refresh_token, credential_now.api_token) == ("refresh-old", "token-old")
        assert grant_now.access_token_ciphertext is None
        assert DataKey.objects.count() == 2

        _migrate(BEFORE)

        grant_back = OAuthGrant.objects.get(pk=grant.pk)
        assert grant_back.refresh_token_ciphertext.startswith("v1:test1:")
        assert grant_back.refresh_token == "refresh-old"
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
