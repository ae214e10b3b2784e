"""What a site generated with features has beyond its issues' content: issue types and statuses
that fit the workflows, epics with children and sub-tasks, and Jira Software's boards, sprints,
sprint membership and rank. All of it is drawn from its own seeded stream once the issues
exist, so a classic site (no features) is generated exactly as before.
"""

from __future__ import annotations

import random
from typing import Any

from sandbox import catalog, workflows
from sandbox.model import Board, Issue, Site, Sprint

DAY = 86400
SPRINT_DAYS = 14
GOALS = (
    "Ship the {word} rework",
    "Stabilise {word} before the release",
    "Cut {word} latency in half",
    "Close the {word} backlog",
    "Prepare the {word} migration",
)
STATUS_WEIGHTS = {
    workflows.TODO: 30,
    workflows.IN_PROGRESS: 20,
    workflows.IN_REVIEW: 12,
    workflows.DONE: 33,
    workflows.BLOCKED: 5,
}


def generate(site: Site, seed: str, anchor: float) -> None:
    """Fill in types, statuses, hierarchy and agile data for `site.features`."""
    rng = random.Random(f"{seed}/structure/{site.name}")
    issues = sorted(site.issues.values(), key=lambda i: i.id)
    for issue in issues:
        # Without the hierarchy feature the type is the classic draw from the head bits.
        issue.type_id = catalog.ISSUE_TYPES[(issue.head >> 16) % 4][0]
    if "hierarchy" in site.features:
        _hierarchy(site, issues, rng)
    if "workflows" in site.features:
        if len(site.projects) > 1:
            second = list(site.projects.values())[1]
            second.schemes["workflow"] = str(workflows.KANBAN_SCHEME.id)
        choices: dict[tuple[int, str], tuple[tuple[str, ...], list[int]]] = {}
        for issue in issues:
            key = (issue.project_id, issue.type_id)
            if key not in choices:
                choices[key] = _status_choices(site, *key)
            statuses, cumulative = choices[key]
            issue.status_id = rng.choices(statuses, cum_weights=cumulative)[0]
    if "agile" in site.features:
        _agile(site, issues, rng, anchor)


# ------------------------------------------------------------------ hierarchy


def _hierarchy(site: Site, issues: list[Issue], rng: random.Random) -> None:
    epics: dict[int, list[Issue]] = {}
    standard: dict[int, list[Issue]] = {}
    for issue in issues:
        own = standard.setdefault(issue.project_id, [])
        roll = rng.random()
        if roll < 0.08:
            issue.type_id = catalog.EPIC
            epics.setdefault(issue.project_id, []).append(issue)
        elif roll < 0.23 and own:
            # A sub-task is created after its parent, in the parent's project.
            issue.type_id = catalog.SUBTASK
            link(site, issue.id, rng.choice(own[-10:]).id)
        else:
            issue.type_id = catalog.STANDARD_TYPES[(issue.head >> 16) % 3]
            own.append(issue)
    every_epic = [e for group in epics.values() for e in group]
    for project_id, members in standard.items():
        local = epics.get(project_id) or every_epic
        for issue in members:
            if local and rng.random() < 0.6:
                # Epics may hold issues of other projects (company-managed hierarchy).
                pool = every_epic if rng.random() < 0.05 else local
                link(site, issue.id, rng.choice(pool).id)


def link(site: Site, child_id: int, parent_id: int | None) -> None:
    """Set (or with None remove) the child's parent, keeping `children` sorted."""
    old = site.parents.pop(child_id, None)
    if old is not None:
        siblings = site.children.get(old, [])
        if child_id in siblings:
            siblings.remove(child_id)
    if parent_id is not None:
        site.parents[child_id] = parent_id
        siblings = site.children.setdefault(parent_id, [])
        siblings.append(child_id)
        siblings.sort()


# ------------------------------------------------------------------ statuses


def _status_choices(site: Site, project_id: int, type_id: str) -> tuple[tuple[str, ...], list[int]]:
    """The statuses of the workflow and their cumulative weights (what `rng.choices` draws
    from; the same draw as with plain weights)."""
    statuses = workflows.workflow_of(site, site.projects[project_id], type_id).statuses
    cumulative, total = [], 0
    for status in statuses:
        total += STATUS_WEIGHTS[status]
        cumulative.append(total)
    return statuses, cumulative


# ------------------------------------------------------------------ agile


def _agile(site: Site, issues: list[Issue], rng: random.Random, anchor: float) -> None:
    for project in site.projects.values():
        board = add_board(site, project.id, f"{project.key} board")
        _sprints(site, board, rng, anchor)
    by_board = {b.project_id: b for b in site.boards.values()}
    states: dict[int, dict[str, list[int]]] = {}
    for sprint in site.sprints.values():
        states.setdefault(sprint.board_id, {}).setdefault(sprint.state, []).append(sprint.id)
    for issue in issues:
        if issue.type_id == catalog.EPIC:
            continue
        parent = site.parents.get(issue.id)
        if issue.type_id == catalog.SUBTASK and parent is not None:
            # Sub-tasks are in their parent's sprints (Jira moves them together).
            continue
        chosen = _sprints_for(states[by_board[issue.project_id].id], issue, rng)
        if chosen:
            site.issue_sprints[issue.id] = chosen
    for issue in issues:
        parent = site.parents.get(issue.id)
        if issue.type_id == catalog.SUBTASK and parent in site.issue_sprints:
            site.issue_sprints[issue.id] = list(site.issue_sprints[parent])
    order = [i.id for i in issues]
    rng.shuffle(order)
    for issue_id, key in zip(order, initial_keys(len(order)), strict=True):
        site.ranks[issue_id] = key
    site.rank_last = max(site.ranks.values(), default="")


