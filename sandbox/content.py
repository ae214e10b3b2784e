"""Issue content, derived on demand from the site's seed and the issue id.

Speed matters here: a cold `search/jql` + `bulkfetch` pass builds every issue once. Text, ADF
documents, changelog items and user objects are therefore drawn from per-site pools built once
(and pre-serialized as orjson fragments), and each issue only draws indexes from its own seeded
Random. Pooled objects are shared between issues and must never be mutated in place (writes
replace them). Once something writes to an issue its content is *pinned* (kept on the record).
"""

from __future__ import annotations

import copy
import hashlib
import random
from _random import Random as _CRandom
from typing import Any

import orjson

from sandbox import catalog, media
from sandbox.clock import day, iso
from sandbox.generator import WORDS, adf, rich_adf, rng_for, sentence
from sandbox.model import BASE, BASE_BYTES, Issue, Project, Site, User

SUB_ID = 1000  # comment/worklog/attachment/history ids are issue_id * SUB_ID + n
WRITTEN_BASE = 500  # ids >= issue_id * SUB_ID + 500 are for objects created over the API
ATTACHMENT_KINDS = [
    ("txt", "text/plain"),
    ("png", "image/png"),
    ("pdf", "application/pdf"),
    ("json", "application/json"),
    ("zip", "application/zip"),
]


