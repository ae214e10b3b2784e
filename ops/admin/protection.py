"""Admin of protection: each tenant's policy override (saved through the service: validated,
audited) and the incidents (read-only: they open and close by themselves)."""

from __future__ import annotations

from django import forms
from django.contrib import admin

from backups.models import Incident, ProtectionPolicy
from backups.protection.policy import OVERRIDABLE, PolicyRefused, protection_policy_set


class ProtectionPolicyForm(forms.ModelForm):
    notify_emails = forms.CharField(
        required=False,
        help_text="Comma-separated addresses told besides (or instead of) owners and admins.",
    )

    class Meta:
        model = ProtectionPolicy
        fields = ["tenant", *OVERRIDABLE]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["notify_emails"] = ", ".join(self.instance.notify_emails or [])

    def clean_notify_emails(self) -> list[str]:
        return [e.strip() for e in self.cleaned_data["notify_emails"].split(",") if e.strip()]


@admin.register(ProtectionPolicy)
class ProtectionPolicyAdmin(admin.ModelAdmin):
    form = ProtectionPolicyForm
    list_display = ["tenant", "interval_hours", "keep_last", "notify_admins", "weekly_report"]
    autocomplete_fields = ["tenant"]
    search_fields = ["tenant__slug", "tenant__name"]

    def save_model(self, request, obj, form, change):
        values = {name: form.cleaned_data.get(name) for name in OVERRIDABLE}
        values["notify_emails"] = form.cleaned_data.get("notify_emails") or []
        try:
            saved = protection_policy_set(
                tenant=form.cleaned_data["tenant"], acting_user=request.user, **values
            )
        except PolicyRefused as exc:
            self.message_user(request, str(exc), level="error")
            return
        obj.pk = saved.pk
        obj.refresh_from_db()


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = ["opened_at", "site", "kind", "detail", "status", "closed_at", "notified_at"]
    list_filter = ["status", "kind"]
    list_select_related = ["site"]
    fields = [
        "site",
        "kind",
        "detail",
        "status",
        "reason",
        "opened_at",
        "closed_at",
        "notified_at",
        "recovery_notified_at",
    ]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
