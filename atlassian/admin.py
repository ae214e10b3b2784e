"""Read-only views of our Atlassian traffic for support staff."""

from django.contrib import admin

from atlassian.models import CallStat, RateLimitHold


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CallStat)
class CallStatAdmin(ReadOnlyAdmin):
    list_display = (
        "hour",
        "site_cloud_id",
        "pool",
        "credential_kind",
        "endpoint_family",
        "status_class",
        "requests",
        "points",
    )
    list_filter = ("credential_kind", "status_class", "pool")
    search_fields = ("site_cloud_id", "endpoint_family")
    date_hierarchy = "hour"


@admin.register(RateLimitHold)
class RateLimitHoldAdmin(ReadOnlyAdmin):
    list_display = ("key", "not_before", "reason", "updated_at")
    search_fields = ("key",)