class Pools:
    """Pre-built pieces each site's issues are assembled from."""

    def __init__(self, site: Site) -> None:
        rng = rng_for(site.seed, "pools")
        self.members = len(site.members)
        self.users = [u.json() for u in _users(site)] or [None]
        self.sentences = [sentence(rng, 3, 9) for _ in range(1024)]
        self.descriptions = [rich_adf(rng) for _ in range(256)]
        self.short_docs = [adf(sentence(rng, 5, 25)) for _ in range(512)]
        self.two_paragraphs = [adf(sentence(rng), sentence(rng)) for _ in range(128)]
        items = [_history_item(rng) for _ in range(512)]
        self.history_items = [
            [items[rng.randrange(512)] for _ in range(rng.randint(1, 3))] for _ in range(512)
        ]
        self.statuses = [(s[0], catalog.status_json(s[0])) for s in catalog.STATUSES]
        self.types = [catalog.issuetype_json(t[0]) for t in catalog.ISSUE_TYPES[:4]]
        # Sites with features set each issue's status and type explicitly (Issue.status_id).
        self.status_by_id = {s[0]: catalog.status_json(s[0]) for s in catalog.ALL_STATUSES}
        self.type_by_id = {t[0]: catalog.issuetype_json(t[0]) for t in catalog.ISSUE_TYPES}
        self.priorities = [catalog.priority_json(p[0]) for p in catalog.PRIORITIES]
        self.labels = [
            sorted({rng.choice(WORDS) for _ in range(rng.randint(0, 3))}) for _ in range(64)
        ]
        self.tags = [
            sorted({rng.choice(WORDS) for _ in range(rng.randint(0, 2))}) for _ in range(64)
        ]
        self.tiers = [
            option_json("customfield_10020", *o)
            for o in catalog.CUSTOM_OPTIONS["customfield_10020"]
        ]
        platforms = catalog.CUSTOM_OPTIONS["customfield_10021"]
        self.platforms = [
            [option_json("customfield_10021", *o) for o in rng.sample(platforms, rng.randint(0, 3))]
            for _ in range(32)
        ]
        self.resolution = catalog.resolution_json(catalog.RESOLUTION_DONE)
        self.resolutions = [catalog.resolution_json(r) for r in catalog.RESOLUTIONS]
        # Serialized once: orjson copies these into every issue instead of re-encoding them.
        # id(fragment) -> (fragment, the object it encodes), to read pooled values back.
        # Kept per site (and carried over when the pools are rebuilt, since pinned issues
        # may still hold older fragments), so it goes away with the site.
        previous = site.pools
        self.originals: dict[int, tuple[orjson.Fragment, Any]] = (
            dict(previous.originals) if previous is not None else {}
        )
        fragment = self.fragment
        self.user_frags = [fragment(u) for u in self.users]
        self.description_frags = [fragment(d) for d in self.descriptions]
        self.short_doc_frags = [fragment(d) for d in self.short_docs]
        self.two_paragraph_frags = [fragment(d) for d in self.two_paragraphs]
        self.tier_frags = [fragment(t) for t in self.tiers]
        self.platform_frags = [fragment(pl) for pl in self.platforms]
        # Each issue's Random is seeded with seed_int ^ (issue id * a large odd constant).
        self.seed_int = hash_seed(site.seed)
        self.base = BASE
        self.texts: Any = None  # sandbox.fastjson.Texts, built on first use
        self.project_parts_cache: dict[tuple[int, int, int], tuple[Any, list, list]] = {}

    def rebased(self, base: str) -> Pools:
        """The same pools with `base` in every `self` link instead of the placeholder, so that
        issues generated for the usual base URL need no substitution afterwards."""
        other = copy.copy(self)
        raw = base.encode()

        def convert(value: Any) -> Any:
            return orjson.loads(orjson.dumps(value).replace(BASE_BYTES, raw))

        other.users = [convert(u) for u in self.users]
        other.statuses = [(sid, convert(status)) for sid, status in self.statuses]
        other.types = [convert(t) for t in self.types]
        other.priorities = [convert(p) for p in self.priorities]
        other.tiers = [convert(t) for t in self.tiers]
        other.platforms = [convert(pl) for pl in self.platforms]
        other.resolution = convert(self.resolution)
        other.resolutions = [convert(r) for r in self.resolutions]
        other.status_by_id = {k: convert(v) for k, v in self.status_by_id.items()}
        other.type_by_id = {k: convert(v) for k, v in self.type_by_id.items()}
        other.user_frags = [self.fragment(u) for u in other.users]
        other.tier_frags = [self.fragment(t) for t in other.tiers]
        other.platform_frags = [self.fragment(pl) for pl in other.platforms]
        other.base = base
        other.texts = None
        other.project_parts_cache = {}
        return other

    def project_parts(self, project: Project) -> tuple[Any, list[Any], list[Any]]:
        """The project reference and its first component/version references, serialized once
        per project (issues only ever show the first of each)."""
        key = (project.id, len(project.components), len(project.versions))
        parts = self.project_parts_cache.get(key)
        if parts is None:
            parts = self.project_parts_cache[key] = (
                self.fragment(project_ref(project, self.base)),
                [self.fragment(component_ref(c, self.base)) for c in project.components[:1]],
                [self.fragment(version_ref(v, self.base)) for v in project.versions[:1]],
            )
        return parts

    def fragment(self, value: Any) -> Any:
        """Pre-serialized JSON for a pooled object (None stays None)."""
        if value is None:
            return None
        frag = orjson.Fragment(orjson.dumps(value))
        self.originals[id(frag)] = (frag, value)  # keeping the fragment keeps its id unique
        return frag


def plain(site: Site, value: Any) -> Any:
    """The Python object behind a pooled fragment (anything else is returned as is)."""
    if isinstance(value, orjson.Fragment):
        return pools(site).originals[id(value)][1]
    return value


