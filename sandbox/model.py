"""The sandbox's world: Atlassian accounts, OAuth apps and grants, and Jira sites.

Issues are stored as small records (ids, project, timestamps); their full content (fields,
comments, worklogs, changelog, attachments) is generated deterministically on demand by
`sandbox.generator` and only kept ("pinned") once something writes to the issue. That keeps a
50,000-issue site cheap to build and small in memory.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

BASE = "@@B@@"  # placeholder for the request's base URL inside cached issue JSON
BASE_BYTES = BASE.encode()

ALL_SCOPES = frozenset(
    {
        "read:jira-work",
        "write:jira-work",
        "read:jira-user",
        "manage:jira-project",
        "manage:jira-configuration",
        "manage:jira-webhook",
        "manage:jira-data-provider",
        "offline_access",
        "read:me",
        "read:account",
        "report:personal-data",
    }
)
# Jira Software has no classic scopes: its API (/rest/agile/1.0) takes only these granular ones,
# together with a few granular platform scopes that Atlassian lists on its operations.
JIRA_SOFTWARE_SCOPES = frozenset(
    {
        "read:board-scope:jira-software",
        "write:board-scope:jira-software",
        "read:board-scope.admin:jira-software",
        "write:board-scope.admin:jira-software",
        "delete:board-scope.admin:jira-software",
        "read:sprint:jira-software",
        "write:sprint:jira-software",
        "delete:sprint:jira-software",
        "read:epic:jira-software",
        "write:epic:jira-software",
        "read:issue:jira-software",
        "write:issue:jira-software",
        "read:source-code:jira-software",
        "write:source-code:jira-software",
        "read:issue-details:jira",
        "read:jql:jira",
        "read:project:jira",
    }
)
ALL_SCOPES = ALL_SCOPES | JIRA_SOFTWARE_SCOPES

# What `features` can switch on when a site is generated (see docs/sandbox.md). Without any,
# a site is generated exactly as before these existed ("classic").
FEATURES = ("workflows", "hierarchy", "agile", "media")


def parse_features(value: object) -> frozenset[str]:
    """`"all"`, a comma-separated string or an iterable of names -> a validated set."""
    if value is None or value == "":
        return frozenset()
    items = value.split(",") if isinstance(value, str) else list(value)  # type: ignore[arg-type]
    names = {str(i).strip() for i in items if str(i).strip()}
    if "all" in names:
        return frozenset(FEATURES)
    unknown = names - set(FEATURES)
    if unknown:
        raise ValueError(f"unknown site features {sorted(unknown)}; known: {', '.join(FEATURES)}")
    return frozenset(names)


@dataclass(eq=False)
class User:
    """An Atlassian account (one per person across every site)."""

    account_id: str
    email: str
    name: str
    active: bool = True
    timezone: str = "Etc/UTC"
    locale: str = "en_US"

    def json(self) -> dict[str, Any]:
        """Jira's `User` shape; `self` uses the base-URL placeholder."""
        avatar = f"https://avatar.sandbox.invalid/{self.account_id}"
        return {
            "self": f"{BASE}/rest/api/3/user?accountId={self.account_id}",
            "accountId": self.account_id,
            "accountType": "atlassian",
            "emailAddress": self.email,
            "avatarUrls": {s: f"{avatar}?s={s[:2]}" for s in ("16x16", "24x24", "32x32", "48x48")},
            "displayName": self.name,
            "active": self.active,
            "timeZone": self.timezone,
        }


@dataclass(eq=False)
class Client:
    """A registered OAuth 2.0 (3LO) app."""

    client_id: str
    secret: str
    redirect_uris: list[str]
    name: str = "Sandbox Backup App"


@dataclass(eq=False)
class Grant:
    """One per app x account: the sites and scopes the account consented to."""

    client_id: str
    account_id: str
    site_ids: list[str] = field(default_factory=list)
    scopes: list[str] = field(default_factory=list)
    active: bool = True
    # Bumped on revocation so that every token issued before it stops working.
    epoch: int = 0
    revoked_reason: str | None = None
    created: float = 0.0


