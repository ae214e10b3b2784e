"""Deterministic test data: the same seed always yields the same sites, users and issues.

Only issue *records* are created up front. An issue's content is derived from a Random seeded
with the site's seed and the issue id each time it is needed (and cached), so generating a
50,000-issue site costs well under a second and little memory; attachment bytes are likewise
derived from the attachment id on download.
"""

from __future__ import annotations

import hashlib
import random
import struct
import uuid
import zlib
from typing import Any

import orjson

from sandbox import catalog
from sandbox.clock import day, iso
from sandbox.model import BASE, Issue, Project, Site, User

# Generated timestamps fall before this instant (2026-01-01T00:00Z) so they do not depend on
# when the sandbox starts; mutations later move `updated` to the sandbox clock's "now".
DATA_ANCHOR = 1767225600.0
YEAR = 365 * 86400
SUB_ID = 1000  # comment/worklog/attachment/history ids are issue_id * SUB_ID + n
WRITTEN_BASE = 500  # ids >= issue_id * SUB_ID + 500 are for objects created over the API

WORDS = (
    "backup restore export import sprint release customer invoice latency cache queue worker "
    "retry timeout index search report dashboard login signup billing migration schema token "
    "permission audit webhook upload download gateway cluster replica snapshot policy tenant "
    "region alert metric budget roadmap feature bug crash fix refactor upgrade review deploy"
).split()
FIRST = (
    "Ada Alan Grace Linus Ken Barbara Edsger Margaret Dennis Frances John Radia Tim Hedy".split()
)
LAST = "Lovelace Turing Hopper Torvalds Thompson Liskov Dijkstra Hamilton Ritchie Allen".split()
PROJECT_NAMES = [
    ("ALPHA", "Alpha Platform"),
    ("BETA", "Beta Mobile"),
    ("OPS", "Operations"),
    ("WEB", "Website"),
    ("DATA", "Data Pipeline"),
    ("SEC", "Security"),
    ("HR", "People Team"),
    ("FIN", "Finance"),
]
ATTACHMENT_KINDS = [
    ("txt", "text/plain"),
    ("png", "image/png"),
    ("pdf", "application/pdf"),
    ("json", "application/json"),
    ("zip", "application/zip"),
]


def rng_for(*parts: object) -> random.Random:
    return random.Random("/".join(str(p) for p in parts))


def make_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def make_account_id(rng: random.Random) -> str:
    # Atlassian account ids look like "712020:" + a UUID for newer accounts.
    return "712020:" + make_uuid(rng)


def sentence(rng: random.Random, lo: int = 4, hi: int = 12) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(lo, hi))]
    return " ".join(words).capitalize()


def adf(*paragraphs: str) -> dict[str, Any]:
    """An Atlassian Document Format document with one paragraph per string."""
    return {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": p}]} for p in paragraphs
        ],
    }


def rich_adf(rng: random.Random) -> dict[str, Any]:
    """A description with a heading, paragraphs with marks, a list and sometimes code."""
    content: list[dict] = [
        {
            "type": "heading",
            "attrs": {"level": 2},
            "content": [{"type": "text", "text": sentence(rng, 2, 4)}],
        }
    ]
    for _ in range(rng.randint(1, 3)):
        content.append(
            {
                "type": "paragraph",
                "content": [
                    {"type": "text", "text": sentence(rng) + ". "},
                    {"type": "text", "text": rng.choice(WORDS), "marks": [{"type": "strong"}]},
                    {"type": "text", "text": " " + sentence(rng, 3, 8) + "."},
                ],
            }
        )
    content.append(
        {
            "type": "bulletList",
            "content": [
                {
                    "type": "listItem",
                    "content": [
                        {
                            "type": "paragraph",
                            "content": [{"type": "text", "text": sentence(rng, 2, 5)}],
                        }
                    ],
                }
                for _ in range(rng.randint(1, 4))
            ],
        }
    )
    if rng.random() < 0.3:
        content.append(
            {
                "type": "codeBlock",
                "attrs": {"language": "python"},
                "content": [{"type": "text", "text": f"retry(max_attempts={rng.randint(2, 9)})"}],
            }
        )
    return {"type": "doc", "version": 1, "content": content}


