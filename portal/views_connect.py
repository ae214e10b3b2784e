"""Thin views of the connect flow: parse input, check permission, call ``portal.connect``."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseForbidden, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from portal import connect
from portal.connect import ConnectError
from portal.selectors import managing_membership, membership_for
from tenants.models import Tenant


def _error_page(request, error: ConnectError):
    return render(
        request,
        "portal/connect_error.html",
        {"error": error, "tenant": error.tenant},
        status=error.status,
    )


def _managed_tenant(request, slug: str) -> Tenant:
    """Owners/admins only: other members get 403, everyone else 404 (no existence leak)."""
    tenant = get_object_or_404(Tenant, slug=slug)
    if membership_for(user=request.user, tenant=tenant) is None:
        raise Http404("no such customer")
    if managing_membership(user=request.user, tenant=tenant) is None:
        raise PermissionError
    return tenant


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def connect_start(request, tenant_slug: str):
    try:
        tenant = _managed_tenant(request, tenant_slug)
    except PermissionError:
        return HttpResponseForbidden("Only owners and admins of this customer can connect sites.")
    try:
        url = connect.start(request=request, tenant=tenant, user=request.user)
    except ConnectError as error:
        return _error_page(request, error)
    return HttpResponseRedirect(url)


@never_cache
@login_required
@require_http_methods(["GET"])
def connect_callback(request):
    # A state minted by the migration wizard (purpose "migration") returns to the wizard.
    from portal.wizard.views import migration_callback_or_none

    if (migrated := migration_callback_or_none(request)) is not None:
        return migrated
    try:
        state = connect.consume_state(request=request, raw_state=request.GET.get("state"))
        connect.check_membership(state=state, user=request.user)
        error = request.GET.get("error")
        if error == "access_denied":
            return render(
                request, "portal/connect_denied.html", {"tenant": state.tenant}, status=200
            )
        if error:
            raise ConnectError(
                "Atlassian could not complete the authorization "
                f"({error[:60]}). Nothing was connected. Please try again.",
                code="atlassian_error",
                tenant=state.tenant,
            )
        code = request.GET.get("code")
        if not code:
            raise ConnectError(
                "Atlassian's answer carried no authorization code. Nothing was connected.",
                code="code_missing",
                tenant=state.tenant,
            )
        result = connect.exchange(code=code, tenant=state.tenant)
        if len(result.resources) > 1:
            pending = connect.keep_pending(state=state, result=result)
            return redirect("portal:connect_choose", pending_id=pending.pk)
        sites = connect.complete(
            request=request,
            tenant=state.tenant,
            user=request.user,
            result=result,
            chosen_ids=[result.resources[0]["id"]],
        )
    except ConnectError as error:
        return _error_page(request, error)
    return render(request, "portal/connect_done.html", {"tenant": state.tenant, "sites": sites})


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def connect_choose(request, pending_id):
    try:
        pending = connect.load_pending(request=request, pending_id=pending_id)
        tenant = pending.state.tenant
        connect.check_membership(state=pending.state, user=request.user)
        if request.method == "GET":
            return render(
                request, "portal/connect_choose.html", {"tenant": tenant, "pending": pending}
            )
        chosen = request.POST.getlist("site")
        if not chosen:
            return render(
                request,
                "portal/connect_choose.html",
                {
                    "tenant": tenant,
                    "pending": pending,
                    "form_error": "Choose at least one site to connect.",
                },
                status=400,
            )
        result = connect.exchange_from_pending(pending)
        try:
            sites = connect.complete(
                request=request,
                tenant=tenant,
                user=request.user,
                result=result,
                chosen_ids=chosen,
            )
        finally:
            # One attempt per consent: the tokens are not kept around after a decision.
            pending.delete()
    except ConnectError as error:
        return _error_page(request, error)
    return render(request, "portal/connect_done.html", {"tenant": tenant, "sites": sites})
