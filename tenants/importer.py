"""Import of the legacy book: the customers still on an API token or their own OAuth app.

``import_legacy_file(path)`` reads a CSV or JSON file, validates every row first (a bad row is
reported by its line and left out whole), then writes the good rows through the tenants
services, in batches of ``BATCH_SIZE`` rows per transaction (one savepoint per row, so a row the
domain refuses is left out whole, its tenant included, without losing its batch):

* the tenant (created, or its name and contact e-mails updated) when a row of it is written,
* the Jira site (created, or its URL refreshed),
* the legacy credential, secrets encrypted on the way in (``legacy_credential_create``); from
  ``LEGACY_CUTOFF`` on the connection is recorded but its secret is refused,
* a ``MigrationCase`` for the site (``migration_case_open``).

Sites we have never seen (the common case) are inserted in bulk, with exactly the rows and
audit events the services would write for them (``tests/importer`` compares the two paths);
``bulk=False`` sends every row through the services.

Importing the same file twice changes nothing the second time: rows are matched on the site's
``cloud_id`` (or its URL when the book has no cloud id) and only differences are written.
``dry_run=True`` runs the same code in a transaction that is rolled back, so the report says
exactly what a real run would change.

File format (CSV header names = JSON keys; unknown keys are ignored):

    tenant            slug of the customer (letters, digits, - and _)          required
    tenant_name       display name (default: the slug)
    contact_emails    e-mails for invitations; CSV: separated by ; or spaces    required
    site_url          https://x.atlassian.net (Atlassian's hosts only, HTTPS)   required for api_token
    cloud_id          the site's cloud id                                        site_url or cloud_id
    kind              api_token | customer_app                                   required
    email, api_token                          (api_token)
    client_id, client_secret, access_token, refresh_token   (customer_app)
    due_at            ISO date/date-time the customer must migrate by (default: LEGACY_CUTOFF)

No value of a row ever appears in a report, a log line or an exception (any column may hold a
pasted secret): messages name fields and lines only.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from tenants.audit import build_event, record_event
from tenants.exceptions import DomainError, ImportFileError
from tenants.models import (
    AuditEvent,
    JiraSite,
    LegacyCredential,
    MigrationCase,
    Tenant,
    User,
)
from tenants.services.campaigns import reauth_required_reason
from tenants.services.legacy import legacy_credential_create, legacy_credential_purge
from tenants.services.migration import migration_case_open
from tenants.services.schedules import schedules_follow
from tenants.services.sites import (
    UNRESOLVED_PREFIX,
    site_create,
    site_link_to_tenant,
    site_set_status,
    site_use_legacy_credential,
)
from tenants.services.tenants import tenant_create, tenant_update

logger = logging.getLogger(__name__)

BATCH_SIZE = 500

_SLUG = re.compile(r"^[-a-zA-Z0-9_]{1,64}$")
_CLOUD_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")
_KINDS = {
    "api_token": LegacyCredential.Kind.API_TOKEN,
    "api-token": LegacyCredential.Kind.API_TOKEN,
    "customer_app": LegacyCredential.Kind.CUSTOMER_APP,
    "customer-app": LegacyCredential.Kind.CUSTOMER_APP,
}
_SECRET_FIELDS = ("api_token", "client_secret", "access_token", "refresh_token")


@dataclass
class LegacyRow:
    """One validated row. Secrets are kept out of ``repr``."""

    line: int
    tenant_slug: str
    tenant_name: str
    contact_emails: list[str]
    site_url: str
    cloud_id: str
    kind: str
    email: str = ""
    client_id: str = ""
    due_at: datetime | None = None
    api_token: str = field(default="", repr=False)
    client_secret: str = field(default="", repr=False)
    access_token: str = field(default="", repr=False)
    refresh_token: str = field(default="", repr=False)

    @property
    def has_secret(self) -> bool:
        return any(getattr(self, name) for name in _SECRET_FIELDS)


@dataclass(frozen=True)
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class ImportReport:
    dry_run: bool = False
    rows: int = 0
    tenants_created: int = 0
    tenants_updated: int = 0
    sites_created: int = 0
    sites_updated: int = 0
    credentials_created: int = 0
    credentials_updated: int = 0
    cases_opened: int = 0
    unchanged: int = 0
    secrets_withheld: int = 0
    already_migrated: list[int] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def imported(self) -> int:
        return self.rows - len(self.errors)

    def summary(self) -> str:
        prefix = "dry run, nothing written: would have " if self.dry_run else ""
        return (
            f"{prefix}{self.rows} rows: {self.imported} imported, {len(self.errors)} bad; "
            f"tenants {self.tenants_created} created / {self.tenants_updated} updated; "
            f"sites {self.sites_created} created / {self.sites_updated} updated; "
            f"credentials {self.credentials_created} created / {self.credentials_updated} "
            f"updated; {self.cases_opened} migration cases opened; {self.unchanged} unchanged; "
            f"{len(self.already_migrated)} already on the vendor app; "
            f"{self.secrets_withheld} secrets refused (LEGACY_CUTOFF passed)"
        )


# ------------------------------------------------------------------------------ reading


def read_records(path: Path, fmt: str | None = None) -> list[tuple[int, dict]]:
    """``[(line, record)]`` from a CSV or JSON file (JSON: an array of objects, or one object
    per line). ``line`` is where the record starts in the file."""
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportFileError(f"cannot read {path}: {exc.__class__.__name__}") from None
    if fmt == "csv":
        return _read_csv(text)
    if fmt in ("json", "jsonl", "ndjson"):
        return _read_json(text)
    raise ImportFileError(f"unknown format {fmt!r}: use a .csv or .json file (or --format)")


def _read_csv(text: str) -> list[tuple[int, dict]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames:
        raise ImportFileError("the CSV file has no header row")
    reader.fieldnames = [name.strip().lower() for name in reader.fieldnames]
    records = []
    start = reader.line_num + 1
    for record in reader:
        if any((v or "").strip() for k, v in record.items() if k is not None):
            records.append((start, record))
        start = reader.line_num + 1
    return records


def _read_json(text: str) -> list[tuple[int, dict]]:
    decoder = json.JSONDecoder()
    stripped = text.lstrip()
    records: list[tuple[int, dict]] = []
    pos = len(text) - len(stripped)
    in_array = stripped.startswith("[")
    if in_array:
        pos += 1

    def skip(p: int) -> int:
        while p < len(text) and text[p] in " \t\r\n,":
            p += 1
        return p

    while True:
        pos = skip(pos)
        if pos >= len(text) or (in_array and text[pos] == "]"):
            break
        line = text.count("\n", 0, pos) + 1
        try:
            value, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise ImportFileError(f"line {exc.lineno}: not valid JSON ({exc.msg})") from None
        records.append((line, value))
    return records


# ------------------------------------------------------------------------------ validation


def _text(record: dict, key: str) -> str:
    value = record.get(key)
    if value is None:
        return ""
    if isinstance(value, int | float):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError(f"{key} must be text")
    return value.strip()


@functools.lru_cache(maxsize=4096)
def _is_email(value: str) -> bool:
    # The same contacts repeat on every row of a tenant; Django's validator is slow.
    try:
        validate_email(value)
    except ValidationError:
        return False
    return True


def _emails(record: dict) -> list[str]:
    value = record.get("contact_emails")
    if value is None:
        value = record.get("contacts", "")
    items = value if isinstance(value, list) else re.split(r"[;,\s]+", str(value or ""))
    emails: list[str] = []
    for item in items:
        email = str(item).strip().lower()
        if not email:
            continue
        if not _is_email(email):
            # Never the value itself: a token pasted into the wrong column would be printed.
            raise ValueError(
                f"contact_emails: entry {len(emails) + 1} is not a valid e-mail address"
            )
        if email not in emails:
            emails.append(email)
    if not emails:
        raise ValueError("contact_emails: at least one contact e-mail is required")
    return emails


# Jira Cloud sites live on these hosts; API tokens travel as Basic credentials, so only there
# and only over HTTPS. LEGACY_SITE_EXTRA_ORIGINS adds origins (the sandbox's, in development).
ATLASSIAN_SITE_DOMAINS = (".atlassian.net", ".jira.com")


def _url(value: str) -> str:
    parts = urlsplit(value)
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    extra = {o.rstrip("/").lower() for o in settings.LEGACY_SITE_EXTRA_ORIGINS}
    clean = not (parts.username or parts.password or parts.query or parts.fragment)
    if clean and origin in extra:
        return value.rstrip("/")
    host = (parts.hostname or "").lower()
    if (
        not clean
        or parts.scheme != "https"
        or parts.port is not None
        or parts.path.strip("/")
        or not host.endswith(ATLASSIAN_SITE_DOMAINS)
    ):
        raise ValueError(
            "site_url: must be https://<name>.atlassian.net, the site's own Atlassian address "
            "(no path, port or credentials)"
        )
    return f"https://{host}"


def _due(value: str) -> datetime | None:
    if not value:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("due_at must be an ISO date such as 2026-03-31") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def site_key(*, cloud_id: str, site_url: str) -> str:
    """The cloud id a row's site is stored under (a placeholder when only the URL is known)."""
    if cloud_id:
        return cloud_id
    return (UNRESOLVED_PREFIX + urlsplit(site_url).netloc.lower())[:64]


