"""Who may manage a tenant: its owners and admins. One check (``require_tenant_manager``) and one
exception (``NotTenantManager``), used by every page, flow and service of the portal that acts
for a tenant; ``tenant_manager_required`` is the same check as a view decorator."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from portal.exceptions import NotTenantManager
from portal.selectors import managing_membership
from tenants.models import Membership, Tenant, User
from tenants.selectors import membership_for


def require_tenant_manager(*, user: User, tenant: Tenant) -> Membership:
    """The user's owner or admin membership of ``tenant``; ``NotTenantManager`` otherwise."""
    membership = managing_membership(user=user, tenant=tenant)
    if membership is None:
        member = membership_for(user=user, tenant=tenant) is not None
        raise NotTenantManager(tenant=tenant, member=member)
    return membership


def forbidden(request: HttpRequest, error: NotTenantManager) -> HttpResponse:
    """403 for a viewer of the tenant; 404 for anyone else (no existence leak)."""
    if not error.member:
        raise Http404("no such customer")
    return render(request, "portal/forbidden.html", {"tenant": error.tenant}, status=403)


def tenant_manager_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """For views under ``/t/<tenant_slug>/``: the view receives ``tenant`` instead of the slug,
    and runs only for an owner or admin of it."""

    @wraps(view)
    def wrapper(request: HttpRequest, tenant_slug: str, *args, **kwargs) -> HttpResponse:
        tenant = get_object_or_404(Tenant, slug=tenant_slug)
        try:
            require_tenant_manager(user=request.user, tenant=tenant)
        except NotTenantManager as error:
            return forbidden(request, error)
        return view(request, tenant, *args, **kwargs)

    return wrapper
