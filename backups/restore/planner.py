"""The dry run: what a restore would create, update or skip, and why, with counts. Reads the
snapshot and the target (configuration, permissions, the id map); writes nothing to the target.

The plan is a JSON document (stored on the job, shown by the command and the admin):

``projects``   per source project: ``create`` / ``existing`` / ``skip`` with the reason, and the
               components and versions to create;
``issues``     counts of ``create``, ``already_restored`` and ``skip`` with a reason per skipped
               issue (project or issue type missing in the target);
``fields``     custom fields mapped by name and type, and those left out with the reason;
``users``      accounts of the snapshot unknown in the target and what happens to them;
``permissions`` what the restoring account may not do in the target;
``parts``      comments, worklogs, remote links, attachments (and bytes), links;
``writes``     the requests the restore needs at least (its points floor);
``configuration`` what the configuration phase would write (contexts, options, release
               states, role actors, filters, dashboards) and the differences to apply by hand;
``damaged``    attachments whose stored bytes are missing or do not hash to their manifest's
               SHA-256, and what the restore does about them (``stop`` or ``skip``).
"""

from __future__ import annotations

import math
from typing import Any

from atlassian.exceptions import ApiBadRequest, ApiNotFound
from backups.config.restore import plan_configuration
from backups.restore import mapping as maps
from backups.restore import provenance
from backups.restore.integrity import damaged_attachments
from backups.restore.models import RestoreItem, RestoreJob
from backups.restore.source import SnapshotSource, issue_links
from backups.restore.workflow import TargetWorkflows
from tenants.scopes import site_software_scopes_missing

PERMISSIONS = (
    "ADMINISTER",
    "CREATE_ISSUES",
    "ADD_COMMENTS",
    "WORK_ON_ISSUES",
    "CREATE_ATTACHMENTS",
    "LINK_ISSUES",
)
MAX_LISTED = 200


def _permissions(client: Any) -> dict[str, bool]:
    try:
        data = client.mypermissions(",".join(PERMISSIONS))
    except (ApiBadRequest, ApiNotFound):
        return {}
    perms = data.get("permissions") or {}
    return {p: bool((perms.get(p) or {}).get("havePermission")) for p in PERMISSIONS}


