"""Deterministic test data: the same seed always yields the same sites, users and issues.

This module builds the world: accounts, sites, projects, and small issue *records* (ids,
timestamps, links). An issue's content is derived on demand by `sandbox.content`, and attachment
bytes by `sandbox.attachments`, so generating a 50,000-issue site costs well under a second and
little memory.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

from sandbox import catalog
from sandbox.model import Issue, Project, Site, User

# Generated timestamps fall before this instant (2026-01-01T00:00Z) so they do not depend on
# when the sandbox starts; mutations later move `updated` to the sandbox clock's "now".
DATA_ANCHOR = 1767225600.0
YEAR = 365 * 86400

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
    features: frozenset[str] = frozenset(),
) -> Site:
    """A site with `projects` projects and `issues` issues spread over them. `features` only
    mark the site here; `sandbox.structure` generates what they add once the issues exist."""
    rng = rng_for(seed, "site", name)
    site = Site(cloud_id=cloud_id or make_uuid(rng), name=name, seed=f"{seed}/{name}", state=state)
    site.features = features
    site.members.update(u.account_id for u in members)
    fields = catalog.CUSTOM_FIELDS + (catalog.AGILE_FIELDS if "agile" in features else [])
    site.custom_fields = [
        {"id": fid, "name": fname, "kind": kind, "schema": schema}
        for fid, fname, kind, schema in fields
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
