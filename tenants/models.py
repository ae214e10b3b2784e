"""Who our customers are and with which credentials we reach their Jira Cloud sites.

Writes go through ``tenants.services``; reads that span relations through ``tenants.selectors``.
Models hold data and database constraints only. Secret-bearing models (``OAuthGrant``,
``LegacyCredential``) use UUID primary keys so a row has its pk before the first save, which the
encryption binds every ciphertext to (see ``tenants.fields`` and docs/domain-model.md).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q

from tenants.fields import EncryptedSecret, SecretsMixin, encrypted_secrets


class User(AbstractUser):
    """A person who signs in: customer users and vendor staff alike (staff have ``is_staff``)."""

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"


class Tenant(models.Model):
    """A customer organisation."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"
        OFFBOARDED = "offboarded", "Offboarded"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=64, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    status_reason = models.CharField(max_length=500, blank=True)
    contact_emails = models.JSONField(default=list, blank=True)
    # Data residency: the named storage location (settings.STORAGE_LOCATIONS) holding every
    # object of its backups, chosen at onboarding ("" = the default storage).
    # db_default: rows written by code (or migrations) that predate the column still insert.
    storage_location = models.CharField(max_length=32, blank=True, default="", db_default="")
    # Customer-managed key: the tenant's own AWS KMS key (ARN or alias) wrapping its snapshot
    # data key; disabling it pauses the tenant's backups and restores (docs/encryption.md).
    kms_key_id = models.CharField(max_length=300, blank=True, default="", db_default="")
    # When it was offboarded: its snapshots are erased OFFBOARDING_GRACE_DAYS later (issue 22).
    offboarded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["active", "suspended", "offboarded"]),
                name="tenant_status_valid",
                violation_error_message="A tenant is active, suspended or offboarded.",
            ),
        ]
        indexes = [
            # The staff changelist's order (``name`` plus the admin's ``-pk`` tie-break),
            # unfiltered and filtered by status: a page is the first entries of an index.
            models.Index(fields=["name", "-id"], name="tenant_name"),
            models.Index(fields=["status", "name", "-id"], name="tenant_status_name"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"


class Membership(models.Model):
    """A user's role in a tenant."""

    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        ADMIN = "admin", "Admin"
        VIEWER = "viewer", "Viewer"

    MANAGING_ROLES = (Role.OWNER, Role.ADMIN)

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "tenant"],
                name="membership_unique_user_tenant",
                violation_error_message="This user is already a member of this tenant.",
            ),
            models.CheckConstraint(
                condition=Q(role__in=["owner", "admin", "viewer"]),
                name="membership_role_valid",
                violation_error_message="A member is an owner, an admin or a viewer.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} of {self.tenant.slug}"


class JiraSite(models.Model):
    """A Jira Cloud site; its ``cloud_id`` belongs to exactly one tenant."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        NEEDS_REAUTH = "needs_reauth", "Needs re-authorization"
        DISCONNECTED = "disconnected", "Disconnected"
        OFFBOARDED = "offboarded", "Offboarded"

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="sites")
    cloud_id = models.CharField(max_length=64, unique=True)
    url = models.URLField(max_length=300)
    name = models.CharField(max_length=200, blank=True)
    # The credential in use now: the vendor grant or a legacy credential, never both.
    grant = models.ForeignKey(
        "OAuthGrant", null=True, blank=True, on_delete=models.PROTECT, related_name="active_sites"
    )
    legacy_credential = models.ForeignKey(
        "LegacyCredential", null=True, blank=True, on_delete=models.PROTECT, related_name="sites"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    status_reason = models.CharField(max_length=500, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["url"]
        constraints = [
            models.CheckConstraint(
                condition=Q(grant__isnull=True) | Q(legacy_credential__isnull=True),
                name="jirasite_at_most_one_credential",
                violation_error_message="A site uses either the vendor grant or a legacy credential, never both.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["active", "needs_reauth", "disconnected", "offboarded"]),
                name="jirasite_status_valid",
                violation_error_message="A site is active, needs re-authorization, disconnected or offboarded.",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "status"], name="jirasite_tenant_status"),
            # The staff changelist's order (``ordering`` plus the admin's ``-pk`` tie-break),
            # unfiltered and filtered by status: a page is the first entries of an index, not
            # a sort of every site.
            models.Index(fields=["url", "-id"], name="jirasite_url"),
            models.Index(fields=["status", "url", "-id"], name="jirasite_status_url"),
        ]

    def __str__(self) -> str:
        return self.url

    @property
    def credential_kind(self) -> str:
        if self.grant_id:
            return "vendor grant"
        if self.legacy_credential_id:
            return "legacy"
        return "none"


class OAuthGrant(SecretsMixin, models.Model):
    """The vendor app's grant for one Atlassian account (Atlassian keeps one per account; each
    consent adds sites to it). Tokens are encrypted; ``access_token`` / ``refresh_token`` decrypt.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        NEEDS_REAUTH = "needs_reauth", "Needs re-authorization"
        REVOKED = "revoked", "Revoked"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account_id = models.CharField(max_length=128, unique=True)
    account_name = models.CharField(max_length=200, blank=True)
    account_email = models.EmailField(blank=True)
    scopes = models.JSONField(default=list, blank=True)
    access_token_ciphertext = models.TextField(null=True, blank=True, editable=False)
    refresh_token_ciphertext = models.TextField(null=True, blank=True, editable=False)
    access_token_expires_at = models.DateTimeField(null=True, blank=True)
    # Refresh tokens rotate, but the family dies 365 days after consent whatever we do.
    family_started_at = models.DateTimeField(null=True, blank=True)
    last_rotated_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    status_reason = models.CharField(max_length=500, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    sites = models.ManyToManyField(JiraSite, through="GrantSite", related_name="grants")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    access_token = EncryptedSecret("access_token_ciphertext")
    refresh_token = EncryptedSecret("refresh_token_ciphertext")

    class Meta:
        ordering = ["account_name", "account_id"]
        verbose_name = "OAuth grant"
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["active", "needs_reauth", "revoked"]),
                name="oauthgrant_status_valid",
                violation_error_message="A grant is active, needs re-authorization or revoked.",
            ),
            # A revoked grant keeps no tokens.
            models.CheckConstraint(
                condition=~Q(status="revoked")
                | (
                    Q(access_token_ciphertext__isnull=True)
                    & Q(refresh_token_ciphertext__isnull=True)
                ),
                name="oauthgrant_revoked_has_no_tokens",
                violation_error_message="A revoked grant keeps no tokens.",
            ),
        ]
        indexes = [
            # The staff changelist's order (``account_id`` is unique, so Django adds no
            # tie-break), unfiltered and filtered by status.
            models.Index(fields=["account_name", "account_id"], name="oauthgrant_account"),
            models.Index(
                fields=["status", "account_name", "account_id"], name="oauthgrant_status_account"
            ),
        ]

    def __str__(self) -> str:
        who = self.account_email or self.account_name or self.account_id
        return f"grant of {who}"

    def __repr__(self) -> str:
        return f"<OAuthGrant {self.pk} account={self.account_id} status={self.status}>"

    def set_tokens(
        self, *, access_token: str, refresh_token: str | None, expires_at: datetime | None
    ) -> None:
        """Set both tokens (encrypted) and the access-token expiry; the caller saves."""
        self.access_token = access_token
        if refresh_token:
            self.refresh_token = refresh_token
        self.access_token_expires_at = expires_at


