"""Staff actions on tenants, sites, grants, migration cases and legacy credentials.

Every action shows a confirmation page (``ops.actions.confirm_then_run``), is offered
only to staff holding its permission (``@admin.action(permissions=[...])`` checked through the
``has_<x>_permission`` methods of ``OpsPermissions``), and calls the same bulk helper the
management commands call (``ops.bulk``), which calls one service per row.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin

from atlassian.models import PoolQuota
from ops import bulk
from ops.actions import ReasonForm, confirm_then_run


class OpsPermissions:
    """Mixed into a ModelAdmin: one ``has_<x>_permission`` per staff operation (the
    permissions live on ``portal.Operations``; roles are groups, see ``ops.roles``)."""

    def _ops(self, request, codename: str) -> bool:
        return request.user.is_active and request.user.has_perm(f"ops.{codename}")

    def has_send_invitations_permission(self, request) -> bool:
        return self._ops(request, "send_invitations")

    def has_run_backups_permission(self, request) -> bool:
        return self._ops(request, "run_backups")

    def has_refresh_grants_permission(self, request) -> bool:
        return self._ops(request, "refresh_grants")

    def has_exempt_migration_cases_permission(self, request) -> bool:
        return self._ops(request, "exempt_migration_cases")

    def has_suspend_tenants_permission(self, request) -> bool:
        return self._ops(request, "suspend_tenants")

    def has_restore_permission(self, request) -> bool:
        return self._ops(request, "restore")

    def has_manage_retention_permission(self, request) -> bool:
        return self._ops(request, "manage_retention")

    def has_purge_legacy_credentials_permission(self, request) -> bool:
        return self._ops(request, "purge_legacy_credentials")

    def has_rotate_keys_permission(self, request) -> bool:
        return self._ops(request, "rotate_keys")


@admin.action(permissions=["send_invitations"], description="Send migration invitation or reminder")
def send_invitations(modeladmin, request, queryset):
    return confirm_then_run(
        modeladmin,
        request,
        queryset,
        title="Send migration invitations or reminders",
        explanation=(
            "Cases not invited yet get the invitation; invited ones get a reminder. A notice "
            "already sent today is not sent again; completed and exempt cases are skipped."
        ),
        perform=lambda qs, data: bulk.send_invitations_or_reminders(
            bulk.cases_for(qs), acting_user=request.user, request=request
        ),
    )


@admin.action(
    permissions=["send_invitations"],
    description="Invite to re-consent for Jira Software (boards, sprints)",
)
def invite_reconsent(modeladmin, request, queryset):
    return confirm_then_run(
        modeladmin,
        request,
        queryset,
        title="Invite to re-consent for Jira Software's scopes",
        explanation=(
            "Each active site whose vendor grant lacks Jira Software's scopes gets a re-consent "
            f"case due in {bulk.RECONSENT_DUE_DAYS} days and its invitation (the migration "
            "campaign's e-mail, reminders and funnel, without the legacy part). Sites whose "
            "grant already carries them, or not on the vendor grant, are skipped; a case "
            "already invited is left to the reminders."
        ),
        perform=lambda qs, data: bulk.send_reconsent_invitations(
            bulk.sites_for(qs), acting_user=request.user, request=request
        ),
    )


@admin.action(permissions=["refresh_grants"], description="Refresh vendor grant now")
def refresh_grants(modeladmin, request, queryset):
    return confirm_then_run(
        modeladmin,
        request,
        queryset,
        title="Refresh vendor grants now",
        explanation=(
            "Each active grant behind the selection exchanges its refresh token now. A grant "
            "Atlassian refuses becomes 'needs re-authorization' and its owners are told."
        ),
        perform=lambda qs, data: bulk.refresh_grants(bulk.grants_for(qs)),
    )


class ExemptForm(ReasonForm):
    reason = forms.CharField(
        label="Justification",
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=2000,
        help_text="Why these sites keep their legacy connection; you are recorded as approver.",
    )


@admin.action(permissions=["exempt_migration_cases"], description="Mark exempt from migration")
def mark_exempt(modeladmin, request, queryset):
    return confirm_then_run(
        modeladmin,
        request,
        queryset,
        title="Exempt sites from migration",
        explanation="The selected cases stop counting as due; the sites keep their legacy access.",
        form_class=ExemptForm,
        perform=lambda qs, data: bulk.mark_exempt(
            bulk.cases_for(qs),
            justification=data["reason"],
            acting_user=request.user,
            request=request,
        ),
    )


@admin.action(permissions=["suspend_tenants"], description="Suspend tenant")
def suspend_tenants(modeladmin, request, queryset):
    return confirm_then_run(
        modeladmin,
        request,
        queryset,
        title="Suspend tenants",
        explanation="Suspended tenants' sites are not backed up until the tenant is reactivated.",
        form_class=ReasonForm,
        danger=True,
        perform=lambda qs, data: bulk.suspend_tenants(
            qs, reason=data["reason"], acting_user=request.user, request=request
        ),
    )


class PurgeForm(ReasonForm):
    include_unverified = forms.BooleanField(
        required=False,
        label="Also purge credentials not verified as migrated",
        help_text="Sites still using them lose their connection and need re-authorization.",
    )


@admin.action(
    permissions=["purge_legacy_credentials"],
    description="Purge legacy credential (crypto-shred its secrets)",
)
def purge_legacy_credentials(modeladmin, request, queryset):
    def perform(qs, data):
        confirmed = [str(pk) for pk in qs.values_list("pk", flat=True)]
        return bulk.purge_legacy_credentials(
            qs.select_related("tenant"),
            reason=data["reason"],
            acting_user=request.user,
            confirmed=confirmed if data.get("include_unverified") else (),
            request=request,
        )

    return confirm_then_run(
        modeladmin,
        request,
        queryset,
        title="Purge legacy credentials",
        explanation=(
            "The secrets are destroyed for good (the ciphertext columns are set to NULL). "
            "Credentials whose site has not cut over to the vendor app are skipped unless you "
            "tick the box below."
        ),
        form_class=PurgeForm,
        danger=True,
        perform=perform,
    )


class PoolForm(forms.Form):
    plan = forms.ChoiceField(
        label="Atlassian plan",
        choices=[("", "Tier 1: the app's global pool"), *PoolQuota.Plan.choices],
        required=False,
        help_text=(
            "Tier 2 (after Atlassian's review) gives the site its own hourly pool: Free 65,000; "
            "Standard 100,000 + 10 x users; Premium 130,000 + 20 x users; Enterprise "
            "150,000 + 30 x users; capped at 500,000."
        ),
    )
    users = forms.IntegerField(label="Users on the site", min_value=0, initial=0, required=False)


@admin.action(permissions=["manage_retention"], description="Set Atlassian rate-limit tier")
def set_pools(modeladmin, request, queryset):
    return confirm_then_run(
        modeladmin,
        request,
        queryset,
        title="Set the sites' Atlassian rate-limit tier",
        explanation=(
            "Each site's backups, restores and checks then draw on that pool; the quota "
            "planner and the dashboard count it there. What Atlassian's RateLimit-Policy "
            "header says later wins."
        ),
        form_class=PoolForm,
        perform=lambda qs, data: bulk.set_pools(
            qs.select_related("tenant"),
            plan=data.get("plan") or "",
            users=data.get("users") or 0,
            acting_user=request.user,
            request=request,
        ),
    )


TENANT_ACTIONS = [send_invitations, invite_reconsent, refresh_grants, suspend_tenants]
SITE_ACTIONS = [send_invitations, invite_reconsent, refresh_grants, set_pools]
GRANT_ACTIONS = [refresh_grants]
CASE_ACTIONS = [send_invitations, mark_exempt]
LEGACY_CREDENTIAL_ACTIONS = [purge_legacy_credentials]
