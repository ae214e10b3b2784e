from django.contrib import admin

from portal.models import Invitation, OAuthState, SecurityFlag


@admin.register(SecurityFlag)
class SecurityFlagAdmin(admin.ModelAdmin):
    list_display = ["created_at", "kind", "tenant", "other_tenant", "cloud_id", "resolved_at"]
    list_filter = ["kind", "resolved_at"]
    readonly_fields = ["kind", "tenant", "other_tenant", "user", "cloud_id", "detail", "created_at"]


@admin.register(OAuthState)
class OAuthStateAdmin(admin.ModelAdmin):
    # The hashes are not secrets but are useless to staff: show only who/when.
    list_display = ["created_at", "tenant", "user", "purpose", "expires_at", "consumed_at"]
    fields = ["tenant", "user", "purpose", "created_at", "expires_at", "consumed_at"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "tenant", "email", "role", "expires_at", "accepted_at"]
    fields = ["tenant", "email", "role", "invited_by", "expires_at", "accepted_at", "accepted_by"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False