def validate_record(line: int, record: object) -> LegacyRow:
    """A ``LegacyRow`` or ``ValueError`` with a message naming the field (never its value
    when the field is a secret)."""
    if not isinstance(record, dict):
        raise ValueError("each record must be an object with named fields")
    record = {str(k).strip().lower(): v for k, v in record.items() if k is not None}
    slug = _text(record, "tenant")
    if not slug:
        raise ValueError("tenant: the customer's slug is required")
    if not _SLUG.match(slug):
        raise ValueError("tenant: use letters, digits, - and _ only (at most 64)")
    kind_text = _text(record, "kind").lower()
    kind = _KINDS.get(kind_text)
    if kind is None:
        raise ValueError("kind: must be api_token or customer_app")
    site_url = _text(record, "site_url")
    cloud_id = _text(record, "cloud_id")
    if site_url:
        site_url = _url(site_url)
    if cloud_id and not _CLOUD_ID.match(cloud_id):
        raise ValueError("cloud_id: not a valid Atlassian cloud id")
    if not site_url and not cloud_id:
        raise ValueError("site_url or cloud_id: one of them is required")
    row = LegacyRow(
        line=line,
        tenant_slug=slug,
        tenant_name=(_text(record, "tenant_name") or slug)[:200],
        contact_emails=_emails(record),
        site_url=site_url,
        cloud_id=cloud_id,
        kind=kind,
        due_at=_due(_text(record, "due_at")),
    )
    secrets = {name: _text(record, name) for name in _SECRET_FIELDS}
    if kind == LegacyCredential.Kind.API_TOKEN:
        row.email = _text(record, "email").lower()
        if not site_url:
            raise ValueError("site_url: an API token is used against the site URL, so it is needed")
        if not row.email:
            raise ValueError("email: the Atlassian account the API token belongs to is required")
        if not _is_email(row.email):
            raise ValueError("email: not a valid e-mail address")
        if not secrets["api_token"]:
            raise ValueError("api_token: missing")
        extra = [n for n in ("client_secret", "access_token", "refresh_token") if secrets[n]]
        if _text(record, "client_id") or extra:
            raise ValueError("an api_token row carries only email and api_token, not app fields")
        row.api_token = secrets["api_token"]
    else:
        row.client_id = _text(record, "client_id")
        if not row.client_id:
            raise ValueError("client_id: the customer's app client id is required")
        if not secrets["client_secret"]:
            raise ValueError("client_secret: missing")
        if secrets["api_token"]:
            raise ValueError("a customer_app row carries no api_token")
        row.client_secret = secrets["client_secret"]
        row.access_token = secrets["access_token"]
        row.refresh_token = secrets["refresh_token"]
    return row


