"""Deterministic test data: the same seed always yields the same sites, users and issues.

Only issue *records* are created up front. An issue's content is derived from
`Random(f"{site.seed}/{issue.id}")` each time it is needed (and cached), so generating a
50,000-issue site costs well under a second and little memory; attachment bytes are likewise
derived from the attachment id on download.
"""

from __future__ import annotations

import random
import struct
import uuid
import zlib
from typing import Any

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
        new_issue(site, project, created, updated)
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
        issue.doc = generate_doc(site, issue)
    return issue.doc


def _users(site: Site) -> list[User]:
    accounts = site.state.users if site.state is not None else {}
    return [accounts[a] for a in sorted(site.members) if a in accounts]


def generate_doc(site: Site, issue: Issue) -> dict[str, Any]:
    rng = rng_for(site.seed, issue.id)
    users = _users(site)
    project = site.projects[issue.project_id]

    def who() -> dict | None:
        return rng.choice(users).json() if users else None

    created, updated = issue.created, issue.updated
    status_id = rng.choice(catalog.STATUSES)[0]
    done = status_id == "10002"
    type_id = rng.choice(catalog.ISSUE_TYPES[:4])[0]
    reporter = who()
    options = catalog.CUSTOM_OPTIONS
    fields: dict[str, Any] = {
        "summary": sentence(rng, 3, 9),
        "description": rich_adf(rng),
        "issuetype": catalog.issuetype_json(type_id),
        "project": project_ref(project),
        "status": catalog.status_json(status_id),
        "priority": catalog.priority_json(rng.choice(catalog.PRIORITIES)[0]),
        "assignee": who() if rng.random() < 0.8 else None,
        "reporter": reporter,
        "creator": reporter,
        "created": iso(created),
        "updated": iso(updated),
        "labels": sorted({rng.choice(WORDS) for _ in range(rng.randint(0, 3))}),
        "components": [component_ref(c) for c in project.components[: rng.randint(0, 1)]],
        "fixVersions": [version_ref(v) for v in project.versions[: rng.randint(0, 1)]],
        "versions": [],
        "resolution": dict(catalog.RESOLUTION_DONE, self=f"{BASE}/rest/api/3/resolution/10000")
        if done
        else None,
        "resolutiondate": iso(updated) if done else None,
        "duedate": day(updated + rng.randint(1, 60) * 86400) if rng.random() < 0.4 else None,
        "environment": adf(sentence(rng)) if rng.random() < 0.2 else None,
        "timetracking": {},
        "subtasks": [],
        "watches": {
            "self": f"{BASE}/rest/api/3/issue/{issue.key}/watchers",
            "watchCount": rng.randint(0, 5),
            "isWatching": False,
        },
        "votes": {
            "self": f"{BASE}/rest/api/3/issue/{issue.key}/votes",
            "votes": rng.randint(0, 3),
            "hasVoted": False,
        },
        "statuscategorychangedate": iso(updated),
        "customfield_10020": option_json(
            "customfield_10020", *rng.choice(options["customfield_10020"])
        )
        if rng.random() < 0.7
        else None,
        "customfield_10021": [
            option_json("customfield_10021", *o)
            for o in rng.sample(options["customfield_10021"], rng.randint(0, 3))
        ],
        "customfield_10022": rng.choice([1, 2, 3, 5, 8, 13, None]),
        "customfield_10023": day(created + rng.randint(5, 90) * 86400)
        if rng.random() < 0.5
        else None,
        "customfield_10024": who() if rng.random() < 0.5 else None,
        "customfield_10025": sorted({rng.choice(WORDS) for _ in range(rng.randint(0, 2))}),
        "customfield_10026": adf(sentence(rng), sentence(rng)) if rng.random() < 0.5 else None,
    }
    span = max(60.0, updated - created)

    def moment() -> float:
        return created + rng.random() * span

    heavy = rng.random() < 0.05  # a few issues exceed the 20-item inline caps
    comments = [
        _comment(issue, issue.id * SUB_ID + n, who(), adf(sentence(rng, 5, 25)), moment())
        for n in range(rng.randint(21, 40) if heavy else rng.randint(0, 6))
    ]
    comments.sort(key=lambda c: c["created"])
    worklogs = generate_worklogs(site, issue, users)
    histories = []
    n_histories = rng.randint(60, 150) if heavy else rng.randint(2, 25)
    for n in range(n_histories):
        at = created + (n + 1) * span / (n_histories + 1)
        histories.append(
            {
                "id": str(issue.id * SUB_ID + n),
                "author": who(),
                "created": iso(at),
                "items": [_history_item(rng) for _ in range(rng.randint(1, 3))],
            }
        )
    attachments = []
    for n in range(rng.choice((0, 0, 1, 1, 2, 3))):
        ext, mime = rng.choice(ATTACHMENT_KINDS)
        size = int(200 * (1.6 ** rng.randint(0, 20)))  # 200 B .. ~2 MB, mostly small
        if mime == "image/png":
            size = max(size, 8192)  # room for the real image before the padding
        att_id = issue.id * SUB_ID + n
        attachments.append(
            attachment_json(att_id, f"{rng.choice(WORDS)}-{n}.{ext}", mime, size, who(), moment())
        )
    remotelinks = [
        {
            "id": issue.id * SUB_ID + n,
            "self": f"{BASE}/rest/api/3/issue/{issue.key}/remotelink/{issue.id * SUB_ID + n}",
            "globalId": f"system=https://wiki.example.com&id={rng.randint(1000, 9999)}",
            "application": {"type": "com.atlassian.confluence", "name": "Confluence"},
            "relationship": "mentioned in",
            "object": {
                "url": f"https://wiki.example.com/pages/{rng.randint(1000, 9999)}",
                "title": sentence(rng, 2, 5),
                "icon": {"url16x16": "https://wiki.example.com/favicon.ico", "title": "Wiki"},
            },
        }
        for n in range(rng.choice((0, 0, 0, 1, 2)))
    ]
    properties = {}
    if rng.random() < 0.3:
        properties["sandbox.metadata"] = {"source": "generator", "score": rng.randint(0, 100)}
    return {
        "fields": fields,
        "comments": comments,
        "worklogs": worklogs,
        "histories": histories,
        "attachments": attachments,
        "remotelinks": remotelinks,
        "properties": properties,
        "next_sub": {"comment": 0, "worklog": 0, "attachment": 0, "remotelink": 0, "history": 0},
    }


