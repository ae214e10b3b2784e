"""The cold read path: a generated issue's `fields=*all` JSON written as text from its plan.

`search/jql` and `issue/bulkfetch` with `fields=*all` are what a backup reads, and building
~20 KiB of nested dicts per issue only to serialize them dominated the sandbox's CPU. Here the
same plan (`content.plan_issue`) is turned into JSON text directly from pieces serialized once
per site. `tests/sandbox/test_fastjson.py` checks that the result parses to exactly what the
dict path (`render.issue_json`) produces.
"""

from __future__ import annotations

from typing import Any

import orjson

from sandbox.clock import iso
from sandbox.content import Pools, duration, plan_issue, pools
from sandbox.model import Issue, Site

ALL_EXPANDS = "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations"


def _text(value: Any) -> str:
    return orjson.dumps(value).decode()


class Texts:
    """JSON text of every pooled object of one Pools (one site x base URL)."""

    def __init__(self, p: Pools) -> None:
        self.users = [_text(u) for u in p.users]
        self.sentences = [_text(x) for x in p.sentences]
        self.descriptions = [_text(x) for x in p.descriptions]
        self.short_docs = [_text(x) for x in p.short_docs]
        self.two_paragraphs = [_text(x) for x in p.two_paragraphs]
        self.statuses = [(sid == "10002", _text(status)) for sid, status in p.statuses]
        self.types = [_text(x) for x in p.types]
        self.priorities = [_text(x) for x in p.priorities]
        self.labels = [_text(x) for x in p.labels]
        self.tags = [_text(x) for x in p.tags]
        self.tiers = [_text(x) for x in p.tiers]
        self.platforms = [_text(x) for x in p.platforms]
        self.resolution = _text(p.resolution)
        self.projects: dict[tuple, tuple[str, list[str], list[str]]] = {}

    def project(self, p: Pools, project: Any) -> tuple[str, list[str], list[str]]:
        key = (project.id, len(project.components), len(project.versions))
        found = self.projects.get(key)
        if found is None:
            ref, components, versions = p.project_parts(project)
            found = self.projects[key] = (
                orjson.dumps(ref).decode(),
                [orjson.dumps(c).decode() for c in components],
                [orjson.dumps(v).decode() for v in versions],
            )
        return found


def texts(p: Pools) -> Texts:
    if p.texts is None:
        p.texts = Texts(p)
    return p.texts


def _or_null(pool: list[str], index: int | None) -> str:
    return "null" if index is None else pool[index]


def _quoted_or_null(value: str | None) -> str:
    return "null" if value is None else f'"{value}"'


def issue_all_text(site: Site, issue: Issue, base: str, cap: int, links_json: str) -> str | None:
    """The issue's JSON for fields=*all (no expand, no properties), or None when this path
    does not apply (pinned issue, or a site without accounts)."""
    if issue.doc is not None:
        return None
    p = pools(site, base)
    if p.users[0] is None:
        return None
    t = texts(p)
    plan = plan_issue(site, issue, base)
    users = t.users
    iid, key = str(issue.id), issue.key
    issue_url = f"{base}/rest/api/3/issue/{iid}"
    bits = issue.head
    done, status = t.statuses[(bits >> 10) % len(t.statuses)]
    project, components, versions = t.project(p, site.projects[issue.project_id])
    updated = iso(issue.updated)
    reporter = users[plan["reporter"]]
    points = plan["points"]
    out = [
        f'{{"expand":"{ALL_EXPANDS}","id":"{iid}","self":"{issue_url}","key":"{key}","fields":{{',
        f'"summary":{t.sentences[bits & 1023]},"status":{status}',
        f',"priority":{t.priorities[(bits >> 13) % 5]},"issuetype":{t.types[(bits >> 16) % 4]}',
        f',"description":{t.descriptions[plan["description"]]},"project":{project}',
        f',"assignee":{_or_null(users, plan["assignee"])},"reporter":{reporter}',
        f',"creator":{reporter},"created":"{iso(issue.created)}","updated":"{updated}"',
        f',"labels":{t.labels[plan["labels"]]}',
        f',"components":[{",".join(components[: plan["components"]])}]',
        f',"fixVersions":[{",".join(versions[: plan["versions"]])}],"versions":[]',
        f',"resolution":{t.resolution if done else "null"}',
        f',"resolutiondate":{_quoted_or_null(updated if done else None)}',
        f',"duedate":{_quoted_or_null(plan["duedate"])}',
        f',"environment":{_or_null(t.short_docs, plan["environment"])}',
        ',"timetracking":{},"subtasks":[]',
        f',"watches":{{"self":"{base}/rest/api/3/issue/{key}/watchers",'
        f'"watchCount":{plan["watchers"]},"isWatching":false}}',
        f',"votes":{{"self":"{base}/rest/api/3/issue/{key}/votes",'
        f'"votes":{plan["votes"]},"hasVoted":false}}',
        f',"statuscategorychangedate":"{updated}"',
        f',"customfield_10020":{_or_null(t.tiers, plan["tier"])}',
        f',"customfield_10021":{t.platforms[plan["platforms"]]}',
        f',"customfield_10022":{"null" if points is None else points}',
        f',"customfield_10023":{_quoted_or_null(plan["target"])}',
        f',"customfield_10024":{_or_null(users, plan["reviewer"])}',
        f',"customfield_10025":{t.tags[plan["tags"]]}',
        f',"customfield_10026":{_or_null(t.two_paragraphs, plan["acceptance"])}',
        f',"issuelinks":{links_json},"attachment":[',
    ]
    for n, (att_id, filename, mime, size, author, at) in enumerate(plan["attachments"]):
        url = f"{base}/rest/api/3/attachment"
        thumbnail = f',"thumbnail":"{url}/thumbnail/{att_id}"' if mime == "image/png" else ""
        out.append(
            f'{"," if n else ""}{{"self":"{url}/{att_id}","id":"{att_id}",'
            f'"filename":{_text(filename)},"author":{users[author]},"created":"{iso(at)}",'
            f'"size":{size},"mimeType":"{mime}","content":"{url}/content/{att_id}"{thumbnail}}}'
        )
    comments = plan["comments"]
    out.append('],"comment":{"comments":[')
    for n, (cid, author, body, at) in enumerate(comments[:cap]):
        stamp = iso(at)
        user = users[author]
        out.append(
            f'{"," if n else ""}{{"self":"{issue_url}/comment/{cid}","id":"{cid}",'
            f'"author":{user},"body":{t.short_docs[body]},"updateAuthor":{user},'
            f'"created":"{stamp}","updated":"{stamp}","jsdPublic":true}}'
        )
    worklogs = plan["worklogs"]
    out.append(
        f'],"self":"{issue_url}/comment","maxResults":{cap},"total":{len(comments)},"startAt":0}}'
        f',"worklog":{{"startAt":0,"maxResults":{cap},"total":{len(worklogs)},"worklogs":['
    )
    for n, (wid, author, comment, at, seconds) in enumerate(worklogs[:cap]):
        stamp = iso(at)
        user = users[author]
        out.append(
            f'{"," if n else ""}{{"self":"{issue_url}/worklog/{wid}","author":{user},'
            f'"updateAuthor":{user},"comment":{t.short_docs[comment]},"created":"{stamp}",'
            f'"updated":"{stamp}","started":"{stamp}","timeSpent":"{duration(seconds)}",'
            f'"timeSpentSeconds":{seconds},"id":"{wid}","issueId":"{iid}"}}'
        )
    out.append("]}}}")
    return "".join(out)
