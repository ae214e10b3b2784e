"""The cold read path: a generated issue's `fields=*all` JSON written as text from its plan.

`search/jql` and `issue/bulkfetch` with `fields=*all` are what a backup reads, and building
~20 KiB of nested dicts per issue only to serialize them dominated the sandbox's CPU. Here the
same plan (`content.plan_issue`) is turned into JSON text directly from pieces serialized once
per site. `tests/sandbox/test_fastjson.py` checks that the result parses to exactly what the
dict path (`render.issue_json`) produces.
"""

from __future__ import annotations

from _random import Random as _CRandom
from typing import Any

import orjson

from sandbox import catalog, media
from sandbox.clock import _CLOCK, _DAY_PREFIX, _MILLIS, day, day_prefix, iso
from sandbox.content import ATTACHMENT_KINDS, SUB_ID, Pools, duration, pools, resolution_index
from sandbox.generator import WORDS
from sandbox.model import Issue, Site

ALL_EXPANDS = "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations"


def _text(value: Any) -> str:
    return orjson.dumps(value).decode()


_POINTS = ("1", "2", "3", "5", "8", "13", "null")
_ATTACHMENT_COUNTS = (0, 0, 1, 1, 2, 3)
_REMOTE_LINK_COUNTS = (0, 0, 0, 1, 2)
_WORKLOG_COUNTS = (0, 0, 1, 2, 3)
_WORKLOG_SECONDS = (900, 1800, 3600, 7200, 14400, 28800)


class Texts:
    """JSON text of every pooled object of one Pools (one site x base URL), and the constant
    stretches of text around them, so that an issue is mostly a join of ready-made strings."""

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
        self.resolutions = [_text(r) for r in p.resolutions]
        self.status_by_id = {
            sid: (catalog.STATUS_CATEGORY[sid] == "done", _text(status))
            for sid, status in p.status_by_id.items()
        }
        self.type_by_id = {tid: _text(t) for tid, t in p.type_by_id.items()}
        self.projects: dict[tuple, tuple[str, list[str], list[str]]] = {}
        self.api = f"{p.base}/rest/api/3"
        # A file name is "<word>-<n>.<ext>": the word's JSON string without its closing quote.
        self.quoted_words = [_text(w)[:-1] for w in WORDS]
        # Per author: the text between a comment's id and its body, and between its body and
        # its timestamp; the text between a worklog's id and its comment.
        self.comment_author = [
            (f'","author":{u},"body":', f',"updateAuthor":{u},"created":"') for u in self.users
        ]
        self.worklog_author = [f'","author":{u},"updateAuthor":{u},"comment":' for u in self.users]
        self.worklog_spent = {
            s: f'","timeSpent":"{duration(s)}","timeSpentSeconds":{s},"id":"'
            for s in _WORKLOG_SECONDS
        }

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