# ---------------------------------------------------------------- world building


def make_user(rng: random.Random, domain: str, index: int) -> User:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    email = f"{first.lower()}.{last.lower()}{index}@{domain}"
    return User(account_id=make_account_id(rng), email=email, name=f"{first} {last}")


def build_site(
    state: Any,
    name: str,
    seed: str,
    projects: int,
    issues: int,
    members: list[User],
    cloud_id: str | None = None,
) -> Site:
    """A site with `projects` projects and `issues` issues spread over them."""
    rng = rng_for(seed, "site", name)
    site = Site(cloud_id=cloud_id or make_uuid(rng), name=name, seed=f"{seed}/{name}", state=state)
    site.members.update(u.account_id for u in members)
    site.custom_fields = [
        {"id": fid, "name": fname, "kind": kind, "schema": schema}
        for fid, fname, kind, schema in catalog.CUSTOM_FIELDS
    ]
    member_ids = [u.account_id for u in members] or [""]
    for index in range(projects):
        key, pname = PROJECT_NAMES[index % len(PROJECT_NAMES)]
        if index >= len(PROJECT_NAMES):
            key = f"{key}{index // len(PROJECT_NAMES)}"
        add_project(site, key=key, name=pname, lead=member_ids[index % len(member_ids)], rng=rng)
    project_list = list(site.projects.values())
    if not project_list:
        return site
    for n in range(issues):
        project = project_list[n % len(project_list)]
        created = DATA_ANCHOR - YEAR + rng.random() * (YEAR - 86400)
        updated = created + rng.random() * (DATA_ANCHOR - created)
        new_issue(site, project, created, updated).head = rng.getrandbits(32)
    _generate_links(site, rng)
    return site


def add_project(
    site: Site, key: str, name: str, lead: str, rng: random.Random | None = None
) -> Project:
    rng = rng or rng_for(site.seed, "project", key)
    project = Project(id=site.next_project_id, key=key, name=name, lead_account_id=lead)
    project.description = f"{name} project."
    site.next_project_id += 1
    for cname in ("Backend", "Frontend", "API")[: rng.randint(1, 3)]:
        add_component(site, project, cname, lead)
    for index in range(rng.randint(1, 3)):
        add_version(site, project, f"{index + 1}.0", released=index == 0)
    members = sorted(site.members)
    project.roles = {rid: ([lead] if rid == 10002 else members[:3]) for rid, _name in catalog.ROLES}
    site.projects[project.id] = project
    return project


def add_component(
    site: Site, project: Project, name: str, lead: str = "", description: str = ""
) -> dict:
    component = {
        "id": str(site.next_component_id),
        "name": name,
        "description": description or f"{name} work",
        "project": project.key,
        "projectId": project.id,
        "assigneeType": "PROJECT_DEFAULT",
        "isAssigneeTypeValid": False,
    }
    if lead:
        component["leadAccountId"] = lead
    site.next_component_id += 1
    project.components.append(component)
    return component


def add_version(
    site: Site,
    project: Project,
    name: str,
    released: bool = False,
    description: str = "",
    release_date: str | None = None,
) -> dict:
    version = {
        "id": str(site.next_version_id),
        "name": name,
        "description": description or f"Release {name}",
        "archived": False,
        "released": released,
        "projectId": project.id,
    }
    if release_date:
        version["releaseDate"] = release_date
    site.next_version_id += 1
    project.versions.append(version)
    return version


def new_issue(site: Site, project: Project, created: float, updated: float) -> Issue:
    project.issue_counter += 1
    issue = Issue(
        site.next_issue_id, f"{project.key}-{project.issue_counter}", project.id, created, updated
    )
    site.next_issue_id += 1
    site.issues[issue.id] = issue
    site.issues_by_key[issue.key] = issue
    return issue


def add_link(site: Site, type_id: int, outward_id: int, inward_id: int) -> int:
    link_id = site.next_link_id
    site.next_link_id += 1
    site.links.setdefault(outward_id, []).append((link_id, type_id, "outward", inward_id))
    site.links.setdefault(inward_id, []).append((link_id, type_id, "inward", outward_id))
    return link_id


