"""The tenant page's sections: inlines for the rows that point at the tenant (sites, legacy
credentials, audit events) and short read-only tables for the rest (grants, migration cases,
recent jobs and snapshots), each capped at ``ROWS`` with a link to the full filtered list.
No secret is ever shown: credentials show "stored" / "none" / "purged"."""

from __future__ import annotations

from django.contrib import admin
from django.forms.models import BaseInlineFormSet
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from backups.models import BackupJob, Snapshot
from backups.protection.state import STATES, site_rows
from ops.dashboard import changelist
from ops.display import when
from tenants.models import AuditEvent, JiraSite, LegacyCredential, MigrationCase, OAuthGrant

ROWS = 10


class LimitedInlineFormSet(BaseInlineFormSet):
    """Shows the newest ``ROWS`` rows only (the change link of the section lists them all)."""

    def get_queryset(self):
        if not hasattr(self, "_limited"):
            self._limited = super().get_queryset()[:ROWS]
        return self._limited


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True
    formset = LimitedInlineFormSet

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class SiteInline(_ReadOnlyInline):
    model = JiraSite
    fields = ["url", "name", "status", "status_reason", "credential_kind"]
    readonly_fields = fields
    ordering = ["url"]
    verbose_name_plural = f"sites (first {ROWS})"


class LegacyCredentialInline(_ReadOnlyInline):
    model = LegacyCredential
    fields = ["kind", "status", "site_url", "email", "client_id", "secret", "purged_at"]
    readonly_fields = fields
    verbose_name_plural = f"legacy credentials (newest {ROWS}; secrets never shown)"

    @admin.display(description="secret")
    def secret(self, obj: LegacyCredential) -> str:
        if obj.status == LegacyCredential.Status.PURGED:
            return "purged"
        return "stored" if obj.has_secret else "none"


class AuditEventInline(_ReadOnlyInline):
    """Shown only to staff who may read the audit log (``tenants.view_auditevent``)."""

    model = AuditEvent
    classes = ["ops-record"]
    fields = ["created_at", "action", "actor", "target_repr"]
    readonly_fields = fields
    show_change_link = False
    verbose_name_plural = f"audit events (newest {ROWS})"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


def _table(headers: list[str], rows, all_url: str, total: int | None = None) -> str:
    rows = list(rows)
    if not rows:
        return "—"
    head = format_html_join("", "<th>{}</th>", ((h,) for h in headers))
    body = format_html_join(
        "", "<tr>{}</tr>", ((format_html_join("", "<td>{}</td>", ((c,) for c in r)),) for r in rows)
    )
    more = format_html('<a href="{}">all →</a>', all_url)
    return format_html(
        "<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>{}", head, body, more
    )


def _link(obj, text) -> str:
    opts = obj._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, text)


@admin.display(description="vendor grants")
def grants_section(tenant) -> str:
    if tenant.pk is None:
        return "—"
    grants = OAuthGrant.objects.filter(grant_sites__site__tenant=tenant).distinct()[:ROWS]
    return _table(
        ["account", "status", "reason", "family started", "last used"],
        (
            (
                _link(g, g.account_email or g.account_name or g.account_id),
                g.get_status_display(),
                g.status_reason,
                when(g.family_started_at),
                when(g.last_used_at),
            )
            for g in grants
        ),
        changelist(OAuthGrant, tenant=tenant.slug),
    )


@admin.display(description="migration cases")
def cases_section(tenant) -> str:
    if tenant.pk is None:
        return "—"
    cases = MigrationCase.objects.filter(site__tenant=tenant).select_related("site")[:ROWS]
    return _table(
        ["site", "state", "due", "reason"],
        (
            (_link(c, c.site.url), c.get_state_display(), when(c.due_at), c.failure_reason)
            for c in cases
        ),
        changelist(MigrationCase, tenant=tenant.slug),
    )


@admin.display(description="recent backup jobs")
def jobs_section(tenant) -> str:
    if tenant.pk is None:
        return "—"
    jobs = (
        BackupJob.objects.filter(site__tenant=tenant)
        .select_related("site")
        .order_by("-created_at")[:ROWS]
    )
    return _table(
        ["job", "site", "kind", "status", "reason", "created"],
        (
            (
                _link(j, f"#{j.pk}"),
                j.site.url,
                j.kind,
                j.get_status_display(),
                j.status_reason,
                when(j.created_at),
            )
            for j in jobs
        ),
        changelist(BackupJob, tenant=tenant.slug),
    )


@admin.display(description="recent snapshots")
def snapshots_section(tenant) -> str:
    if tenant.pk is None:
        return "—"
    snaps = (
        Snapshot.objects.filter(site__tenant=tenant)
        .select_related("site")
        .order_by("-completed_at")[:ROWS]
    )
    return _table(
        ["snapshot", "site", "kind", "status", "completed", "objects"],
        (
            (
                _link(s, str(s.pk)[:8]),
                s.site.url,
                s.kind,
                s.status,
                when(s.completed_at),
                s.objects_count,
            )
            for s in snaps
        ),
        changelist(Snapshot, tenant=tenant.slug),
    )


@admin.display(description="protection")
def protection_section(tenant) -> str:
    """The same states and figures as the customer's Protection page and the dashboard."""
    if tenant.pk is None:
        return "—"
    every = site_rows(sites=JiraSite.objects.filter(tenant=tenant))
    counts = {state: sum(1 for r in every if r.state == state) for state in STATES}
    summary = ", ".join(f"{n} {state}" for state, n in counts.items() if n) or "no site"
    rows = every[:ROWS]
    table = _table(
        ["site", "state", "why", "last success", "next run", "snapshots", "stored"],
        (
            (
                _link(r.site, r.site.url),
                r.state_label,
                r.detail_label or r.reason,
                when(r.last_success_at),
                when(r.next_run_at),
                r.snapshots,
                filesizeformat(r.stored_bytes),
            )
            for r in rows
        ),
        changelist(JiraSite, tenant=tenant.slug),
    )
    return format_html("<p>{}</p>{}", summary, table)


INLINES = [SiteInline, LegacyCredentialInline, AuditEventInline]
SECTIONS = [protection_section, grants_section, cases_section, jobs_section, snapshots_section]
