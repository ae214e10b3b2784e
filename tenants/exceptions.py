"""Domain errors raised by ``tenants.services``; each message is safe to show a support agent."""

from __future__ import annotations


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
