"""Two-factor set-up without detours, for staff first (the admin needs it,
``portal.middleware.StaffMFARequiredMiddleware``) and for customers who choose it.

allauth's own views, with three changes:

* setting up an authenticator app right after signing in with the password does not ask for the
  password again (``AccountAdapter``): the sign-in a moment ago is the proof allauth's
  re-authentication asks for;
* a code typed to activate the app counts as this session's second factor, so the admin does not
  ask for another one straight away;
* the user goes on to where they were going (``next``, e.g. the admin) after saving the recovery
  codes, instead of being left on the codes page.
"""

from __future__ import annotations

import time
from urllib.parse import urlencode

from allauth.account import app_settings as account_settings
from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.authentication import get_authentication_records
from allauth.core import context
from allauth.mfa.base.internal.flows import post_authentication
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.views import ViewRecoveryCodesView
from allauth.mfa.totp.views import ActivateTOTPView
from django.conf import settings
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme


def user_display(user) -> str:
    """How allauth's messages name a person ("Signed in as ..."): the address they sign in with."""
    return user.email or user.get_username()


class AccountAdapter(DefaultAccountAdapter):
    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        # Our own e-mails (templates/account/email/) name the invitation a sign-up is for.
        from portal.arrivals import pending

        request = self.request or context.request
        super().send_mail(
            template_prefix,
            email,
            {"invitation": pending(request), "support_email": settings.SUPPORT_EMAIL, **context},
        )

    def is_reauthentication_required(self, *, app: str, **kwargs) -> bool:
        if not super().is_reauthentication_required(app=app, **kwargs):
            return False
        request = self.request or context.request
        if request is None or not request.user.is_authenticated:
            return True
        # Only a password typed in this session moments ago stands in for typing it again.
        since = time.time() - account_settings.REAUTHENTICATION_TIMEOUT
        return not any(
            record.get("method") == "password" and record.get("at", 0) > since
            for record in get_authentication_records(request, request.user)
        )


def next_url(request) -> str:
    """The page the user was on its way to (a path of this site), or ""."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    safe = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if safe else ""


class ActivateTOTP(ActivateTOTPView):
    def get_context_data(self, **kwargs) -> dict:
        context_data = super().get_context_data(**kwargs)
        context_data["next"] = next_url(self.request)
        context_data["show_local_helper"] = settings.DEBUG
        return context_data

    def form_valid(self, form):
        response = super().form_valid(form)
        # The code just typed proves the app: it is this session's second factor.
        app = Authenticator.objects.get(user=self.request.user, type=Authenticator.Type.TOTP)
        post_authentication(self.request, app)
        return response

    def get_success_url(self) -> str:
        url = super().get_success_url()
        target = next_url(self.request)
        return f"{url}?{urlencode({'next': target})}" if target else url


class RecoveryCodes(ViewRecoveryCodesView):
    def get_context_data(self, **kwargs) -> dict:
        context_data = super().get_context_data(**kwargs)
        staff = self.request.user.is_staff
        context_data["continue_url"] = next_url(self.request) or reverse(
            "admin:index" if staff else "portal:home"
        )
        context_data["continue_label"] = "the admin" if staff else "your account"
        return context_data


activate_totp = ActivateTOTP.as_view()
view_recovery_codes = RecoveryCodes.as_view()
