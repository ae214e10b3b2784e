"""Re-seal every ``v1`` secret (sealed with a key-encryption key directly) with its row's data
key (``v2``, see tenants/keys.py). Writes the new data keys to the key store (STORAGES["keys"]),
so the store must be reachable when this runs. ``manage.py rotate_encryption_keys`` does the same
for any row this missed (and for other apps' secret-bearing models); ``v1`` values decrypt until
then. Reversible: the reverse re-seals ``v2`` values as ``v1`` under the first key-encryption key.

The old ``v1`` row versions this leaves behind (dead tuples, WAL, backups) are sealed with the
key-encryption key itself: rotate it once after this migration (docs/encryption.md)."""

from django.db import migrations

from tenants import crypto, fields

SECRETS = {
    "OAuthGrant": ["access_token", "refresh_token"],
    "LegacyCredential": ["api_token", "client_secret", "access_token", "refresh_token"],
}


def _reseal(apps, *, source_version, seal):
    for model_name, names in SECRETS.items():
        model = apps.get_model("tenants", model_name)
        label = f"tenants.{model_name}"
        for row in model.objects.all().iterator(chunk_size=500):
            changed = []
            for name in names:
                column = f"{name}_ciphertext"
                token = getattr(row, column)
                if not token or crypto.parse(token)[0] != source_version:
                    continue
                plaintext = fields.unseal(label, str(row.pk), name, token)
                setattr(row, column, seal(label, str(row.pk), name, plaintext))
                changed.append(column)
            if changed:
                row.save(update_fields=changed)


def forwards(apps, schema_editor):
    registry = apps.get_model("tenants", "DataKey")

    def seal(label, pk, name, plaintext):
        return fields.seal(label, pk, name, plaintext, registry=registry)

    _reseal(apps, source_version=crypto.LEGACY_VERSION, seal=seal)


def backwards(apps, schema_editor):
    def seal(label, pk, name, plaintext):
        return crypto.encrypt_v1(plaintext, aad=f"{label}.{name}:{pk}".encode())

    _reseal(apps, source_version=crypto.VERSION, seal=seal)


class Migration(migrations.Migration):
    dependencies = [("tenants", "0008_datakey")]

    operations = [migrations.RunPython(forwards, backwards)]
