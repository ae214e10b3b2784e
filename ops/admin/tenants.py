"""Support staff's view of tenants and credentials.

Every save goes through ``tenants.services`` (so it is audited); secret-bearing models are
read-only here and show "stored" / "none" / "purged" instead of any part of a secret. Nothing
here can create a legacy credential, and the audit log cannot be edited.
"""

from __future__ import annotations

import re

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Count, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils.html import format_html

from atlassian.models import PoolQuota
from ops.admin import tenant_actions as admin_actions
from ops.display import clipped, host, one_line, site_column, status_badge, tenant_column
from ops.filters import tenant_filter
from tenants import services
from tenants.brownouts import brownout_window_delete, brownout_window_save
from tenants.exceptions import DomainError
from tenants.models import (
    AuditEvent,
    BrownoutWindow,
    GrantSite,
    JiraSite,
    LegacyCredential,
    Membership,
    MigrationCase,
    MigrationNotice,
    OAuthGrant,
    Tenant,
    User,
)

admin.site.register(User, UserAdmin)


def _adopt(obj, saved) -> None:
    """Make the admin's instance the row the service saved (the admin redirects by its pk)."""
    for field in obj._meta.concrete_fields:
        setattr(obj, field.attname, getattr(saved, field.attname))
    obj._state.adding = False
    obj._state.db = saved._state.db