def validate_records(
    records: Iterable[tuple[int, object]],
) -> tuple[list[LegacyRow], list[RowError]]:
    rows: list[LegacyRow] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for line, record in records:
        try:
            row = validate_record(line, record)
        except ValueError as exc:
            errors.append(RowError(line, str(exc)))
            continue
        key = site_key(cloud_id=row.cloud_id, site_url=row.site_url)
        if key in seen:
            errors.append(RowError(line, f"the same site is already on line {seen[key]}"))
            continue
        seen[key] = line
        rows.append(row)
    return rows, errors


# ------------------------------------------------------------------------------ writing


class _RowRefused(Exception):
    pass


@dataclass
class _Context:
    report: ImportReport
    acting_user: User | None
    now: datetime
    # Name and contact e-mails per tenant slug, as the book has them.
    plans: dict[str, tuple[str, list[str]]]
    # The tenants as they stand (loaded once, then kept current as rows create or update them).
    tenants: dict[str, Tenant]
    # Slugs whose tenant this run already created or brought in line with the book, and the
    # tenant each was before (None: created), so a rolled-back savepoint can undo them.
    settled: set[str] = field(default_factory=set)
    journal: list[tuple[str, Tenant | None]] = field(default_factory=list)

    @property
    def withheld(self) -> bool:
        return self.now >= settings.LEGACY_CUTOFF


