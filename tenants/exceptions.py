"""The tenants domain's exceptions, in one module; each message is safe to show a support agent
(no token, no secret, no value a customer pasted)."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A request the domain refuses (not a bug): views turn it into a clear page."""


class SiteOwnedByAnotherTenant(DomainError):
    def __init__(self, cloud_id: str) -> None:
        self.cloud_id = cloud_id
        super().__init__(f"Jira site {cloud_id} is already connected to another customer")


class SiteAlreadyExists(DomainError):
    def __init__(self, cloud_id: str) -> None:
        self.cloud_id = cloud_id
        super().__init__(f"Jira site {cloud_id} is already connected to this customer")


class IllegalTransition(DomainError):
    def __init__(self, *, from_state: str, to_state: str, why: str = "") -> None:
        self.from_state = from_state
        self.to_state = to_state
        message = f"migration case cannot go from {from_state!r} to {to_state!r}"
        super().__init__(f"{message}: {why}" if why else message)


class InvalidStatusChange(DomainError):
    """A tenant, site or grant status change that makes no sense from its current status."""


class LastOwner(DomainError):
    def __init__(self) -> None:
        super().__init__("a tenant must keep at least one owner")


class MissingScopes(DomainError):
    """A consent without every scope backups and restores need (``tenants.scopes``)."""

    def __init__(self, missing: list[str]) -> None:
        self.missing = list(missing)
        super().__init__(f"the consent lacks scopes backups need: {', '.join(self.missing)}")


class SiteNeedsReauthorization(DomainError):
    """The site (or its grant) cannot be used until a customer admin authorizes again.
    ``reason`` is readable by a support agent and holds no secret."""

    def __init__(self, reason: str, *, site_id: int | None = None, grant_id: Any = None):
        self.reason = reason
        self.site_id = site_id
        self.grant_id = grant_id
        super().__init__(reason)


class SiteUnavailable(SiteNeedsReauthorization):
    """The site is disconnected or offboarded: no credential will be handed out for it."""


class TokenUnavailable(Exception):
    """Atlassian's token endpoint failed transiently (5xx, timeout, unreachable) after the
    client's quick retries. The grant is unchanged and still active; try again later (well
    within the 10-minute reuse interval, which the old refresh token still enjoys)."""


class InviteLinkInvalid(DomainError):
    """The link was tampered with, or was made for another purpose."""


class InviteLinkExpired(DomainError):
    """The link is genuine but older than ``MIGRATION_INVITE_MAX_AGE_DAYS``."""


class DecryptionError(Exception):
    """A stored secret could not be decrypted (unknown or destroyed key, tampered, or moved)."""


class ImportFileError(Exception):
    """The file as a whole cannot be read (unknown format, not CSV/JSON, no header)."""
