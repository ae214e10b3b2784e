"""Portal-only state: one-time OAuth ``state`` values, a connect flow waiting for the user to
choose sites, and teammate invitations.

Nothing here is a credential we keep: a ``PendingConnection`` holds the tokens of one code
exchange (encrypted) for at most ten minutes, until the user picks the sites to connect; it is
deleted as soon as the grant is stored or the attempt fails.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from tenants.fields import EncryptedSecret


class OAuthState(models.Model):
    """A one-time ``state`` for the authorize redirect, bound to session, user, tenant and
    purpose. Only a SHA-256 of the value is stored; ``consumed_at`` makes replays detectable.

    The purpose tells the one callback what the consent is for: connecting sites (the connect
    page), or moving ``migration_case``'s legacy site to the vendor app (the wizard)."""

    class Purpose(models.TextChoices):
        CONNECT = "connect", "Connect Jira sites"
        MIGRATION = "migration", "Move a legacy site to the vendor app"

    token_hash = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    # A hash of the session key: the session key is a bearer secret of its own.
    session_key_hash = models.CharField(max_length=64)
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    purpose = models.CharField(max_length=16, choices=Purpose.choices, default=Purpose.CONNECT)
    migration_case = models.ForeignKey(
        "tenants.MigrationCase",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    consumed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "OAuth state"
        indexes = [models.Index(fields=["expires_at"], name="oauthstate_expires")]
        constraints = [
            models.CheckConstraint(
                condition=Q(purpose__in=["connect", "migration"]),
                name="oauthstate_purpose",
                violation_error_message="Not a purpose an authorization can be started for.",
            ),
            # A migration consent names its case; a plain connect names none.
            models.CheckConstraint(
                condition=(
                    Q(purpose="migration", migration_case__isnull=False)
                    | Q(purpose="connect", migration_case__isnull=True)
                ),
                name="oauthstate_case_iff_migration",
                violation_error_message="A migration consent names its case; a connection none.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.purpose} state for {self.tenant_id} ({self.created_at:%Y-%m-%d %H:%M})"


class PendingConnection(models.Model):
    """The result of a code exchange whose grant reaches several sites, waiting (ten minutes at
    most) for the user to choose which to connect. Tokens are encrypted at rest."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    state = models.OneToOneField(OAuthState, on_delete=models.CASCADE, related_name="pending")
    account_id = models.CharField(max_length=128)
    account_name = models.CharField(max_length=200, blank=True)
    account_email = models.EmailField(blank=True)
    scopes = models.JSONField(default=list, blank=True)
    # [{"id": cloud id, "name", "url", "scopes"}] as accessible-resources listed them.
    resources = models.JSONField(default=list, blank=True)
    access_token_ciphertext = models.TextField(null=True, blank=True, editable=False)
    refresh_token_ciphertext = models.TextField(null=True, blank=True, editable=False)
    access_token_expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()

    access_token = EncryptedSecret("access_token_ciphertext")
    refresh_token = EncryptedSecret("refresh_token_ciphertext")

    def __str__(self) -> str:
        return f"pending connection of {self.account_email or self.account_id}"

    def __repr__(self) -> str:
        return f"<PendingConnection {self.pk} account={self.account_id}>"


class Invitation(models.Model):
    """A tenant owner or admin invites a teammate by email with a role. Only a hash of the
    invitation token is stored; the link in the email carries the token itself."""

    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        ADMIN = "admin", "Admin"
        VIEWER = "viewer", "Viewer"

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(role__in=["owner", "admin", "viewer"]),
                name="invitation_role_valid",
                violation_error_message="A teammate is invited as an owner, an admin or a viewer.",
            ),
        ]

    def __str__(self) -> str:
        return f"invitation of {self.email} to {self.tenant_id} as {self.role}"


class SecurityFlag(models.Model):
    """Something staff should look at, raised by a customer-facing flow (shown in the admin)."""

    class Kind(models.TextChoices):
        SITE_CLAIMED_BY_OTHER_TENANT = "site_other_tenant", "Site claimed by another tenant"

    kind = models.CharField(max_length=32, choices=Kind.choices)
    tenant = models.ForeignKey(
        "tenants.Tenant", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    other_tenant = models.ForeignKey(
        "tenants.Tenant", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cloud_id = models.CharField(max_length=64, blank=True)
    detail = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.cloud_id})"
