"""Thin views of the migration wizard: parse input, check permission, call
``portal.flows.migration``.

Server-rendered, no JavaScript needed: every action is a plain form POST followed by a
redirect to the case's current step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from portal import arrivals
from portal.access import tenant_manager_required
from portal.exceptions import WizardError
from portal.flows import migration as flow
from portal.flows.oauth import Caller
from portal.selectors import has_verified_email, managing_membership
from tenants.models import LegacyCredential, Membership, MigrationCase, Tenant
from tenants.scopes import SOFTWARE_SCOPES, requested_scopes, required_scopes
from tenants.selectors import membership_for
from tenants.services.campaigns import (
    InviteLinkExpired,
    InviteLinkInvalid,
    case_deadline,
    read_invite_token,
)
from tenants.services.migration import migration_case_mark_opened
from tenants.services.tenants import membership_add

if TYPE_CHECKING:
    from portal.flows.callback import CallbackResult


def _case(tenant: Tenant, case_id: int) -> MigrationCase:
    return get_object_or_404(
        MigrationCase.objects.select_related("site__tenant", "legacy_credential"),
        pk=case_id,
        site__tenant=tenant,
    )


def _step_url(case: MigrationCase, step: str) -> str:
    return reverse("wizard:step", args=[case.site.tenant.slug, case.pk, step])


def _render_step(request, case: MigrationCase, step: str, *, status: int = 200, **extra):
    credential = case.legacy_credential
    steps = flow.steps_for(case)
    context = {
        "case": case,
        "site": case.site,
        "tenant": case.site.tenant,
        "deadline": case_deadline(case),
        "steps": [
            {"key": key, "label": label, "number": n, "url": _step_url(case, key)}
            for n, (key, label) in enumerate(steps, start=1)
        ],
        "current": step,
        "current_number": [key for key, _ in steps].index(step) + 1,
        "reachable": {key for key, _ in steps if flow.step_allowed(case, key)},
        "resume": flow.resume_step(case),
        "is_customer_app": credential is not None
        and credential.kind == LegacyCredential.Kind.CUSTOMER_APP,
        "required_scopes": sorted(required_scopes()),
        "software_scopes": sorted(requested_scopes() & SOFTWARE_SCOPES),
        **extra,
    }
    return render(request, f"wizard/{step}.html", context, status=status)


@never_cache
@login_required
@tenant_manager_required
def wizard_list(request, tenant: Tenant):
    cases = MigrationCase.objects.filter(site__tenant=tenant).select_related("site")
    return render(
        request,
        "wizard/list.html",
        {"tenant": tenant, "cases": [(c, case_deadline(c)) for c in cases]},
    )


@never_cache
@login_required
@tenant_manager_required
def wizard_resume(request, tenant: Tenant, case_id: int):
    case = _case(tenant, case_id)
    return redirect(_step_url(case, flow.resume_step(case)))


@never_cache
@login_required
@require_http_methods(["GET"])
@tenant_manager_required
def wizard_step(request, tenant: Tenant, case_id: int, step: str):
    case = _case(tenant, case_id)
    if step not in flow.STEP_KEYS:
        raise Http404("no such step")
    if not flow.step_allowed(case, step):
        return redirect(_step_url(case, flow.resume_step(case)))
    return _render_step(request, case, step)


@never_cache
@login_required
@require_POST
@tenant_manager_required
def wizard_authorize(request, tenant: Tenant, case_id: int):
    case = _case(tenant, case_id)
    try:
        url = flow.authorize_start(caller=Caller.of(request), case=case)
    except WizardError as exc:
        messages.error(request, exc.message)
        return redirect(_step_url(case, flow.resume_step(case)))
    return HttpResponseRedirect(url)


@never_cache
@login_required
@require_POST
@tenant_manager_required
def wizard_cutover(request, tenant: Tenant, case_id: int):
    case = _case(tenant, case_id)
    try:
        flow.cut_over(caller=Caller.of(request), case=case)
    except WizardError as exc:
        messages.error(request, exc.message)
        return redirect(_step_url(case, flow.resume_step(case)))
    messages.success(request, f"{case.site.url} now uses our app. Backups continue without a gap.")
    return redirect(_step_url(case, "remove"))


@never_cache
@login_required
@require_POST
@tenant_manager_required
def wizard_remove(request, tenant: Tenant, case_id: int):
    case = _case(tenant, case_id)
    try:
        flow.remove_legacy(
            caller=Caller.of(request), case=case, confirmed=request.POST.get("revoked") == "yes"
        )
    except WizardError as exc:
        if exc.code == "not_confirmed" and case.state == MigrationCase.State.CUT_OVER:
            return _render_step(request, case, "remove", status=400, form_error=exc.message)
        messages.error(request, exc.message)
        return redirect(_step_url(case, flow.resume_step(case)))
    return redirect(_step_url(case, "done"))


def after_consent(request, result: CallbackResult) -> HttpResponse:
    """Where the one OAuth callback (``portal.views_connect.connect_callback``) sends the
    answer to a wizard's consent: the authorize step after a denial or a refusal (its reason
    is on the case), the verify step once verified."""
    case = result.case
    if result.outcome == "denied":
        return _render_step(request, case, "authorize", denied=True)
    if result.outcome == "failed":
        return redirect(_step_url(case, "authorize"))
    return redirect(_step_url(case, "done" if case.is_reconsent else "verify"))


# ---------------------------------------------------------------------- invitations


@never_cache
@require_http_methods(["GET", "POST"])
def invite_accept(request, token: str):
    """The link of an invitation or reminder e-mail. Signed out, it names the invitation and
    offers to sign up (the invited address filled in) or sign in, both coming back here
    (``portal.arrivals``). Signed in, the user must own the invited address (verified in
    allauth); they join the tenant as owner (if it has none) or admin: by the button, or at once
    when this session arrived signed out by this link and has just signed up or in."""
    try:
        case_id, email = read_invite_token(token)
    except (InviteLinkInvalid, InviteLinkExpired) as exc:
        return render(request, "wizard/invite.html", {"error": str(exc)}, status=400)
    case = MigrationCase.objects.select_related("site__tenant").filter(pk=case_id).first()
    if case is None:
        return render(
            request, "wizard/invite.html", {"error": "This migration no longer exists."}, status=400
        )
    tenant = case.site.tenant
    wizard_url = reverse("wizard:resume", args=[tenant.slug, case.pk])
    # The funnel's "opened": a genuine link reached us (first time only, audited).
    migration_case_mark_opened(
        case=case,
        acting_user=request.user if request.user.is_authenticated else None,
        request=request,
    )
    context = {"case": case, "tenant": tenant, "email": email}
    if not request.user.is_authenticated:
        arrivals.remember(
            request,
            tenant=tenant.name,
            purpose=(
                f"allow backups of the boards and sprints of {case.site.url}"
                if case.is_reconsent
                else f"move {case.site.url} to our Atlassian app"
            ),
        )
        context.update(arrivals.entrance_links(request, email=email))
        return render(request, "wizard/invite.html", context)
    if managing_membership(user=request.user, tenant=tenant) is not None:
        arrivals.forget(request)
        return redirect(wizard_url)
    if not has_verified_email(user=request.user, email=email):
        context["error"] = (
            f"This invitation is for {email}. Sign out and sign in (or sign up) with that "
            "address to continue."
        )
        return render(request, "wizard/invite.html", context, status=403)
    if membership_for(user=request.user, tenant=tenant) is not None:
        context["error"] = (
            f"You are a viewer of {tenant.name}; ask an owner to make you an admin to migrate."
        )
        return render(request, "wizard/invite.html", context, status=403)
    if request.method == "POST" or arrivals.arrived_by(request):
        with transaction.atomic():
            has_owner = Membership.objects.filter(
                tenant=tenant, role=Membership.Role.OWNER
            ).exists()
            membership_add(
                tenant=tenant,
                user=request.user,
                role=Membership.Role.ADMIN if has_owner else Membership.Role.OWNER,
                acting_user=request.user,
                request=request,
            )
        arrivals.forget(request)
        messages.success(request, f"You joined {tenant.name}.")
        return redirect(wizard_url)
    return render(request, "wizard/invite.html", context)
