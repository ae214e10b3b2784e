"""The data generator: deterministic, realistic, cheap; and changes over time."""

from __future__ import annotations

import time

import orjson

from sandbox.content import histories_of, issue_doc, plain
from sandbox.render import FieldSelection, issue_json
from sandbox.state import SandboxState


def dump(state: SandboxState) -> bytes:
    site = state.site("acme")
    everything = FieldSelection("*all", "*all")
    return orjson.dumps(
        [issue_json(site, i, everything, frozenset({"changelog"})) for i in site.live_issues()]
    )


def test_the_same_seed_builds_the_same_world():
    first, second = SandboxState(seed="s1", issues=15), SandboxState(seed="s1", issues=15)
    assert first.site("acme").cloud_id == second.site("acme").cloud_id
    assert first.admin.account_id == second.admin.account_id
    assert dump(first) == dump(second)
    assert dump(SandboxState(seed="s2", issues=15)) != dump(first)


def test_the_same_seed_builds_the_same_structure_with_features():
    first, second = (SandboxState(seed="s1", issues=60, features="all") for _ in range(2))
    a, b = first.site("acme"), second.site("acme")
    assert dump(first) == dump(second)
    assert (a.parents, a.issue_sprints, a.ranks) == (b.parents, b.issue_sprints, b.ranks)
    assert [vars(s) for s in a.sprints.values()] == [vars(s) for s in b.sprints.values()]
    # Features add to the classic generation: the issues' own content stream is unchanged.
    classic = SandboxState(seed="s1", issues=60).site("acme")
    assert [i.created for i in classic.live_issues()] == [i.created for i in a.live_issues()]
    assert [i.head for i in classic.live_issues()] == [i.head for i in a.live_issues()]


def test_issues_carry_realistic_content():
    state = SandboxState(seed=3, projects=2, issues=200)
    site = state.site("acme")
    docs = [issue_doc(site, i) for i in site.live_issues()]
    assert all(plain(site, d["fields"]["description"])["type"] == "doc" for d in docs)
    assert any(len(histories_of(site, i)) > 50 for i in site.live_issues())
    assert any(d["comments"] for d in docs) and any(d["worklogs"] for d in docs)
    assert any(d["attachments"] for d in docs) and any(d["remotelinks"] for d in docs)
    assert any(d["properties"] for d in docs)
    assert any(site.links.get(i.id) for i in site.live_issues())
    kinds = {
        "select": "customfield_10020",
        "multi": "customfield_10021",
        "number": "customfield_10022",
        "date": "customfield_10023",
        "user": "customfield_10024",
        "labels": "customfield_10025",
        "textarea": "customfield_10026",
    }
    for field in kinds.values():
        assert any(plain(site, d["fields"][field]) for d in docs), field


def test_a_large_site_is_generated_lazily_and_fast():
    state = SandboxState(seed="big", sites=())
    started = time.perf_counter()
    site = state.add_site("huge", projects=5, issues=20_000)
    assert time.perf_counter() - started < 5
    assert len(site.issues) == 20_000
    assert all(i.doc is None for i in site.issues.values())


def test_mutate_updates_a_fraction_and_deletes_some(sandbox):
    site = sandbox.site("acme")
    before = {i.key: i.updated for i in site.live_issues()}
    sandbox.clock.advance(days=1)
    changed = sandbox.mutate(fraction=0.1, delete=2, site="acme", seed=5)["acme"]
    assert len(changed["updated"]) == 2 and len(changed["deleted"]) == 2
    for key in changed["updated"]:
        issue = site.issue(key)
        assert issue.updated > before[key]
        assert histories_of(site, issue)[-1]["items"][0]["field"] == "summary"
    for key in changed["deleted"]:
        assert site.issue(key) is None


def test_an_incremental_search_finds_exactly_the_mutated_issues(connected):
    sandbox = connected.sandbox
    sandbox.clock.advance(days=1)
    since = sandbox.clock.now().strftime("%Y-%m-%d %H:%M")
    sandbox.clock.advance(minutes=5)
    changed = sandbox.mutate(fraction=0.2, site="acme", seed=9)["acme"]["updated"]
    fresh = sandbox.connect(sites=["acme"])  # a day later the access token has expired
    connected.http.headers["Authorization"] = f"Bearer {fresh.access_token}"
    page = connected.get(
        "search/jql",
        params={"jql": f'project in (ALPHA, BETA) AND updated >= "{since}"', "fields": "key"},
    ).json()
    assert sorted(i["key"] for i in page["issues"]) == sorted(changed)
