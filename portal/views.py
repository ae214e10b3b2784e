from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from portal import arrivals, health
from portal.access import tenant_manager_required
from portal.exceptions import InvitationError
from portal.invitations import (
    invitation_accept,
    invitation_create,
    invitation_for_token,
)
from portal.models import Invitation
from portal.selectors import invitations_waiting, memberships_of
from tenants.models import Membership, Tenant


@require_GET
@never_cache
def healthz(request):
    results = health.run_checks()
    failing = sorted(name for name, status in results.items() if status != "ok")
    body = {"status": "ok" if not failing else "unavailable", "checks": results}
    if failing:
        body["failing"] = failing
    return JsonResponse(body, status=503 if failing else 200)


@login_required
def home(request):
    memberships = memberships_of(user=request.user)
    tenants_with_legacy = {
        m.tenant.slug
        for m in memberships
        if any(site.legacy_credential_id for site in m.tenant.sites.all())
    }
    return render(
        request,
        "portal/home.html",
        {
            "memberships": memberships,
            "tenants_with_legacy": tenants_with_legacy,
            "invitations": invitations_waiting(user=request.user),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
@tenant_manager_required
def members(request, tenant: Tenant):
    form_error = ""
    if request.method == "POST":
        try:
            invitation = invitation_create(
                tenant=tenant,
                email=request.POST.get("email", ""),
                role=request.POST.get("role", ""),
                acting_user=request.user,
                request=request,
            )
        except InvitationError as exc:
            form_error = str(exc)
        else:
            messages.success(request, f"Invitation sent to {invitation.email}.")
            return redirect("portal:members", tenant_slug=tenant.slug)
    context = {
        "tenant": tenant,
        "memberships": Membership.objects.filter(tenant=tenant).select_related("user"),
        "invitations": Invitation.objects.filter(tenant=tenant, accepted_at__isnull=True),
        "roles": Invitation.Role.choices,
        "form_error": form_error,
    }
    return render(request, "portal/members.html", context, status=400 if form_error else 200)


@never_cache
@require_http_methods(["GET", "POST"])
def invitation_accept_view(request, token: str):
    """A teammate invitation's link. Signed out, it names the invitation and offers to sign up
    (the invited address filled in) or sign in, both coming back here (``portal.arrivals``);
    signed in, the invitee accepts by the button, or at once when this session arrived signed
    out by this link."""
    try:
        invitation = invitation_for_token(token)
        if not request.user.is_authenticated:
            arrivals.remember(
                request,
                tenant=invitation.tenant.name,
                purpose=f"join {invitation.tenant.name} as {invitation.get_role_display().lower()}",
            )
            links = arrivals.entrance_links(request, email=invitation.email)
            return render(request, "portal/invitation.html", {"invitation": invitation, **links})
        if request.method == "POST" or arrivals.arrived_by(request):
            invitation_accept(raw_token=token, acting_user=request.user, request=request)
            arrivals.forget(request)
            messages.success(request, f"You joined {invitation.tenant.name}.")
            return redirect("portal:home")
    except InvitationError as exc:
        arrivals.forget(request)
        return render(request, "portal/invitation.html", {"error": str(exc)}, status=400)
    return render(request, "portal/invitation.html", {"invitation": invitation})