def _tenant_plans(rows: list[LegacyRow]) -> dict[str, tuple[str, list[str]]]:
    """Name and the union of contact e-mails per tenant slug, in file order."""
    plans: dict[str, tuple[str, list[str]]] = {}
    for row in rows:
        name, emails = plans.get(row.tenant_slug, (row.tenant_name, []))
        for email in row.contact_emails:
            if email not in emails:
                emails.append(email)
        plans[row.tenant_slug] = (name, emails)
    return plans


def _tenant_differs(ctx: _Context, slug: str) -> bool:
    tenant = ctx.tenants.get(slug)
    name, emails = ctx.plans[slug]
    return tenant is None or tenant.name != name or list(tenant.contact_emails) != emails


def _settle_tenants(ctx: _Context, slugs: Iterable[str], *, bulk: bool) -> None:
    """Create the tenants these rows need, or bring them in line with the book (name, contact
    e-mails), once per run and only when a row of theirs is written, so a refused row leaves no
    tenant behind. In bulk, new tenants are inserted with the rows and audit events
    ``tenant_create`` writes; otherwise through ``tenant_create`` itself."""
    new: list[Tenant] = []
    for slug in dict.fromkeys(slugs):
        if slug in ctx.settled:
            continue
        ctx.settled.add(slug)
        name, emails = ctx.plans[slug]
        current = ctx.tenants.get(slug)
        ctx.journal.append((slug, current))
        if current is None and bulk:
            new.append(Tenant(name=name, slug=slug, contact_emails=emails))
        elif current is None:
            ctx.tenants[slug] = tenant_create(
                name=name, slug=slug, contact_emails=emails, acting_user=ctx.acting_user
            )
            ctx.report.tenants_created += 1
        elif _tenant_differs(ctx, slug):
            ctx.tenants[slug] = tenant_update(
                tenant=current, name=name, contact_emails=emails, acting_user=ctx.acting_user
            )
            ctx.report.tenants_updated += 1
    if new:
        Tenant.objects.bulk_create(new)
        created = Tenant.objects.in_bulk([t.slug for t in new], field_name="slug")
        AuditEvent.objects.bulk_create(
            [
                build_event(
                    actor=ctx.acting_user,
                    action="tenant.created",
                    target=t,
                    tenant=t,
                    summary={"name": t.name, "slug": t.slug, "contact_emails": t.contact_emails},
                )
                for t in created.values()
            ]
        )
        ctx.tenants.update(created)
        ctx.report.tenants_created += len(created)