def _generate_links(site: Site, rng: random.Random) -> None:
    previous: dict[int, int] = {}
    for issue in site.issues.values():
        other = previous.get(issue.project_id)
        if other is not None and rng.random() < 0.3:
            add_link(site, 10000 + rng.randrange(4), issue.id, other)
        previous[issue.project_id] = issue.id


# ---------------------------------------------------------------- issue content
#
# Speed matters here: a cold `search/jql` + `bulkfetch` pass builds every issue once. Text, ADF
# documents, changelog items and user objects are therefore drawn from per-site pools built once,
# and each issue only draws indexes from its own seeded Random. Pooled objects are shared
# between issues and must never be mutated in place (writes replace them).


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
        self.resolution = dict(catalog.RESOLUTION_DONE, self=f"{BASE}/rest/api/3/resolution/10000")
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


def pools(site: Site) -> Pools:
    current = site.pools
    if current is None or current.members != len(site.members):
        if current is not None:
            # Content generated with the old member list would no longer match fresh content.
            site.doc_cache.clear()
            site.json_cache.clear()
        current = site.pools = Pools(site)
    return current


def issue_doc(site: Site, issue: Issue) -> dict[str, Any]:
    """The issue's full content: pinned if something wrote to it, else generated (cached)."""
    if issue.doc is not None:
        return issue.doc
    key = (issue.id, issue.rev)
    doc = site.doc_cache.get(key)
    if doc is None:
        doc = generate_doc(site, issue)
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


def headline(site: Site, issue: Issue) -> dict[str, Any]:
    """Summary, status, priority and type: what other issues show of a linked issue. Drawn
    from a separate stream so rendering a link does not build the linked issue."""
    if issue.doc is not None:
        fields = issue.doc["fields"]
        return {k: fields[k] for k in ("summary", "status", "priority", "issuetype")}
    p = pools(site)
    bits = issue.head
    return {
        "summary": p.sentences[bits & 1023],
        "status": p.statuses[(bits >> 10) % len(p.statuses)][1],
        "priority": p.priorities[(bits >> 13) % 5],
        "issuetype": p.types[(bits >> 16) % 4],
    }


