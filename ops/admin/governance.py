"""Legal holds and the evidence of erased tenants (issue 22).

A hold is placed from its add form (on a tenant or one site, with a reason) and released with
the "Release" action (a reason, on the confirmation page); both go through the services, which
audit them. Erasure records are read-only evidence."""

from __future__ import annotations

from django import forms
from django.contrib import admin

from backups.models import TenantErasure
from kit.outcomes import BulkOutcome
from ops.actions import ReasonForm, confirm_then_run
from ops.admin.tenant_actions import OpsPermissions
from tenants.exceptions import DomainError
from tenants.models import LegalHold
from tenants.services import legal_hold_place, legal_hold_release


class LegalHoldForm(forms.ModelForm):
    class Meta:
        model = LegalHold
        fields = ["tenant", "site", "reason"]

    def clean(self):
        cleaned = super().clean()
        if bool(cleaned.get("tenant")) == bool(cleaned.get("site")):
            raise forms.ValidationError("Choose a tenant or one site, not both and not neither.")
        if not (cleaned.get("reason") or "").strip():
            raise forms.ValidationError("A legal hold needs a reason.")
        return cleaned


def release_holds(queryset, *, reason: str, acting_user, request=None) -> BulkOutcome:
    outcome = BulkOutcome("legal holds released", one="legal hold released")
    for hold in queryset:
        try:
            legal_hold_release(hold=hold, reason=reason, acting_user=acting_user, request=request)
        except DomainError as exc:
            outcome.skip(str(hold), str(exc))
        else:
            outcome.ok(str(hold))
    return outcome


@admin.action(permissions=["manage_retention"], description="Release legal hold")
def release(modeladmin, request, queryset):
    return confirm_then_run(
        modeladmin,
        request,
        queryset,
        title="Release legal holds",
        explanation="Retention and offboarding erasure resume for what these holds covered.",
        form_class=ReasonForm,
        danger=True,
        perform=lambda qs, data: release_holds(
            qs, reason=data["reason"], acting_user=request.user, request=request
        ),
    )


@admin.register(LegalHold)
class LegalHoldAdmin(OpsPermissions, admin.ModelAdmin):
    form = LegalHoldForm
    list_display = ["__str__", "reason", "placed_at", "placed_by", "released_at"]
    list_filter = [("released_at", admin.EmptyFieldListFilter)]
    list_select_related = ["tenant", "site", "placed_by"]
    autocomplete_fields = ["tenant", "site"]
    actions = [release]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return [f.name for f in LegalHold._meta.fields]

    def has_add_permission(self, request):
        return self.has_manage_retention_permission(request)

    def has_change_permission(self, request, obj=None):
        return obj is None and self.has_manage_retention_permission(request)

    def has_delete_permission(self, request, obj=None):
        return False  # released, never deleted: the hold is part of the audit trail

    def save_model(self, request, obj, form, change):
        hold = legal_hold_place(
            tenant=form.cleaned_data.get("tenant"),
            site=form.cleaned_data.get("site"),
            reason=form.cleaned_data["reason"],
            acting_user=request.user,
            request=request,
        )
        obj.pk, obj.placed_at = hold.pk, hold.placed_at


@admin.register(TenantErasure)
class TenantErasureAdmin(admin.ModelAdmin):
    list_display = [
        "tenant",
        "status",
        "offboarded_at",
        "finished_at",
        "snapshots_erased",
        "objects_deleted",
        "bytes_deleted",
    ]
    list_filter = ["status"]
    list_select_related = ["tenant"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in TenantErasure._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return obj is None and request.user.is_staff

    def has_delete_permission(self, request, obj=None):
        return False