def plan_restore(*, job: RestoreJob, source: SnapshotSource, client: Any) -> dict[str, Any]:
    perms = _permissions(client)
    missing_perms = [p for p, ok in perms.items() if not ok]
    target_fields = client.fields()
    field_mapping = maps.map_fields(source.records("fields"), target_fields)
    users = {u["accountId"] for u in client.users() if u.get("accountId")}
    mapping = maps.Mapping(
        fields=field_mapping,
        users=users,
        user_fallback=job.user_fallback,
        issue_types=maps.by_name(client.issue_types()),
        priorities=maps.by_name(list(client.priorities())),
        link_types=maps.by_name(client.issue_link_types()),
    )
    target_projects = {p["key"].upper(): p for p in client.projects(expand="description")}
    can_create_projects = job.create_projects and perms.get("ADMINISTER", False)
    projects: dict[str, Any] = {}
    writes = {"projects": 0, "components": 0, "versions": 0}
    components = source.components()
    versions = source.versions()
    for project in source.projects:
        key = project["key"]
        pid = str(project["id"])
        target = target_projects.get(key.upper())
        entry: dict[str, Any]
        if target is not None:
            entry = {"action": "existing", "target_key": target["key"]}
            mapping.projects[pid] = {"id": str(target["id"]), "key": target["key"]}
            have_c = {c["name"].lower() for c in client.project_components(target["key"])}
            have_v = {v["name"].lower() for v in client.project_versions(target["key"])}
        elif can_create_projects:
            entry = {"action": "create"}
            mapping.projects[pid] = {"id": "new", "key": key}
            writes["projects"] += 1
            have_c, have_v = set(), set()
        else:
            reason = (
                "missing in the target and the restoring account may not create projects"
                if job.create_projects
                else "missing in the target (project creation not requested)"
            )
            entry = {"action": "skip", "reason": reason}
            have_c, have_v = set(), set()
        if entry["action"] != "skip":
            new_c = [
                c["name"]
                for c in components
                if str(c.get("projectId")) == pid and c["name"].lower() not in have_c
            ]
            new_v = [
                v["name"]
                for v in versions
                if str(v.get("projectId")) == pid and v["name"].lower() not in have_v
            ]
            entry["components_to_create"] = new_c
            entry["versions_to_create"] = new_v
            writes["components"] += len(new_c)
            writes["versions"] += len(new_v)
            for c in components:
                if str(c.get("projectId")) == pid:
                    mapping.components[str(c["id"])] = "x"
            for v in versions:
                if str(v.get("projectId")) == pid:
                    mapping.versions[str(v["id"])] = "x"
        projects[key] = entry
    restored = set(
        RestoreItem.objects.filter(
            target_site_id=job.target_site_id,
            source_cloud_id=source.cloud_id,
            kind=RestoreItem.Kind.ISSUE,
            state__in=(
                RestoreItem.State.CREATED,
                RestoreItem.State.COMPLETE,
                RestoreItem.State.EXISTING,
            ),
        ).values_list("source_id", flat=True)
    )
    issues = {"create": 0, "already_restored": 0, "skip": 0}
    skipped: list[dict[str, str]] = []
    skip_reasons: dict[str, int] = {}
    parts = {
        "comments": 0,
        "worklogs": 0,
        "remote_links": 0,
        "attachments": 0,
        "attachment_bytes": 0,
        "links": 0,
        "links_unresolved": 0,
    }
    unknown_users: set[str] = set()
    creating: set[str] = set()
    links: dict[str, dict[str, Any]] = {}
    for record in source.issues:
        rid = str(record["id"])
        if rid in restored:
            issues["already_restored"] += 1
            continue
        built = maps.issue_payload(
            record, mapping, source_cloud_id=source.cloud_id, snapshot_id=source.snapshot_id
        )
        if built.skipped_reason:
            issues["skip"] += 1
            skip_reasons[built.skipped_reason] = skip_reasons.get(built.skipped_reason, 0) + 1
            if len(skipped) < MAX_LISTED:
                skipped.append({"issue": record["key"], "reason": built.skipped_reason})
            continue
        issues["create"] += 1
        creating.add(rid)
        unknown_users |= built.unknown_users
        parts["comments"] += len(record.get("comments") or [])
        parts["worklogs"] += len(record.get("worklogs") or [])
        parts["remote_links"] += len(record.get("remoteLinks") or [])
        parts["attachments"] += len(record.get("attachments") or [])
        parts["attachment_bytes"] += sum(
            int(a.get("size") or 0) for a in record.get("attachments") or []
        )
        for comment in record.get("comments") or []:
            maps.map_adf(comment.get("body"), mapping, unknown_users)
        for link in issue_links(record):
            links.setdefault(link["id"], link)
    same_site = job.target_site.cloud_id == source.cloud_id
    in_snapshot = {str(r["id"]) for r in source.issues}
    for link in links.values():
        ends_ok = all(
            end in creating or end in restored or (same_site and end not in in_snapshot)
            for end in (link["from"], link["to"])
        )
        if ends_ok:
            parts["links"] += 1
        else:
            parts["links_unresolved"] += 1
    # Before the fidelity plan, which renames the projects still to be created.
    configuration = plan_configuration(job=job, source=source, client=client, mapping=mapping)
    fidelity = _plan_fidelity(job, source, client, mapping, creating, restored)
    fallback = job.user_fallback
    if fallback and fallback not in users:
        user_action = f"fallback account {fallback} is unknown in the target: fields left empty"
    elif fallback:
        user_action = f"replaced by {fallback}"
    else:
        user_action = "left empty (reporter: the restoring account)"
    floor = (
        writes["projects"]
        + writes["components"]
        + writes["versions"]
        + math.ceil(issues["create"] / 50)
        + parts["comments"]
        + parts["worklogs"]
        + parts["remote_links"]
        + parts["attachments"]
        + parts["links"]
        + fidelity["writes"]
    )
    warnings = []
    damaged = damaged_attachments(source)
    if damaged:
        then = (
            "they would be skipped"
            if job.on_damaged == RestoreJob.OnDamaged.SKIP
            else "the restore would stop before writing anything"
        )
        warnings.append(f"{len(damaged)} attachment(s) are damaged in storage: {then}")
    if "CREATE_ISSUES" in missing_perms:
        warnings.append("the restoring account may not create issues in the target")
    for perm, what in (
        ("ADD_COMMENTS", "comments"),
        ("WORK_ON_ISSUES", "worklogs"),
        ("CREATE_ATTACHMENTS", "attachments"),
        ("LINK_ISSUES", "links"),
    ):
        if perm in missing_perms and parts.get(what):
            warnings.append(f"permission {perm} missing: {what} would fail")
    return {
        "snapshot": source.snapshot_id,
        "source_site": source.cloud_id,
        "target_site": job.target_site.cloud_id,
        "scope": {
            "kind": source.scope.kind,
            "projects": list(source.scope.project_keys),
            "issues": list(source.scope.issue_keys),
        },
        "projects": projects,
        "issues": {**issues, "skip_reasons": skip_reasons, "skipped": skipped},
        "fields": {
            "mapped": len(field_mapping.mapped),
            "dropped": field_mapping.dropped,
        },
        "users": {
            "unknown": sorted(unknown_users)[:MAX_LISTED],
            "unknown_count": len(unknown_users),
            "action": user_action,
        },
        "permissions": {"missing": missing_perms},
        "parts": parts,
        "writes": {
            **writes,
            "issue_bulk_requests": math.ceil(issues["create"] / 50),
            "floor": floor,
        },
        "damaged": {
            "objects": damaged[:MAX_LISTED],
            "count": len(damaged),
            "action": job.on_damaged,
        },
        "warnings": warnings,
        "configuration": configuration,
        **{k: v for k, v in fidelity.items() if k != "writes"},
    }


