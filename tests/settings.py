"""Test settings: the real settings, with test-only defaults for what the environment leaves out.

CI passes DATABASE_URL (PostgreSQL) and CELERY_BROKER_URL / REDIS_URL (Redis); a developer's
`make test` without them runs on SQLite and the filesystem broker.
"""

import os
import tempfile

os.environ.setdefault(
    # Two fixed test keys (never used outside tests): "test1" encrypts, "test0" still decrypts.
    "FIELD_ENCRYPTION_KEYS",
    "test1:dGVzdC1rZXktb25lLXRoaXJ0eS10d28tYnl0ZXMtISE=,"
    "test0:dGVzdC1rZXktemVyby10aGlydHktdHdvLWJ5dGVzLSE=",
)
os.environ.setdefault("STORAGE_ROOT", tempfile.mkdtemp(prefix="portal-test-storage-"))
# Wrapped data keys (tenants/keys.py); in the environment so that workers started by tests share it.
os.environ.setdefault("KEY_STORE_ROOT", tempfile.mkdtemp(prefix="portal-test-keys-"))
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "test-secret-key-" + "x" * 50)
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")

from portal.settings import *  # noqa: F403

SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
