"""The change view's comparisons on plain records (no site, no storage)."""

from __future__ import annotations

from backups.changes.diff import config_changes, issue_changes, record_differences, render


def test_values_read_as_a_person_reads_them():
    doc = {
        "type": "doc",
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Hi"}]}],
    }
    assert render({"id": "1", "value": "Gold"}) == "Gold"
    assert render({"value": "Hardware", "child": {"value": "Mouse"}}) == "Hardware / Mouse"
    assert render({"accountId": "a", "displayName": "Ada"}) == "Ada"
    assert render(doc) == "Hi"
    assert render(None) == "(none)" and render([]) == "(none)" and render(True) == "yes"
    assert render("x" * 500).endswith("…") and len(render("x" * 500)) == 120


def test_a_renamed_transition_is_one_change_named_as_it_is_now():
    before = {"transitions": [{"id": "11", "name": "Start", "to": "3"}]}
    after = {"transitions": [{"id": "11", "name": "Begin", "to": "3"}]}

    assert record_differences(before, after) == [("transitions[11 Begin].name", "Start", "Begin")]
    # Across sites (by name) the same edit is one transition gone and one new.
    assert [p for p, _a, _b in record_differences(before, after, ignore_ids=True)] == [
        "transitions[Begin]",
        "transitions[Start]",
    ]


def test_configuration_changes_name_the_option_and_its_field():
    names = {"customfield_1": "Tier"}
    option = {"id": "7", "value": "Bronze", "fieldId": "customfield_1", "contextId": "5"}
    renamed = {**option, "id": "8", "value": "Gold"}

    changes = config_changes(
        {"field_options": [option, renamed]},
        {"field_options": [{**renamed, "disabled": True}]},
        names=names,
    )

    assert [(c.change, c.object, c.field, c.before, c.after) for c in changes] == [
        ("deleted", 'field option "Bronze" of Tier', "", "", ""),
        ("modified", 'field option "Gold" of Tier', "disabled", "(none)", "yes"),
    ]


def test_a_kind_one_side_lacks_is_not_compared():
    assert config_changes({"screens": [{"id": 1, "name": "A"}]}, {}) == []


def test_issue_changes_list_fields_by_name_and_deleted_comments():
    before = {
        "key": "A-1",
        "fields": {"summary": "Old", "updated": "1", "labels": []},
        "comments": [{"id": "10", "body": "first"}, {"id": "11", "body": "second"}],
    }
    after = {
        "key": "A-1",
        "fields": {"summary": "New", "updated": "2", "labels": None},
        "comments": [{"id": "10", "body": "first"}],
    }

    changes = issue_changes(before, after, {"summary": "Summary"})

    assert [(c.field, c.before, c.after) for c in changes] == [
        ("Summary", "Old", "New"),
        ("comments", "1 comment deleted: 11: second", ""),
    ]