def generate_doc(site: Site, issue: Issue) -> dict[str, Any]:
    p = pools(site)
    rng = random.Random(p.seed_int ^ (issue.id * 0xC2B2AE3D27D4EB4F))
    r = rng.random
    users = p.users
    n_users = len(users)
    project = site.projects[issue.project_id]
    created, updated = issue.created, issue.updated
    span = max(60.0, updated - created)
    head = headline(site, issue)
    done = head["status"]["id"] == "10002"
    frags = p.user_frags
    reporter_index = int(r() * n_users)
    reporter = users[reporter_index]
    updated_iso = iso(updated)
    fields: dict[str, Any] = {
        **head,
        "description": p.description_frags[int(r() * 256)],
        "project": project_ref(project),
        "assignee": users[int(r() * n_users)] if r() < 0.8 else None,
        "reporter": reporter,
        "creator": frags[reporter_index],
        "created": iso(created),
        "updated": updated_iso,
        "labels": p.labels[int(r() * 64)],
        "components": [component_ref(c) for c in project.components[: int(r() * 2)]],
        "fixVersions": [version_ref(v) for v in project.versions[: int(r() * 2)]],
        "versions": [],
        "resolution": p.resolution if done else None,
        "resolutiondate": updated_iso if done else None,
        "duedate": day(updated + int(1 + r() * 60) * 86400) if r() < 0.4 else None,
        "environment": p.short_doc_frags[int(r() * 512)] if r() < 0.2 else None,
        "timetracking": {},
        "subtasks": [],
        "watches": {
            "self": f"{BASE}/rest/api/3/issue/{issue.key}/watchers",
            "watchCount": int(r() * 6),
            "isWatching": False,
        },
        "votes": {
            "self": f"{BASE}/rest/api/3/issue/{issue.key}/votes",
            "votes": int(r() * 4),
            "hasVoted": False,
        },
        "statuscategorychangedate": updated_iso,
        "customfield_10020": p.tier_frags[int(r() * 3)] if r() < 0.7 else None,
        "customfield_10021": p.platform_frags[int(r() * 32)],
        "customfield_10022": (1, 2, 3, 5, 8, 13, None)[int(r() * 7)],
        "customfield_10023": day(created + int(5 + r() * 85) * 86400) if r() < 0.5 else None,
        "customfield_10024": frags[int(r() * n_users)] if r() < 0.5 else None,
        "customfield_10025": p.tags[int(r() * 64)],
        "customfield_10026": p.two_paragraph_frags[int(r() * 128)] if r() < 0.5 else None,
    }
    # Every 17th issue is heavy: over the 20-item inline caps, with a long changelog.
    heavy = issue.id % 17 == 3
    n_comments = 21 + int(r() * 20) if heavy else int(r() * 7)
    stamps = sorted(created + r() * span for _ in range(n_comments))
    comments = [
        comment_json(
            issue,
            issue.id * SUB_ID + n,
            frags[int(r() * n_users)],
            p.short_doc_frags[int(r() * 512)],
            at,
        )
        for n, at in enumerate(stamps)
    ]
    attachments = []
    for n in range((0, 0, 1, 1, 2, 3)[int(r() * 6)]):
        ext, mime = ATTACHMENT_KINDS[int(r() * len(ATTACHMENT_KINDS))]
        size = int(200 * (1.6 ** int(r() * 21)))  # 200 B .. ~2 MB, mostly small
        if mime == "image/png":
            size = max(size, 8192)  # room for the real image before the padding
        attachments.append(
            attachment_json(
                issue.id * SUB_ID + n,
                f"{WORDS[int(r() * len(WORDS))]}-{n}.{ext}",
                mime,
                size,
                frags[int(r() * n_users)],
                created + r() * span,
            )
        )
    remotelinks = []
    for n in range((0, 0, 0, 1, 2)[int(r() * 5)]):
        link_id = issue.id * SUB_ID + n
        page = 1000 + int(r() * 9000)
        remotelinks.append(
            {
                "id": link_id,
                "self": f"{BASE}/rest/api/3/issue/{issue.key}/remotelink/{link_id}",
                "globalId": f"system=https://wiki.example.com&id={page}",
                "application": {"type": "com.atlassian.confluence", "name": "Confluence"},
                "relationship": "mentioned in",
                "object": {
                    "url": f"https://wiki.example.com/pages/{page}",
                    "title": p.sentences[int(r() * 1024)],
                    "icon": {"url16x16": "https://wiki.example.com/favicon.ico", "title": "Wiki"},
                },
            }
        )
    properties = {}
    if r() < 0.3:
        properties["sandbox.metadata"] = {"source": "generator", "score": int(r() * 100)}
    return {
        "fields": fields,
        "comments": [c for c in comments if c],
        "worklogs": generate_worklogs(site, issue, r),
        "attachments": attachments,
        "remotelinks": remotelinks,
        "properties": properties,
        "next_sub": {},
    }


def histories_of(site: Site, issue: Issue) -> list[dict]:
    """The changelog. Generated apart from the rest (own random stream) because only the
    changelog endpoints and expand=changelog need it, and it is the largest part."""
    if issue.doc is not None and "histories" in issue.doc:
        return issue.doc["histories"]
    key = (issue.id, issue.rev, "histories")
    histories = site.doc_cache.get(key)
    if histories is None:
        histories = generate_histories(site, issue)
        site.doc_cache.put(key, histories)
    return histories


def generate_histories(site: Site, issue: Issue) -> list[dict]:
    p = pools(site)
    r = random.Random(p.seed_int ^ (issue.id * 0x27D4EB2F165667C5)).random
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


def generate_worklogs(site: Site, issue: Issue, r: Any) -> list[dict]:
    p = pools(site)
    users = p.user_frags
    heavy = issue.id % 29 == 5  # every 29th issue has more worklogs than the inline cap
    count = 21 + int(r() * 10) if heavy else (0, 0, 1, 2, 3)[int(r() * 5)]
    span = max(60.0, issue.updated - issue.created)
    worklogs = []
    for n in range(count):
        at = issue.created + r() * span
        seconds = (900, 1800, 3600, 7200, 14400, 28800)[int(r() * 6)]
        author = users[int(r() * len(users))]
        comment = p.short_doc_frags[int(r() * 512)]
        worklogs.append(
            worklog_json(issue, issue.id * SUB_ID + n, author, comment, at, at, seconds)
        )
    worklogs.sort(key=lambda w: w["started"])
    return worklogs


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


