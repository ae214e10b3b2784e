"""A roll-back of a whole site on a site with workflows and a hierarchy: the status comes back
through transitions, the parent, the lost worklog, attachment (its bytes from the snapshot),
remote link and link come back, a comment added since is removed when asked, and a second
roll-back writes nothing (the copies written back count as present)."""

from __future__ import annotations

import requests

from backups.rollback.models import RollbackJob
from sandbox.content import issue_doc, plain
from tests.backups.conftest import backup, connect_site
from tests.rollback.conftest import roll_back
from tests.rollback.test_window import site_writes

ADF = {
    "type": "doc",
    "version": 1,
    "content": [{"type": "paragraph", "content": [{"type": "text", "text": "added later"}]}],
}


def api(sandbox):
    tokens = sandbox.connect(sites=["acme"])
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {tokens.access_token}"
    base = f"{sandbox.jira_url('acme')}/rest/api/3"

    def call(method: str, path: str, **kwargs):
        answer = http.request(method, f"{base}/{path}", timeout=10, **kwargs)
        assert answer.status_code < 300, (method, path, answer.status_code, answer.text)
        return answer.json() if answer.content else None

    return call


def test_a_whole_site_roll_back_brings_back_status_parent_and_lost_parts(backup_env, db):
    backup_env.state.reset(seed="rollback", projects=2, issues=40, features="all")
    site = connect_site(backup_env, "acme")
    snapshot = backup(site).snapshot
    sb = backup_env.site("acme")
    call = api(backup_env)
    docs = {i.key: issue_doc(sb, i) for i in sb.live_issues()}
    backup_env.state.clock.advance(minutes=5)

    moved = next(
        (key, t)
        for key in sorted(docs)
        for t in call("GET", f"issue/{key}/transitions")["transitions"]
        if not t.get("hasScreen") and t["to"]["id"] != docs[key]["fields"]["status"]["id"]
    )
    status_key, transition = moved
    status_before = plain(sb, docs[status_key]["fields"]["status"])["name"]
    call("POST", f"issue/{status_key}/transitions", json={"transition": {"id": transition["id"]}})
    child = next(i for i in sb.live_issues() if sb.parents.get(i.id) and i.key != status_key)
    parent_before = sb.parents[child.id]
    call("PUT", f"issue/{child.key}", json={"update": {"parent": [{"set": {"none": True}}]}})
    worked = next(k for k, d in docs.items() if d["worklogs"])
    call("DELETE", f"issue/{worked}/worklog/{docs[worked]['worklogs'][0]['id']}")
    attached = next(k for k, d in docs.items() if d["attachments"])
    attachment = docs[attached]["attachments"][0]
    call("DELETE", f"attachment/{attachment['id']}")
    remote = next(k for k, d in docs.items() if d["remotelinks"])
    call("DELETE", f"issue/{remote}/remotelink/{docs[remote]['remotelinks'][0]['id']}")
    linked = next(i for i in sb.live_issues() if sb.links.get(i.id))
    link_id, _type, _direction, other = sb.links[linked.id][0]
    call("DELETE", f"issueLink/{link_id}")
    commented = sorted(docs)[0]
    added = call("POST", f"issue/{commented}/comment", json={"body": ADF})

    job = roll_back(snapshot, remove_added=True)

    assert job.status == RollbackJob.Status.SUCCEEDED, (job.status_reason, job.errors[:3])
    now = {i.key: issue_doc(sb, i) for i in sb.live_issues()}
    assert plain(sb, now[status_key]["fields"]["status"])["name"] == status_before
    assert sb.parents.get(child.id) == parent_before
    assert len(now[worked]["worklogs"]) == len(docs[worked]["worklogs"])
    names = [(a["filename"], a["size"]) for a in now[attached]["attachments"]]
    assert names.count((attachment["filename"], attachment["size"])) == 1
    assert len(now[remote]["remotelinks"]) == len(docs[remote]["remotelinks"])
    assert other in [entry[3] for entry in sb.links.get(linked.id, [])]
    assert added["id"] not in [c["id"] for c in now[commented]["comments"]]
    assert job.counters["written"]["status"] >= 1

    backup_env.state.request_log.clear()
    again = roll_back(snapshot, remove_added=True)

    assert again.status == RollbackJob.Status.SUCCEEDED, again.status_reason
    assert site_writes(backup_env, site) == []
    assert not again.items.exists()


def test_without_a_site_admin_the_status_comes_back_by_a_transition_available_now(backup_env, db):
    from tests.factories import GrantSiteFactory, JiraSiteFactory, OAuthGrantFactory

    sb = backup_env.site("acme")
    tokens = backup_env.connect(user=backup_env.member, sites=[sb])
    site = JiraSiteFactory(cloud_id=sb.cloud_id, name="acme", url=sb.url)
    grant = OAuthGrantFactory(
        account_id=backup_env.member.account_id,
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
    )
    GrantSiteFactory(grant=grant, site=site, in_use=True)
    snapshot = backup(site).snapshot
    call = api(backup_env)
    key = sorted(i.key for i in sb.live_issues())[0]
    before = plain(sb, issue_doc(sb, sb.issue(key))["fields"]["status"])["name"]
    other = next(
        t
        for t in call("GET", f"issue/{key}/transitions")["transitions"]
        if t["to"]["name"] != before and not t.get("hasScreen")
    )
    call("POST", f"issue/{key}/transitions", json={"transition": {"id": other["id"]}})

    job = roll_back(snapshot, issue_keys=[key])

    assert job.status == RollbackJob.Status.SUCCEEDED, (job.status_reason, job.errors[:3])
    assert job.checkpoint["workflow"]["readable"] is False
    assert plain(sb, issue_doc(sb, sb.issue(key))["fields"]["status"])["name"] == before