def _site_name(row: LegacyRow) -> str:
    return urlsplit(row.site_url).netloc.split(".")[0] if row.site_url else ""


def _site_url(row: LegacyRow, cloud_id: str) -> str:
    return row.site_url or f"https://{cloud_id}.invalid"


def _insert_new_sites(ctx: _Context, rows: list[LegacyRow], keys: list[str]) -> None:
    """The common case, sites we have never seen: tenants, credentials, sites and cases
    inserted in bulk, with exactly the rows and audit events the services write one by one for
    such a row (``tenant_create``, ``site_create``, ``legacy_credential_create``,
    ``site_use_legacy_credential``, after the cutoff ``site_set_status``, and
    ``migration_case_open``); ``tests/importer`` compares the two."""
    _settle_tenants(ctx, [row.tenant_slug for row in rows], bulk=True)
    withheld = ctx.withheld
    credentials, sites = [], []
    for row, key in zip(rows, keys, strict=True):
        tenant = ctx.tenants[row.tenant_slug]
        credential = LegacyCredential(
            tenant=tenant,
            kind=row.kind,
            site_url=row.site_url,
            email=row.email,
            client_id=row.client_id,
            secret_withheld=withheld,
        )
        if not withheld:
            for name in _SECRET_FIELDS:
                setattr(credential, name, getattr(row, name) or None)
        elif row.has_secret:
            ctx.report.secrets_withheld += 1
        credentials.append(credential)
        site = JiraSite(
            tenant=tenant,
            cloud_id=key,
            url=_site_url(row, key),
            name=_site_name(row),
            legacy_credential=credential,
        )
        if withheld:
            # Imported after the cutoff: it cannot be backed up until the customer migrates.
            site.status, site.status_reason, site.status_changed_at = (
                JiraSite.Status.NEEDS_REAUTH,
                reauth_required_reason(),
                ctx.now,
            )
        sites.append(site)
    LegacyCredential.objects.bulk_create(credentials)
    JiraSite.objects.bulk_create(sites)
    cases = [
        MigrationCase(
            site=site,
            legacy_credential=credential,
            due_at=row.due_at or settings.LEGACY_CUTOFF,
        )
        for row, site, credential in zip(rows, sites, credentials, strict=True)
    ]
    MigrationCase.objects.bulk_create(cases)
    # The apps above keep their own per-site rows (backups: a schedule from the policy).
    schedules_follow([site.pk for site in sites], reason="imported")
    if withheld and any(r.has_secret for r in rows):
        logger.warning(
            "%d legacy credentials recorded without their secret: LEGACY_CUTOFF has passed",
            sum(1 for r in rows if r.has_secret),
        )
    events = []
    for site, credential, case in zip(sites, credentials, cases, strict=True):
        events += _new_site_events(ctx, site, credential, case)
    AuditEvent.objects.bulk_create(events)
    report = ctx.report
    report.credentials_created += len(credentials)
    report.sites_created += len(sites)
    report.cases_opened += len(cases)


