"""Thin views of the connect flow: parse input, check permission, call ``portal.flows``."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from portal.access import forbidden, tenant_manager_required
from portal.exceptions import ConnectError, NotTenantManager
from portal.flows import callback, oauth
from portal.flows.oauth import Caller
from portal.wizard.views import after_consent


def _error_page(request, error: ConnectError):
    retry_url = None
    if error.retry and error.case is not None:
        retry_url = reverse(
            "wizard:step", args=[error.case.site.tenant.slug, error.case.pk, "authorize"]
        )
    elif error.retry and error.tenant is not None:
        retry_url = reverse("portal:connect_start", args=[error.tenant.slug])
    return render(
        request,
        "portal/connect_error.html",
        {"error": error, "tenant": error.tenant, "retry_url": retry_url},
        status=error.status,
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
@tenant_manager_required
def connect_start(request, tenant):
    """GET shows what happens next and a button; only the POST mints a ``state`` (a link,
    a prefetch or a crawler following the page must not start consents)."""
    try:
        oauth.check_can_connect(tenant)
        if request.method == "GET":
            return render(request, "portal/connect_start.html", {"tenant": tenant})
        url = oauth.start(caller=Caller.of(request), tenant=tenant)
    except ConnectError as error:
        return _error_page(request, error)
    return HttpResponseRedirect(url)


@never_cache
@login_required
@require_http_methods(["GET"])
def connect_callback(request):
    """Atlassian's answer to every consent, the wizard's included (the state says which)."""
    try:
        result = callback.handle_callback(caller=Caller.of(request), params=request.GET)
    except ConnectError as error:
        return _error_page(request, error)
    except NotTenantManager as error:
        return forbidden(request, error)
    if result.case is not None:
        return after_consent(request, result)
    if result.outcome == "denied":
        return render(request, "portal/connect_denied.html", {"tenant": result.tenant})
    if result.outcome == "choose":
        return redirect("portal:connect_choose", pending_id=result.pending.pk)
    return render(
        request, "portal/connect_done.html", {"tenant": result.tenant, "sites": result.sites}
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def connect_choose(request, pending_id):
    caller = Caller.of(request)
    try:
        pending = callback.pending_for(caller=caller, pending_id=pending_id)
        tenant = pending.state.tenant
        context = {"tenant": tenant, "pending": pending}
        if request.method == "GET":
            return render(request, "portal/connect_choose.html", context)
        chosen = request.POST.getlist("site")
        if not chosen:
            context["form_error"] = "Choose at least one site to connect."
            return render(request, "portal/connect_choose.html", context, status=400)
        result = callback.choose_sites(caller=caller, pending=pending, chosen_ids=chosen)
    except ConnectError as error:
        return _error_page(request, error)
    except NotTenantManager as error:
        return forbidden(request, error)
    return render(request, "portal/connect_done.html", {"tenant": tenant, "sites": result.sites})
