"""The per-issue diff on plain data: what differs, the one PUT that sets it back, and parts
counted present by id or as a copy written back since (so a diff computed again after an
interruption never asks for a part twice)."""

from __future__ import annotations

from datetime import UTC, datetime

from backups.restore.provenance import with_provenance
from backups.rollback import values
from backups.rollback.diff import counts, is_empty, issue_diff
from backups.rollback.reading import Window

KINDS = {**values.SYSTEM_KINDS, "customfield_1": "option", "customfield_2": "users"}
NAMES = {"customfield_1": "Tier", "customfield_2": "Reviewers"}


def doc(text: str) -> dict:
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}],
    }


def record(**fields) -> dict:
    base = {
        "summary": "Checkout fails",
        "description": doc("Steps"),
        "labels": ["b", "a"],
        "priority": {"id": "3", "name": "Medium"},
        "assignee": {"accountId": "u1", "displayName": "Una"},
        "components": [{"id": "10", "name": "Web"}],
        "parent": {"id": "100", "key": "P-1"},
        "status": {"id": "1", "name": "In Progress"},
        "resolution": None,
        "customfield_1": {"value": "Gold", "id": "7"},
        "customfield_2": [{"accountId": "u2"}, {"accountId": "u1"}],
        "issuelinks": [],
        "attachment": [],
    }
    base.update(fields)
    return {"id": "200", "key": "P-2", "fields": base, "comments": [], "worklogs": []}


def diff(snapshot: dict, now: dict, considered=None, parts=None, remove_added=False) -> dict:
    return issue_diff(
        snapshot,
        now,
        kinds=KINDS,
        names=NAMES,
        considered=considered,
        parts=parts or {"comments": None, "worklogs": None, "remote_links": None},
        remove_added=remove_added,
    )


def test_an_unchanged_issue_has_nothing_to_write_whatever_the_order_of_lists():
    now = record(labels=["a", "b"], customfield_2=[{"accountId": "u1"}, {"accountId": "u2"}])
    assert is_empty(diff(record(), now))


def test_the_changed_fields_are_listed_and_set_back_in_one_put():
    now = record(
        summary="Overwritten",
        description=doc("wiped"),
        priority={"id": "1", "name": "Highest"},
        assignee=None,
        customfield_1={"value": "Bronze", "id": "9"},
        parent=None,
    )
    change = diff(record(), now)
    listed = {f["field"]: (f["now"], f["snapshot"]) for f in change["fields"]}
    assert listed == {
        "summary": ("Overwritten", "Checkout fails"),
        "description": ("wiped", "Steps"),
        "priority": ("Highest", "Medium"),
        "assignee": ("", "Una"),
        "customfield_1": ("Bronze", "Gold"),
        "parent": ("", "P-1"),
    }
    assert change["put"]["fields"] == {
        "summary": "Checkout fails",
        "description": doc("Steps"),
        "priority": {"id": "3"},
        "assignee": {"accountId": "u1"},
        "customfield_1": {"value": "Gold"},
        "parent": {"id": "100"},
    }
    assert "update" not in change["put"]


def test_a_parent_set_since_is_removed_with_the_none_operation():
    change = diff(record(parent=None), record(parent={"id": "300", "key": "P-3"}))
    assert change["put"] == {"update": {"parent": [{"set": {"none": True}}]}}


def test_only_the_considered_fields_are_compared_and_the_status_goes_through_transitions():
    now = record(summary="Overwritten", labels=["x"], status={"id": "3", "name": "Done"})
    change = diff(record(), now, considered=["labels", "status"])
    assert [f["field"] for f in change["fields"]] == ["labels"]
    assert change["status"] == {
        "now": "Done",
        "now_id": "3",
        "snapshot": "In Progress",
        "resolution": None,
    }
    assert counts(change) == {"fields": 1, "status": 1}


def test_lost_parts_come_back_and_copies_written_back_count_as_present():
    snapshot = record(
        attachment=[],
        issuelinks=[
            {"id": "5", "type": {"name": "Blocks"}, "outwardIssue": {"id": "201", "key": "P-3"}}
        ],
    )
    snapshot["attachments"] = [{"id": "1", "filename": "a.png", "size": 3}]
    snapshot["comments"] = [
        {"id": "c1", "body": doc("first")},
        {"id": "c2", "body": doc("second")},
        {"id": "c3", "body": doc("third")},
    ]
    snapshot["worklogs"] = [{"id": "w1", "started": "2026-01-01", "timeSpentSeconds": 60}]
    now = record(
        attachment=[{"id": "9", "filename": "a.png", "size": 3}],
        issuelinks=[],
    )
    comments_now = [
        {"id": "c1", "body": doc("first, edited")},
        {"id": "c9", "body": with_provenance(doc("second"), "Originally by Una on 2026-01-01")},
        {"id": "c10", "body": doc("added later")},
    ]
    change = diff(
        snapshot,
        now,
        parts={"comments": comments_now, "worklogs": [], "remote_links": None},
    )
    assert change["add"] == {
        "comments": ["c3"],
        "edit_comments": ["c1"],
        "worklogs": ["w1"],
        "attachments": [],
        "links": ["5"],
    }
    assert change["added_since"] == {"comments": 1}
    removing = diff(
        snapshot,
        now,
        parts={"comments": comments_now, "worklogs": [], "remote_links": None},
        remove_added=True,
    )
    assert removing["remove"]["comments"] == ["c10"]


def test_a_window_considers_the_fields_changed_in_it_and_leaves_those_changed_after_it():
    def entry(minute: int, author: str, *fields: str) -> dict:
        return {
            "created": f"2026-03-01T12:{minute:02d}:00.000+0000",
            "author": {"accountId": author},
            "items": [{"fieldId": f} for f in fields],
        }

    window = Window(
        datetime(2026, 3, 1, 12, 10, tzinfo=UTC), datetime(2026, 3, 1, 12, 20, tzinfo=UTC)
    )
    issue = {
        "fields": {"updated": "2026-03-01T12:30:00.000+0000"},
        "changelog": {
            "histories": [
                entry(5, "bot", "labels"),
                entry(15, "bot", "summary", "priority", "IssueParentAssociation"),
                entry(25, "human", "summary"),
            ]
        },
    }
    assert window.classify(issue) == (True, ["parent", "priority"], ["summary"])
    by_human = Window(window.start, window.end, "human")
    assert by_human.classify(issue) == (False, [], [])
    quiet = {"fields": {"updated": "2026-03-01T12:12:00.000+0000"}, "changelog": {}}
    assert window.classify(quiet) == (True, [], [])