def _new_site_events(
    ctx: _Context, site: JiraSite, credential: LegacyCredential, case: MigrationCase
) -> list[AuditEvent]:
    """The events the services write for a new legacy site, in their order, with their
    summaries (kept equal to them by ``tests/importer``)."""

    def event(action, target, summary):
        return build_event(
            actor=ctx.acting_user, action=action, target=target, tenant=site.tenant, summary=summary
        )

    events = [
        event(
            "site.created", site, {"cloud_id": site.cloud_id, "url": site.url, "name": site.name}
        ),
        event(
            "legacy_credential.created",
            credential,
            {
                "kind": credential.kind,
                "site_url": credential.site_url,
                "client_id": credential.client_id,
                "secret_stored": credential.has_secret,
                "secret_withheld_after_cutoff": credential.secret_withheld,
            },
        ),
        event(
            "site.legacy_credential_linked",
            site,
            {
                "cloud_id": site.cloud_id,
                "legacy_credential": str(credential.pk),
                "kind": credential.kind,
            },
        ),
    ]
    if site.status != JiraSite.Status.ACTIVE:
        events.append(
            event(
                "site.status_changed",
                site,
                {
                    "cloud_id": site.cloud_id,
                    "from": JiraSite.Status.ACTIVE,
                    "to": site.status,
                    "reason": site.status_reason,
                },
            )
        )
    events.append(
        event(
            "migration_case.opened",
            case,
            {"cloud_id": site.cloud_id, "due_at": case.due_at.isoformat()},
        )
    )
    return events


def _secret_changes(credential: LegacyCredential, row: LegacyRow) -> dict[str, str]:
    changes = {}
    for name in _SECRET_FIELDS:
        wanted = getattr(row, name) or None
        if wanted != getattr(credential, name):
            changes[name] = wanted
    return changes


def _update_credential(ctx: _Context, credential: LegacyCredential, row: LegacyRow) -> bool:
    """Bring an existing credential of the same kind in line with the row; True if changed.
    After the cutoff no new secret is stored (the existing one is left for the purge)."""
    changed: list[str] = []
    for name in ("email", "client_id"):
        if getattr(credential, name) != getattr(row, name):
            setattr(credential, name, getattr(row, name))
            changed.append(name)
    if row.site_url and credential.site_url != row.site_url:
        credential.site_url = row.site_url
        changed.append("site_url")
    secret_changes = _secret_changes(credential, row)
    if secret_changes and ctx.withheld:
        ctx.report.secrets_withheld += 1
    elif secret_changes:
        for name, value in secret_changes.items():
            setattr(credential, name, value)
        changed.extend(sorted(secret_changes))
    if not changed:
        return False
    credential.save()
    record_event(
        actor=ctx.acting_user,
        action="legacy_credential.updated",
        target=credential,
        tenant=credential.tenant,
        summary={"changed_fields": changed, "source": "import", "line": row.line},
    )
    return True


def _create_credential(ctx: _Context, tenant: Tenant, row: LegacyRow) -> LegacyCredential:
    credential = legacy_credential_create(
        tenant=tenant,
        kind=row.kind,
        site_url=row.site_url,
        email=row.email,
        api_token=row.api_token or None,
        client_id=row.client_id,
        client_secret=row.client_secret or None,
        access_token=row.access_token or None,
        refresh_token=row.refresh_token or None,
        acting_user=ctx.acting_user,
        now=ctx.now,
    )
    ctx.report.credentials_created += 1
    if credential.secret_withheld and row.has_secret:
        ctx.report.secrets_withheld += 1
    return credential


def _row_changes_anything(ctx: _Context, row: LegacyRow, site: JiraSite) -> bool:
    """Whether a row about a known site would write anything (no query, one decrypt per
    secret): a re-import of an unchanged book must stay cheap."""
    tenant = ctx.tenants.get(row.tenant_slug)
    if tenant is None or site.tenant_id != tenant.pk or site.grant_id:
        return True  # refused or reported by _apply_row
    if row.tenant_slug not in ctx.settled and _tenant_differs(ctx, row.tenant_slug):
        return True
    if row.site_url and site.url != row.site_url:
        return True
    if ctx.withheld and site.status == JiraSite.Status.ACTIVE:
        return True  # to be paused: re-authorization required
    current = site.legacy_credential
    if current is None or current.status == LegacyCredential.Status.PURGED:
        return True
    if current.kind != row.kind or not getattr(site, "has_migration_case", False):
        return True
    if any(getattr(current, n) != getattr(row, n) for n in ("email", "client_id")):
        return True
    if row.site_url and current.site_url != row.site_url:
        return True
    if ctx.withheld:
        return False
    return bool(_secret_changes(current, row))


