"""Configuration read into every snapshot (full and incremental alike): issue type schemes,
screens and screen schemes, field configurations and their schemes, permission, notification and
issue security schemes, shared filters and dashboards with their gadgets, the projects and issue
types of custom field contexts, and which schemes each project uses.

Configuration reads are few (a page per list, one call per screen tab, field configuration and
dashboard, two per project), so they are read whole on every run. What the connecting account
may not read (most schemes need a site admin) is left out with a ``snapshot_notes`` record; the
backup still succeeds. Records are sorted, so an unchanged configuration gives the same shard
bytes (and the same object) run after run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from atlassian.exceptions import ApiBadRequest, ApiForbidden, ApiNotFound
from backups.config.kinds import CONFIG_KINDS, SCHEME_KINDS

__all__ = [
    "CONFIG_KINDS",
    "context_scopes",
    "project_schemes",
    "read_dashboards",
    "read_filters",
    "site_configuration",
]

Shard = Callable[[str, Iterable[dict[str, Any]]], None]

_REFUSED = (ApiForbidden, ApiNotFound, ApiBadRequest)


def _by_id(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(records, key=lambda r: (len(str(r["id"])), str(r["id"])))


def _chunks(ids: list[str], size: int = 100) -> Iterable[list[str]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _project_lists(pages: Iterable[dict[str, Any]], key: str) -> dict[str, list[str]]:
    """``{"<key>": {"id"}, "projectIds"}`` entries -> scheme id -> project ids ("default" for
    projects on the system default, which Jira lists without a scheme)."""
    out: dict[str, list[str]] = {}
    for entry in pages:
        scheme = entry.get(key) or {}
        sid = str(scheme.get("id")) if scheme.get("id") is not None else "default"
        out.setdefault(sid, []).extend(str(p) for p in entry.get("projectIds") or [])
    return {k: sorted(v, key=int) for k, v in out.items()}


def _mappings(
    rows: Iterable[dict[str, Any]], scheme_key: str, type_key: str, value_key: str | None
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for row in rows:
        sid = str(row.get(scheme_key))
        if value_key is None:
            out.setdefault(sid, []).append(str(row.get(type_key)))
        else:
            out.setdefault(sid, {})[str(row.get(type_key))] = str(row.get(value_key))
    return out


def context_scopes(client: Any, field_id: str, contexts: list[dict[str, Any]]) -> None:
    """Add ``projectIds`` and ``issueTypeIds`` to contexts that are not global / not for every
    issue type (two reads per such field, none for the usual single global context)."""
    if any(not c.get("isGlobalContext") for c in contexts):
        projects: dict[str, list[str]] = {}
        for row in client.context_project_mapping(field_id):
            if row.get("projectId") is not None:
                projects.setdefault(str(row["contextId"]), []).append(str(row["projectId"]))
        for context in contexts:
            context["projectIds"] = sorted(projects.get(str(context["id"]), []), key=int)
    if any(not c.get("isAnyIssueType") for c in contexts):
        types: dict[str, list[str]] = {}
        for row in client.context_issue_type_mapping(field_id):
            if row.get("issueTypeId") is not None:
                types.setdefault(str(row["contextId"]), []).append(str(row["issueTypeId"]))
        for context in contexts:
            context["issueTypeIds"] = sorted(types.get(str(context["id"]), []))


def site_configuration(
    client: Any, project_ids: list[str], shard: Shard, *, previous: Any = None
) -> list[dict]:
    """Write the scheme, filter and dashboard shards; return ``snapshot_notes`` records for what
    could not be read. ``previous``: the base snapshot's reader in an incremental run."""
    notes = []
    try:
        for kind, records in _schemes(client, project_ids, _carried(previous)):
            shard(kind, records)
    except _REFUSED as exc:
        for kind in SCHEME_KINDS:
            shard(kind, [])
        notes.append(
            {
                "id": "schemes",
                "part": "schemes, screens and field configurations",
                "reason": "schemes and screens not backed up: the connecting account may not "
                f"read them ({type(exc).__name__})",
            }
        )
    try:
        filters, dashboards = read_filters(client), read_dashboards(client)
    except _REFUSED as exc:
        filters, dashboards = [], []
        notes.append(
            {
                "id": "filters",
                "part": "filters and dashboards",
                "reason": "filters and dashboards not backed up: the connecting account may "
                f"not read them ({type(exc).__name__})",
            }
        )
    shard("filters", filters)
    shard("dashboards", dashboards)
    return notes


def _carried(previous: Any) -> dict[str, dict[str, dict[str, Any]]]:
    """Screens and field configurations of the base snapshot, by id (none in a full run)."""
    if previous is None:
        return {"screens": {}, "field_configurations": {}}
    return {
        kind: {str(r["id"]): r for r in previous.records(kind)}
        for kind in ("screens", "field_configurations")
    }


