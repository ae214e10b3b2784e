import os
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]


def test_the_app_refuses_to_start_without_an_encryption_key(tmp_path):
    """Reliability row 10 (missing key at start): without FIELD_ENCRYPTION_KEYS, the
    key-encryption keys, nothing starts; one line names the variable."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"FIELD_ENCRYPTION_KEYS", "DJANGO_SETTINGS_MODULE", "DATABASE_URL"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="portal.settings",
        SECRET_KEY="x" * 60,
        DEBUG="false",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
    )
    dotenv = BASE_DIR / ".env"
    if dotenv.exists() and "FIELD_ENCRYPTION_KEYS" in dotenv.read_text():
        # settings load the developer's .env for unset variables; an empty value is "missing" too
        env["FIELD_ENCRYPTION_KEYS"] = ""
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("configuration error: FIELD_ENCRYPTION_KEYS: is required")