def add_board(site: Site, project_id: int, name: str) -> Board:
    board = Board(site.next_board_id, name, project_id, filter_id=10000 + site.next_board_id)
    site.next_board_id += 1
    site.boards[board.id] = board
    return board


def add_sprint(site: Site, board: Board, name: str, **values: Any) -> Sprint:
    sprint = Sprint(site.next_sprint_id, board.id, name, **values)
    site.next_sprint_id += 1
    site.sprints[sprint.id] = sprint
    return sprint


def _sprints(site: Site, board: Board, rng: random.Random, anchor: float) -> None:
    key = board.name.split(" ", 1)[0]
    active_start = anchor - 7 * DAY

    def goal() -> str:
        return rng.choice(GOALS).format(word=rng.choice(("search", "billing", "export", "login")))

    for n in range(3):
        start = active_start - (3 - n) * SPRINT_DAYS * DAY
        add_sprint(
            site,
            board,
            f"{key} Sprint {n + 1}",
            state="closed",
            start=start,
            end=start + SPRINT_DAYS * DAY,
            complete=start + SPRINT_DAYS * DAY + 2 * 3600,
            created=start - 3 * DAY,
            goal=goal(),
        )
    add_sprint(
        site,
        board,
        f"{key} Sprint 4",
        state="active",
        start=active_start,
        end=active_start + SPRINT_DAYS * DAY,
        created=active_start - 3 * DAY,
        goal=goal(),
    )
    add_sprint(
        site,
        board,
        f"{key} Sprint 5",
        start=active_start + SPRINT_DAYS * DAY,
        end=active_start + 2 * SPRINT_DAYS * DAY,
        created=active_start - 2 * DAY,
        goal=goal(),
    )
    add_sprint(site, board, f"{key} Sprint 6", created=active_start - DAY)


def _sprints_for(sprints: dict[str, list[int]], issue: Issue, rng: random.Random) -> list[int]:
    closed, active, future = sprints["closed"], sprints["active"], sprints["future"]
    category = catalog.STATUS_CATEGORY.get(issue.status_id or "", "")
    roll = rng.random()
    if category == "done":
        if roll < 0.7:
            return [rng.choice(closed)]
        return active if roll < 0.9 else []
    if category == "new" or issue.status_id is None:
        if roll < 0.3:
            return [future[0]]
        return active if roll < 0.55 else []
    if roll < 0.2:
        return [closed[-1], *active]  # carried over from the last sprint
    return active if roll < 0.6 else []


# ------------------------------------------------------------------ rank (LexoRank-like keys)

DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
KEY_SPACE = 36**6


PAIRS = [a + b for a in DIGITS for b in DIGITS]  # every 2-digit base-36 string, in order


def initial_keys(n: int) -> list[str]:
    """`n` evenly spaced 6-digit base-36 keys, ascending."""
    step = KEY_SPACE // (n + 1)
    pairs = PAIRS
    keys = []
    for i in range(n):
        value = (i + 1) * step
        keys.append(pairs[value // 1679616] + pairs[value // 1296 % 1296] + pairs[value % 1296])
    return keys


def between(low: str | None, high: str | None) -> str:
    """A key strictly between `low` and `high` (either may be None: unbounded)."""
    low = low or ""
    out = []
    i = 0
    while True:
        a = DIGITS.index(low[i]) if i < len(low) else 0
        b = DIGITS.index(high[i]) if high is not None and i < len(high) else 36
        if a == b:
            out.append(DIGITS[a])
        elif (a + b) // 2 > a:
            out.append(DIGITS[(a + b) // 2])
            return "".join(out)
        else:
            # b == a + 1: keep a here; below this digit nothing bounds us from above.
            out.append(DIGITS[a])
            high = None
        i += 1


def rank_value(key: str) -> str:
    """How Jira shows a rank: bucket|key:"""
    return f"0|{key}:"


def append_rank(site: Site, issue_id: int) -> None:
    """A new issue goes to the bottom of the ranking."""
    key = between(site.rank_last or None, None)
    site.ranks[issue_id] = key
    site.rank_last = key


def place(
    site: Site, moving: list[int], before: int | None = None, after: int | None = None
) -> None:
    """Rank `moving` (in this order) just before `before` or just after `after`."""
    skip = set(moving)
    others = [(key, i) for i, key in site.ranks.items() if i not in skip]
    if before is not None:
        high: str | None = site.ranks[before]
        low = max((k for k, _i in others if k < high), default=None)
    else:
        low = site.ranks[after]
        high = min((k for k, _i in others if k > low), default=None)
    for issue_id in moving:
        key = between(low, high)
        site.ranks[issue_id] = key
        low = key
    site.rank_last = max(site.ranks.values(), default="")