def _schemes(
    client: Any, project_ids: list[str], carried: dict[str, dict[str, dict[str, Any]]]
) -> list[tuple[str, list[dict[str, Any]]]]:
    """Read everything first, so a refusal half-way leaves no partial group.

    A screen's fields and a field configuration's items cost a point per field: an incremental
    run takes them from its base snapshot for screens and configurations it already holds
    (``carried``); full runs read them all."""

    def projects_of(method: Callable, key: str) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for chunk in _chunks(project_ids):
            for sid, ids in _project_lists(method(chunk), key).items():
                out.setdefault(sid, []).extend(ids)
        return out

    def mapped(
        schemes: Iterable[dict], rows: Iterable[dict], keys: tuple[str, str], projects: dict
    ) -> list[dict[str, Any]]:
        """Schemes with their issue type -> target mappings and the projects using them."""
        maps = _mappings(rows, keys[0], "issueTypeId", keys[1])
        return [
            {
                **{k: s.get(k) for k in ("id", "name", "description")},
                "mappings": maps.get(str(s["id"]), {}),
                "projectIds": projects.get(str(s["id"]), []),
            }
            for s in schemes
        ]

    types = _mappings(client.issue_type_scheme_mapping(), "issueTypeSchemeId", "issueTypeId", None)
    type_projects = projects_of(client.issue_type_scheme_projects, "issueTypeScheme")
    issue_type_schemes = [
        {
            **{k: s.get(k) for k in ("id", "name", "description", "defaultIssueTypeId")},
            "isDefault": bool(s.get("isDefault")),
            "issueTypeIds": sorted(types.get(str(s["id"]), [])),
            "projectIds": type_projects.get(str(s["id"]), []),
        }
        for s in client.issue_type_schemes()
    ]
    screens = []
    for screen in client.screens():
        known = carried["screens"].get(str(screen["id"]))
        if known is not None:
            screens.append(
                {
                    **known,
                    "name": screen.get("name"),
                    "description": screen.get("description") or "",
                }
            )
            continue
        tabs = []
        for tab in client.screen_tabs(screen["id"]):
            fields = client.screen_tab_fields(screen["id"], tab["id"])
            tabs.append(
                {
                    "id": tab["id"],
                    "name": tab.get("name"),
                    "fields": [{"id": f["id"], "name": f.get("name")} for f in fields],
                }
            )
        screens.append(
            {
                "id": screen["id"],
                "name": screen.get("name"),
                "description": screen.get("description") or "",
                "tabs": tabs,
            }
        )
    screen_schemes = [
        {k: s.get(k) for k in ("id", "name", "description", "screens")}
        for s in client.screen_schemes()
    ]
    type_screen_schemes = mapped(
        client.issue_type_screen_schemes(),
        client.issue_type_screen_scheme_mapping(),
        ("issueTypeScreenSchemeId", "screenSchemeId"),
        projects_of(client.issue_type_screen_scheme_projects, "issueTypeScreenScheme"),
    )
    field_configurations = [
        {
            **{k: c.get(k) for k in ("id", "name", "description")},
            "isDefault": bool(c.get("isDefault")),
            "items": _configuration_items(client, c["id"], carried["field_configurations"]),
        }
        for c in client.field_configurations()
    ]
    config_projects = projects_of(
        client.field_configuration_scheme_projects, "fieldConfigurationScheme"
    )
    config_schemes = mapped(
        client.field_configuration_schemes(),
        client.field_configuration_scheme_mapping(),
        ("fieldConfigurationSchemeId", "fieldConfigurationId"),
        config_projects,
    )
    if config_projects.get("default"):
        config_schemes.append(
            {
                "id": "default",
                "name": "System Default Field Configuration Scheme",
                "description": "",
                "mappings": {},
                "projectIds": config_projects["default"],
            }
        )
    permission_schemes = [
        {
            **{k: s.get(k) for k in ("id", "name", "description")},
            "permissions": sorted(
                (
                    {"permission": g.get("permission"), "holder": _holder(g.get("holder"))}
                    for g in s.get("permissions") or []
                ),
                key=lambda g: (str(g["permission"]), repr(sorted(g["holder"].items()))),
            ),
        }
        for s in client.permission_schemes()
    ]
    notification_schemes = [
        {
            **{k: s.get(k) for k in ("id", "name", "description")},
            "events": [
                {
                    "event": (e.get("event") or {}).get("name"),
                    "notifications": sorted(
                        (
                            _holder(n, type_key="notificationType")
                            for n in e.get("notifications") or []
                        ),
                        key=lambda h: repr(sorted(h.items())),
                    ),
                }
                for e in s.get("notificationSchemeEvents") or []
            ],
            "projectIds": sorted(str(p) for p in s.get("projects") or []),
        }
        for s in client.notification_schemes()
    ]
    security_schemes = [
        {
            **{k: s.get(k) for k in ("id", "name", "description", "defaultSecurityLevelId")},
            "levels": sorted(
                (
                    {k: lv.get(k) for k in ("id", "name", "description", "isDefault")}
                    for lv in s.get("levels") or []
                ),
                key=lambda lv: str(lv["id"]),
            ),
        }
        for s in client.issue_security_schemes()
    ]
    return [
        ("issue_type_schemes", _by_id(issue_type_schemes)),
        ("screens", _by_id(screens)),
        ("screen_schemes", _by_id(screen_schemes)),
        ("issue_type_screen_schemes", _by_id(type_screen_schemes)),
        ("field_configurations", _by_id(field_configurations)),
        ("field_configuration_schemes", _by_id(config_schemes)),
        ("permission_schemes", _by_id(permission_schemes)),
        ("notification_schemes", _by_id(notification_schemes)),
        ("issue_security_schemes", _by_id(security_schemes)),
    ]