def project_ref(project: Project) -> dict[str, Any]:
    return {
        "self": f"{BASE}/rest/api/3/project/{project.id}",
        "id": str(project.id),
        "key": project.key,
        "name": project.name,
        "projectTypeKey": project.project_type,
        "simplified": False,
        "avatarUrls": {
            s: f"{BASE}/avatar/project/{project.id}?s={s[:2]}"
            for s in ("16x16", "24x24", "32x32", "48x48")
        },
    }


def component_ref(component: dict) -> dict[str, Any]:
    return {
        "self": f"{BASE}/rest/api/3/component/{component['id']}",
        "id": component["id"],
        "name": component["name"],
        "description": component.get("description", ""),
    }


def version_ref(version: dict) -> dict[str, Any]:
    return {
        "self": f"{BASE}/rest/api/3/version/{version['id']}",
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
    att_id: int, filename: str, mime: str, size: int, author: dict | None, created: float
) -> dict[str, Any]:
    data = {
        "self": f"{BASE}/rest/api/3/attachment/{att_id}",
        "id": str(att_id),
        "filename": filename,
        "author": author,
        "created": iso(created),
        "size": size,
        "mimeType": mime,
        "content": f"{BASE}/rest/api/3/attachment/content/{att_id}",
    }
    if author is None:
        del data["author"]
    if mime == "image/png":
        data["thumbnail"] = f"{BASE}/rest/api/3/attachment/thumbnail/{att_id}"
    return data


def comment_json(
    issue: Issue, cid: int, author: dict | None, body: dict, at: float
) -> dict[str, Any]:
    stamp = iso(at)
    data = {
        "self": f"{BASE}/rest/api/3/issue/{issue.id}/comment/{cid}",
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
) -> dict[str, Any]:
    stamp = iso(created)
    data = {
        "self": f"{BASE}/rest/api/3/issue/{issue.id}/worklog/{wid}",
        "author": author,
        "updateAuthor": author,
        "comment": comment,
        "created": stamp,
        "updated": stamp,
        "started": stamp if started == created else iso(started),
        "timeSpent": _DURATIONS.get(seconds) or _duration(seconds),
        "timeSpentSeconds": seconds,
        "id": str(wid),
        "issueId": str(issue.id),
    }
    return {k: v for k, v in data.items() if v is not None}


_DURATIONS: dict[int, str] = {}


def _duration(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes = rest // 60
    parts = ([f"{hours}h"] if hours else []) + ([f"{minutes}m"] if minutes else [])
    return " ".join(parts) or "0m"


# ---------------------------------------------------------------- attachment bytes


def _png(rng: random.Random) -> bytes:
    """A real (small, noisy) PNG image."""
    width = height = rng.choice((8, 16, 32))
    raw = b"".join(b"\x00" + rng.randbytes(width * 3) for _ in range(height))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def attachment_bytes(seed: str, att_id: int, mime: str, size: int) -> bytes:
    """Deterministic content of exactly `size` bytes whose format matches `mime`."""
    rng = rng_for(seed, "attachment", att_id)
    if mime == "text/plain":
        line = (" ".join(rng.choice(WORDS) for _ in range(12)) + "\n").encode()
        body = line * (size // len(line) + 1)
    elif mime == "application/json":
        head = b'{"generated": true, "filler": "'
        body = head + b"x" * max(0, size - len(head) - 2) + b'"}'
    elif mime == "image/png":
        # Trailing bytes after IEND are ignored by decoders; they give the file its size.
        png = _png(rng)
        body = png + rng.randbytes(max(0, size - len(png)))
    elif mime == "application/pdf":
        body = b"%PDF-1.4\n" + rng.randbytes(max(0, size - 16)) + b"\n%%EOF\n"
    else:
        body = b"PK\x03\x04" + rng.randbytes(max(0, size - 4))
    return body[:size]
