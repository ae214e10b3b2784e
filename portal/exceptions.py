"""The portal's domain errors, in one module: each carries a message for the customer, and the
views turn it into a clear page (nothing is stored when one is raised)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied

from tenants.exceptions import DomainError

if TYPE_CHECKING:
    from tenants.models import MigrationCase, Tenant


class ConnectError(Exception):
    """An OAuth consent (the connect page's or the wizard's) could not be completed.

    ``message`` is for the customer and ``title`` heads the page; ``status`` is the page's HTTP
    status; ``retry`` offers a "try again" button. ``refusal`` marks a consent we checked and
    refused (wrong site, missing scopes, not a site administrator): a migration case fails with
    its message. Anything else (Atlassian unavailable or rate-limiting us, a used code) leaves
    the case as it was."""

    def __init__(
        self,
        message: str,
        *,
        title: str = "We could not connect your Jira site",
        code: str = "failed",
        status: int = 400,
        retry: bool = True,
        refusal: bool = False,
        tenant: Tenant | None = None,
        case: MigrationCase | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.title = title
        self.code = code
        self.status = status
        self.retry = retry
        self.refusal = refusal
        self.tenant = tenant
        self.case = case


class NotTenantManager(PermissionDenied):
    """The user may not manage this tenant (only its owners and admins connect sites, migrate
    and invite). ``member`` tells a viewer (shown 403) from an outsider (shown 404, so that a
    tenant's existence does not leak)."""

    def __init__(self, *, tenant: Tenant, member: bool) -> None:
        super().__init__("Only owners and admins of this customer can do this.")
        self.tenant = tenant
        self.member = member


class WizardError(DomainError):
    """A migration step cannot be taken now; ``message`` is for the customer."""

    def __init__(self, message: str, *, code: str = "refused") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class InvitationError(DomainError):
    """A refused teammate invitation or acceptance; the message is for the user."""