def _plan_fidelity(
    job: RestoreJob,
    source: SnapshotSource,
    client: Any,
    mapping: maps.Mapping,
    creating: set[str],
    restored: set[str],
) -> dict[str, Any]:
    """Statuses (the path each issue takes in the target's workflow, and those it cannot
    reach), hierarchy, sprints and rank, the writes they need, and what will not come back as
    it was, with why."""
    records = [r for r in source.issues if str(r["id"]) in creating]
    target_ids = [p["id"] for p in mapping.projects.values() if p["id"] != "new"]
    flows = TargetWorkflows.read(client, target_ids)
    schemes = {s["projectId"]: s.get("name") for s in source.records("workflow_schemes")}
    # A created project is given its source's workflow scheme (one write each).
    scheme_writes = 0
    for pid, project in mapping.projects.items():
        if project["id"] == "new":
            project["id"] = f"new:{project['key']}"
            if flows.assume_scheme(project["id"], schemes.get(pid)):
                scheme_writes += 1
    transitions = 0
    unreachable: list[dict[str, str]] = []
    reasons: dict[str, int] = {}
    resolutions: dict[str, int] = {}
    for record in records:
        fields = record.get("fields") or {}
        status = (fields.get("status") or {}).get("name")
        if not status or not flows.readable:
            continue
        project = mapping.projects.get(str(record.get("projectId"))) or {}
        type_id = mapping.issue_types.get(
            str((fields.get("issuetype") or {}).get("name", "")).lower(), ""
        )
        path, reason = flows.path(project.get("id", ""), type_id, status)
        if path is None:
            reasons[reason] = reasons.get(reason, 0) + 1
            if len(unreachable) < MAX_LISTED:
                unreachable.append({"issue": record["key"], "status": status, "reason": reason})
            continue
        transitions += len(path)
        _resolution, note = flows.resolution((fields.get("resolution") or {}).get("name"))
        if note and any(step.screen for step in path):
            resolutions[note] = resolutions.get(note, 0) + 1
    levels = [maps.hierarchy_level(r) for r in records]
    in_restore = creating | restored
    parents_outside = [
        r["key"]
        for r in records
        if (r.get("fields") or {}).get("parent")
        and str(r["fields"]["parent"].get("id")) not in in_restore
        and not (
            job.target_site.cloud_id == source.cloud_id
            and str(r["fields"]["parent"].get("id")) not in {str(x["id"]) for x in source.issues}
        )
    ]
    sprint_field = maps.field_of_type(source.records("fields"), maps.SPRINT_TYPE)
    rank_field = maps.field_of_type(source.records("fields"), maps.RANK_TYPE)
    sprints: dict[str, dict[str, Any]] = {}
    # Issues moved into each sprint: one request per sprint and 50 of its issues (sub-tasks
    # follow their parent).
    members: dict[str, int] = {}
    for record in records:
        mine = (record.get("fields") or {}).get(sprint_field) or [] if sprint_field else []
        for sprint in mine:
            sprints.setdefault(str(sprint.get("id")), sprint)
            if maps.hierarchy_level(record) >= 0:
                members[str(sprint.get("id"))] = members.get(str(sprint.get("id")), 0) + 1
    moves = sum(members.values())
    states = {}
    for sprint in sprints.values():
        states[sprint.get("state")] = states.get(sprint.get("state"), 0) + 1
    ranked = [r for r in records if rank_field and (r.get("fields") or {}).get(rank_field)]
    media = _plan_media(records)
    missing_scopes = site_software_scopes_missing(job.target_site)
    sprint_writes = (
        len(sprints)
        + sum(math.ceil(n / 50) for n in members.values())
        + sum({"closed": 2, "active": 1}.get(s.get("state"), 0) for s in sprints.values())
    )
    rank_writes = math.ceil(max(len(ranked) - 1, 0) / 50)
    authors_as_text = sum(
        1
        for r in records
        for part in (r.get("comments") or []) + (r.get("worklogs") or [])
        if (part.get("author") or {}).get("accountId") not in mapping.users
    )
    limits = [
        "created and updated dates, creators, comment and worklog authors and times are set by "
        "Jira: each comment and worklog starts with who wrote it and when, and each issue gets "
        "a history file (its changelog cannot be written)",
    ]
    if authors_as_text:
        limits.append(
            f"{authors_as_text} comments and worklogs by people not in the target site: "
            "author kept as text"
        )
    for reason, count in sorted(reasons.items()):
        limits.append(f"{count} issues: {reason}")
    for note, count in sorted(resolutions.items()):
        limits.append(f"{count} issues: {note}")
    if not flows.readable:
        limits.append("statuses: the target's workflows cannot be read (site admin needed)")
    if parents_outside:
        limits.append(f"{len(parents_outside)} issues: parent not in this restore")
    if sprints and missing_scopes:
        limits.append(
            f"{len(sprints)} sprints and the rank order not restored: the target's grant lacks "
            "Jira Software's scopes"
        )
    elif states.get("closed"):
        limits.append(f"{states['closed']} closed sprints: completion dates are set by Jira")
    return {
        "statuses": {
            "transitions": transitions,
            "unreachable": unreachable,
            "unreachable_count": sum(reasons.values()),
            "reasons": reasons,
        },
        "hierarchy": {
            "epics": levels.count(1),
            "standard": levels.count(0),
            "subtasks": levels.count(-1),
            "with_parent": sum(1 for r in records if (r.get("fields") or {}).get("parent")),
            "parents_outside": parents_outside[:MAX_LISTED],
        },
        "sprints": {"count": len(sprints), "states": states, "issue_moves": moves},
        "rank": {"issues": len(ranked)},
        "history_files": len(records),
        "media": media,
        "limits": limits,
        "writes": transitions
        + len(records)
        + media["issue_edits"]
        + scheme_writes
        + (0 if missing_scopes else sprint_writes + rank_writes),
    }


