"""Write the local secrets `make run` needs to an untracked ``.env`` (missing ones only).

Runs before Django is configured (settings refuse to load without an encryption key), so it
imports nothing from Django.
"""

from __future__ import annotations

import base64
import secrets
import sys
from pathlib import Path

from dotenv import dotenv_values

ENV_FILE = Path(__file__).resolve().parent.parent / ".env"


def generated_defaults() -> dict[str, str]:
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    return {
        "DEBUG": "true",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEYS": f"local1:{key}",
        "ATLASSIAN_AUTH_URL": "http://127.0.0.1:8765",
        "ATLASSIAN_API_URL": "http://127.0.0.1:8765",
        "DEMO_ADMIN_PASSWORD": secrets.token_urlsafe(12),
    }


def ensure_env_file(path: Path = ENV_FILE) -> list[str]:
    """Append every missing variable to ``path``; return the names written."""
    existing = dotenv_values(path) if path.exists() else {}
    missing = {k: v for k, v in generated_defaults().items() if k not in existing}
    if missing:
        with path.open("a") as handle:
            if not existing:
                handle.write("# Local settings written by `make run`. Never commit this file.\n")
            for name, value in missing.items():
                handle.write(f"{name}={value}\n")
        path.chmod(0o600)
    return sorted(missing)


if __name__ == "__main__":
    written = ensure_env_file()
    print(f".env: wrote {', '.join(written)}" if written else ".env: up to date", file=sys.stderr)
