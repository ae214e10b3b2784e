"""``EncryptedSecret``: a model attribute that reads and writes plaintext while only a ciphertext
column exists in the database.

    class OAuthGrant(models.Model):
        refresh_token_ciphertext = models.TextField(null=True, blank=True, editable=False)
        refresh_token = EncryptedSecret("refresh_token_ciphertext")

``grant.refresh_token = "..."`` encrypts at once with the row's data key (``tenants.keys``; the
scope ``secrets/{model label}/{pk}``, so the model needs a client-side default pk such as a UUID)
and binds the ciphertext to the row and field; reading decrypts, ``None`` means nothing stored.
It subclasses ``property`` so Django's ``Model(**kwargs)`` (and factory_boy) accept it; Django
sets properties after fields, so the pk already exists when it runs.

One data key per row, not per tenant: destroying it shreds exactly that row's secrets (every
version ever written) and nothing else, with no other row to re-encrypt first and no race with
a concurrent token refresh of another grant; and a grant belongs to an Atlassian account, not to
one tenant.
"""

from __future__ import annotations

from django.db import models

from tenants import crypto, keys


def _label_and_pk(instance: models.Model) -> tuple[str, str]:
    label = instance._meta.concrete_model._meta.label
    if instance.pk is None:
        # Without a pk the ciphertext would be bound to "None" and stop decrypting once saved.
        raise ValueError(f"{label}: the row needs a primary key before a secret is set")
    return label, str(instance.pk)


def scope_of(instance: models.Model) -> str:
    """The data-key scope of a row's secrets."""
    return data_key_scope(*_label_and_pk(instance))


def data_key_scope(label: str, pk: str) -> str:
    return keys.check_scope(f"secrets/{label.lower()}/{pk}")


def associated_data(instance: models.Model, name: str) -> bytes:
    """What a ciphertext is bound to: model label, secret name and primary key."""
    label, pk = _label_and_pk(instance)
    return f"{label}.{name}:{pk}".encode()


def seal(label: str, pk: str, name: str, plaintext: str, *, registry=None) -> str:
    """A ``v2`` token of ``plaintext`` for secret ``name`` of row ``pk`` of model ``label``
    (also used by migration 0009 with its historical models)."""
    active = keys.active_key(data_key_scope(label, pk), registry=registry)
    aad = f"{label}.{name}:{pk}".encode()
    return crypto.seal_token(crypto.VERSION, active.id, active.key, plaintext, aad=aad)


def unseal(label: str, pk: str, name: str, token: str) -> str:
    """The plaintext of a ``v2`` or ``v1`` token (see ``seal``)."""
    description = f"{label}.{name} of row {pk}"
    aad = f"{label}.{name}:{pk}".encode()
    version, key_id = crypto.parse(token)
    if version == crypto.LEGACY_VERSION:
        return crypto.decrypt_v1(token, aad=aad, label=description)
    try:
        key = keys.data_key(data_key_scope(label, pk), key_id)
    except crypto.DecryptionError as exc:
        raise crypto.DecryptionError(f"{description}: {exc}") from None
    return crypto.unseal_token(token, key, aad=aad, label=description)


class EncryptedSecret(property):
    def __init__(self, column: str) -> None:
        self.column = column
        self.name = column.removesuffix("_ciphertext")
        super().__init__(self._get, self._set)

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def _get(self, instance: models.Model) -> str | None:
        token = getattr(instance, self.column)
        if not token:
            return None
        return unseal(*_label_and_pk(instance), self.name, token)

    def _set(self, instance: models.Model, value: str | None) -> None:
        if value is None or value == "":
            setattr(instance, self.column, None)
            return
        if not isinstance(value, str):
            raise TypeError(f"{instance._meta.label}.{self.name} must be a str")
        setattr(instance, self.column, seal(*_label_and_pk(instance), self.name, value))

    def reencrypt(self, instance: models.Model) -> bool:
        """Re-seal a ``v1`` value (sealed with a key-encryption key directly) with the row's data
        key; True when the column changed. ``v2`` values stay as they are: rotating the
        key-encryption key re-wraps data keys, not rows."""
        token = getattr(instance, self.column)
        if not token or crypto.parse(token)[0] == crypto.VERSION:
            return False
        self._set(instance, self._get(instance))
        return True


def encrypted_secrets(model: type[models.Model]) -> dict[str, EncryptedSecret]:
    """The encrypted secrets a model declares, by attribute name."""
    found: dict[str, EncryptedSecret] = {}
    for klass in reversed(model.__mro__):
        for attr, value in vars(klass).items():
            if isinstance(value, EncryptedSecret):
                found[attr] = value
    return found


class SecretsMixin:
    """Shows which secrets are stored without revealing any (for admin, str and audit)."""

    def secret_state(self, name: str) -> str:
        column = encrypted_secrets(type(self))[name].column
        if getattr(self, column):
            return "stored"
        if getattr(self, "status", None) == "purged":
            return "purged"
        return "none"