def hash_seed(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def pools(site: Site, base: str = BASE) -> Pools:
    current = site.pools
    if current is None or current.members != len(site.members):
        if current is not None:
            # Content generated with the old member list would no longer match fresh content.
            site.doc_cache.clear()
            site.json_cache.clear()
            site.based_pools.clear()
        current = site.pools = Pools(site)
    if base == BASE:
        return current
    based = site.based_pools.get(base)
    if based is None:
        based = site.based_pools[base] = current.rebased(base)
    return based


def issue_doc(site: Site, issue: Issue, base: str = BASE) -> dict[str, Any]:
    """The issue's full content: pinned if something wrote to it, else generated (cached).
    `base` only applies to generated content; pinned content keeps the placeholder."""
    if issue.doc is not None:
        return issue.doc
    key = (issue.id, issue.rev, base)
    doc = site.doc_cache.get(key)
    if doc is None:
        doc = generate_doc(site, issue, base)
        site.doc_cache.put(key, doc)
    return doc


def pin(site: Site, issue: Issue) -> dict[str, Any]:
    """Make the issue's content persistent so that a write to it sticks."""
    if issue.doc is None:
        doc = generate_doc(site, issue)
        doc["histories"] = generate_histories(site, issue)
        issue.doc = doc
        # Pooled objects are shared; give the pinned issue its own top-level containers.
        issue.doc["fields"] = dict(issue.doc["fields"])
    return issue.doc


def _users(site: Site) -> list[User]:
    accounts = site.state.users if site.state is not None else {}
    return [accounts[a] for a in sorted(site.members) if a in accounts]


def headline(site: Site, issue: Issue, base: str = BASE) -> dict[str, Any]:
    """Summary, status, priority and type: what other issues show of a linked issue. Drawn
    from a separate stream so rendering a link does not build the linked issue."""
    if issue.doc is not None:
        fields = issue.doc["fields"]
        return {k: fields[k] for k in ("summary", "status", "priority", "issuetype")}
    p = pools(site, base)
    bits = issue.head
    return {
        "summary": p.sentences[bits & 1023],
        "status": (
            p.status_by_id[issue.status_id]
            if issue.status_id
            else p.statuses[(bits >> 10) % len(p.statuses)][1]
        ),
        "priority": p.priorities[(bits >> 13) % 5],
        "issuetype": p.type_by_id[issue.type_id] if issue.type_id else p.types[(bits >> 16) % 4],
    }


def resolution_index(site: Site, issue: Issue) -> int:
    """Which of catalog.RESOLUTIONS a generated done issue has: always Done on classic sites;
    on sites with workflows mostly Done, sometimes Won't Do or Duplicate."""
    if "workflows" not in site.features:
        return 0
    roll = (issue.head >> 24) % 20
    return 0 if roll < 17 else (1 if roll < 19 else 2)


def plan_issue(site: Site, issue: Issue, base: str = BASE) -> dict[str, Any]:
    """Every random choice of a generated issue, as pool indexes and small values. Both
    `generate_doc` (Python objects) and `sandbox.fastjson` (JSON text, the cold read path)
    build the issue from this plan, so they cannot disagree on content."""
    p = pools(site, base)
    # The C Random seeded with an int gives exactly random.Random(n)'s stream, without the
    # Python-level seed() wrapper (this runs once per issue on the cold read path).
    r = _CRandom(p.seed_int ^ (issue.id * 0xC2B2AE3D27D4EB4F)).random
    n_users = len(p.users)
    created, updated = issue.created, issue.updated
    span = max(60.0, updated - created)
    plan: dict[str, Any] = {
        "reporter": int(r() * n_users),
        "description": int(r() * 256),
        "assignee": int(r() * n_users) if r() < 0.8 else None,
        "labels": int(r() * 64),
        "components": int(r() * 2),
        "versions": int(r() * 2),
        "duedate": day(updated + int(1 + r() * 60) * 86400) if r() < 0.4 else None,
        "environment": int(r() * 512) if r() < 0.2 else None,
        "watchers": int(r() * 6),
        "votes": int(r() * 4),
        "tier": int(r() * 3) if r() < 0.7 else None,
        "platforms": int(r() * 32),
        "points": (1, 2, 3, 5, 8, 13, None)[int(r() * 7)],
        "target": day(created + int(5 + r() * 85) * 86400) if r() < 0.5 else None,
        "reviewer": int(r() * n_users) if r() < 0.5 else None,
        "tags": int(r() * 64),
        "acceptance": int(r() * 128) if r() < 0.5 else None,
    }
    # Every 17th issue is heavy: over the 20-item inline caps, with a long changelog.
    n_comments = 21 + int(r() * 20) if issue.id % 17 == 3 else int(r() * 7)
    stamps = sorted(created + r() * span for _ in range(n_comments))
    first = issue.id * SUB_ID
    plan["comments"] = [
        (first + n, int(r() * n_users), int(r() * 512), at) for n, at in enumerate(stamps)
    ]
    attachments = []
    for n in range((0, 0, 1, 1, 2, 3)[int(r() * 6)]):
        ext, mime = ATTACHMENT_KINDS[int(r() * len(ATTACHMENT_KINDS))]
        size = int(200 * (1.6 ** int(r() * 21)))  # 200 B .. ~2 MB, mostly small
        if mime == "image/png":
            size = max(size, 8192)  # room for the real image before the padding
        filename = f"{WORDS[int(r() * len(WORDS))]}-{n}.{ext}"
        attachments.append(
            (first + n, filename, mime, size, int(r() * n_users), created + r() * span)
        )
    plan["attachments"] = attachments
    plan["remotelinks"] = [
        (first + n, 1000 + int(r() * 9000), int(r() * 1024))
        for n in range((0, 0, 0, 1, 2)[int(r() * 5)])
    ]
    plan["properties"] = (
        {"sandbox.metadata": {"source": "generator", "score": int(r() * 100)}} if r() < 0.3 else {}
    )
    # every 29th issue has more worklogs than the inline cap
    count = 21 + int(r() * 10) if issue.id % 29 == 5 else (0, 0, 1, 2, 3)[int(r() * 5)]
    worklogs = []
    for n in range(count):
        at = created + r() * span
        seconds = (900, 1800, 3600, 7200, 14400, 28800)[int(r() * 6)]
        worklogs.append((first + n, int(r() * n_users), int(r() * 512), at, seconds))
    worklogs.sort(key=lambda w: w[3])
    plan["worklogs"] = worklogs
    return plan


def remote_link_json(issue: Issue, link_id: int, page: int, title: str, base: str) -> dict:
    return {
        "id": link_id,
        "self": f"{base}/rest/api/3/issue/{issue.key}/remotelink/{link_id}",
        "globalId": f"system=https://wiki.example.com&id={page}",
        "application": {"type": "com.atlassian.confluence", "name": "Confluence"},
        "relationship": "mentioned in",
        "object": {
            "url": f"https://wiki.example.com/pages/{page}",
            "title": title,
            "icon": {"url16x16": "https://wiki.example.com/favicon.ico", "title": "Wiki"},
        },
    }


def generate_doc(site: Site, issue: Issue, base: str = BASE) -> dict[str, Any]:
    p = pools(site, base)
    plan = plan_issue(site, issue, base)
    users, frags = p.users, p.user_frags
    project = site.projects[issue.project_id]
    head = headline(site, issue, base)
    project_frag, first_component, first_version = p.project_parts(project)
    done = catalog.STATUS_CATEGORY[head["status"]["id"]] == "done"
    resolution = p.resolutions[resolution_index(site, issue)] if done else None
    description_nodes, comment_nodes = media.generated_nodes(
        site, issue.head, [(a[0], a[1], a[2]) for a in plan["attachments"]]
    )
    description = p.description_frags[plan["description"]]
    if description_nodes:
        description = media.with_nodes(p.descriptions[plan["description"]], description_nodes)
    updated_iso = iso(issue.updated)

    def pick(pool: list, index: int | None) -> Any:
        return None if index is None else pool[index]

    fields: dict[str, Any] = {
        **head,
        "description": description,
        "project": project_frag,
        "assignee": pick(users, plan["assignee"]),
        "reporter": users[plan["reporter"]],
        "creator": frags[plan["reporter"]],
        "created": iso(issue.created),
        "updated": updated_iso,
        "labels": p.labels[plan["labels"]],
        "components": first_component[: plan["components"]],
        "fixVersions": first_version[: plan["versions"]],
        "versions": [],
        "resolution": resolution,
        "resolutiondate": updated_iso if done else None,
        "duedate": plan["duedate"],
        "environment": pick(p.short_doc_frags, plan["environment"]),
        "timetracking": {},
        "subtasks": [],
        "watches": {
            "self": f"{base}/rest/api/3/issue/{issue.key}/watchers",
            "watchCount": plan["watchers"],
            "isWatching": False,
        },
        "votes": {
            "self": f"{base}/rest/api/3/issue/{issue.key}/votes",
            "votes": plan["votes"],
            "hasVoted": False,
        },
        "statuscategorychangedate": updated_iso,
        "customfield_10020": pick(p.tier_frags, plan["tier"]),
        "customfield_10021": p.platform_frags[plan["platforms"]],
        "customfield_10022": plan["points"],
        "customfield_10023": plan["target"],
        "customfield_10024": pick(frags, plan["reviewer"]),
        "customfield_10025": p.tags[plan["tags"]],
        "customfield_10026": pick(p.two_paragraph_frags, plan["acceptance"]),
    }
    comments = [
        comment_json(issue, cid, frags[a], p.short_doc_frags[b], at, base)
        for cid, a, b, at in plan["comments"]
    ]
    if comment_nodes and comments:
        first_body = p.short_docs[plan["comments"][0][2]]
        comments[0]["body"] = media.with_nodes(first_body, comment_nodes)
    return {
        "fields": fields,
        "comments": comments,
        "worklogs": [
            worklog_json(issue, wid, frags[a], p.short_doc_frags[b], at, at, seconds, base)
            for wid, a, b, at, seconds in plan["worklogs"]
        ],
        "attachments": [
            attachment_json(att_id, filename, mime, size, frags[a], at, base)
            for att_id, filename, mime, size, a, at in plan["attachments"]
        ],
        "remotelinks": [
            remote_link_json(issue, link_id, page, p.sentences[title], base)
            for link_id, page, title in plan["remotelinks"]
        ],
        "properties": plan["properties"],
        "next_sub": {},
    }


def histories_of(site: Site, issue: Issue, base: str = BASE) -> list[dict]:
    """The changelog. Generated apart from the rest (own random stream) because only the
    changelog endpoints and expand=changelog need it, and it is the largest part."""
    if issue.doc is not None and "histories" in issue.doc:
        return issue.doc["histories"]
    key = (issue.id, issue.rev, "histories", base)
    histories = site.doc_cache.get(key)
    if histories is None:
        histories = generate_histories(site, issue, base)
        site.doc_cache.put(key, histories)
    return histories


def generate_histories(site: Site, issue: Issue, base: str = BASE) -> list[dict]:
    p = pools(site, base)
    r = _CRandom(p.seed_int ^ (issue.id * 0x27D4EB2F165667C5)).random
    users = p.users
    n_users = len(users)
    # Every 17th issue is heavy (see generate_doc): a long changelog.
    n_histories = 60 + int(r() * 91) if issue.id % 17 == 3 else 2 + int(r() * 24)
    created = issue.created
    step = max(60.0, issue.updated - created) / (n_histories + 1)
    items = p.history_items
    first_id = issue.id * SUB_ID
    return [
        {
            "id": str(first_id + n),
            "author": users[int(r() * n_users)],
            "created": iso(created + (n + 1) * step),
            "items": items[int(r() * 512)],
        }
        for n in range(n_histories)
    ]


def _history_item(rng: random.Random) -> dict[str, Any]:
    # Jira sends null for absent from/to; the OpenAPI document says strings, so omit them.
    return {k: v for k, v in _history_change(rng).items() if v is not None}


def _history_change(rng: random.Random) -> dict[str, Any]:
    kind = rng.randrange(4)
    if kind == 0:
        a, b = rng.sample(catalog.STATUSES, 2)
        return {
            "field": "status",
            "fieldtype": "jira",
            "fieldId": "status",
            "from": a[0],
            "fromString": a[1],
            "to": b[0],
            "toString": b[1],
        }
    if kind == 1:
        a, b = rng.sample(catalog.PRIORITIES, 2)
        return {
            "field": "priority",
            "fieldtype": "jira",
            "fieldId": "priority",
            "from": a[0],
            "fromString": a[1],
            "to": b[0],
            "toString": b[1],
        }
    if kind == 2:
        return {
            "field": "summary",
            "fieldtype": "jira",
            "fieldId": "summary",
            "fromString": sentence(rng, 3, 6),
            "toString": sentence(rng, 3, 6),
        }
    return {
        "field": "labels",
        "fieldtype": "jira",
        "fieldId": "labels",
        "fromString": "",
        "toString": rng.choice(WORDS),
    }


# ---------------------------------------------------------------- JSON builders


def project_ref(project: Project, base: str = BASE) -> dict[str, Any]:
    return {
        "self": f"{base}/rest/api/3/project/{project.id}",
        "id": str(project.id),
        "key": project.key,
        "name": project.name,
        "projectTypeKey": project.project_type,
        "simplified": False,
        "avatarUrls": {
            s: f"{base}/avatar/project/{project.id}?s={s[:2]}"
            for s in ("16x16", "24x24", "32x32", "48x48")
        },
    }


def component_ref(component: dict, base: str = BASE) -> dict[str, Any]:
    return {
        "self": f"{base}/rest/api/3/component/{component['id']}",
        "id": component["id"],
        "name": component["name"],
        "description": component.get("description", ""),
    }


def version_ref(version: dict, base: str = BASE) -> dict[str, Any]:
    return {
        "self": f"{base}/rest/api/3/version/{version['id']}",
        "id": version["id"],
        "name": version["name"],
        "description": version.get("description", ""),
        "archived": version.get("archived", False),
        "released": version.get("released", False),
    }


def option_json(field_id: str, option_id: str, value: str) -> dict[str, Any]:
    return {
        "self": f"{BASE}/rest/api/3/customFieldOption/{option_id}",
        "value": value,
        "id": option_id,
    }


def attachment_json(
    att_id: int,
    filename: str,
    mime: str,
    size: int,
    author: dict | None,
    created: float,
    base: str = BASE,
) -> dict[str, Any]:
    data = {
        "self": f"{base}/rest/api/3/attachment/{att_id}",
        "id": str(att_id),
        "filename": filename,
        "author": author,
        "created": iso(created),
        "size": size,
        "mimeType": mime,
        "content": f"{base}/rest/api/3/attachment/content/{att_id}",
    }
    if author is None:
        del data["author"]
    if mime == "image/png":
        data["thumbnail"] = f"{base}/rest/api/3/attachment/thumbnail/{att_id}"
    return data


def comment_json(
    issue: Issue, cid: int, author: dict | None, body: dict, at: float, base: str = BASE
) -> dict[str, Any]:
    stamp = iso(at)
    data = {
        "self": f"{base}/rest/api/3/issue/{issue.id}/comment/{cid}",
        "id": str(cid),
        "author": author,
        "body": body,
        "updateAuthor": author,
        "created": stamp,
        "updated": stamp,
        "jsdPublic": True,
    }
    if author is None:
        del data["author"], data["updateAuthor"]
    return data


def worklog_json(
    issue: Issue,
    wid: int,
    author: dict | None,
    comment: dict | None,
    started: float,
    created: float,
    seconds: int,
    base: str = BASE,
) -> dict[str, Any]:
    stamp = iso(created)
    data = {
        "self": f"{base}/rest/api/3/issue/{issue.id}/worklog/{wid}",
        "author": author,
        "updateAuthor": author,
        "comment": comment,
        "created": stamp,
        "updated": stamp,
        "started": stamp if started == created else iso(started),
        "timeSpent": duration(seconds),
        "timeSpentSeconds": seconds,
        "id": str(wid),
        "issueId": str(issue.id),
    }
    if author is None:
        del data["author"], data["updateAuthor"]
    if comment is None:
        del data["comment"]
    return data


_DURATIONS: dict[int, str] = {}


def duration(seconds: int) -> str:
    """Jira's timeSpent text ("2h 30m"), memoized: only a few values ever occur."""
    text = _DURATIONS.get(seconds)
    if text is not None:
        return text
    hours, rest = divmod(seconds, 3600)
    minutes = rest // 60
    parts = ([f"{hours}h"] if hours else []) + ([f"{minutes}m"] if minutes else [])
    text = _DURATIONS[seconds] = " ".join(parts) or "0m"
    return text
