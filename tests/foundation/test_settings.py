import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kit.env import ConfigError, Env

ROOT = Path(__file__).resolve().parents[2]
KEY = "k1:dGVzdC1rZXktb25lLXRoaXJ0eS10d28tYnl0ZXMtISE="


def run_manage(*args: str, **overrides: str) -> subprocess.CompletedProcess:
    environ = {
        "PATH": os.environ["PATH"],
        "VAR_DIR": overrides.pop("VAR_DIR", "/tmp/portal-settings-test"),
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DEBUG": "true",
        "FIELD_ENCRYPTION_KEYS": KEY,
        **overrides,
    }
    environ = {k: v for k, v in environ.items() if v is not None}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_URL", "mysql://user:hunter2@db/portal"),
        ("DATABASE_URL", "not a url"),
        ("DEBUG", "maybe"),
        ("LEGACY_CUTOFF", "31/12/2025"),
        ("ATLASSIAN_AUTH_URL", "auth.atlassian.com"),
        ("CELERY_BROKER_URL", "kafka://broker"),
        ("EMAIL_PORT", "twenty-five"),
        ("FIELD_ENCRYPTION_KEYS", "k1:tooshort"),
    ],
)
def test_it_stops_start_up_with_one_line_naming_the_bad_variable(name, value):
    result = run_manage("check", **{name: value})

    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"configuration error: {name}: ")
    assert "hunter2" not in result.stderr


def test_it_refuses_to_start_without_an_encryption_key():
    # Empty rather than unset: an unset variable would be filled from a developer's .env.
    result = run_manage("check", FIELD_ENCRYPTION_KEYS="")

    assert result.returncode == 1
    assert result.stderr.strip().startswith(
        "configuration error: FIELD_ENCRYPTION_KEYS: is required"
    )


def test_production_settings_pass_the_deploy_checks(tmp_path):
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="false",
        SECRET_KEY="p" * 20 + "roduction-secret-key-with-enough-entropy-0123456789",
        ALLOWED_HOSTS="portal.example.com",
        VAR_DIR=str(tmp_path),
    )

    assert result.returncode == 0, result.stderr + result.stdout


def test_production_settings_refuse_a_weak_secret_key():
    result = run_manage("check", DEBUG="false", SECRET_KEY="short")

    assert result.returncode == 1
    assert result.stderr.startswith("configuration error: SECRET_KEY:")


class TestEnv:
    def test_it_reads_booleans_strictly(self):
        env = Env({"A": "yes", "B": "0"})
        assert env.bool("A") is True
        assert env.bool("B") is False
        assert env.bool("MISSING", True) is True

    def test_it_parses_a_comma_separated_list(self):
        assert Env({"HOSTS": " a.example, b.example ,"}).list("HOSTS") == ["a.example", "b.example"]

    def test_it_parses_the_cutoff_as_utc(self):
        moment = Env({}).datetime("LEGACY_CUTOFF", "2026-01-01T00:00:00Z")
        assert moment == datetime(2026, 1, 1, tzinfo=UTC)

    def test_it_refuses_a_naive_date_time(self):
        with pytest.raises(ConfigError, match="LEGACY_CUTOFF: must include a time zone"):
            Env({"LEGACY_CUTOFF": "2026-01-01T00:00:00"}).datetime("LEGACY_CUTOFF", "x")

    def test_it_parses_postgres_and_sqlite_urls(self, tmp_path):
        pg = Env({"DATABASE_URL": "postgres://u@127.0.0.1:5432/portal"}).database(
            "DATABASE_URL", ""
        )
        assert (pg["ENGINE"], pg["NAME"], pg["PORT"]) == (
            "django.db.backends.postgresql",
            "portal",
            5432,
        )
        lite = Env({}).database("DATABASE_URL", f"sqlite:///{tmp_path}/x/db.sqlite3")
        assert lite["ENGINE"] == "django.db.backends.sqlite3"
        assert (tmp_path / "x").is_dir()

    def test_it_reads_encryption_keys_newest_first(self):
        keys = Env({"K": f"{KEY},old:{'A' * 43}"}).encryption_keys("K")
        assert [key_id for key_id, _ in keys] == ["k1", "old"]
        assert all(len(key) == 32 for _, key in keys)

    def test_it_refuses_a_duplicate_key_id(self):
        with pytest.raises(ConfigError, match="appears twice"):
            Env({"K": f"{KEY},{KEY}"}).encryption_keys("K")

    def test_it_keeps_an_exact_url_as_given(self):
        env = Env({"ATLASSIAN_REDIRECT_URI": "https://p.example/connect/callback/"})
        assert env.url("ATLASSIAN_REDIRECT_URI", "x", exact=True).endswith("/callback/")
        assert env.url("ATLASSIAN_REDIRECT_URI", "x").endswith("/callback")

    def test_it_refuses_a_non_whole_number(self):
        with pytest.raises(ConfigError, match="EMAIL_PORT: must be a whole number"):
            Env({"EMAIL_PORT": "2.5"}).int("EMAIL_PORT", 25)


def test_the_default_broker_connects_without_kombu_warning_of_a_missing_hostname(tmp_path):
    # Every command that queues a task (backup_site...) opened a connection and printed
    # "No hostname was supplied. Reverting to default 'localhost'" with the bare filesystem://.
    result = run_manage(
        "shell",
        "-c",
        "from portal.celery import app; conn = app.connection_for_write(); "
        "print(conn.as_uri()); conn.release()",
        VAR_DIR=str(tmp_path),
        CELERY_BROKER_URL="",
    )

    assert result.returncode == 0, result.stderr
    assert "filesystem://" in result.stdout
    assert "No hostname" not in result.stderr + result.stdout