class GrantSite(models.Model):
    """A site a grant reaches, with the scopes granted for it."""

    grant = models.ForeignKey(OAuthGrant, on_delete=models.CASCADE, related_name="grant_sites")
    site = models.ForeignKey(JiraSite, on_delete=models.CASCADE, related_name="grant_sites")
    scopes = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["grant", "site"],
                name="grantsite_unique_grant_site",
                violation_error_message="This grant already reaches this site.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.grant} reaches {self.site}"


class LegacyCredential(SecretsMixin, models.Model):
    """A pre-June-2025 connection: an API token or the customer's own 3LO app. Purging shreds the
    ciphertext (columns set to NULL, a CHECK constraint holds it), not just a flag."""

    class Kind(models.TextChoices):
        API_TOKEN = "api_token", "API token"
        CUSTOMER_APP = "customer_app", "Customer's own OAuth app"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        MIGRATED = "migrated", "Migrated"
        PURGED = "purged", "Purged"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="legacy_credentials")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    site_url = models.URLField(max_length=300, blank=True)
    email = models.EmailField(blank=True)  # api_token: the Atlassian account the token belongs to
    client_id = models.CharField(max_length=200, blank=True)  # customer_app
    api_token_ciphertext = models.TextField(null=True, blank=True, editable=False)
    client_secret_ciphertext = models.TextField(null=True, blank=True, editable=False)
    access_token_ciphertext = models.TextField(null=True, blank=True, editable=False)
    refresh_token_ciphertext = models.TextField(null=True, blank=True, editable=False)
    access_token_expires_at = models.DateTimeField(null=True, blank=True)
    # Set when the import ran after LEGACY_CUTOFF: the connection is known, its secret was refused.
    secret_withheld = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    migrated_at = models.DateTimeField(null=True, blank=True)
    purged_at = models.DateTimeField(null=True, blank=True)

    api_token = EncryptedSecret("api_token_ciphertext")
    client_secret = EncryptedSecret("client_secret_ciphertext")
    access_token = EncryptedSecret("access_token_ciphertext")
    refresh_token = EncryptedSecret("refresh_token_ciphertext")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["api_token", "customer_app"]),
                name="legacycred_kind_valid",
                violation_error_message="A legacy credential is an API token or the customer's own OAuth app.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["active", "migrated", "purged"]),
                name="legacycred_status_valid",
                violation_error_message="A legacy credential is active, migrated or purged.",
            ),
            models.CheckConstraint(
                condition=~Q(kind="api_token")
                | (
                    ~Q(email="")
                    & Q(client_id="")
                    & Q(client_secret_ciphertext__isnull=True)
                    & Q(access_token_ciphertext__isnull=True)
                    & Q(refresh_token_ciphertext__isnull=True)
                ),
                name="legacycred_api_token_shape",
                violation_error_message="An API token needs the e-mail address of its Atlassian account, and no OAuth app details.",
            ),
            models.CheckConstraint(
                condition=~Q(kind="customer_app")
                | (~Q(client_id="") & Q(api_token_ciphertext__isnull=True)),
                name="legacycred_customer_app_shape",
                violation_error_message="A customer's own OAuth app needs its client id, and no API token.",
            ),
            # Crypto-shred: a purged credential holds no ciphertext at all.
            models.CheckConstraint(
                condition=~Q(status="purged")
                | (
                    Q(api_token_ciphertext__isnull=True)
                    & Q(client_secret_ciphertext__isnull=True)
                    & Q(access_token_ciphertext__isnull=True)
                    & Q(refresh_token_ciphertext__isnull=True)
                    & Q(purged_at__isnull=False)
                ),
                name="legacycred_purged_has_no_secret",
                violation_error_message="A purged credential keeps no secret, and says when it was purged.",
            ),
        ]
        indexes = [
            # The sites changelist's "credential kind" filter finds a rare kind's credentials
            # here instead of reading every legacy credential.
            models.Index(fields=["kind"], name="legacycred_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.site_url or self.tenant_id}"

    def __repr__(self) -> str:
        return f"<LegacyCredential {self.pk} kind={self.kind} status={self.status}>"

    @property
    def has_secret(self) -> bool:
        return any(getattr(self, s.column) for s in encrypted_secrets(type(self)).values())


class MigrationCase(models.Model):
    """Bringing one site through a consent campaign; a state machine (see
    ``tenants.services.migration``). Its ``purpose``: moving a legacy site to the vendor app
    (``migration``), or a site on a vendor grant without Jira Software's scopes consenting again
    to the full scopes (``reconsent``: the same journey without the legacy part). A site has at
    most one case per purpose."""

    class Purpose(models.TextChoices):
        MIGRATION = "migration", "Migration to the vendor app"
        RECONSENT = "reconsent", "Re-consent for Jira Software"

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        INVITED = "invited", "Invited"
        CONSENTED = "consented", "Consented"
        VERIFIED = "verified", "Verified"
        CUT_OVER = "cut_over", "Cut over"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        INVITE_EXPIRED = "invite_expired", "Invite expired"
        EXEMPT = "exempt", "Exempt"

    site = models.ForeignKey(JiraSite, on_delete=models.PROTECT, related_name="migration_cases")
    purpose = models.CharField(max_length=16, choices=Purpose.choices, default=Purpose.MIGRATION)
    # The credential being replaced; kept after purge so the case shows what was migrated.
    legacy_credential = models.ForeignKey(
        LegacyCredential,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="migration_cases",
    )
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    due_at = models.DateTimeField(null=True, blank=True)
    failure_reason = models.CharField(max_length=500, blank=True)
    exemption_justification = models.TextField(blank=True)
    exempted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    invited_at = models.DateTimeField(null=True, blank=True)
    # When an invited person first opened the link (the funnel's "opened"; not a state).
    opened_at = models.DateTimeField(null=True, blank=True)
    consented_at = models.DateTimeField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    cut_over_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    invite_expired_at = models.DateTimeField(null=True, blank=True)
    exempt_at = models.DateTimeField(null=True, blank=True)
    state_changed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["due_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["site", "purpose"],
                name="migrationcase_one_per_site_and_purpose",
                violation_error_message="This site already has a case for this purpose.",
            ),
            models.CheckConstraint(
                condition=Q(purpose__in=["migration", "reconsent"]),
                name="migrationcase_purpose_valid",
                violation_error_message="A case is a migration or a re-consent.",
            ),
            # Only a migration replaces a legacy credential.
            models.CheckConstraint(
                condition=Q(purpose="migration") | Q(legacy_credential__isnull=True),
                name="migrationcase_reconsent_has_no_legacy",
                violation_error_message="A re-consent case has no legacy credential.",
            ),
            models.CheckConstraint(
                condition=Q(
                    state__in=[
                        "pending",
                        "invited",
                        "consented",
                        "verified",
                        "cut_over",
                        "completed",
                        "failed",
                        "invite_expired",
                        "exempt",
                    ]
                ),
                name="migrationcase_state_valid",
                violation_error_message="Not a state a migration case can be in.",
            ),
            models.CheckConstraint(
                condition=~Q(state="failed") | ~Q(failure_reason=""),
                name="migrationcase_failed_has_reason",
                violation_error_message="A failed migration case needs the reason it failed.",
            ),
            models.CheckConstraint(
                condition=~Q(state="exempt")
                | (~Q(exemption_justification="") & Q(exempted_by__isnull=False)),
                name="migrationcase_exempt_is_justified",
                violation_error_message="An exempt migration case needs a justification and who approved it.",
            ),
        ]
        indexes = [
            # By state in due order (the selectors' ranges, and the changelist's state filter in
            # its order: ``due_at`` then ``pk``).
            models.Index(fields=["state", "due_at", "id"], name="migrationcase_state_due"),
            # The staff console lists all cases by due date (the default ordering).
            models.Index(fields=["due_at", "id"], name="migrationcase_due"),
        ]

    def __str__(self) -> str:
        what = "re-consent" if self.purpose == self.Purpose.RECONSENT else "migration"
        return f"{what} of {self.site} ({self.state})"

    @property
    def is_reconsent(self) -> bool:
        return self.purpose == self.Purpose.RECONSENT


class MigrationNotice(models.Model):
    """A message sent about a case; unique (case, key) so a notice is never sent twice."""

    class Kind(models.TextChoices):
        INVITATION = "invitation", "Invitation"
        REMINDER = "reminder", "Reminder"
        CONFIRMATION = "confirmation", "Confirmation"

    case = models.ForeignKey(MigrationCase, on_delete=models.CASCADE, related_name="notices")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    key = models.CharField(max_length=64)  # e.g. "invitation", "reminder:-7d"
    recipients = models.JSONField(default=list, blank=True)
    sent_at = models.DateTimeField()

    class Meta:
        ordering = ["sent_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["case", "key"],
                name="migrationnotice_unique_case_key",
                violation_error_message="This notice was already sent for this migration case.",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["invitation", "reminder", "confirmation"]),
                name="migrationnotice_kind_valid",
                violation_error_message="A notice is an invitation, a reminder or a confirmation.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} for case {self.case_id}"


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AuditEvent.AppendOnly("audit events are append-only: update refused")

    def delete(self):
        raise AuditEvent.AppendOnly("audit events are append-only: delete refused")

    def bulk_update(self, *args, **kwargs):
        raise AuditEvent.AppendOnly("audit events are append-only: update refused")


class AuditEvent(models.Model):
    """Who did what to which object, append-only (also enforced by a PostgreSQL trigger).
    Written by ``tenants.audit.record_event`` in the same transaction as the change."""

    class AppendOnly(Exception):
        pass

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # PROTECT: users and tenants are deactivated/offboarded, never deleted under their history.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Empty for the system.",
    )
    action = models.CharField(max_length=64)
    target_content_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    target_object_id = models.CharField(max_length=64, blank=True)
    target_repr = models.CharField(max_length=200, blank=True)
    tenant = models.ForeignKey(
        Tenant, null=True, blank=True, on_delete=models.PROTECT, related_name="audit_events"
    )
    summary = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["tenant", "-created_at"], name="auditevent_tenant_created"),
            models.Index(fields=["action"], name="auditevent_action"),
            models.Index(
                fields=["target_content_type", "target_object_id"], name="auditevent_target"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} on {self.target_repr or '-'}"

    def save(self, *args, **kwargs):
        # Only the first insert is allowed; history is never rewritten.
        if not self._state.adding:
            raise AuditEvent.AppendOnly("audit events are append-only: update refused")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditEvent.AppendOnly("audit events are append-only: delete refused")


