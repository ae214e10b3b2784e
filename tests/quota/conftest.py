"""Fixtures for the quota tests: the backup environment (a sandbox over real HTTP)."""

from tests.backups.conftest import acme, backup_env  # noqa: F401 - fixtures
