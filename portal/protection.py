"""The customer's "Protection" page (``/t/<slug>/protection/``): each site's protection state
(``backups.protection.state``, the figures every other page shows), its last successful backup,
next run, snapshots and stored size, and the one action that fixes a problem. Members see it;
owners and admins may act (run a backup now; re-authorize and move-to-our-app are links to the
connect flow and the migration wizard, which check the role themselves)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from backups.models import BackupJob, SiteProtection
from backups.protection.state import STATES, active_job_sites, site_rows
from backups.services import BackupRefused, backup_job_enqueue
from portal.selectors import managing_membership
from tenants.models import JiraSite, Tenant
from tenants.selectors import membership_for

S = SiteProtection.State


def action_for(row, *, tenant: Tenant, can_manage: bool, running: bool) -> dict | None:
    """The one action that fixes the site's problem: {"label", "url"} or {"label", "post"}."""
    if row.state == S.PROTECTED or running:
        return None
    if not can_manage and row.state in (S.PAUSED, S.FAILING, S.OVERDUE, S.DISCONNECTED):
        return {"label": "Ask an owner or admin of your account to fix it", "note": True}
    if row.state == S.PAUSED and row.detail == "legacy_cutoff":
        return {"label": "Move to our app", "url": reverse("wizard:list", args=[tenant.slug])}
    if row.state in (S.PAUSED, S.DISCONNECTED):
        label = "Re-authorize" if row.state == S.PAUSED else "Connect again"
        return {"label": label, "url": reverse("portal:connect_start", args=[tenant.slug])}
    if row.state in (S.FAILING, S.OVERDUE):
        return {"label": "Run a backup now", "post": row.site.pk}
    return {"label": "Contact support", "url": f"mailto:{settings.SUPPORT_EMAIL}"}


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def protection(request, tenant_slug: str):
    tenant = get_object_or_404(Tenant, slug=tenant_slug)
    if membership_for(user=request.user, tenant=tenant) is None:
        raise Http404("no such customer")
    can_manage = managing_membership(user=request.user, tenant=tenant) is not None
    if request.method == "POST":
        if not can_manage:
            return HttpResponseForbidden("Only owners and admins can start a backup.")
        return _run_now(request, tenant)
    rows = site_rows(sites=JiraSite.objects.filter(tenant=tenant))
    running = active_job_sites(r.site.pk for r in rows)
    lines = [
        {
            "row": row,
            "running": row.site.pk in running,
            "action": action_for(
                row, tenant=tenant, can_manage=can_manage, running=row.site.pk in running
            ),
        }
        for row in rows
    ]
    # Counted from the rows shown, so the page never disagrees with itself.
    counts = {state: 0 for state in STATES}
    for row in rows:
        if row.state in counts:
            counts[row.state] += 1
    context = {
        "tenant": tenant,
        "lines": lines,
        "counts": [(S(s).label, counts[s], s) for s in STATES],
        "not_protected": sum(n for s, n in counts.items() if s != S.PROTECTED),
        "can_manage": can_manage,
    }
    return render(request, "portal/protection.html", context)


def _run_now(request, tenant: Tenant):
    site = JiraSite.objects.filter(tenant=tenant, pk=request.POST.get("site") or 0).first()
    if site is None:
        raise Http404("no such site")
    try:
        _job, created = backup_job_enqueue(
            site=site, kind=BackupJob.Kind.INCREMENTAL, acting_user=request.user
        )
    except BackupRefused as exc:
        messages.error(request, f"No backup was started: {exc}")
    else:
        if created:
            messages.success(request, f"A backup of {site.url} has started.")
        else:
            messages.info(request, f"A backup of {site.url} is already running.")
    return redirect("portal:protection", tenant_slug=tenant.slug)
