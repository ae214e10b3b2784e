import re
import uuid
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.urls import reverse

_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Give every request an id (kept from X-Request-ID when sane) for logs and audit events."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if _VALID_ID.match(incoming) else uuid.uuid4().hex
        response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        return response


def session_used_mfa(request) -> bool:
    """True when this session's sign-in (or a later re-authentication) passed a second factor."""
    from allauth.account.authentication import get_authentication_records

    return any(r.get("method") == "mfa" for r in get_authentication_records(request, request.user))


def has_totp(user) -> bool:
    from allauth.mfa.models import Authenticator
    from allauth.mfa.utils import is_mfa_enabled

    return is_mfa_enabled(user, [Authenticator.Type.TOTP])


class StaffMFARequiredMiddleware:
    """Staff reach the Django admin only with TOTP set up *and* used in this session.

    The admin's own login is replaced by allauth's (see ``portal/urls.py``), so signing in always
    goes through allauth's MFA stage; this middleware closes the remaining gaps: a staff user
    who never set up TOTP is sent to set it up, and one whose session predates activating TOTP
    must re-authenticate with it. Must come after AuthenticationMiddleware and
    allauth's AccountMiddleware.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and user.is_staff
            and request.path.startswith(reverse("admin:index"))
        ):
            next_query = urlencode({"next": request.get_full_path()})
            if not has_totp(user):
                messages.warning(
                    request,
                    "Staff must set up an authenticator app (TOTP) before using the admin.",
                )
                return HttpResponseRedirect(f"{reverse('mfa_activate_totp')}?{next_query}")
            if not session_used_mfa(request):
                return HttpResponseRedirect(f"{reverse('mfa_reauthenticate')}?{next_query}")
        return self.get_response(request)