def _apply_row(ctx: _Context, row: LegacyRow, site: JiraSite | None) -> None:
    """One row through the tenants services (inside its own savepoint)."""
    report = ctx.report
    tenant = ctx.tenants.get(row.tenant_slug)
    cloud_id = site_key(cloud_id=row.cloud_id, site_url=row.site_url)
    if site is not None and (tenant is None or site.tenant_id != tenant.pk):
        raise _RowRefused("the site is already connected to another customer")
    if site is not None and site.grant_id:
        report.already_migrated.append(row.line)
        return
    _settle_tenants(ctx, [row.tenant_slug], bulk=False)
    tenant = ctx.tenants[row.tenant_slug]
    touched = False
    if site is None:
        site = site_create(
            tenant=tenant,
            cloud_id=cloud_id,
            url=_site_url(row, cloud_id),
            name=_site_name(row),
            acting_user=ctx.acting_user,
        )
        report.sites_created += 1
        touched = True
    elif row.site_url and site.url != row.site_url:
        site = site_link_to_tenant(
            tenant=tenant, cloud_id=cloud_id, url=row.site_url, acting_user=ctx.acting_user
        )
        report.sites_updated += 1
        touched = True

    current = site.legacy_credential
    if current is not None and current.status == LegacyCredential.Status.PURGED:
        current = None
    if current is not None and current.kind == row.kind:
        if _update_credential(ctx, current, row):
            report.credentials_updated += 1
            touched = True
    else:
        credential = _create_credential(ctx, tenant, row)
        site = site_use_legacy_credential(
            site=site, credential=credential, acting_user=ctx.acting_user
        )
        touched = True
        if current is not None and not current.sites.exists():
            legacy_credential_purge(
                credential=current,
                reason=f"replaced by a {row.kind} credential on re-import",
                acting_user=ctx.acting_user,
            )
    if ctx.withheld and site.status == JiraSite.Status.ACTIVE:
        site_set_status(
            site=site,
            status=JiraSite.Status.NEEDS_REAUTH,
            reason=reauth_required_reason(),
            acting_user=ctx.acting_user,
        )
        touched = True
    if not MigrationCase.objects.filter(
        site_id=site.pk, purpose=MigrationCase.Purpose.MIGRATION
    ).exists():
        migration_case_open(
            site=site, due_at=row.due_at or settings.LEGACY_CUTOFF, acting_user=ctx.acting_user
        )
        report.cases_opened += 1
        touched = True
    if not touched:
        report.unchanged += 1


_COUNTERS = (
    "tenants_created",
    "tenants_updated",
    "sites_created",
    "sites_updated",
    "credentials_created",
    "credentials_updated",
    "cases_opened",
    "unchanged",
    "secrets_withheld",
)


@contextmanager
def _all_or_nothing(ctx: _Context) -> Iterator[None]:
    """A savepoint for a row (or a bulk insert): when it rolls back, the report's counts and
    the context's tenants roll back with it, so a refused row leaves nothing, not even in the
    summary."""
    counts = {name: getattr(ctx.report, name) for name in _COUNTERS}
    mark = len(ctx.journal)
    try:
        with transaction.atomic():
            yield
    except BaseException:
        for name, value in counts.items():
            setattr(ctx.report, name, value)
        while len(ctx.journal) > mark:
            slug, previous = ctx.journal.pop()
            ctx.settled.discard(slug)
            if previous is None:
                ctx.tenants.pop(slug, None)
            else:
                ctx.tenants[slug] = previous
        raise


def _refusal(exc: Exception, row: LegacyRow) -> str:
    """A row's refusal for the report. A service's message may name a value of the row (a
    cloud id, a URL), and any column may hold a pasted secret: every value of the row is
    blanked out of it."""
    message = str(exc)
    values = [
        row.tenant_slug,
        row.tenant_name,
        *row.contact_emails,
        row.site_url,
        row.cloud_id,
        site_key(cloud_id=row.cloud_id, site_url=row.site_url),
        row.email,
        row.client_id,
        *(getattr(row, name) for name in _SECRET_FIELDS),
    ]
    for value in sorted({v for v in values if len(v) >= 3}, key=len, reverse=True):
        message = message.replace(value, "[value of this row]")
    return message