class BrownoutWindow(models.Model):
    """A window in which legacy credentials are refused before ``LEGACY_CUTOFF``, to nudge the
    customers who have not migrated yet (read by ``tenants.brownouts``; edited in the admin)."""

    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.CharField(max_length=500)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")),
                name="brownout_ends_after_start",
                violation_error_message="The brownout must end after it starts.",
            ),
        ]
        indexes = [models.Index(fields=["starts_at", "ends_at"], name="brownout_window")]

    def __str__(self) -> str:
        return f"brownout {self.starts_at:%Y-%m-%d %H:%M} to {self.ends_at:%Y-%m-%d %H:%M} UTC"


class DataKey(models.Model):
    """The record of one data-encryption key (see ``tenants.keys``). No key material: the key
    itself lives only in the key store (``STORAGES["keys"]``, outside the database), wrapped by
    a key-encryption key, so destroying it there makes every copy of what it sealed (old row
    versions, WAL, replicas, database backups) undecryptable. This row says which scope the key
    serves, which key-encryption key wraps it now (rotation re-wraps without rewriting rows) and
    whether it was destroyed."""

    class State(models.TextChoices):
        ACTIVE = "active", "Active"  # seals new values of its scope, and opens old ones
        RETIRED = "retired", "Retired"  # opens old values only (a scope's key was replaced)
        DESTROYING = "destroying", "Being destroyed"  # destruction committed, store not yet done
        DESTROYED = "destroyed", "Destroyed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # What the key protects, e.g. "secrets/tenants.legacycredential/<pk>" (one row's secrets).
    scope = models.CharField(max_length=200)
    kek_id = models.CharField(max_length=100)
    state = models.CharField(max_length=16, choices=State.choices, default=State.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    rewrapped_at = models.DateTimeField(null=True, blank=True)
    destroy_requested_at = models.DateTimeField(null=True, blank=True)
    destroyed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=["active", "retired", "destroying", "destroyed"]),
                name="datakey_state_valid",
                violation_error_message="Not a state a data key can be in.",
            ),
            # Two processes sealing the first secret of a scope at once agree on one key.
            models.UniqueConstraint(
                fields=["scope"],
                condition=Q(state="active"),
                name="datakey_one_active_per_scope",
                violation_error_message="This scope already has an active data key.",
            ),
        ]
        indexes = [
            models.Index(fields=["scope"], name="datakey_scope"),
            models.Index(fields=["state", "kek_id"], name="datakey_state_kek"),
        ]

    def __str__(self) -> str:
        return f"data key {self.pk} of {self.scope} ({self.state})"