def generate_worklogs(site: Site, issue: Issue, users: list[User] | None = None) -> list[dict]:
    """Worklogs use their own random stream so `worklog/updated` need not build whole issues."""
    rng = rng_for(site.seed, issue.id, "worklog")
    users = users if users is not None else _users(site)
    heavy = rng.random() < 0.03
    count = rng.randint(21, 30) if heavy else rng.choice((0, 0, 1, 2, 3))
    span = max(60.0, issue.updated - issue.created)
    worklogs = []
    for n in range(count):
        at = issue.created + rng.random() * span
        author = rng.choice(users).json() if users else None
        seconds = rng.choice((900, 1800, 3600, 7200, 14400, 28800))
        worklogs.append(
            worklog_json(issue, issue.id * SUB_ID + n, author, adf(sentence(rng)), at, at, seconds)
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
            "from": None,
            "fromString": sentence(rng, 3, 6),
            "to": None,
            "toString": sentence(rng, 3, 6),
        }
    return {
        "field": "labels",
        "fieldtype": "jira",
        "fieldId": "labels",
        "from": None,
        "fromString": "",
        "to": None,
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


def _comment(issue: Issue, cid: int, author: dict | None, body: dict, at: float) -> dict[str, Any]:
    data = {
        "self": f"{BASE}/rest/api/3/issue/{issue.id}/comment/{cid}",
        "id": str(cid),
        "author": author,
        "body": body,
        "updateAuthor": author,
        "created": iso(at),
        "updated": iso(at),
        "jsdPublic": True,
    }
    return {k: v for k, v in data.items() if v is not None}


comment_json = _comment


def worklog_json(
    issue: Issue,
    wid: int,
    author: dict | None,
    comment: dict | None,
    started: float,
    created: float,
    seconds: int,
) -> dict[str, Any]:
    data = {
        "self": f"{BASE}/rest/api/3/issue/{issue.id}/worklog/{wid}",
        "author": author,
        "updateAuthor": author,
        "comment": comment,
        "created": iso(created),
        "updated": iso(created),
        "started": iso(started),
        "timeSpent": _duration(seconds),
        "timeSpentSeconds": seconds,
        "id": str(wid),
        "issueId": str(issue.id),
    }
    return {k: v for k, v in data.items() if v is not None}


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
