"""Arriving through an invitation link while signed out: the link's page names the invitation
and offers to create an account (the invited address filled in) or to sign in; either way the
person comes back to the link (``next``) and goes on without clicking "accept" again.

The session remembers which link the person arrived by (``remember``). When they come back to
that same link signed in, with the invited address verified (``arrived_by``), the page accepts
for them. The confirmation e-mail of a sign-up names the invitation it is for
(``portal.mfa.AccountAdapter``). A link opened in another browser, or an address that is not
verified yet, still meets the page's button: nothing is accepted that the session did not ask
for.
"""

from __future__ import annotations

from urllib.parse import urlencode

from allauth.account.forms import LoginForm as AllauthLoginForm
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.http import HttpRequest
from django.urls import reverse

SESSION_KEY = "portal.invitation"


def remember(request: HttpRequest, *, tenant: str, purpose: str) -> None:
    """The signed-out visitor arrived by ``request.path``: an invitation to ``tenant``
    (``purpose``: what accepting leads to, for the confirmation e-mail)."""
    request.session[SESSION_KEY] = {"path": request.path, "tenant": tenant, "purpose": purpose}


def arrived_by(request: HttpRequest) -> bool:
    """Whether this session arrived signed out by this very link."""
    return (request.session.get(SESSION_KEY) or {}).get("path") == request.path


def forget(request: HttpRequest) -> None:
    request.session.pop(SESSION_KEY, None)


def pending(request: HttpRequest | None) -> dict | None:
    """The invitation this session arrived by, if any (``tenant``, ``purpose``, ``path``)."""
    if request is None or not hasattr(request, "session"):
        return None
    return request.session.get(SESSION_KEY)


def entrance_links(request: HttpRequest, *, email: str) -> dict[str, str]:
    """Sign-up (the invited address filled in) and sign-in links that both come back here."""
    back = request.path
    return {
        "signup_url": f"{reverse('account_signup')}?{urlencode({'email': email, 'next': back})}",
        "login_url": f"{reverse('account_login')}?{urlencode({'email': email, 'next': back})}",
    }


class LoginForm(AllauthLoginForm):
    """allauth's sign-in form, with the address of ``?email=`` filled in (as its sign-up form
    does), so an invitation's "sign in" link arrives with the invited address."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        email = self.request.GET.get("email", "") if self.request is not None else ""
        if email and "login" in self.fields and not self.is_bound:
            try:
                validate_email(email)
            except ValidationError:
                return
            self.fields["login"].initial = email