def issue_all_text(
    site: Site,
    issue: Issue,
    base: str,
    cap: int,
    links_json: str,
    structure_json: str = '"subtasks":[]',
) -> str | None:
    """The issue's JSON for fields=*all (no expand, no properties), or None when this path
    does not apply (pinned issue, a site without accounts, or options changed over the API).
    `structure_json` is the `subtasks` member and what follows it (parent, rank, sprints:
    `render.structure_fields`, which depend on other issues, not on this issue's stream).

    The random choices are drawn exactly as `content.plan_issue` draws them (same stream,
    same order), but written straight into text: this is the cold read path, run once per
    issue, and a plan of tuples built only to be read back once cost a third of it."""
    if issue.doc is not None or site.option_changes:
        return None
    p = pools(site, base)
    if p.users[0] is None:
        return None
    t = p.texts if p.texts is not None else texts(p)
    users = t.users
    short_docs = t.short_docs
    r = _CRandom(p.seed_int ^ (issue.id * 0xC2B2AE3D27D4EB4F)).random
    n_users = len(p.users)
    created, updated = issue.created, issue.updated
    span = max(60.0, updated - created)
    reporter = users[int(r() * n_users)]
    description = t.descriptions[int(r() * 256)]
    assignee = users[int(r() * n_users)] if r() < 0.8 else "null"
    labels = t.labels[int(r() * 64)]
    n_components = int(r() * 2)
    n_versions = int(r() * 2)
    duedate = f'"{day(updated + int(1 + r() * 60) * 86400)}"' if r() < 0.4 else "null"
    environment = short_docs[int(r() * 512)] if r() < 0.2 else "null"
    watchers = int(r() * 6)
    votes = int(r() * 4)
    tier = t.tiers[int(r() * 3)] if r() < 0.7 else "null"
    platforms = t.platforms[int(r() * 32)]
    points = _POINTS[int(r() * 7)]
    target = f'"{day(created + int(5 + r() * 85) * 86400)}"' if r() < 0.5 else "null"
    reviewer = users[int(r() * n_users)] if r() < 0.5 else "null"
    tags = t.tags[int(r() * 64)]
    acceptance = t.two_paragraphs[int(r() * 128)] if r() < 0.5 else "null"
    iid = issue.id
    n_comments = 21 + int(r() * 20) if iid % 17 == 3 else int(r() * 7)
    stamps = sorted([created + r() * span for _ in range(n_comments)])
    first = iid * SUB_ID
    comment_url = f"{t.api}/issue/{iid}/comment/"
    comment_author = t.comment_author
    comments = []
    first_comment = None  # (author, body, stamp) of comment 0, rewritten if media is added
    # iso() inlined in the two loops below (same arithmetic, see sandbox.clock.iso).
    prefixes, clock, millis = _DAY_PREFIX, _CLOCK, _MILLIS
    for n, at in enumerate(stamps[:cap]):
        author = int(r() * n_users)
        body = int(r() * 512)
        ms = int(at * 1000)
        days = ms // 86_400_000
        rest = ms - days * 86_400_000
        stamp = (
            f"{prefixes.get(days) or day_prefix(days)}{clock[rest // 1000]}{millis[rest % 1000]}"
        )
        cid = first + n
        if n == 0:
            first_comment = (author, body, stamp)
        before_body, after_body = comment_author[author]
        comments.append(
            f'{{"self":"{comment_url}{cid}","id":"{cid}{before_body}{short_docs[body]}'
            f'{after_body}{stamp}","updated":"{stamp}","jsdPublic":true}}'
        )
    for _ in range(n_comments - len(comments)):  # past the inline cap: drawn, not shown
        r()
        r()
    attachments = []
    media_on = "media" in site.features
    media_files = []  # (id, file name, mime): what media nodes may refer to
    quoted_words, n_words = t.quoted_words, len(WORDS)
    for n in range(_ATTACHMENT_COUNTS[int(r() * 6)]):
        ext, mime = ATTACHMENT_KINDS[int(r() * 5)]
        size = int(200 * (1.6 ** int(r() * 21)))
        if mime == "image/png":
            size = max(size, 8192)
        word = int(r() * n_words)
        filename = f'{quoted_words[word]}-{n}.{ext}"'
        author = int(r() * n_users)
        at = created + r() * span
        att_id = first + n
        if media_on:
            media_files.append((att_id, f"{WORDS[word]}-{n}.{ext}", mime))
        url = f"{t.api}/attachment"
        thumbnail = f',"thumbnail":"{url}/thumbnail/{att_id}"' if mime == "image/png" else ""
        attachments.append(
            f'{{"self":"{url}/{att_id}","id":"{att_id}",'
            f'"filename":{filename},"author":{users[author]},"created":"{iso(at)}",'
            f'"size":{size},"mimeType":"{mime}","content":"{url}/content/{att_id}"{thumbnail}}}'
        )
    for _ in range(_REMOTE_LINK_COUNTS[int(r() * 5)]):  # not part of fields=*all
        r()
        r()
    if r() < 0.3:  # the issue's property, not part of fields=*all either
        r()
    count = 21 + int(r() * 10) if iid % 29 == 5 else _WORKLOG_COUNTS[int(r() * 5)]
    # (at, n, ...) tuples sort exactly as plan_issue's stable sort on `at` does.
    drawn = sorted(
        [
            (
                created + r() * span,
                n,
                _WORKLOG_SECONDS[int(r() * 6)],
                int(r() * n_users),
                int(r() * 512),
            )
            for n in range(count)
        ]
    )
    issue_url = f"{t.api}/issue/{iid}"
    worklog_author, worklog_spent = t.worklog_author, t.worklog_spent
    worklogs = []
    for at, n, seconds, author, comment in drawn[:cap]:
        ms = int(at * 1000)
        days = ms // 86_400_000
        rest = ms - days * 86_400_000
        stamp = (
            f"{prefixes.get(days) or day_prefix(days)}{clock[rest // 1000]}{millis[rest % 1000]}"
        )
        worklogs.append(
            f'{{"self":"{issue_url}/worklog/{first + n}{worklog_author[author]}'
            f'{short_docs[comment]},"created":"{stamp}","updated":"{stamp}","started":"{stamp}'
            f'{worklog_spent[seconds]}{first + n}","issueId":"{iid}"}}'
        )
    bits = issue.head
    if issue.status_id:
        done, status = t.status_by_id[issue.status_id]
    else:
        done, status = t.statuses[(bits >> 10) % len(t.statuses)]
    issuetype = t.type_by_id[issue.type_id] if issue.type_id else t.types[(bits >> 16) % 4]
    resolution = t.resolutions[resolution_index(site, issue)] if done else "null"
    if media_files:
        description_nodes, comment_nodes = media.generated_nodes(site, bits, media_files)
        if description_nodes:
            description = f"{description[:-2]},{_text(description_nodes)[1:-1]}]}}"
        if comment_nodes and first_comment is not None:
            author, body, stamp = first_comment
            before_body, after_body = comment_author[author]
            doc = f"{short_docs[body][:-2]},{_text(comment_nodes)[1:-1]}]}}"
            comments[0] = (
                f'{{"self":"{comment_url}{first}","id":"{first}{before_body}{doc}'
                f'{after_body}{stamp}","updated":"{stamp}","jsdPublic":true}}'
            )
    project, components, versions = t.project(p, site.projects[issue.project_id])
    updated_iso = iso(updated)
    resolved = f'"{updated_iso}"' if done else "null"
    key = issue.key
    return (
        f'{{"expand":"{ALL_EXPANDS}","id":"{iid}","self":"{issue_url}","key":"{key}","fields":{{'
        f'"summary":{t.sentences[bits & 1023]},"status":{status}'
        f',"priority":{t.priorities[(bits >> 13) % 5]},"issuetype":{issuetype}'
        f',"description":{description},"project":{project}'
        f',"assignee":{assignee},"reporter":{reporter}'
        f',"creator":{reporter},"created":"{iso(created)}","updated":"{updated_iso}"'
        f',"labels":{labels}'
        f',"components":[{",".join(components[:n_components])}]'
        f',"fixVersions":[{",".join(versions[:n_versions])}],"versions":[]'
        f',"resolution":{resolution}'
        f',"resolutiondate":{resolved}'
        f',"duedate":{duedate}'
        f',"environment":{environment}'
        f',"timetracking":{{}},{structure_json}'
        f',"watches":{{"self":"{t.api}/issue/{key}/watchers",'
        f'"watchCount":{watchers},"isWatching":false}}'
        f',"votes":{{"self":"{t.api}/issue/{key}/votes",'
        f'"votes":{votes},"hasVoted":false}}'
        f',"statuscategorychangedate":"{updated_iso}"'
        f',"customfield_10020":{tier}'
        f',"customfield_10021":{platforms}'
        f',"customfield_10022":{points}'
        f',"customfield_10023":{target}'
        f',"customfield_10024":{reviewer}'
        f',"customfield_10025":{tags}'
        f',"customfield_10026":{acceptance}'
        f',"issuelinks":{links_json},"attachment":[{",".join(attachments)}]'
        f',"comment":{{"comments":[{",".join(comments)}]'
        f',"self":"{issue_url}/comment","maxResults":{cap},"total":{n_comments},"startAt":0}}'
        f',"worklog":{{"startAt":0,"maxResults":{cap},"total":{count},'
        f'"worklogs":[{",".join(worklogs)}]}}}}}}'
    )
