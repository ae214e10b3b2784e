"""``EncryptedSecret``: a model attribute that reads and writes plaintext while only a ciphertext
column exists in the database.

    class OAuthGrant(models.Model):
        refresh_token_ciphertext = models.TextField(null=True, blank=True, editable=False)
        refresh_token = EncryptedSecret("refresh_token_ciphertext")

``grant.refresh_token = "..."`` encrypts at once (bound to the row's primary key, so the model
needs a client-side default pk such as a UUID); reading decrypts, ``None`` means nothing stored.
It subclasses ``property`` so Django's ``Model(**kwargs)`` (and factory_boy) accept it; Django
sets properties after fields, so the pk already exists when it runs.
"""

from __future__ import annotations

from django.db import models

from tenants import crypto


def associated_data(instance: models.Model, name: str) -> bytes:
    """What a ciphertext is bound to: model label, secret name and primary key."""
    label = instance._meta.concrete_model._meta.label
    if instance.pk is None:
        # Without a pk the ciphertext would be bound to "None" and stop decrypting once saved.
        raise ValueError(f"{label}.{name}: the row needs a primary key before a secret is set")
    return f"{label}.{name}:{instance.pk}".encode()


class EncryptedSecret(property):
    def __init__(self, column: str) -> None:
        self.column = column
        self.name = column.removesuffix("_ciphertext")
        super().__init__(self._get, self._set)

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def _label(self, instance: models.Model) -> str:
        return f"{instance._meta.label}.{self.name} of row {instance.pk}"

    def _get(self, instance: models.Model) -> str | None:
        token = getattr(instance, self.column)
        if not token:
            return None
        return crypto.decrypt(
            token, aad=associated_data(instance, self.name), label=self._label(instance)
        )

    def _set(self, instance: models.Model, value: str | None) -> None:
        if value is None or value == "":
            setattr(instance, self.column, None)
            return
        if not isinstance(value, str):
            raise TypeError(f"{instance._meta.label}.{self.name} must be a str")
        setattr(
            instance, self.column, crypto.encrypt(value, aad=associated_data(instance, self.name))
        )

    def reencrypt(self, instance: models.Model) -> bool:
        """Re-encrypt under the current primary key; True when the column changed."""
        token = getattr(instance, self.column)
        if not token or crypto.key_id_of(token) == crypto.primary_key_id():
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