@dataclass(eq=False)
class AuthCode:
    code: str
    client_id: str
    redirect_uri: str
    account_id: str
    scopes: list[str]
    expires_at: float
    used: bool = False


@dataclass(eq=False)
class RefreshToken:
    token: str
    client_id: str
    account_id: str
    family: str
    family_started: float
    epoch: int
    issued_at: float
    expires_at: float
    used_at: float | None = None


@dataclass(eq=False)
class AccessToken:
    token: str
    client_id: str
    account_id: str
    epoch: int
    scopes: frozenset[str]
    expires_at: float


class Issue:
    """The small always-present part of an issue; `doc` holds content once pinned."""

    __slots__ = (
        "created",
        "deleted",
        "doc",
        "head",
        "id",
        "key",
        "project_id",
        "rev",
        "status_id",
        "type_id",
        "updated",
    )

    def __init__(self, id: int, key: str, project_id: int, created: float, updated: float):
        self.id = id
        self.key = key
        self.project_id = project_id
        self.created = created
        self.updated = updated
        self.rev = 0
        self.deleted = False
        self.doc: dict | None = None
        # Random bits choosing summary/status/priority/type, drawn when the site is built so
        # that showing a linked issue's headline costs no generation.
        self.head = 0
        # Set by the generator on sites with workflows/hierarchy (None: drawn from `head`).
        self.status_id: str | None = None
        self.type_id: str | None = None


@dataclass(eq=False)
class Project:
    id: int
    key: str
    name: str
    lead_account_id: str
    description: str = ""
    project_type: str = "software"
    components: list[dict] = field(default_factory=list)
    versions: list[dict] = field(default_factory=list)
    issue_counter: int = 0
    # Role id -> account ids (identity objects for the points model).
    roles: dict[int, list[str]] = field(default_factory=dict)
    # Scheme kind ("workflow", "permission", ...) -> scheme id, where not the site's default.
    schemes: dict[str, str] = field(default_factory=dict)


@dataclass(eq=False)
class Board:
    """A Jira Software board on one project (its filter: `project = KEY ORDER BY Rank`)."""

    id: int
    name: str
    project_id: int
    filter_id: int
    type: str = "scrum"


@dataclass(eq=False)
class Sprint:
    id: int
    board_id: int
    name: str
    state: str = "future"  # future -> active -> closed
    start: float | None = None
    end: float | None = None
    complete: float | None = None
    created: float = 0.0
    goal: str = ""


class LRU:
    """A small thread-safe LRU so that repeated reads skip generation and serialization.
    Bounded by entry count, and by total bytes when `max_bytes` is set (values are bytes)."""

    def __init__(self, capacity: int, max_bytes: int | None = None) -> None:
        self.capacity = capacity
        self.max_bytes = max_bytes
        self.bytes = 0
        self._data: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key, value) -> None:
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None and self.max_bytes is not None:
                self.bytes -= len(old)
            self._data[key] = value
            if self.max_bytes is not None:
                self.bytes += len(value)
            while self._data and (
                len(self._data) > self.capacity
                or (self.max_bytes is not None and self.bytes > self.max_bytes)
            ):
                _key, evicted = self._data.popitem(last=False)
                if self.max_bytes is not None:
                    self.bytes -= len(evicted)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self.bytes = 0


# Serialized issues kept per site; raise it (SANDBOX_JSON_CACHE_MB) for big benchmark sites.
JSON_CACHE_BYTES = int(os.environ.get("SANDBOX_JSON_CACHE_MB", "256")) * 1024 * 1024


