"""Settings for the portal, all read from the environment in this one file.

Defaults are the embedded ones that `make run` uses (SQLite, filesystem storage and broker under
``var/``, the console e-mail backend). Every value is validated by ``kit.env``; a bad one stops
start-up with a single line naming the variable. The README lists every variable.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import load_dotenv

from kit.env import ConfigError, Env

BASE_DIR = Path(__file__).resolve().parent.parent

# The untracked .env that `make run` writes (portal/localenv.py) holds local secrets and the
# demo's URLs; real environment variables win. ENV_FILE names another file (read before any
# other setting, so not through ``env``).
load_dotenv(os.environ.get("ENV_FILE") or BASE_DIR / ".env", override=False)
env = Env()

# Local state of the embedded defaults: SQLite file, broker folders, stored snapshots, mail.
VAR_DIR = Path(env.str("VAR_DIR", str(BASE_DIR / "var")))

PORTAL_VERSION = "0.1.0"

DEBUG = env.bool("DEBUG", False)
SECRET_KEY = env.str("SECRET_KEY", "insecure-development-key-change-me" if DEBUG else None)
if not DEBUG and (len(SECRET_KEY) < 50 or SECRET_KEY.startswith("insecure")):
    raise ConfigError("SECRET_KEY", "must be at least 50 random characters when DEBUG is off")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env.url("SITE_URL", "http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "django_celery_beat",
    "atlassian",
    "tenants",
    "backups",
    "portal",
    "ops",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "portal.middleware.RequestIdMiddleware",
    "portal.middleware.StaffMFARequiredMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.database("DATABASE_URL", f"sqlite:///{VAR_DIR / 'portal.sqlite3'}")}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Serialise writers instead of failing with "database is locked" (tokens on demand rely on it).
    DATABASES["default"]["OPTIONS"] = {"timeout": 30, "transaction_mode": "IMMEDIATE"}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "tenants.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# One date-time format for every page (portal/formats/en/formats.py): "2026-12-06 22:01".
FORMAT_MODULE_PATH = ["portal.formats"]

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
MEDIA_ROOT = Path(env.str("STORAGE_ROOT", str(VAR_DIR / "storage")))

# Storage: the filesystem under var/ by default; S3 (or an S3-compatible server) when a bucket is set.
AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", "")
if AWS_STORAGE_BUCKET_NAME:
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", "") or None,
            "region_name": env.str("AWS_S3_REGION_NAME", "") or None,
            "default_acl": None,
            "file_overwrite": True,
        },
    }
else:
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT},
    }
# The key store (tenants/keys.py): wrapped data keys, outside the database so that deleting one
# shreds what it sealed. Its own bucket, with versioning and replication OFF (docs/encryption.md).
KEY_STORE_ROOT = Path(env.str("KEY_STORE_ROOT", str(VAR_DIR / "keys")))
KEY_STORE_BUCKET_NAME = env.str("KEY_STORE_BUCKET_NAME", "")
if KEY_STORE_BUCKET_NAME:
    _keys_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": KEY_STORE_BUCKET_NAME,
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", "") or None,
            "region_name": env.str("AWS_S3_REGION_NAME", "") or None,
            "default_acl": None,
            "file_overwrite": True,
        },
    }
else:
    _keys_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {
            "location": KEY_STORE_ROOT,
            "file_permissions_mode": 0o600,
            "directory_permissions_mode": 0o700,
        },
    }
STORAGES = {
    "default": _default_storage,
    "keys": _keys_storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Data residency (issue 22): named storage locations (`eu=/srv/eu` or `eu=s3://bucket-eu`,
# comma-separated), each the STORAGES alias `location-<name>`. A tenant chooses one at
# onboarding and every object of its backups lives there (backups/snapshots/objects.py).
STORAGE_LOCATIONS: dict[str, str] = {}
for _name, _where in env.locations("STORAGE_LOCATIONS"):
    if _where.startswith("s3://"):
        STORAGES[f"location-{_name}"] = {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": _where.removeprefix("s3://"),
                "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", "") or None,
                "region_name": env.str("AWS_S3_REGION_NAME", "") or None,
                "default_acl": None,
                "file_overwrite": True,
            },
        }
    else:
        STORAGES[f"location-{_name}"] = {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": Path(_where)},
        }
    STORAGE_LOCATIONS[_name] = f"location-{_name}"

# Celery: a broker that needs no server by default (kombu's filesystem transport under var/).
CELERY_BROKER_URL = env.broker("CELERY_BROKER_URL", "filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    # The transport ignores the host, but kombu warns "No hostname was supplied" on every
    # connection (in every command that queues a task) when the URL names none.
    CELERY_BROKER_URL = "filesystem://localhost/"
    _queue_dir = VAR_DIR / "broker"
    for _sub in ("in", "processed", "control"):
        (_queue_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir / "in"),
        "data_folder_out": str(_queue_dir / "in"),
        "processed_folder": str(_queue_dir / "processed"),
        "control_folder": str(_queue_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Grant upkeep (tenants/tasks.py); the DatabaseScheduler copies these entries into its tables.
CELERY_BEAT_SCHEDULE = {
    "grant-upkeep-refresh-idle": {
        "task": "tenants.upkeep.refresh_idle_grants",
        "schedule": 6 * 3600,
    },
    "grant-upkeep-invite-expiring": {
        "task": "tenants.upkeep.invite_expiring_grants",
        "schedule": 24 * 3600,
    },
    "grant-upkeep-reconcile-sites": {
        "task": "tenants.upkeep.reconcile_all_grants",
        "schedule": 6 * 3600,
    },
    "portal-purge-expired-connect-rows": {
        "task": "portal.purge_expired_connect_rows",
        "schedule": 3600,
    },
    # Migration campaign (portal/wizard/tasks.py).
    "wizard-pause-legacy-sites-after-cutoff": {
        "task": "wizard.pause_legacy_sites_after_cutoff",
        "schedule": 3600,
    },
    "wizard-expire-migration-invites": {
        "task": "wizard.expire_migration_invites",
        "schedule": 24 * 3600,
    },
    "atlassian-prune-call-ledger": {
        "task": "atlassian.prune_call_ledger",
        "schedule": 24 * 3600,
    },
    # The quota planner's per-schedule estimates: their look-back window slides (backups/tasks.py).
    "backups-refresh-schedule-estimates": {
        "task": "backups.refresh_schedule_estimates",
        "schedule": 24 * 3600,
    },
    # Incremental chains compacted into synthetic fulls (backups/compaction.py).
    "backups-compact-due-snapshots": {
        "task": "backups.compact_due_snapshots",
        "schedule": 3600,
    },
    # Offboarded tenants' backups erased after the grace period (backups/erasure.py).
    "backups-erase-offboarded-tenants": {
        "task": "backups.erase_offboarded_tenants",
        "schedule": 24 * 3600,
    },
    # Data keys of deleted rows and rolled-back transactions, and destructions the key store
    # refused at commit (tenants/tasks.py; docs/encryption.md).
    "tenants-sweep-data-keys": {
        "task": "tenants.sweep_data_keys",
        "schedule": 24 * 3600,
    },
    # Protection (backups/protection/tasks.py): states and incidents, the routine.
    "protection-refresh": {"task": "protection.refresh", "schedule": 60},
    "protection-migration-reminders": {
        "task": "protection.send_migration_reminders",
        "schedule": 3600,
    },
    "protection-verify-sample": {"task": "protection.verify_sample", "schedule": 24 * 3600},
    "protection-grants-last-used": {"task": "protection.grants_last_used", "schedule": 3600},
    "protection-weekly-reports": {"task": "protection.weekly_reports", "schedule": 7 * 24 * 3600},
}
CELERY_IMPORTS = ["portal.wizard.tasks", "backups.protection.tasks"]
# Rate-limit state shared by all workers; empty means "use the database".
REDIS_URL = env.str("REDIS_URL", "")

# Field encryption: key-encryption keys separate from SECRET_KEY; the first wraps new data keys,
# all unwrap (tenants/keys.py).
FIELD_ENCRYPTION_KEYS = env.encryption_keys("FIELD_ENCRYPTION_KEYS")
# Unwrapped data keys stay in each process's memory this long: a destroyed key survives in
# another process at most this long (0: read the key store on every decrypt).
DATA_KEY_CACHE_SECONDS = env.int("DATA_KEY_CACHE_SECONDS", 300, minimum=0)

# E-mail: the console by default.
EMAIL_BACKEND = env.str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", "localhost")
EMAIL_PORT = env.int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", False)
EMAIL_FILE_PATH = VAR_DIR / "mail"
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", "Jira Backup <noreply@localhost>")
# Where customers write when a page says "contact support".
SUPPORT_EMAIL = env.str("SUPPORT_EMAIL", "support@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Atlassian: the vendor's single distributable OAuth 2.0 (3LO) app.
ATLASSIAN_CLIENT_ID = env.str("ATLASSIAN_CLIENT_ID", "sandbox-client-id")
ATLASSIAN_CLIENT_SECRET = env.str("ATLASSIAN_CLIENT_SECRET", "sandbox-client-secret")
ATLASSIAN_AUTH_URL = env.url("ATLASSIAN_AUTH_URL", "https://auth.atlassian.com")
ATLASSIAN_API_URL = env.url("ATLASSIAN_API_URL", "https://api.atlassian.com")
ATLASSIAN_REDIRECT_URI = env.url(
    "ATLASSIAN_REDIRECT_URI", f"{SITE_URL}/connect/callback/", exact=True
)
ATLASSIAN_SCOPES = (
    "read:jira-work write:jira-work read:jira-user manage:jira-project "
    "manage:jira-configuration offline_access read:me "
    # Jira Software (boards, sprints, rank): a grant without these still backs up and restores
    # everything else (tenants.scopes.SOFTWARE_SCOPES).
    "read:board-scope:jira-software write:board-scope:jira-software "
    "read:board-scope.admin:jira-software read:sprint:jira-software write:sprint:jira-software "
    "read:epic:jira-software write:issue:jira-software read:issue-details:jira read:jql:jira "
    "read:project:jira"
)
ATLASSIAN_TIER1_POINTS_PER_HOUR = env.int("ATLASSIAN_TIER1_POINTS_PER_HOUR", 65000, minimum=1)
ATLASSIAN_TIMEOUT_SECONDS = env.int("ATLASSIAN_TIMEOUT_SECONDS", 30, minimum=1)
# Default hourly quota of every pool but the shared Tier 1 one (Tier 2 per-tenant pools).
ATLASSIAN_TIER2_POINTS_PER_HOUR = env.int("ATLASSIAN_TIER2_POINTS_PER_HOUR", 100000, minimum=1)
# Share of every pool's hour that scheduled backups leave to interactive work (the wizard's
# checks, connect, a restore someone started), so that work never waits behind them.
ATLASSIAN_INTERACTIVE_RESERVE_PERCENT = env.int(
    "ATLASSIAN_INTERACTIVE_RESERVE_PERCENT", 5, minimum=0
)
# The outbound call ledger (compliance evidence): on unless a benchmark turns it off.
ATLASSIAN_LEDGER_ENABLED = env.bool("ATLASSIAN_LEDGER_ENABLED", True)
ATLASSIAN_LEDGER_RETENTION_DAYS = env.int("ATLASSIAN_LEDGER_RETENTION_DAYS", 400, minimum=1)
# The operations dashboard is recomputed at most this often (0: on every view).
OPS_DASHBOARD_CACHE_SECONDS = env.int("OPS_DASHBOARD_CACHE_SECONDS", 60, minimum=0)
RESTORE_SEARCH_SETTLE_SECONDS = env.int("RESTORE_SEARCH_SETTLE_SECONDS", 30, minimum=0)
LEGACY_CUTOFF = env.datetime("LEGACY_CUTOFF", "2026-01-01T00:00:00Z")
# The legacy import accepts site URLs on https://<name>.atlassian.net only (API tokens travel as
# Basic credentials); these origins are accepted too: the sandbox's, e.g. http://127.0.0.1:8765.
LEGACY_SITE_EXTRA_ORIGINS = env.list("LEGACY_SITE_EXTRA_ORIGINS", [])
for _origin in LEGACY_SITE_EXTRA_ORIGINS:
    _parts = urlsplit(_origin)
    if _parts.scheme not in ("http", "https") or not _parts.netloc or _parts.path.strip("/"):
        raise ConfigError(
            "LEGACY_SITE_EXTRA_ORIGINS",
            f"each entry must be an origin such as http://127.0.0.1:8765, not {_origin!r}",
        )
# Staff-scheduled brownouts refuse legacy credentials early (tenants/brownouts.py).
ATLASSIAN_LEGACY_BROWNOUT_HOOK = env.str(
    "ATLASSIAN_LEGACY_BROWNOUT_HOOK", "tenants.brownouts.brownout_hook"
)

# Migration campaign (tenants/services/campaigns.py): reminders N days before a case's due
# date, then every MIGRATION_PAST_DUE_REMINDER_DAYS while past due; invitation links expire.
try:
    MIGRATION_REMINDER_DAYS = sorted(
        {int(d) for d in env.list("MIGRATION_REMINDER_DAYS", ["14", "7", "3", "1"])},
        reverse=True,
    )
except ValueError:
    raise ConfigError("MIGRATION_REMINDER_DAYS", "must be comma-separated whole days") from None
MIGRATION_PAST_DUE_REMINDER_DAYS = env.int("MIGRATION_PAST_DUE_REMINDER_DAYS", 7, minimum=1)
MIGRATION_INVITE_MAX_AGE_DAYS = env.int("MIGRATION_INVITE_MAX_AGE_DAYS", 14, minimum=1)

# Protection (backups/protection/): the vendor's default policy, which a tenant's own policy
# overrides field by field; applied to every site when it is connected, migrated, imported or
# reconnected. The window is the preferred start of backups, "HH:MM-HH:MM" in UTC.
PROTECTION_INTERVAL_HOURS = env.int("PROTECTION_INTERVAL_HOURS", 24, minimum=1)
PROTECTION_WINDOW = env.str("PROTECTION_WINDOW", "01:00-05:00")
if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d", PROTECTION_WINDOW):
    raise ConfigError("PROTECTION_WINDOW", "must be HH:MM-HH:MM (UTC), e.g. 01:00-05:00")
PROTECTION_KEEP_LAST = env.int("PROTECTION_KEEP_LAST", 7, minimum=1)
PROTECTION_KEEP_DAILY = env.int("PROTECTION_KEEP_DAILY", 14, minimum=0)
PROTECTION_KEEP_WEEKLY = env.int("PROTECTION_KEEP_WEEKLY", 8, minimum=0)
PROTECTION_KEEP_MONTHLY = env.int("PROTECTION_KEEP_MONTHLY", 12, minimum=0)
PROTECTION_MAX_AGE_DAYS = env.int("PROTECTION_MAX_AGE_DAYS", 0, minimum=0)
# Who is told: the tenant's owners and admins (unless off) plus each tenant's extra addresses.
PROTECTION_NOTIFY_ADMINS = env.bool("PROTECTION_NOTIFY_ADMINS", True)
PROTECTION_WEEKLY_REPORT = env.bool("PROTECTION_WEEKLY_REPORT", False)
# Staff alerts: a signed JSON POST (Slack-compatible ``text``) for every incident opened or
# closed; empty URL = off. The secret signs the body (HMAC-SHA256, ``X-Protection-Signature``).
PROTECTION_WEBHOOK_URL = env.str("PROTECTION_WEBHOOK_URL", "")
PROTECTION_WEBHOOK_SECRET = env.str("PROTECTION_WEBHOOK_SECRET", "")
if PROTECTION_WEBHOOK_URL and not PROTECTION_WEBHOOK_SECRET:
    raise ConfigError("PROTECTION_WEBHOOK_SECRET", "is required when PROTECTION_WEBHOOK_URL is set")
# Daily verification: how many objects are deep-verified (re-hashed) across all sites a day,
# and how many sites' newest snapshots are checked a day (0: a seventh of the sites, so each
# site's newest manifest is checked at least weekly).
PROTECTION_VERIFY_SAMPLE_OBJECTS = env.int("PROTECTION_VERIFY_SAMPLE_OBJECTS", 500, minimum=0)
PROTECTION_VERIFY_SITES_PER_DAY = env.int("PROTECTION_VERIFY_SITES_PER_DAY", 0, minimum=0)
# Retention pruning: sites pruned per beat pass (each site once a day).
RETENTION_SITES_PER_PASS = env.int("RETENTION_SITES_PER_PASS", 500, minimum=1)

# Accounts (django-allauth).
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "portal:home"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_LOGIN_BY_CODE_ENABLED = True
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/5m/key", "login": "30/m/ip"}
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_ADAPTER = "portal.mfa.AccountAdapter"
# An invitation's sign-up goes on where it started (portal/arrivals.py): confirming the address
# in the same browser signs the person in and returns them to the invitation's link.
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_FORMS = {"login": "portal.arrivals.LoginForm"}
ACCOUNT_EMAIL_SUBJECT_PREFIX = "Jira Backup: "
ACCOUNT_USER_DISPLAY = "portal.mfa.user_display"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Jira Backup portal"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", 8 * 3600, minimum=60)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# Production hardening (checked by `manage.py check --deploy --fail-level WARNING`).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "portal.logging.RedactSecretsFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]}
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", "INFO")},
    # oauthlib logs request bodies (codes, tokens, secrets) at DEBUG: never let it.
    "loggers": {
        "oauthlib": {"level": "WARNING"},
        "requests_oauthlib": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
    },
}

# AWS KMS keys that wrap data keys (tenants/keys_wrapping.py): `kek_id=ARN or alias`, newest
# first; when set, the first wraps new data keys and FIELD_ENCRYPTION_KEYS still unwrap.
KMS_KEYS = env.kms_keys("KMS_KEYS")
KMS_REGION_NAME = env.str("KMS_REGION_NAME", "") or None
KMS_ENDPOINT_URL = env.str("KMS_ENDPOINT_URL", "") or None

# Snapshot encryption (docs/encryption.md → Snapshots): every object and manifest of a backup
# sealed with the tenant's snapshot data key. Off only to measure its cost (bench/) or to write
# plain snapshots for a reader that predates format 3.
SNAPSHOT_ENCRYPTION = env.bool("SNAPSHOT_ENCRYPTION", True)
# Offboarding that deletes: this many days after a tenant is offboarded its snapshots are erased
# and its snapshot data key destroyed, unless a legal hold stops it (backups/erasure.py).
OFFBOARDING_GRACE_DAYS = env.int("OFFBOARDING_GRACE_DAYS", 30, minimum=0)