class ReadOnlyAdmin(admin.ModelAdmin):
    """View only: rows change through services (actions below), never through a form."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    classes = ["ops-record"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class MembershipInline(admin.TabularInline):
    model = Membership
    classes = ["ops-record"]
    extra = 0
    fields = ["user", "role", "created_at"]
    readonly_fields = ["user", "role", "created_at"]
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class EmailListField(forms.CharField):
    """E-mail addresses typed as people type them: one per line, or separated by commas,
    semicolons or spaces. Cleans to a list (what ``Tenant.contact_emails`` stores)."""

    widget = forms.Textarea(attrs={"rows": 3, "cols": 40})

    def prepare_value(self, value):
        return "\n".join(value) if isinstance(value, list | tuple) else value

    def to_python(self, value):
        if isinstance(value, list | tuple):
            return list(value)
        addresses = []
        # Brackets and quotes too: a list pasted as JSON reads the same.
        for address in re.split(r"[\s,;\[\]\"']+", super().to_python(value) or ""):
            if address and address.lower() not in {a.lower() for a in addresses}:
                addresses.append(address)
        return addresses

    def validate(self, value):
        super().validate(value)
        bad = []
        for address in value:
            try:
                validate_email(address)
            except ValidationError:
                bad.append(address)
        if bad:
            raise ValidationError(
                "Not an e-mail address: %(bad)s. Enter one address per line.",
                params={"bad": ", ".join(bad)},
            )


class TenantAdminForm(forms.ModelForm):
    contact_emails = EmailListField(
        required=False,
        label="Contact e-mails",
        help_text="Who receives migration invitations and notices: one address per line.",
    )

    storage_location = forms.ChoiceField(
        required=False,
        label="Storage location",
        help_text="Where every object of the tenant's backups lives (data residency); chosen "
        "once, at onboarding.",
    )

    class Meta:
        model = Tenant
        fields = ["name", "slug", "contact_emails", "storage_location"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from django.conf import settings

        names = sorted(getattr(settings, "STORAGE_LOCATIONS", {}) or {})
        if "storage_location" not in self.fields:  # read-only once the tenant exists
            return
        self.fields["storage_location"].choices = [("", "default storage")] + [
            (n, n) for n in names
        ]


@admin.register(Tenant)
class TenantAdmin(admin_actions.OpsPermissions, admin.ModelAdmin):
    form = TenantAdminForm
    list_display = ["name", "slug", "status_word", "site_count", "location", "created_at"]
    list_filter = ["status"]
    search_fields = ["name", "slug"]
    readonly_fields = ["status", "status_reason", "created_at", "updated_at"]
    inlines = [MembershipInline]
    actions = [*admin_actions.TENANT_ACTIONS, "reactivate"]

    def get_queryset(self, request):
        # A correlated count: computed for the listed page only, not for every tenant.
        sites = (
            JiraSite.objects.filter(tenant=OuterRef("pk"))
            .order_by()
            .values("tenant")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return (
            super().get_queryset(request).annotate(_site_count=Coalesce(Subquery(sites), Value(0)))
        )

    def get_readonly_fields(self, request, obj=None):
        # The slug is in URLs and storage paths, the location holds the backups: set once.
        return [*self.readonly_fields, "slug", "storage_location"] if obj else self.readonly_fields

    @admin.display(description="storage location", ordering="storage_location")
    def location(self, obj: Tenant) -> str:
        return obj.storage_location or "default"

    @admin.display(description="status", ordering="status")
    def status_word(self, obj: Tenant) -> str:
        return status_badge(obj.status, obj.get_status_display())

    @admin.display(description="sites")
    def site_count(self, obj: Tenant) -> int:
        count = getattr(obj, "_site_count", None)
        return obj.sites.count() if count is None else count

    def save_model(self, request, obj, form, change):
        if change:
            saved = services.tenant_update(
                tenant=obj,
                name=obj.name,
                contact_emails=obj.contact_emails,
                acting_user=request.user,
                request=request,
            )
        else:
            saved = services.tenant_create(
                name=obj.name,
                slug=obj.slug,
                contact_emails=obj.contact_emails,
                storage_location=obj.storage_location,
                acting_user=request.user,
                request=request,
            )
        _adopt(obj, saved)

    def has_delete_permission(self, request, obj=None):
        return False  # offboard instead: deleting would erase the audit trail

    @admin.action(description="Reactivate selected tenants", permissions=["suspend_tenants"])
    def reactivate(self, request, queryset):
        for tenant in queryset:
            try:
                services.tenant_reactivate(tenant=tenant, acting_user=request.user, request=request)
            except DomainError as exc:
                self.message_user(request, str(exc), messages.ERROR)


class MembershipAdminForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ["user", "tenant", "role"]

    def clean(self):
        cleaned = super().clean()
        instance = self.instance
        if instance.pk is None:
            if Membership.objects.filter(
                user=cleaned.get("user"), tenant=cleaned.get("tenant")
            ).exists():
                raise ValidationError("This user is already a member of this tenant.")
        elif (
            instance.role == Membership.Role.OWNER
            and cleaned.get("role") != Membership.Role.OWNER
            and not instance.tenant.memberships.filter(role=Membership.Role.OWNER)
            .exclude(pk=instance.pk)
            .exists()
        ):
            raise ValidationError("A tenant must keep at least one owner.")
        return cleaned


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    form = MembershipAdminForm
    list_display = ["user", "tenant", "role", "created_at"]
    list_filter = ["role", tenant_filter("tenant")]
    search_fields = ["user__username", "user__email", "tenant__name", "tenant__slug"]
    list_select_related = ["user", "tenant"]
    autocomplete_fields = ["user", "tenant"]

    def get_readonly_fields(self, request, obj=None):
        return ["user", "tenant"] if obj else []

    def save_model(self, request, obj, form, change):
        if change:
            saved = services.membership_change_role(
                membership=obj, role=obj.role, acting_user=request.user, request=request
            )
        else:
            saved = services.membership_add(
                tenant=obj.tenant,
                user=obj.user,
                role=obj.role,
                acting_user=request.user,
                request=request,
            )
        _adopt(obj, saved)

    def delete_model(self, request, obj):
        services.membership_remove(membership=obj, acting_user=request.user, request=request)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for membership in queryset:
                services.membership_remove(
                    membership=membership, acting_user=request.user, request=request
                )


class GrantSiteInline(ReadOnlyInline):
    model = GrantSite
    fk_name = "grant"
    fields = ["site", "scopes", "created_at"]
    readonly_fields = fields


class SiteGrantInline(ReadOnlyInline):
    model = GrantSite
    fk_name = "site"
    fields = ["grant", "scopes", "created_at"]
    readonly_fields = fields
    verbose_name_plural = "grants that reach this site"


@admin.register(JiraSite)
class JiraSiteAdmin(admin_actions.OpsPermissions, admin.ModelAdmin):
    # Key columns first (site, tenant, status, credential): they stay in view at 1366 px. The
    # cloud id is searchable and on the site's page.
    list_display = ["site", "tenant_name", "status_word", "credential", "updated_at"]
    list_filter = ["status", "legacy_credential__kind", "tenant"]
    search_fields = ["name", "url", "cloud_id", "tenant__name", "tenant__slug"]
    list_select_related = ["tenant", "grant", "legacy_credential"]
    autocomplete_fields = ["tenant"]
    inlines = [SiteGrantInline]
    actions = admin_actions.SITE_ACTIONS
    _always_readonly = [
        "grant",
        "legacy_credential",
        "rate_limit_pool",
        "status_changed_at",
        "created_at",
        "updated_at",
    ]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["tenant", "cloud_id", "url", "name"]
        return [
            "tenant",
            "cloud_id",
            "url",
            "name",
            "status",
            "status_reason",
            *self._always_readonly,
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        # Identity and credential change through the connect flow and the wizard only.
        return ["tenant", "cloud_id", "url", "name", *self._always_readonly]

    tenant_name = tenant_column("tenant")

    site = site_column()

    @admin.display(description="status", ordering="status")
    def status_word(self, obj: JiraSite) -> str:
        return status_badge(obj.status, obj.get_status_display())

    @admin.display(description="rate-limit pool")
    def rate_limit_pool(self, obj: JiraSite) -> str:
        # Tier 2: the site's own pool (set with the "Set Atlassian rate-limit tier" action or
        # learned from Atlassian's headers); Tier 1: the app's global pool.
        quota = PoolQuota.objects.filter(cloud_id=obj.cloud_id).first()
        if not obj.grant_id:
            return "Legacy credential: its own API-token limits"
        if quota is None:
            return "Tier 1: the app's global pool"
        plan = f", {quota.get_plan_display()} plan with {quota.users:,} users" if quota.plan else ""
        return (
            f"Tier 2: its own pool, {quota.points_per_hour:,} points/hour"
            f"{plan} ({quota.get_source_display().lower()})"
        )

    @admin.display(description="credential")
    def credential(self, obj: JiraSite) -> str:
        # The kind; its state only when it is not the healthy one (the site's status says
        # the rest).
        if obj.grant_id:
            grant = obj.grant
            state = {"needs_reauth": " (needs re-auth)", "revoked": " (revoked)"}.get(
                grant.status, ""
            )
            return one_line(f"Vendor grant{state}", css="credential-grant")
        if obj.legacy_credential_id:
            legacy = obj.legacy_credential
            kind = "API token" if legacy.kind == legacy.Kind.API_TOKEN else "Own OAuth app"
            state = "" if legacy.status == legacy.Status.ACTIVE else f", {legacy.status}"
            return one_line(f"{kind} (legacy{state})", css="credential-legacy")
        return one_line("None")

    def save_model(self, request, obj, form, change):
        if change:
            services.site_set_status(
                site=obj,
                status=obj.status,
                reason=obj.status_reason,
                acting_user=request.user,
                request=request,
            )
            obj.refresh_from_db()
        else:
            saved = services.site_create(
                tenant=obj.tenant,
                cloud_id=obj.cloud_id,
                url=obj.url,
                name=obj.name,
                acting_user=request.user,
                request=request,
            )
            _adopt(obj, saved)

    def has_delete_permission(self, request, obj=None):
        return False


def _secret_display(name: str, description: str):
    @admin.display(description=description)
    def show(self, obj) -> str:
        return obj.secret_state(name)

    return show


@admin.register(OAuthGrant)
class OAuthGrantAdmin(admin_actions.OpsPermissions, ReadOnlyAdmin):
    # The account and its health first; the account id is searchable and on the grant's page.
    list_display = [
        "account",
        "status_word",
        "refresh_token_state",
        "last_used_at",
        "family_started_at",
        "access_token_expires_at",
    ]
    list_filter = ["status", "grant_sites__site__tenant"]
    search_fields = [
        "account_id",
        "account_email",
        "account_name",
        "grant_sites__site__cloud_id",
        "grant_sites__site__url",
    ]
    fields = [
        "account_id",
        "account_name",
        "account_email",
        "scopes",
        "status",
        "status_reason",
        "status_changed_at",
        "access_token_state",
        "refresh_token_state",
        "access_token_expires_at",
        "family_started_at",
        "last_rotated_at",
        "last_used_at",
        "created_at",
        "updated_at",
    ]
    readonly_fields = fields
    inlines = [GrantSiteInline]
    actions = [*admin_actions.GRANT_ACTIONS, "revoke"]

    access_token_state = _secret_display("access_token", "access token")
    refresh_token_state = _secret_display("refresh_token", "refresh token")

    @admin.display(description="account", ordering="account_name")
    def account(self, obj: OAuthGrant) -> str:
        who = obj.account_email or obj.account_id
        if obj.account_name and obj.account_name != who:
            return format_html('{} <span class="quiet nowrap">{}</span>', who, obj.account_name)
        return who

    @admin.display(description="status", ordering="status")
    def status_word(self, obj: OAuthGrant) -> str:
        return status_badge(obj.status, obj.get_status_display())

    # Destroying a customer's tokens is as final as purging a legacy secret: security admins.
    @admin.action(
        description="Revoke selected grants (destroys their tokens)",
        permissions=["purge_legacy_credentials"],
    )
    def revoke(self, request, queryset):
        for grant in queryset:
            services.grant_revoke(
                grant=grant,
                reason=f"revoked in the admin by {request.user}",
                acting_user=request.user,
                request=request,
            )


@admin.register(GrantSite)
class GrantSiteAdmin(ReadOnlyAdmin):
    list_display = ["grant", "site", "created_at"]
    list_filter = ["site__tenant"]
    search_fields = ["grant__account_id", "grant__account_email", "site__cloud_id", "site__url"]
    list_select_related = ["grant", "site"]
    fields = ["grant", "site", "scopes", "created_at", "updated_at"]
    readonly_fields = fields


@admin.register(LegacyCredential)
class LegacyCredentialAdmin(admin_actions.OpsPermissions, ReadOnlyAdmin):
    list_display = ["credential", "tenant_name", "kind", "status_word", "secret", "created_at"]
    list_filter = ["kind", "status", "secret_withheld", tenant_filter("tenant")]
    search_fields = ["site_url", "email", "client_id", "tenant__name", "tenant__slug"]
    list_select_related = ["tenant"]
    fields = [
        "tenant",
        "kind",
        "status",
        "site_url",
        "email",
        "client_id",
        "api_token_state",
        "client_secret_state",
        "access_token_state",
        "refresh_token_state",
        "secret_withheld",
        "access_token_expires_at",
        "created_at",
        "migrated_at",
        "purged_at",
    ]
    readonly_fields = fields
    # Purging is for security admins only (portal.purge_legacy_credentials), with a reason.
    actions = admin_actions.LEGACY_CREDENTIAL_ACTIONS

    api_token_state = _secret_display("api_token", "API token")
    client_secret_state = _secret_display("client_secret", "client secret")
    access_token_state = _secret_display("access_token", "access token")
    refresh_token_state = _secret_display("refresh_token", "refresh token")

    tenant_name = tenant_column("tenant")

    @admin.display(description="for site", ordering="site_url")
    def credential(self, obj: LegacyCredential) -> str:
        return (
            format_html('<span class="host">{}</span>', host(obj.site_url)) if obj.site_url else "-"
        )

    @admin.display(description="status", ordering="status")
    def status_word(self, obj: LegacyCredential) -> str:
        return status_badge(obj.status, obj.get_status_display())

    @admin.display(description="secret")
    def secret(self, obj: LegacyCredential) -> str:
        if obj.status == LegacyCredential.Status.PURGED:
            return "purged"
        if obj.secret_withheld:
            return "refused (after the cutoff)"
        return "stored" if obj.has_secret else "none"


class MigrationNoticeInline(ReadOnlyInline):
    model = MigrationNotice
    fields = ["kind", "key", "sent_at", "recipients"]
    readonly_fields = fields


@admin.register(MigrationCase)
class MigrationCaseAdmin(admin_actions.OpsPermissions, ReadOnlyAdmin):
    list_display = [
        "site_host",
        "tenant",
        "purpose",
        "state_word",
        "due_at",
        "state_changed_at",
        "reason",
    ]
    list_filter = ["purpose", "state", "site__tenant"]
    search_fields = ["site__name", "site__url", "site__cloud_id", "site__tenant__slug"]
    list_select_related = ["site__tenant"]
    fields = [
        "site",
        "purpose",
        "legacy_credential",
        "state",
        "due_at",
        "failure_reason",
        "exemption_justification",
        "exempted_by",
        "invited_at",
        "opened_at",
        "consented_at",
        "verified_at",
        "cut_over_at",
        "completed_at",
        "failed_at",
        "invite_expired_at",
        "exempt_at",
        "created_at",
    ]
    readonly_fields = fields
    inlines = [MigrationNoticeInline]
    actions = admin_actions.CASE_ACTIONS

    tenant = tenant_column("site__tenant")
    site_host = site_column("site")

    @admin.display(description="state", ordering="state")
    def state_word(self, obj: MigrationCase) -> str:
        return status_badge(obj.state, obj.get_state_display())

    @admin.display(description="reason")
    def reason(self, obj: MigrationCase) -> str:
        return clipped(obj.failure_reason or obj.exemption_justification)


@admin.register(MigrationNotice)
class MigrationNoticeAdmin(ReadOnlyAdmin):
    list_display = ["case", "kind", "key", "sent_at"]
    list_filter = ["kind"]
    search_fields = ["key", "case__site__url", "case__site__cloud_id"]
    list_select_related = ["case__site"]
    fields = ["case", "kind", "key", "recipients", "sent_at"]
    readonly_fields = fields


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    # The request id is searchable and on the event's page.
    list_display = ["created_at", "action", "tenant_name", "target", "who"]
    # The tenant filter is a slug box: a link per tenant does not scale to 10,000 tenants.
    list_filter = ["action", tenant_filter("tenant")]
    search_fields = ["action", "target_repr", "target_object_id", "request_id"]
    list_select_related = ["actor", "tenant"]
    date_hierarchy = "created_at"
    fields = [
        "created_at",
        "actor",
        "action",
        "tenant",
        "target_content_type",
        "target_object_id",
        "target_repr",
        "summary",
        "ip_address",
        "request_id",
    ]
    readonly_fields = fields

    tenant_name = tenant_column("tenant")

    @admin.display(description="target", ordering="target_repr")
    def target(self, obj: AuditEvent) -> str:
        return clipped(obj.target_repr)

    @admin.display(description="actor", ordering="actor__username")
    def who(self, obj: AuditEvent) -> str:
        return clipped(str(obj.actor), narrow=True) if obj.actor_id else "system"


@admin.register(BrownoutWindow)
class BrownoutWindowAdmin(admin.ModelAdmin):
    """Staff schedule windows in which legacy credentials are refused early (see
    ``tenants.brownouts``); saves and deletes go through its services (audited)."""

    list_display = ["starts_at", "ends_at", "reason", "created_by"]
    fields = ["starts_at", "ends_at", "reason", "created_by", "created_at"]
    readonly_fields = ["created_by", "created_at"]
    date_hierarchy = "starts_at"

    def save_model(self, request, obj, form, change):

        brownout_window_save(window=obj, acting_user=request.user, request=request)

    def delete_model(self, request, obj):

        brownout_window_delete(window=obj, acting_user=request.user, request=request)

    def delete_queryset(self, request, queryset):
        for window in queryset:
            self.delete_model(request, window)
