"""The local settings of `make run`, decided in one place and kept in the untracked ``.env``.

Two ports make the demo: ``PORTAL_PORT`` (8000) and ``SANDBOX_PORT`` (8765), each taken from the
environment, else from ``.env``, else the default. Every URL that depends on them is derived
here and written to ``.env`` next to the generated secrets, so that a ``manage.py`` command run
later from a shell (which reads ``.env``) mails the same links the running demo serves:

* ``SITE_URL`` = ``http://127.0.0.1:<PORTAL_PORT>`` (the callback registered with the sandbox
  follows from it);
* ``ATLASSIAN_AUTH_URL`` and ``ATLASSIAN_API_URL`` = ``http://127.0.0.1:<SANDBOX_PORT>``.

A derived URL in ``.env`` is replaced only when it is missing or still a local one (written by an
earlier `make run` on other ports); one pointing elsewhere is left alone. ``portal.devrun``
starts the processes with exactly these values. ``ENV_FILE`` names another file than ``.env``
(the smoke test uses a scratch one).

Runs before Django is configured (settings refuse to load without an encryption key), so it
imports nothing from Django.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import sys
from collections.abc import Mapping
from pathlib import Path

from dotenv import dotenv_values, set_key

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PORTS = {"PORTAL_PORT": "8000", "SANDBOX_PORT": "8765"}
LOCAL_URL = re.compile(r"^http://(127\.0\.0\.1|localhost)(:\d+)?/?$")


class LocalEnvError(SystemExit):
    """A port is unusable; the message names the variable (no traceback, exit status 2)."""

    def __init__(self, message: str) -> None:
        super().__init__(f"make run: {message}")
        self.code = 2


def env_file(environ: Mapping[str, str] = os.environ) -> Path:
    return Path(environ.get("ENV_FILE") or ROOT / ".env")


SECRETS = ("DEBUG", "SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "DEMO_ADMIN_PASSWORD")


def generated_secrets() -> dict[str, str]:
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    return {
        "DEBUG": "true",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEYS": f"local1:{key}",
        "DEMO_ADMIN_PASSWORD": secrets.token_urlsafe(12),
    }


def ports(environ: Mapping[str, str], stored: Mapping[str, str | None]) -> dict[str, str]:
    """The two ports: the environment's, else the ``.env`` file's, else the defaults."""
    chosen = {}
    for name, default in DEFAULT_PORTS.items():
        value = (environ.get(name) or stored.get(name) or default).strip()
        if not value.isdigit() or not 1 <= int(value) <= 65535:
            raise LocalEnvError(f"{name} must be a port number (1-65535), not {value!r}")
        chosen[name] = str(int(value))
    if chosen["PORTAL_PORT"] == chosen["SANDBOX_PORT"]:
        raise LocalEnvError(
            f"PORTAL_PORT and SANDBOX_PORT are both {chosen['PORTAL_PORT']}: give each its own"
        )
    return chosen


def derived_urls(chosen: Mapping[str, str]) -> dict[str, str]:
    sandbox = f"http://127.0.0.1:{chosen['SANDBOX_PORT']}"
    return {
        "SITE_URL": f"http://127.0.0.1:{chosen['PORTAL_PORT']}",
        "ATLASSIAN_AUTH_URL": sandbox,
        "ATLASSIAN_API_URL": sandbox,
    }


def local_settings(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """What the demo's processes run with: ``.env`` (as `make run` keeps it), the ports and
    their URLs, and the environment on top (an exported variable always wins)."""
    path = env_file(environ)
    stored = (
        {k: v for k, v in dotenv_values(path).items() if v is not None} if path.exists() else {}
    )
    chosen = ports(environ, stored)
    values = {**stored, **chosen}
    for name, url in derived_urls(chosen).items():
        if not stored.get(name) or LOCAL_URL.match(stored[name]):
            values[name] = url
    return {**values, **{k: v for k, v in environ.items() if k in values}}


def ensure_env_file(environ: Mapping[str, str] = os.environ) -> list[str]:
    """Write the missing secrets and the port-derived URLs to the env file; return the names
    written (nothing when it is up to date)."""
    path = env_file(environ)
    stored = dotenv_values(path) if path.exists() else {}
    wanted = {**generated_secrets(), **derived_urls(ports(environ, stored))}
    changes = {}
    for name, value in wanted.items():
        current = stored.get(name)
        if not current:
            changes[name] = value
        elif name not in SECRETS and current != value and LOCAL_URL.match(current):
            changes[name] = value
    if not changes:
        return []
    if not path.exists():
        path.write_text("# Local settings written by `make run`. Never commit this file.\n")
    for name, value in changes.items():
        set_key(path, name, value, quote_mode="never")
    path.chmod(0o600)  # secrets: the owner's only
    return sorted(changes)


if __name__ == "__main__":
    written = ensure_env_file()
    target = env_file()
    print(
        f"{target.name}: wrote {', '.join(written)}" if written else f"{target.name}: up to date",
        file=sys.stderr,
    )
