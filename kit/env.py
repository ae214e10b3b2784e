"""Strict readers for settings that come from the environment.

Every setting is read here or in ``portal/settings.py`` through these helpers, so a bad value
stops start-up with one line that names the variable (``ConfigError`` is a ``SystemExit``: no
traceback, exit status 1).
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url


class ConfigError(SystemExit):
    """A setting is missing or malformed; the message names the variable."""

    def __init__(self, name: str, problem: str) -> None:
        self.name = name
        self.problem = problem
        super().__init__(f"configuration error: {name}: {problem}")


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class Env:
    """Typed access to a mapping of environment variables."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.environ = os.environ if environ is None else environ

    def raw(self, name: str) -> str | None:
        value = self.environ.get(name)
        return None if value is None else value.strip()

    def str(self, name: str, default: str | None = None, *, required: bool = False) -> str:
        value = self.raw(name)
        if value:
            return value
        if required or default is None:
            raise ConfigError(name, "is required")
        return default

    def bool(self, name: str, default: bool = False) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        raise ConfigError(name, f"must be true or false, not {value!r}")

    def int(self, name: str, default: int, *, minimum: int | None = None) -> int:
        value = self.raw(name)
        if not value:
            return default
        try:
            number = int(value)
        except ValueError:
            raise ConfigError(name, f"must be a whole number, not {value!r}") from None
        if minimum is not None and number < minimum:
            raise ConfigError(name, f"must be at least {minimum}, not {number}")
        return number

    def list(self, name: str, default: list[str] | None = None) -> list[str]:
        value = self.raw(name)
        if value is None:
            return list(default or [])
        return [item.strip() for item in value.split(",") if item.strip()]

    def url(
        self,
        name: str,
        default: str,
        *,
        schemes: tuple[str, ...] = ("http", "https"),
        exact: bool = False,
    ) -> str:
        """A base URL without its trailing slash, or with ``exact`` the URL as given (an OAuth
        redirect URI must match the registered one to the character)."""
        # Only for URLs without credentials (service endpoints), so echoing a bad value is safe.
        value = self.raw(name) or default
        parts = urlsplit(value)
        if parts.scheme not in schemes or not parts.netloc:
            raise ConfigError(name, f"must be an absolute {'/'.join(schemes)} URL, not {value!r}")
        return value if exact else value.rstrip("/")

    def datetime(self, name: str, default: str) -> datetime:
        value = self.raw(name) or default
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(name, f"must be an ISO-8601 date-time, not {value!r}") from None
        if moment.tzinfo is None:
            raise ConfigError(name, f"must include a time zone (for example Z), not {value!r}")
        return moment.astimezone(UTC)

    def database(self, name: str, default: str) -> dict:
        value = self.raw(name) or default
        try:
            config = dj_database_url.parse(value, conn_max_age=60, conn_health_checks=True)
        except (ValueError, KeyError):
            # Never echo the value: it may hold a password.
            raise ConfigError(
                name, "is not a valid URL (expected postgres://… or sqlite:///…)"
            ) from None
        engine = config.get("ENGINE", "")
        if engine not in {"django.db.backends.postgresql", "django.db.backends.sqlite3"}:
            raise ConfigError(name, "must be a postgres:// or sqlite:// URL")
        if engine.endswith("sqlite3"):
            config.pop("CONN_MAX_AGE", None)
            config["CONN_HEALTH_CHECKS"] = False
            Path(config["NAME"]).parent.mkdir(parents=True, exist_ok=True)
        elif not config.get("NAME"):
            raise ConfigError(name, "must name a database")
        return config

    def broker(self, name: str, default: str) -> str:
        value = self.raw(name) or default
        scheme = urlsplit(value).scheme
        if scheme not in {"redis", "rediss", "amqp", "amqps", "filesystem", "memory"}:
            raise ConfigError(
                name,
                f"must be a redis://, amqp:// or filesystem:// URL, not a {scheme or 'bare'} one",
            )
        return value

    def locations(self, name: str) -> list[tuple[str, str]]:
        """``STORAGE_LOCATIONS``: comma-separated ``name=folder`` or ``name=s3://bucket``."""
        found: list[tuple[str, str]] = []
        for item in (self.raw(name) or "").split(","):
            if not item.strip():
                continue
            key, sep, where = item.strip().partition("=")
            if not sep or not key.isalnum() or not key.islower() or not where.strip():
                raise ConfigError(
                    name, "each location must look like name=folder or name=s3://bucket"
                )
            if any(existing == key for existing, _ in found):
                raise ConfigError(name, f"location {key!r} appears twice")
            found.append((key, where.strip()))
        return found

    def kms_keys(self, name: str) -> list[tuple[str, str]]:
        """``KMS_KEYS``: comma-separated ``kek_id=key ARN or alias``, newest first (may be empty)."""
        value = self.raw(name)
        keys: list[tuple[str, str]] = []
        for item in (value or "").split(","):
            if not item.strip():
                continue
            kek_id, sep, key = item.strip().partition("=")
            if not sep or not kek_id.isalnum() or not key.strip():
                raise ConfigError(name, "each key must look like kek_id=ARN-or-alias (id alnum)")
            if any(existing == kek_id for existing, _ in keys):
                raise ConfigError(name, f"key id {kek_id!r} appears twice")
            keys.append((kek_id, key.strip()))
        return keys

    def encryption_keys(self, name: str) -> list[tuple[str, bytes]]:
        """``FIELD_ENCRYPTION_KEYS``: comma-separated ``key_id:base64(32 bytes)``, newest first."""
        value = self.raw(name)
        if not value:
            raise ConfigError(
                name,
                "is required: comma-separated key_id:base64 keys of 32 bytes, the first encrypts"
                " (make run writes one to .env; see README)",
            )
        keys: list[tuple[str, bytes]] = []
        for item in value.split(","):
            key_id, sep, encoded = item.strip().partition(":")
            if not sep or not key_id or not key_id.isalnum():
                raise ConfigError(
                    name, "each key must look like key_id:base64 (key_id letters/digits)"
                )
            try:
                key = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            except (binascii.Error, ValueError):
                raise ConfigError(name, f"key {key_id!r} is not valid base64") from None
            if len(key) != 32:
                raise ConfigError(name, f"key {key_id!r} must decode to 32 bytes, not {len(key)}")
            if any(existing == key_id for existing, _ in keys):
                raise ConfigError(name, f"key id {key_id!r} appears twice")
            keys.append((key_id, key))
        return keys