def _configuration_items(
    client: Any, configuration_id: Any, carried: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    known = carried.get(str(configuration_id))
    if known is not None:
        return known["items"]
    return sorted(
        (
            {k: i.get(k) for k in ("id", "isHidden", "isRequired", "renderer")}
            for i in client.field_configuration_items(configuration_id)
        ),
        key=lambda i: str(i["id"]),
    )


def _holder(holder: Any, type_key: str = "type") -> Any:
    """A grant's holder or a notification's recipient, without links: a sortable string-keyed
    dict (``type``, ``parameter``)."""
    if not isinstance(holder, dict):
        return {}
    out = {"type": str(holder.get(type_key) or "")}
    if holder.get("parameter") is not None:
        out["parameter"] = str(holder["parameter"])
    return out


def share(entry: dict[str, Any]) -> dict[str, Any]:
    """A share or edit permission with only what identifies it (ids, not links)."""
    out: dict[str, Any] = {"type": entry.get("type")}
    if entry.get("project"):
        out["projectId"] = str(entry["project"].get("id"))
    if entry.get("role"):
        out["roleId"] = str(entry["role"].get("id"))
    if entry.get("group"):
        out["group"] = entry["group"].get("name") or entry["group"].get("groupId")
    if entry.get("user"):
        out["accountId"] = entry["user"].get("accountId")
    return out


def _shares(entries: Any) -> list[dict[str, Any]]:
    return sorted((share(e) for e in entries or []), key=lambda s: repr(sorted(s.items())))


def read_filters(client: Any) -> list[dict[str, Any]]:
    return _by_id(
        {
            "id": str(f["id"]),
            "name": f.get("name"),
            "description": f.get("description") or "",
            "jql": f.get("jql") or "",
            "ownerAccountId": (f.get("owner") or {}).get("accountId"),
            "sharePermissions": _shares(f.get("sharePermissions")),
            "editPermissions": _shares(f.get("editPermissions")),
        }
        for f in client.filters()
    )


def read_dashboards(client: Any) -> list[dict[str, Any]]:
    out = []
    for d in client.dashboards():
        gadgets = [
            {k: g.get(k) for k in ("id", "moduleKey", "uri", "color", "position", "title")}
            for g in client.dashboard_gadgets(d["id"])
        ]
        out.append(
            {
                "id": str(d["id"]),
                "name": d.get("name"),
                "description": d.get("description") or "",
                "ownerAccountId": (d.get("owner") or {}).get("accountId"),
                "systemDashboard": bool(d.get("systemDashboard")),
                "sharePermissions": _shares(d.get("sharePermissions")),
                "editPermissions": _shares(d.get("editPermissions")),
                "gadgets": sorted(gadgets, key=lambda g: int(g["id"])),
            }
        )
    return _by_id(out)


def project_schemes(client: Any, project: dict[str, str]) -> dict[str, Any]:
    """Which permission and issue security scheme the project uses (its workflow, issue type,
    screen, field configuration and notification schemes are in the site-wide records)."""
    record: dict[str, Any] = {"projectId": project["id"], "id": project["id"]}
    try:
        scheme = client.project_permission_scheme(project["key"])
        record["permissionScheme"] = {"id": scheme.get("id"), "name": scheme.get("name")}
    except _REFUSED:
        record["permissionScheme"] = None
    try:
        security = client.project_issue_security_scheme(project["key"])
    except _REFUSED:
        security = None
    record["issueSecurityScheme"] = (
        {"id": security.get("id"), "name": security.get("name")} if security else None
    )
    return record
