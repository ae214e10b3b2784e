"""How the console shows things, in one place: a tenant by its name on one line, long text cut
to a line with the whole of it on hover, moments in the one date-time format, and objects by
a label a person reads ("Full backup #8 of acme.atlassian.net"), not by their internals.

Change pages of the objects given a ``label`` here use ``admin/ops/change_form.html``, which
puts the label in the page's heading and its breadcrumbs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from urllib.parse import urlsplit

from django.contrib import admin
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.html import format_html

DASH = "-"  # what the admin shows for an empty value


def when(value: datetime | None) -> str:
    return date_format(value, "DATETIME_FORMAT") if value else DASH


def host(url: str) -> str:
    """``https://acme.atlassian.net`` → ``acme.atlassian.net`` (a sandbox URL keeps its path)."""
    parts = urlsplit(url or "")
    return (parts.netloc + parts.path.rstrip("/")) or url


def one_line(text: str, *, css: str = "") -> str:
    """Text kept on one line (the table scrolls rather than wrap a name into three lines)."""
    return format_html('<span class="nowrap {}">{}</span>', css, text) if text else DASH


def clipped(text: str, *, narrow: bool = False) -> str:
    """Long free text (a reason, an error) cut to one line; the whole of it on hover."""
    if not text:
        return DASH
    css = "clip narrow" if narrow else "clip"
    return format_html('<span class="{}" title="{}">{}</span>', css, text, text)


def admin_link(obj, text: str) -> str:
    opts = obj._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, text)


def tenant_column(path: str, description: str = "tenant") -> Callable:
    """A changelist column: the tenant's name on one line, a long one cut short (name and slug
    on hover), reached through ``path`` (e.g. ``site__tenant``); sortable by name."""
    attributes = path.split("__")

    @admin.display(description=description, ordering=f"{path}__name")
    def column(self, obj) -> str:
        tenant = obj
        for attribute in attributes:
            tenant = getattr(tenant, attribute, None)
        if tenant is None:
            return DASH
        return format_html(
            '<span class="clip narrow" title="{} · {}">{}</span>',
            tenant.name,
            tenant.slug,
            tenant.name,
        )

    return column


def site_column(path: str = "", description: str = "site") -> Callable:
    """A changelist column: a site by its host ("acme.atlassian.net"), a long one wrapped at its
    hyphens and dots rather than widening the table; reached through ``path`` ("" for the site
    itself); sortable by URL."""
    attributes = [a for a in path.split("__") if a]

    @admin.display(description=description, ordering=f"{path}__url" if path else "url")
    def column(self, obj) -> str:
        site = obj
        for attribute in attributes:
            site = getattr(site, attribute, None)
        if site is None:
            return DASH
        return format_html('<span class="host" title="{}">{}</span>', site.url, host(site.url))

    return column


def status_badge(value: str, label: str) -> str:
    """A status as a coloured word (the colour follows the value: see ops/static/ops/admin.css)."""
    return format_html('<span class="status status-{}">{}</span>', value, label)


class LabelledChangePage:
    """Mixed into a ModelAdmin whose objects need a better name on their page than ``str()``:
    ``label(obj)`` heads the page and ends the breadcrumbs."""

    change_form_template = "admin/ops/change_form.html"

    def label(self, obj) -> str:
        return str(obj)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        extra = {"object_label": self.label(obj)} if obj is not None else {}
        if obj is not None:
            extra["subtitle"] = extra["object_label"]
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})