class LegalHold(models.Model):
    """A legal hold on a tenant or one site: while it is active (not released), retention
    prunes none of the held snapshots and offboarding erases nothing (docs/encryption.md)."""

    tenant = models.ForeignKey(
        Tenant, null=True, blank=True, on_delete=models.PROTECT, related_name="legal_holds"
    )
    site = models.ForeignKey(
        JiraSite, null=True, blank=True, on_delete=models.PROTECT, related_name="legal_holds"
    )
    reason = models.CharField(max_length=500)
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    placed_at = models.DateTimeField(auto_now_add=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    released_at = models.DateTimeField(null=True, blank=True)
    release_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-placed_at"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(tenant__isnull=False, site__isnull=True))
                | (Q(tenant__isnull=True, site__isnull=False)),
                name="legalhold_tenant_xor_site",
                violation_error_message="A legal hold is on a tenant or on one site, not both.",
            ),
            models.CheckConstraint(
                condition=~Q(reason=""),
                name="legalhold_reason",
                violation_error_message="A legal hold needs a reason.",
            ),
        ]

    def __str__(self) -> str:
        what = f"tenant {self.tenant}" if self.tenant_id else f"site {self.site}"
        return f"legal hold on {what}" + (" (released)" if self.released_at else "")

    @property
    def active(self) -> bool:
        return self.released_at is None
