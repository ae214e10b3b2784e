"""Typed results of the client. Secrets are kept out of ``repr`` so a logged object leaks nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TokenResponse:
    access_token: str = field(repr=False)
    # None when Atlassian did not rotate: the caller keeps the refresh token it has.
    refresh_token: str | None = field(repr=False)
    expires_in: int
    scope: str
    token_type: str = "Bearer"

    @property
    def scopes(self) -> frozenset[str]:
        return frozenset(self.scope.split())

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TokenResponse:
        return cls(
            access_token=data["access_token"],
            refresh_token=data.get("refresh_token") or None,
            expires_in=int(data.get("expires_in") or 3600),
            scope=data.get("scope") or "",
            token_type=data.get("token_type") or "Bearer",
        )


@dataclass(frozen=True)
class Me:
    account_id: str
    email: str
    name: str
    picture: str = ""
    account_status: str = ""
    nickname: str = ""
    zoneinfo: str = ""
    locale: str = ""
    account_type: str = ""
    extended_profile: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Me:
        return cls(
            account_id=data["account_id"],
            email=data.get("email") or "",
            name=data.get("name") or "",
            picture=data.get("picture") or "",
            account_status=data.get("account_status") or "",
            nickname=data.get("nickname") or "",
            zoneinfo=data.get("zoneinfo") or "",
            locale=data.get("locale") or "",
            account_type=data.get("account_type") or "",
            extended_profile=data.get("extended_profile") or {},
        )


@dataclass(frozen=True)
class AccessibleResource:
    id: str  # the cloud id
    name: str
    url: str
    scopes: tuple[str, ...]
    avatar_url: str = ""

    @property
    def is_jira(self) -> bool:
        """The same cloud id may be listed for Jira and for Confluence; scopes tell them apart."""
        return any("jira" in scope for scope in self.scopes)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AccessibleResource:
        return cls(
            id=data["id"],
            name=data.get("name") or "",
            url=(data.get("url") or "").rstrip("/"),
            scopes=tuple(data.get("scopes") or ()),
            avatar_url=data.get("avatarUrl") or "",
        )


@dataclass(frozen=True)
class SearchPage:
    """One page of ``/search/jql``; keep ``next_page_token`` as a checkpoint (valid 7 days)."""

    issues: list[dict[str, Any]]
    next_page_token: str | None
    is_last: bool
    names: dict[str, Any] | None = None
    schema: dict[str, Any] | None = None


@dataclass(frozen=True)
class ChangelogPage:
    """One page of ``/changelog/bulkfetch``: ``[{"issueId", "changeHistories": [...]}, ...]``."""

    issue_change_logs: list[dict[str, Any]]
    next_page_token: str | None

    @property
    def is_last(self) -> bool:
        return self.next_page_token is None


@dataclass(frozen=True)
class BulkCreateResult:
    """``POST /issue/bulk``: what was created, and why each failed element failed."""

    issues: list[dict[str, Any]]
    errors: list[dict[str, Any]]

    @property
    def failed_element_numbers(self) -> list[int]:
        return [e["failedElementNumber"] for e in self.errors if "failedElementNumber" in e]


__all__ = [
    "AccessibleResource",
    "BulkCreateResult",
    "ChangelogPage",
    "Me",
    "SearchPage",
    "TokenResponse",
]
