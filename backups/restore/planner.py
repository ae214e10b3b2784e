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
``damaged``    attachments whose stored bytes are missing or do not hash to their manifest's
               SHA-256, and what the restore does about them (``stop`` or ``skip``).
"""

from __future__ import annotations

import math
from typing import Any

from atlassian.exceptions import ApiBadRequest, ApiNotFound
from backups.restore import mapping as maps
from backups.restore.integrity import damaged_attachments
from backups.restore.models import RestoreItem, RestoreJob
from backups.restore.source import SnapshotSource, issue_links

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
    }


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
    for warning in plan.get("warnings", []):
        lines.append(f"warning: {warning}")
    lines.append(f"writes needed at least: {plan.get('writes', {}).get('floor', 0)} requests")
    return lines
