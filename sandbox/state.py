"""SandboxState: everything the sandbox knows, and the control surface tests drive.

One object holds accounts, OAuth apps, grants and tokens, Jira sites, the clock, rate limits,
faults, the request log and the points ledger. Tests get it in-process (`sandbox.state`); other
processes reach the same methods through the `/_sandbox/` HTTP API (see sandbox/control.py).
"""

from __future__ import annotations

import hashlib
import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sandbox import edits, generator, structure
from sandbox.api import Ctx
from sandbox.clock import Clock
from sandbox.content import issue_doc
from sandbox.faults import Faults
from sandbox.model import (
    AccessToken,
    AuthCode,
    Client,
    Grant,
    RefreshToken,
    Site,
    User,
    parse_features,
)
from sandbox.ratelimit import Ledger, RateLimiter
from sandbox.requestlog import RequestLog, RequestRecord

DEFAULT_CLIENT_ID = "sandbox-client-id"
DEFAULT_CLIENT_SECRET = "sandbox-client-secret"
DEFAULT_REDIRECT_URIS = (
    "http://127.0.0.1:8000/connect/callback/",
    "http://localhost:8000/connect/callback/",
)
DEMO_SITES = ("acme", "globex")


@dataclass
class ConsentSettings:
    """How GET /authorize answers: show the consent page, or decide without a human."""

    auto: bool = False
    account_id: str | None = None
    site_ids: list[str] | None = None  # None: the first site the account can reach
    decision: str = "accept"

    def as_dict(self) -> dict[str, Any]:
        return {
            "auto": self.auto,
            "account_id": self.account_id,
            "site_ids": self.site_ids,
            "decision": self.decision,
        }


