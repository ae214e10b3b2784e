"""Field and user mapping between sites, and per-issue write pacing (pure functions)."""

from __future__ import annotations

from backups.restore.mapping import (
    SOURCE_PROPERTY,
    FieldMapping,
    Mapping,
    issue_payload,
    map_adf,
    map_fields,
)
from backups.restore.pacing import IssueWritePacer

SELECT = {"type": "option", "custom": "com.atlassian.jira.plugin.system.customfieldtypes:select"}
NUMBER = {"type": "number", "custom": "com.atlassian.jira.plugin.system.customfieldtypes:float"}
SPRINT = {"type": "array", "custom": "com.pyxis.greenhopper.jira:gh-sprint"}


def field(fid, name, schema):
    return {"id": fid, "name": name, "custom": True, "schema": schema}


def test_custom_fields_are_mapped_by_name_and_type_whatever_their_ids():
    source = [
        field("customfield_10020", "Tier", SELECT),
        field("customfield_10022", "Points", NUMBER),
    ]
    target = [
        field("customfield_11111", "Tier", SELECT),
        field("customfield_22222", "points", NUMBER),
    ]

    result = map_fields(source, target)

    assert result.mapped == {
        "customfield_10020": "customfield_11111",
        "customfield_10022": "customfield_22222",
    }
    assert result.dropped == {}


def test_fields_missing_of_another_type_ambiguous_or_unrestorable_are_left_out_with_reasons():
    source = [
        field("customfield_1", "Tier", SELECT),
        field("customfield_2", "Points", NUMBER),
        field("customfield_3", "Team", SELECT),
        field("customfield_4", "Sprint", SPRINT),
    ]
    target = [
        field("customfield_9", "Tier", NUMBER),
        field("customfield_7", "Team", SELECT),
        field("customfield_8", "Team", SELECT),
    ]

    dropped = map_fields(source, target).dropped

    assert dropped["customfield_1"] == "Tier: the target field has another type"
    assert dropped["customfield_2"] == "Points: missing in the target"
    assert dropped["customfield_3"] == "Team: 2 target fields match"
    # Sprints are restored through Jira Software's API, not the create request.
    assert "customfield_4" not in dropped


def _mapping(**overrides):
    base = dict(
        fields=FieldMapping(
            mapped={"customfield_1": "customfield_9"}, kinds={"customfield_1": "option"}
        ),
        users={"known"},
        user_fallback="",
        issue_types={"bug": "10002"},
        priorities={"high": "2"},
        link_types={},
        projects={"100": {"id": "500", "key": "NEW"}},
    )
    base.update(overrides)
    return Mapping(**base)


def record(**fields):
    return {
        "id": "7",
        "key": "OLD-7",
        "projectId": "100",
        "properties": {"x.y": {"a": 1}},
        "fields": {
            "summary": "S",
            "issuetype": {"id": "1", "name": "Bug"},
            "priority": {"id": "77", "name": "High"},
            "customfield_1": {"id": "31", "value": "Gold", "self": "x"},
            **fields,
        },
    }


def test_the_payload_uses_target_ids_option_values_and_records_the_source():
    built = issue_payload(
        record(assignee={"accountId": "known"}), _mapping(), source_cloud_id="c", snapshot_id="s"
    )

    fields = built.payload["fields"]
    assert fields["project"] == {"id": "500"}
    assert fields["issuetype"] == {"id": "10002"}
    assert fields["priority"] == {"id": "2"}
    assert fields["customfield_9"] == {"value": "Gold"}
    assert fields["assignee"] == {"accountId": "known"}
    props = {p["key"]: p["value"] for p in built.payload["properties"]}
    assert props["x.y"] == {"a": 1}
    assert props[SOURCE_PROPERTY] == {
        "cloudId": "c",
        "issueId": "7",
        "issueKey": "OLD-7",
        "snapshotId": "s",
    }


def test_unknown_users_get_the_fallback_or_nothing_and_are_reported():
    no_fallback = issue_payload(
        record(assignee={"accountId": "stranger"}), _mapping(), source_cloud_id="c", snapshot_id="s"
    )
    with_fallback = issue_payload(
        record(assignee={"accountId": "stranger"}),
        _mapping(user_fallback="known"),
        source_cloud_id="c",
        snapshot_id="s",
    )

    assert "assignee" not in no_fallback.payload["fields"]
    assert no_fallback.unknown_users == {"stranger"}
    assert with_fallback.payload["fields"]["assignee"] == {"accountId": "known"}


def test_an_issue_of_a_type_missing_in_the_target_is_skipped_with_the_reason():
    built = issue_payload(
        record(issuetype={"name": "Incident"}), _mapping(), source_cloud_id="c", snapshot_id="s"
    )
    assert built.skipped_reason == "issue type incident missing in the target"


def test_adf_is_kept_and_only_mentions_of_unknown_users_become_text():
    doc = {
        "type": "doc",
        "version": 1,
        "content": [
            {
                "type": "paragraph",
                "content": [
                    {"type": "mention", "attrs": {"id": "known", "text": "@K"}},
                    {"type": "mention", "attrs": {"id": "gone", "text": "@Gone"}},
                ],
            }
        ],
    }
    report: set[str] = set()

    mapped = map_adf(doc, _mapping(), report)

    assert mapped["content"][0]["content"] == [
        {"type": "mention", "attrs": {"id": "known", "text": "@K"}},
        {"type": "text", "text": "@Gone"},
    ]
    assert report == {"gone"}
    assert doc["content"][0]["content"][1]["type"] == "mention"  # the snapshot is untouched


def test_the_pacer_spaces_writes_to_one_issue_under_both_windows():
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    pacer = IssueWritePacer(((2.0, 16), (30.0, 85)), clock=lambda: now[0], sleep=sleep)
    stamps = []
    for _ in range(200):
        pacer.acquire("A-1")
        stamps.append(now[0])
        now[0] += 0.001

    for i in range(len(stamps)):
        in_2s = [t for t in stamps if stamps[i] - 2.0 < t <= stamps[i]]
        in_30s = [t for t in stamps if stamps[i] - 30.0 < t <= stamps[i]]
        assert len(in_2s) <= 16 and len(in_30s) <= 85
    assert pacer.wait_time("B-1") == 0  # other issues are not held back