def _apply_batch(ctx: _Context, rows: list[LegacyRow], *, bulk: bool) -> None:
    keys = [site_key(cloud_id=r.cloud_id, site_url=r.site_url) for r in rows]
    sites = {
        s.cloud_id: s
        for s in JiraSite.objects.filter(cloud_id__in=keys)
        .select_related("legacy_credential")
        .annotate(
            has_migration_case=Exists(
                MigrationCase.objects.filter(
                    site=OuterRef("pk"), purpose=MigrationCase.Purpose.MIGRATION
                )
            )
        )
    }
    pairs = list(zip(rows, keys, strict=True))
    known = [(row, key) for row, key in pairs if key in sites or not bulk]
    new = [(row, key) for row, key in pairs if key not in sites and bulk]
    with transaction.atomic():
        if new:
            try:
                with _all_or_nothing(ctx):
                    _insert_new_sites(ctx, [r for r, _ in new], [k for _, k in new])
            except IntegrityError:
                # Someone created one of these sites meanwhile: go row by row instead.
                logger.warning("bulk insert of a batch collided; importing it row by row")
                known = pairs
                sites = {
                    s.cloud_id: s
                    for s in JiraSite.objects.filter(cloud_id__in=keys).select_related(
                        "legacy_credential"
                    )
                }
        for row, key in known:
            site = sites.get(key)
            if site is not None and not _row_changes_anything(ctx, row, site):
                ctx.report.unchanged += 1
                continue
            try:
                with _all_or_nothing(ctx):
                    _apply_row(ctx, row, site)
            except (_RowRefused, DomainError) as exc:
                ctx.report.errors.append(RowError(row.line, _refusal(exc, row)))


class _DryRunRollback(Exception):
    pass


def import_rows(
    rows: list[LegacyRow],
    *,
    errors: list[RowError] | None = None,
    acting_user: User | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
    bulk: bool = True,
) -> ImportReport:
    """Write validated rows; returns the report (bad rows from validation are passed in
    ``errors`` so the report lists them all, sorted by line). ``bulk=False`` writes every row
    through the tenants services one by one: slower, and what the fast path must equal."""
    report = ImportReport(dry_run=dry_run, rows=len(rows) + len(errors or []))
    report.errors.extend(errors or [])
    plans = _tenant_plans(rows)
    ctx = _Context(
        report=report,
        acting_user=acting_user,
        now=now or timezone.now(),
        plans=plans,
        tenants=Tenant.objects.in_bulk(list(plans), field_name="slug"),
    )
    # A real run commits batch by batch (a re-run picks up where a crash left off); a dry run
    # wraps everything in one transaction and rolls it back.
    try:
        with transaction.atomic() if dry_run else nullcontext():
            for start in range(0, len(rows), BATCH_SIZE):
                _apply_batch(ctx, rows[start : start + BATCH_SIZE], bulk=bulk)
                if progress is not None:
                    progress(min(start + BATCH_SIZE, len(rows)), len(rows))
            if dry_run:
                raise _DryRunRollback
    except _DryRunRollback:
        pass
    report.errors.sort(key=lambda e: e.line)
    logger.info("legacy import: %s", report.summary())
    return report


def import_legacy_file(
    path: Path | str,
    *,
    fmt: str | None = None,
    acting_user: User | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
    bulk: bool = True,
) -> ImportReport:
    """Read, validate and import a legacy book (see the module docstring)."""
    records = read_records(Path(path), fmt)
    rows, errors = validate_records(records)
    return import_rows(
        rows,
        errors=errors,
        acting_user=acting_user,
        dry_run=dry_run,
        now=now,
        progress=progress,
        bulk=bulk,
    )