class SandboxState:
    """The whole sandbox world. Build it with a seed; `reset()` rebuilds it in place."""

    def __init__(
        self,
        seed: str | int = "demo",
        projects: int = 3,
        issues: int = 60,
        sites: Iterable[str] = DEMO_SITES,
        auto_consent: bool = False,
        clients: Iterable[Client] | None = None,
        features: Iterable[str] | str | None = None,
    ) -> None:
        self.base_url = "http://127.0.0.1"
        self._initial_clients = list(clients) if clients is not None else None
        self._setup(seed, projects, issues, tuple(sites), auto_consent, clients, features)

    def _setup(self, seed, projects, issues, sites, auto_consent, clients, features=None) -> None:
        self.lock = threading.RLock()
        self.seed = str(seed)
        self.clock = Clock()
        self.faults = Faults()
        self.ledger = Ledger(resolve_site=self._site_id)
        self.limiter = RateLimiter()
        self.request_log = RequestLog()
        self.consent = ConsentSettings()
        self.users: dict[str, User] = {}
        self.users_by_email: dict[str, User] = {}
        self.sites: dict[str, Site] = {}
        self.clients: dict[str, Client] = {}
        self.grants: dict[tuple[str, str], Grant] = {}
        self.codes: dict[str, AuthCode] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        self.api_tokens: dict[str, str] = {}  # token -> account id
        self._rng = generator.rng_for(self.seed, "world")
        for client in clients or [
            Client(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, list(DEFAULT_REDIRECT_URIS))
        ]:
            self.clients[client.client_id] = client
        self._seed_world(sites, projects, issues, parse_features(features))
        if auto_consent:
            self.consent_as(self.admin)

    def reset(
        self,
        seed: str | int | None = None,
        projects: int = 2,
        issues: int = 20,
        sites: Iterable[str] = DEMO_SITES,
        auto_consent: bool = False,
        features: Iterable[str] | str | None = None,
    ) -> SandboxState:
        """Rebuild a fresh world in place (the running server keeps serving this object).
        Apps registered since construction are forgotten; the initial ones stay. `features`
        apply to every seeded site (see `add_site`)."""
        clients = self._initial_clients
        self._setup(
            seed or self.seed, projects, issues, tuple(sites), auto_consent, clients, features
        )
        return self

    def _seed_world(
        self, sites: tuple[str, ...], projects: int, issues: int, features: frozenset[str]
    ) -> None:
        # Two well-known accounts: an admin of every seeded site and a plain member.
        self.admin = self.add_user("admin@acme.test", name="Alice Admin")
        self.member = self.add_user("dev@acme.test", name="Dave Developer")
        for name in sites:
            self.add_site(
                name, projects=projects, issues=issues, admins=[self.admin], features=features
            )
            self.sites_by_name(name).members.add(self.member.account_id)
        # A legacy API token for the admin, so Basic-auth paths work out of the box.
        self.demo_api_token = self.issue_api_token(self.admin)

    # ------------------------------------------------------------ accounts and sites

    def add_user(
        self,
        email: str,
        name: str | None = None,
        admin_of: Iterable[Site | str] = (),
        member_of: Iterable[Site | str] = (),
        account_id: str | None = None,
    ) -> User:
        """An Atlassian account; `admin_of` sites also make it a member there."""
        with self.lock:
            user = self.users_by_email.get(email.lower())
            if user is None:
                user = User(
                    account_id=account_id or generator.make_account_id(self._rng),
                    email=email.lower(),
                    name=name or email.split("@")[0].replace(".", " ").title(),
                )
                self.users[user.account_id] = user
                self.users_by_email[user.email] = user
            for site in member_of:
                self.site(site).members.add(user.account_id)
            for site in admin_of:
                resolved = self.site(site)
                resolved.members.add(user.account_id)
                resolved.admins.add(user.account_id)
            return user

    def add_site(
        self,
        name: str,
        cloud_id: str | None = None,
        projects: int = 2,
        issues: int = 20,
        seed: str | int | None = None,
        admins: Iterable[User] = (),
        members: Iterable[User] = (),
        generated_users: int = 6,
        features: Iterable[str] | str | None = None,
    ) -> Site:
        """A Jira site with generated projects, issues and `generated_users` member accounts.

        `features` ("all", or some of "workflows", "hierarchy", "agile", "media") add realistic
        workflows, epics and sub-tasks, Jira Software (boards, sprints, rank) and inline media
        to what is generated; without them the site is generated as it always was."""
        with self.lock:
            seed = str(seed if seed is not None else self.seed)
            rng = generator.rng_for(seed, "users", name)
            people = [generator.make_user(rng, f"{name}.test", n) for n in range(generated_users)]
            for person in people:
                self.users[person.account_id] = person
                self.users_by_email[person.email] = person
            everyone = list(admins) + list(members) + people
            chosen = parse_features(features)
            site = generator.build_site(
                self, name, seed, projects, issues, everyone, cloud_id=cloud_id, features=chosen
            )
            if chosen:
                structure.generate(site, seed, generator.DATA_ANCHOR)
            site.admins.update(u.account_id for u in admins)
            self.sites[site.cloud_id] = site
            return site

    def site(self, ref: Site | str) -> Site:
        """Look a site up by object, cloud id or name."""
        if isinstance(ref, Site):
            return ref
        site = self.sites.get(ref) or self.sites_by_name(ref)
        if site is None:
            raise KeyError(f"no sandbox site {ref!r}")
        return site

    def _site_id(self, ref: Site | str) -> str:
        try:
            return self.site(ref).cloud_id
        except KeyError:
            return str(ref)

    def sites_by_name(self, name: str) -> Site | None:
        for site in self.sites.values():
            if site.name == name:
                return site
        return None

    def user(self, ref: User | str) -> User:
        """Look an account up by object, account id or email."""
        if isinstance(ref, User):
            return ref
        user = self.users.get(ref) or self.users_by_email.get(ref.lower())
        if user is None:
            raise KeyError(f"no sandbox account {ref!r}")
        return user

    def issue_api_token(self, user: User | str, site: Site | str | None = None) -> str:
        """A legacy API token (Basic auth email:token); tokens belong to the account, and
        `site`, if given, makes the account a member there."""
        with self.lock:
            account = self.user(user)
            if site is not None:
                self.site(site).members.add(account.account_id)
            raw = f"{self.seed}/{account.account_id}/{len(self.api_tokens)}".encode()
            token = "ATATT3x" + hashlib.sha256(raw).hexdigest()[:40]
            self.api_tokens[token] = account.account_id
            return token

    def revoke_api_token(self, token: str) -> None:
        self.api_tokens.pop(token, None)

    def remove_admin(self, user: User | str, site: Site | str) -> None:
        self.site(site).admins.discard(self.user(user).account_id)

    def make_admin(self, user: User | str, site: Site | str) -> None:
        resolved = self.site(site)
        resolved.members.add(self.user(user).account_id)
        resolved.admins.add(self.user(user).account_id)

    def delete_site(self, site: Site | str) -> None:
        """The site is gone: 404 on its API and absent from accessible-resources."""
        self.site(site).deleted = True

    def sites_for(self, user: User | str) -> list[Site]:
        account_id = self.user(user).account_id
        return [s for s in self.sites.values() if not s.deleted and account_id in s.members]

    # ------------------------------------------------------------ OAuth apps and grants

    def register_client(
        self, client_id: str, secret: str, redirect_uris: Iterable[str], name: str | None = None
    ) -> Client:
        client = Client(client_id, secret, list(redirect_uris), name or "Sandbox Backup App")
        self.clients[client_id] = client
        return client

    def consent_as(
        self,
        user: User | str,
        sites: Iterable[Site | str] | None = None,
        decision: str = "accept",
    ) -> None:
        """Script the consent page: GET /authorize redirects at once as if `user` chose
        `sites` (default: the first site the user can reach) and clicked Accept or Deny."""
        site_ids = [self.site(s).cloud_id for s in sites] if sites is not None else None
        self.consent = ConsentSettings(True, self.user(user).account_id, site_ids, decision)

    auto_consent = consent_as

    def manual_consent(self) -> None:
        self.consent = ConsentSettings()

    def _client_id(self, client_id: str | None) -> str:
        if client_id is not None:
            return client_id
        if len(self.clients) == 1 or DEFAULT_CLIENT_ID not in self.clients:
            return next(iter(self.clients))
        return DEFAULT_CLIENT_ID

    def grant_for(self, account: User | str, client_id: str | None = None) -> Grant | None:
        account_id = self.user(account).account_id
        return self.grants.get((self._client_id(client_id), account_id))

    def revoke_grant(
        self, account: User | str, client_id: str | None = None, reason: str = "user revoked"
    ) -> None:
        """The user removed the app in account settings: every token dies, sites forgotten."""
        with self.lock:
            grant = self.grant_for(account, client_id)
            if grant is None or not grant.active:
                return
            grant.active = False
            grant.epoch += 1
            grant.site_ids = []
            grant.revoked_reason = reason

    # ------------------------------------------------------------ rate limits

    @property
    def rate_limits_enabled(self) -> bool:
        return self.limiter.enabled

    @rate_limits_enabled.setter
    def rate_limits_enabled(self, value: bool) -> None:
        self.limiter.enabled = bool(value)

    def set_quota(self, tier1: int | None = None, burst: dict[str, int] | None = None) -> None:
        if tier1 is not None:
            self.limiter.tier1_quota = tier1
        if burst is not None:
            self.limiter.burst.update(burst)

    def enable_tier2(self, site: Site | str, quota: int) -> None:
        self.limiter.tier2_quotas[self.site(site).cloud_id] = quota

    def disable_tier2(self, site: Site | str) -> None:
        self.limiter.tier2_quotas.pop(self.site(site).cloud_id, None)

    # ------------------------------------------------------------ traffic

    def requests_where(self, **filters: Any) -> list[RequestRecord]:
        """e.g. `requests_where(credential="basic")` or `requests_where(status=429)`."""
        return self.request_log.where(**filters)

    # ------------------------------------------------------------ data changes over time

    def mutate(
        self,
        fraction: float = 0.01,
        delete: int | float = 0,
        site: Site | str | None = None,
        seed: int | str | None = None,
    ) -> dict[str, dict[str, list[str]]]:
        """Update `fraction` of the live issues of each site (new summary, comment and changelog
        entry, `updated` = now) and delete `delete` issues (a count, or a fraction if < 1).
        Returns {site name: {"updated": keys, "deleted": keys}}."""
        from sandbox import writes  # local import: writes depends on state helpers

        sites = [self.site(site)] if site is not None else list(self.sites.values())
        now = self.clock.time()
        result: dict[str, dict[str, list[str]]] = {}
        for target in sites:
            if target.deleted:
                continue
            rng = random.Random(f"{seed if seed is not None else now}/{target.name}")
            live = target.live_issues()
            n_update = min(len(live), max(1 if fraction > 0 else 0, round(len(live) * fraction)))
            n_delete = round(len(live) * delete) if 0 < delete < 1 else int(delete)
            chosen = rng.sample(live, min(len(live), n_update + n_delete))
            updated = [i.key for i in chosen[:n_update]]
            deleted = [i.key for i in chosen[n_update:]]
            for issue in chosen[:n_update]:
                writes.touch_issue(self, target, issue, rng, now)
            for issue in chosen[n_update:]:
                with target.lock:
                    issue.deleted = True
                    target.touch(issue)
            result[target.name] = {"updated": updated, "deleted": deleted}
        return result

    def bulk_edit(
        self,
        site: Site | str,
        issues: Iterable[str] | None = None,
        count: int | None = None,
        fields: dict[str, Any] | None = None,
        delete_comments: int = 0,
        author: User | str | None = None,
        at: float | datetime | None = None,
        seed: int | str | None = None,
    ) -> dict[str, Any]:
        """A bulk change made in Jira itself (a person, an automation rule, an integration):
        set `fields` (as `PUT issue` takes them) on `issues` (keys) or on `count` live issues
        chosen with `seed`, and delete `delete_comments` comments among those issues, at time
        `at` (epoch seconds or a datetime; default: the clock's now). Field changes go into
        each issue's changelog by `author` (default: the site's first generated member);
        `updated` moves to `at`. Returns what changed: {"edited", "deleted_comments", ...}."""
        target = self.site(site)
        when = at.timestamp() if isinstance(at, datetime) else float(at or self.clock.time())
        members = [self.users[a] for a in sorted(target.members) if a in self.users]
        person = self.user(author) if author is not None else members[-1]
        if issues is not None:
            chosen = [target.issue(key) for key in issues]
            if None in chosen:
                raise KeyError(f"no live issue among {list(issues)!r} on {target.name}")
        else:
            live = target.live_issues()
            rng = random.Random(f"{seed if seed is not None else when}/bulk/{target.name}")
            chosen = rng.sample(live, min(len(live), int(count or 0)))
        ctx = Ctx(self, target, person, None, "control")
        plans = []
        for issue in chosen:
            changes, _comments, errors = edits.plan_edit(ctx, issue, {"fields": fields or {}})
            if errors:
                raise ValueError(f"{issue.key}: {errors}")
            plans.append((issue, changes))
        deleted: list[dict[str, str]] = []
        with target.lock:
            for issue, changes in plans:
                edits.apply_edit(target, issue, changes, person.json(), when)
            # The newest comment of each issue first, then older ones where there are more.
            pool = [
                (issue, comment["id"])
                for issue in chosen
                for comment in reversed(issue_doc(target, issue)["comments"])
            ]
            for issue, comment_id in _spread(pool, int(delete_comments)):
                edits.remove_part(target, issue, "comments", comment_id, when)
                deleted.append({"issue": issue.key, "id": comment_id})
        return {
            "edited": [i.key for i in chosen],
            "deleted_comments": deleted,
            "author": person.account_id,
            "at": when,
        }

    # ------------------------------------------------------------ introspection

    def summary(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "base_url": self.base_url,
            "now": self.clock.now().isoformat(),
            "sites": [s.summary() for s in self.sites.values()],
            "users": [
                {"account_id": u.account_id, "email": u.email, "name": u.name}
                for u in self.users.values()
            ],
            "clients": [
                {"client_id": c.client_id, "redirect_uris": c.redirect_uris}
                for c in self.clients.values()
            ],
            "grants": [
                {
                    "client_id": g.client_id,
                    "account_id": g.account_id,
                    "site_ids": g.site_ids,
                    "scopes": g.scopes,
                    "active": g.active,
                    "revoked_reason": g.revoked_reason,
                }
                for g in self.grants.values()
            ],
            "consent": self.consent.as_dict(),
            "rate_limits_enabled": self.limiter.enabled,
            "tier1_quota": self.limiter.tier1_quota,
            "tier2_quotas": dict(self.limiter.tier2_quotas),
            "faults": self.faults.summary(),
            "demo_api_token": self.demo_api_token,
        }


def _spread(pool: list[tuple[Any, str]], n: int) -> list[tuple[Any, str]]:
    """Up to `n` (issue, comment id) pairs, taking one per issue in turn (round robin)."""
    per_issue: dict[int, list[tuple[Any, str]]] = {}
    for issue, comment_id in pool:
        per_issue.setdefault(id(issue), []).append((issue, comment_id))
    queues = list(per_issue.values())
    picked: list[tuple[Any, str]] = []
    while len(picked) < n and any(queues):
        for queue in queues:
            if queue and len(picked) < n:
                picked.append(queue.pop(0))
    return picked