@dataclass(eq=False)
class Site:
    cloud_id: str
    name: str
    seed: str
    state: Any = None  # the SandboxState, for base URL and accounts
    deleted: bool = False
    members: set[str] = field(default_factory=set)
    admins: set[str] = field(default_factory=set)
    projects: dict[int, Project] = field(default_factory=dict)
    issues: dict[int, Issue] = field(default_factory=dict)
    issues_by_key: dict[str, Issue] = field(default_factory=dict)
    # issue id -> [(link id, link type id, "outward" | "inward", other issue id)]
    links: dict[int, list[tuple[int, int, str, int]]] = field(default_factory=dict)
    custom_fields: list[dict] = field(default_factory=list)
    features: frozenset[str] = frozenset()
    # Issue hierarchy: child id -> parent id, and parent id -> child ids (ascending).
    parents: dict[int, int] = field(default_factory=dict)
    children: dict[int, list[int]] = field(default_factory=dict)
    # Jira Software: boards, sprints, each issue's sprints (ascending ids) and rank key.
    boards: dict[int, Any] = field(default_factory=dict)
    sprints: dict[int, Any] = field(default_factory=dict)
    issue_sprints: dict[int, list[int]] = field(default_factory=dict)
    ranks: dict[int, str] = field(default_factory=dict)
    rank_last: str = ""  # the highest rank key, where new issues go
    next_board_id: int = 1
    next_sprint_id: int = 1
    # Configuration (schemes, screens, filters, dashboards, options...): sandbox.config.
    config: Any = None
    # Custom field options renamed (id -> value) or deleted (id -> None) over the API.
    option_changes: dict[str, str | None] = field(default_factory=dict)
    pools: Any = None  # sandbox.content.Pools, built on first use
    based_pools: dict[str, Any] = field(default_factory=dict)  # the same, per base URL
    uploads: dict[int, bytes] = field(default_factory=dict)
    next_issue_id: int = 10000
    next_project_id: int = 10000
    next_link_id: int = 10000
    next_version_id: int = 10000
    next_component_id: int = 10000
    # Bumped on every write so cached search results are recomputed.
    rev: int = 0
    lock: threading.RLock = field(default_factory=threading.RLock)
    doc_cache: LRU = field(default_factory=lambda: LRU(4000))
    json_cache: LRU = field(default_factory=lambda: LRU(200_000, JSON_CACHE_BYTES))
    query_cache: LRU = field(default_factory=lambda: LRU(32))
    # JSON text of how issues show other issues (parents, sub-tasks) and of sprint lists,
    # keyed by what they depend on (see render.structure_text).
    ref_cache: LRU = field(default_factory=lambda: LRU(50_000))
    sprint_texts: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        """The per-site base URL standing in for https://{name}.atlassian.net."""
        base = self.state.base_url if self.state is not None else "http://127.0.0.1"
        return f"{base}/site/{self.name}"

    def project(self, id_or_key: str | int) -> Project | None:
        text = str(id_or_key)
        if text.isdigit():
            return self.projects.get(int(text))
        for project in self.projects.values():
            if project.key == text.upper():
                return project
        return None

    def issue(self, id_or_key: str | int) -> Issue | None:
        text = str(id_or_key)
        issue = self.issues.get(int(text)) if text.isdigit() else self.issues_by_key.get(text)
        if issue is None or issue.deleted:
            return None
        return issue

    def live_issues(self) -> list[Issue]:
        with self.lock:
            return [i for i in self.issues.values() if not i.deleted]

    def touch(self, issue: Issue | None = None) -> None:
        """Record a write: invalidates cached JSON for the issue and cached searches."""
        self.rev += 1
        self.sprint_texts.clear()  # a sprint or an issue's sprints may have changed
        if issue is not None:
            issue.rev += 1

    def summary(self) -> dict[str, Any]:
        return {
            "cloud_id": self.cloud_id,
            "name": self.name,
            "url": self.url,
            "deleted": self.deleted,
            "projects": [p.key for p in self.projects.values()],
            "issues": sum(1 for i in self.issues.values() if not i.deleted),
            "members": sorted(self.members),
            "admins": sorted(self.admins),
            "features": sorted(self.features),
        }