def _plan_media(records: list[dict[str, Any]]) -> dict[str, int]:
    """Inline media: the issues whose description or environment shows an attachment are
    edited once their attachments exist (one write each), and each attachment shown inline has
    its new media id read (one ``attachment/content`` request, not followed)."""
    edits = lookups = 0
    for record in records:
        fields = record.get("fields") or {}
        if any(
            provenance.media_ids_in(fields.get(name)) for name in ("description", "environment")
        ):
            edits += 1
        lookups += len(provenance.referenced_attachments(record))
    return {"issue_edits": edits, "lookups": lookups}


def plan_summary(plan: dict[str, Any]) -> list[str]:
    """The plan as lines for a terminal or a confirmation page."""
    if not plan:
        return ["no plan yet"]
    lines = []
    for key, entry in sorted(plan.get("projects", {}).items()):
        line = f"project {key}: {entry['action']}"
        if entry.get("reason"):
            line += f" ({entry['reason']})"
        if entry.get("components_to_create") or entry.get("versions_to_create"):
            line += (
                f"; create {len(entry.get('components_to_create', []))} components, "
                f"{len(entry.get('versions_to_create', []))} versions"
            )
        lines.append(line)
    issues = plan.get("issues", {})
    lines.append(
        f"issues: {issues.get('create', 0)} to create, {issues.get('already_restored', 0)} "
        f"already restored, {issues.get('skip', 0)} skipped"
    )
    for reason, count in sorted(issues.get("skip_reasons", {}).items()):
        lines.append(f"  skipped: {count} x {reason}")
    parts = plan.get("parts", {})
    lines.append(
        f"parts: {parts.get('comments', 0)} comments, {parts.get('worklogs', 0)} worklogs, "
        f"{parts.get('remote_links', 0)} remote links, {parts.get('attachments', 0)} attachments "
        f"({parts.get('attachment_bytes', 0)} bytes), {parts.get('links', 0)} links "
        f"({parts.get('links_unresolved', 0)} whose other end is not restored)"
    )
    fields = plan.get("fields", {})
    lines.append(
        f"custom fields: {fields.get('mapped', 0)} mapped, {len(fields.get('dropped', {}))} left out"
    )
    for fid, reason in sorted(fields.get("dropped", {}).items()):
        lines.append(f"  field {fid} left out: {reason}")
    users = plan.get("users", {})
    lines.append(f"unknown users: {users.get('unknown_count', 0)} -> {users.get('action', '')}")
    missing = plan.get("permissions", {}).get("missing", [])
    if missing:
        lines.append(f"permissions missing: {', '.join(missing)}")
    damaged = plan.get("damaged") or {}
    for entry in damaged.get("objects", []):
        lines.append(
            f"damaged: {entry.get('issue')} {entry.get('filename')} ({entry.get('problem')})"
        )
    statuses = plan.get("statuses") or {}
    if statuses:
        lines.append(
            f"statuses: {statuses.get('transitions', 0)} transitions, "
            f"{statuses.get('unreachable_count', 0)} issues cannot reach theirs"
        )
        for entry in statuses.get("unreachable", []):
            lines.append(f"  {entry['issue']}: {entry['reason']}")
    hierarchy = plan.get("hierarchy") or {}
    if hierarchy:
        lines.append(
            f"hierarchy: {hierarchy.get('epics', 0)} epics, {hierarchy.get('standard', 0)} "
            f"standard issues, {hierarchy.get('subtasks', 0)} sub-tasks, "
            f"{hierarchy.get('with_parent', 0)} with a parent"
        )
    sprints = plan.get("sprints") or {}
    if sprints.get("count"):
        states = ", ".join(f"{n} {s}" for s, n in sorted(sprints.get("states", {}).items()))
        lines.append(
            f"sprints: {sprints['count']} ({states}), {sprints.get('issue_moves', 0)} moves"
        )
    for limit in plan.get("limits", []):
        lines.append(f"will not come back as it was: {limit}")
    for warning in plan.get("warnings", []):
        lines.append(f"warning: {warning}")
    lines.append(f"writes needed at least: {plan.get('writes', {}).get('floor', 0)} requests")
    return lines
