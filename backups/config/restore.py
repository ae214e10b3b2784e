"""Configuration a restore writes back, for what Jira's API can write safely, and a readable
difference for everything else (for an administrator to apply by hand).

Written (each only where the target lacks it or differs, so running it twice writes nothing):

* custom field contexts and options of the restored fields: a missing context is created
  (its projects and issue types mapped), missing options are added and options the snapshot
  had enabled are enabled again — so restored select values are valid again; this runs before
  any issue is created, whatever the scope;
* the release state of versions and the description, lead and default assignee of components
  of the projects in scope (missing ones are created by the projects phase, with their state);
* the user actors of project roles whose accounts exist in the target;
* whole-site restores only: shared filters and dashboards (with their gadgets; a filter
  gadget points at the restored filter) missing in the target, by name. They belong to the
  restoring account.

Everything else — workflows and their schemes, issue type, screen, field configuration,
permission, notification and issue security schemes, screens, boards, group actors, filters
and dashboards that exist with other content, cascading options — is compared with the target
(by name, project ids mapped) and each difference listed: what the snapshot holds that the
target lacks, and what differs (the target's value, then the snapshot's). Nothing is deleted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from atlassian.exceptions import ApiBadRequest, ApiForbidden, ApiNotFound
from backups.changes.diff import CREATED, MODIFIED, config_changes, render
from backups.changes.sides import live_configuration
from backups.config.capture import read_dashboards, read_filters
from backups.config.kinds import SCHEME_KINDS

MAX_LISTED = 200
OPTION_KINDS = ("option", "options", "cascade")
# Compared with the target, never written.
MANUAL_KINDS = (
    "workflows",
    "workflow_schemes",
    *SCHEME_KINDS,
    "project_schemes",
    "boards",
)
_REFUSED = (ApiBadRequest, ApiForbidden, ApiNotFound)
USER_ACTOR = "atlassian-user-role-actor"
VERSION_STATE = ("released", "archived", "releaseDate", "startDate", "description")
COMPONENT_STATE = ("description", "assigneeType")


@dataclass
class ConfigurationRestore:
    """One pass over the configuration of a restore: ``write=False`` (the dry run) lists what
    it would write; ``write=True`` writes it. ``result()`` is the report's section."""

    source: Any  # backups.restore.source.SnapshotSource
    client: Any
    mapping: Any  # backups.restore.mapping.Mapping
    write: bool
    read_target: Callable[[], dict[str, list[dict[str, Any]]]] | None = None
    written: dict[str, int] = field(default_factory=dict)
    planned: list[str] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    manual: list[dict[str, str]] = field(default_factory=list)
    manual_count: int = 0
    filter_ids: dict[str, str] = field(default_factory=dict)

    # -- bookkeeping --------------------------------------------------------------------------

    def _do(self, counter: str, what: str, call: Callable[[], Any], n: int = 1) -> Any:
        """Count and describe one write; run it unless this is the dry run."""
        if len(self.planned) < MAX_LISTED:
            self.planned.append(what)
        if not self.write:
            self.written[counter] = self.written.get(counter, 0) + n
            return None
        try:
            answer = call()
        except _REFUSED as exc:
            self.failed.append({"what": what, "error": str(exc)[:300]})
            return None
        self.written[counter] = self.written.get(counter, 0) + n
        return answer

    def _by_hand(self, area: str, change: str, what: str, before: Any = "", after: Any = ""):
        self.manual_count += 1
        if len(self.manual) < MAX_LISTED:
            self.manual.append(
                {
                    "area": area,
                    "change": change,
                    "object": what,
                    "before": render(before) if before != "" else "",
                    "after": render(after) if after != "" else "",
                }
            )

    def result(self) -> dict[str, Any]:
        return {
            "written": dict(sorted(self.written.items())),
            "planned": self.planned,
            "failed": self.failed,
            "manual": self.manual,
            "manual_count": self.manual_count,
        }

    def run(self) -> dict[str, Any]:
        parts = [
            ("field_options", "custom field contexts and options", self.options),
            ("versions", "versions, components and role actors", self.project_parts),
        ]
        if self.source.scope.kind == "site":
            parts += [
                ("filters", "filters", self.filters),
                ("dashboards", "dashboards", self.dashboards),
                ("configuration", "the rest of the configuration", self.compare),
            ]
        for area, what, part in parts:
            try:
                part()
            except _REFUSED as exc:
                # A read the restoring account may not make: said, and the restore goes on.
                self._by_hand(
                    area, "not compared", f"{what}: the target refused to show them ({exc})"
                )
        return self.result()

    # -- custom field contexts and options ----------------------------------------------------

    def _target_projects(self, source_ids: list[str]) -> list[str]:
        out = []
        for pid in source_ids:
            project = self.mapping.projects.get(str(pid))
            if project and str(project["id"]).isdigit():
                out.append(str(project["id"]))
        return out

    def _target_types(self, source_ids: list[str]) -> list[str]:
        names = {
            str(t["id"]): str(t.get("name", "")).lower() for t in self.source.records("issue_types")
        }
        return [
            self.mapping.issue_types[names[t]]
            for t in source_ids
            if names.get(str(t)) in self.mapping.issue_types
        ]

    def options(self) -> None:
        names = {str(f["id"]): f.get("name") or f["id"] for f in self.source.records("fields")}
        contexts = self.source.records("field_contexts")
        options = self.source.records("field_options")
        for sfid, tfid in sorted(self.mapping.fields.mapped.items()):
            if self.mapping.fields.kinds.get(sfid) not in OPTION_KINDS:
                continue
            mine = [c for c in contexts if c.get("fieldId") == sfid]
            if not mine:
                continue
            targets = list(self.client.field_contexts(tfid))
            for context in mine:
                wanted = [
                    o
                    for o in options
                    if o.get("fieldId") == sfid and str(o.get("contextId")) == str(context["id"])
                ]
                self._context(names[sfid], tfid, context, wanted, targets)

    def _context(
        self,
        field_name: str,
        tfid: str,
        context: dict[str, Any],
        wanted: list[dict[str, Any]],
        targets: list[dict[str, Any]],
    ) -> None:
        label = f'{field_name}, context "{context.get("name")}"'
        found = next((t for t in targets if t.get("name") == context.get("name")), None)
        if found is None and context.get("isGlobalContext"):
            found = next((t for t in targets if t.get("isGlobalContext")), None)
        current: list[dict[str, Any]] = []
        if found is None:
            projects = self._target_projects(context.get("projectIds") or [])
            if not context.get("isGlobalContext") and not projects:
                self._by_hand(
                    "field_contexts",
                    "missing in the target",
                    f"{label}: its projects are not there",
                )
                return
            payload = {
                "name": context.get("name"),
                "description": context.get("description") or "",
                "projectIds": projects,
                "issueTypeIds": self._target_types(context.get("issueTypeIds") or []),
            }
            created = self._do(
                "contexts",
                f"create {label}",
                lambda: self.client.create_field_context(tfid, payload),
            )
            if created is None and self.write:
                return
            context_id = str((created or {}).get("id") or "")
        else:
            context_id = str(found["id"])
            current = list(self.client.field_context_options(tfid, context_id))
        have = {o.get("value"): o for o in current}
        missing = [
            {"value": o["value"], "disabled": bool(o.get("disabled"))}
            for o in wanted
            if o.get("optionId") is None and o.get("value") not in have
        ]
        for child in (o for o in wanted if o.get("optionId") is not None):
            if child.get("value") not in have:
                self._by_hand(
                    "field_options", "missing in the target", f'{label}: option "{child["value"]}"'
                )
        for start in range(0, len(missing), 1000):
            chunk = missing[start : start + 1000]
            values = ", ".join(o["value"] for o in chunk[:10]) + (" …" if len(chunk) > 10 else "")
            self._do(
                "options",
                f"add {len(chunk)} option(s) to {label}: {values}",
                lambda chunk=chunk: self.client.create_field_options(tfid, context_id, chunk),
                n=len(chunk),
            )
        enabled = {o.get("value") for o in wanted if not o.get("disabled")}
        enable = [
            {"id": o["id"], "disabled": False}
            for o in current
            if o.get("disabled") and o.get("value") in enabled
        ]
        if enable:
            self._do(
                "options_enabled",
                f"enable {len(enable)} option(s) of {label}",
                lambda: self.client.update_field_options(tfid, context_id, enable),
                n=len(enable),
            )

    # -- versions, components, role actors ----------------------------------------------------

    def project_parts(self) -> None:
        for project in self.source.projects:
            target = self.mapping.projects.get(str(project["id"]))
            if not target or not str(target["id"]).isdigit():
                continue  # skipped, or created by the restore (its parts come with it)
            self._versions(project, target)
            self._components(project, target)
            self._role_actors(project, target)

    @staticmethod
    def _pairs(
        project: dict[str, Any], records: list[dict[str, Any]], current: Any
    ) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """(snapshot record, target record of the same name) for the project's records the
        target holds (the others were created by the projects phase)."""
        by_name = {str(r["name"]).lower(): r for r in current}
        return [
            (r, by_name[str(r["name"]).lower()])
            for r in records
            if str(r.get("projectId")) == str(project["id"]) and str(r["name"]).lower() in by_name
        ]

    def _versions(self, project: dict[str, Any], target: dict[str, str]) -> None:
        current = self.client.project_versions(target["key"])
        for version, there in self._pairs(project, self.source.versions(), current):
            change = {k: version.get(k) for k in VERSION_STATE if version.get(k) != there.get(k)}
            change = {k: v for k, v in change.items() if not (v in (None, "") and not there.get(k))}
            if change:
                words = ", ".join(
                    f"{k} {render(there.get(k))} → {render(v)}" for k, v in change.items()
                )
                self._do(
                    "versions",
                    f"version {target['key']}/{version['name']}: {words}",
                    lambda vid=there["id"], change=change: self.client.update_version(vid, change),
                )

    def _components(self, project: dict[str, Any], target: dict[str, str]) -> None:
        current = self.client.project_components(target["key"])
        for component, there in self._pairs(project, self.source.components(), current):
            change = {
                k: component.get(k)
                for k in COMPONENT_STATE
                if component.get(k) is not None and component.get(k) != there.get(k)
            }
            lead = (component.get("lead") or {}).get("accountId") or component.get("leadAccountId")
            there_lead = (there.get("lead") or {}).get("accountId") or there.get("leadAccountId")
            if lead and lead != there_lead and lead in self.mapping.users:
                change["leadAccountId"] = lead
            if change:
                self._do(
                    "components",
                    f"component {target['key']}/{component['name']}: "
                    + ", ".join(f"{k} → {render(v)}" for k, v in change.items()),
                    lambda cid=there["id"], change=change: self.client.update_component(
                        cid, change
                    ),
                )

    def _role_actors(self, project: dict[str, Any], target: dict[str, str]) -> None:
        pid = str(project["id"])
        roles = [r for r in self.source.records("project_roles") if str(r.get("projectId")) == pid]
        if not roles:
            return
        target_roles = {
            name: str(url).rstrip("/").rsplit("/", 1)[-1]
            for name, url in self.client.project_roles(target["key"]).items()
        }
        for role in roles:
            role_id = target_roles.get(role.get("name"))
            if role_id is None:
                self._by_hand(
                    "project_roles",
                    "missing in the target",
                    f"role {role.get('name')} of {target['key']}",
                )
                continue
            there = self.client.project_role(target["key"], role_id).get("actors") or []
            have = {(a.get("actorUser") or {}).get("accountId") for a in there} | {
                a.get("displayName") for a in there if a.get("type") != USER_ACTOR
            }
            users, unknown = [], 0
            for actor in role.get("actors") or []:
                if actor.get("type") == USER_ACTOR:
                    account = (actor.get("actorUser") or {}).get("accountId")
                    if account in have:
                        continue
                    if account in self.mapping.users:
                        users.append(account)
                    else:
                        unknown += 1
                elif actor.get("displayName") not in have:
                    self._by_hand(
                        "project_roles",
                        "missing in the target",
                        f"{actor.get('type', 'actor')} {actor.get('displayName')} in role "
                        f"{role.get('name')} of {target['key']}",
                    )
            if unknown:
                self._by_hand(
                    "project_roles",
                    "not restorable",
                    f"{unknown} user(s) of role {role.get('name')} of {target['key']}: "
                    "no such account in the target",
                )
            if users:
                self._do(
                    "role_actors",
                    f"add {len(users)} user(s) to role {role.get('name')} of {target['key']}",
                    lambda key=target["key"], rid=role_id, users=users: self.client.add_role_actors(
                        key, rid, users
                    ),
                    n=len(users),
                )

    # -- filters and dashboards (whole-site restores) ----------------------------------------

    def _share(self, share: dict[str, Any]) -> dict[str, Any] | None:
        kind = share.get("type")
        if kind in ("global", "loggedin", "authenticated"):
            return {"type": kind}
        if kind == "project":
            target = self._target_projects([share.get("projectId")])
            return {"type": "project", "project": {"id": target[0]}} if target else None
        if kind == "group" and share.get("group"):
            return {"type": "group", "group": {"name": share["group"]}}
        if kind == "user" and share.get("accountId") in self.mapping.users:
            return {"type": "user", "user": {"accountId": share["accountId"]}}
        return None

    def _shares(self, shares: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [s for s in (self._share(x) for x in shares or []) if s is not None]

    def _shared(self, record: dict[str, Any]) -> dict[str, Any]:
        """The create payload common to a filter and a dashboard."""
        return {
            "name": record["name"],
            "description": record.get("description") or "",
            "sharePermissions": self._shares(record.get("sharePermissions")),
            "editPermissions": self._shares(record.get("editPermissions")),
        }

    def filters(self) -> None:
        target = {f["name"]: f for f in read_filters(self.client)}
        for record in self.source.records("filters"):
            there = target.get(record["name"])
            if there is not None:
                self.filter_ids[str(record["id"])] = str(there["id"])
                for key in ("jql", "description"):
                    if (there.get(key) or "") != (record.get(key) or ""):
                        self._by_hand(
                            "filters",
                            "differs",
                            f'filter "{record["name"]}" {key}',
                            there.get(key),
                            record.get(key),
                        )
                continue
            payload = {**self._shared(record), "jql": record.get("jql") or ""}
            created = self._do(
                "filters",
                f'create filter "{record["name"]}"',
                lambda p=payload: self.client.create_filter(p),
            )
            if created:
                self.filter_ids[str(record["id"])] = str(created["id"])

    def dashboards(self) -> None:
        target = {d["name"]: d for d in read_dashboards(self.client)}
        for record in self.source.records("dashboards"):
            if record.get("systemDashboard"):
                continue
            there = target.get(record["name"])
            if there is not None:
                titles = {g.get("title") for g in there.get("gadgets") or []}
                for gadget in record.get("gadgets") or []:
                    if gadget.get("title") not in titles:
                        self._by_hand(
                            "dashboards",
                            "missing in the target",
                            f'gadget "{gadget.get("title")}" of dashboard "{record["name"]}"',
                        )
                continue
            payload = self._shared(record)
            created = self._do(
                "dashboards",
                f'create dashboard "{record["name"]}" with {len(record.get("gadgets") or [])} gadget(s)',
                lambda p=payload: self.client.create_dashboard(p),
            )
            if not created and self.write:
                continue
            dashboard_id = (created or {}).get("id")
            for gadget in sorted(record.get("gadgets") or [], key=lambda g: int(g["id"])):
                body = self._gadget(gadget)
                self._do(
                    "gadgets",
                    f'  gadget "{gadget.get("title")}"',
                    lambda body=body, did=dashboard_id: self.client.add_gadget(did, body),
                )

    def _gadget(self, gadget: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "color": gadget.get("color") or "blue",
            "position": gadget.get("position") or {},
            "title": gadget.get("title") or "",
        }
        uri = gadget.get("uri")
        if uri:
            for source_id, target_id in self.filter_ids.items():
                uri = uri.replace(f"filterId={source_id}", f"filterId={target_id}")
            body["uri"] = uri
        else:
            body["moduleKey"] = gadget.get("moduleKey")
        return body

    # -- everything else: a readable difference ----------------------------------------------

    def compare(self) -> None:
        if self.read_target is None:
            return
        target = self.read_target()
        source = {
            kind: [self._translated(r) for r in self.source.records(kind)]
            for kind in MANUAL_KINDS
            if kind in {s.kind for s in self.source.reader.manifest.shards}
        }
        names = {str(f["id"]): f.get("name") or f["id"] for f in self.source.records("fields")}
        names.update({f"project:{p['id']}": p["key"] for p in target.get("projects", [])})
        for change in config_changes(target, source, names=names, by="name", kinds=MANUAL_KINDS):
            if change.change == CREATED:
                self._by_hand(change.area, "missing in the target", change.object)
            elif change.change == MODIFIED:
                self._by_hand(
                    change.area,
                    "differs",
                    f"{change.object}: {change.field}",
                    change.before,
                    change.after,
                )

    def _translated(self, record: dict[str, Any]) -> dict[str, Any]:
        """A snapshot record with its project ids as the target's (unmapped ones dropped)."""
        out = dict(record)
        if "projectId" in out:
            mapped = self._target_projects([out["projectId"]])
            out["projectId"] = mapped[0] if mapped else f"unmapped:{out['projectId']}"
        if isinstance(out.get("projectIds"), list):
            out["projectIds"] = sorted(self._target_projects(out["projectIds"]), key=int)
        return out


def configuration_lines(section: dict[str, Any] | None, *, dry_run: bool) -> list[str]:
    """The report's lines for the configuration section of a plan or a finished job."""
    if not section:
        return []
    verb = "would write" if dry_run else "written"
    written = section.get("written") or {}
    lines = [
        "configuration "
        + verb
        + ": "
        + (", ".join(f"{n} {k.replace('_', ' ')}" for k, n in written.items()) or "nothing")
    ]
    lines += [f"  {line}" for line in section.get("planned") or []]
    lines += [
        f"configuration failed: {f['what']}: {f['error']}" for f in section.get("failed") or []
    ]
    count = section.get("manual_count") or 0
    if count:
        lines.append(f"configuration to apply by hand ({count}):")
        for row in section.get("manual") or []:
            line = f"  {row['area']}: {row['change']}: {row['object']}"
            if row.get("before") or row.get("after"):
                line += f" (target: {row['before']}; snapshot: {row['after']})"
            lines.append(line)
    return lines


class ConfigurationPhase:
    """The restore executor's ``configuration`` phase (after projects, before issues): the
    writes above, its failures as the job's errors, and the section in the job's counters."""

    def phase_configuration(self) -> bool:
        target_site = self.job.target_site
        section = ConfigurationRestore(
            source=self.source,
            client=self.client,
            mapping=self.mapping,
            write=True,
            read_target=lambda: live_configuration(self.client, target_site)[0],
        ).run()
        for failure in section["failed"]:
            self.error("configuration", failure["what"], failure["error"])
        counters = dict(self.job.counters or {})
        counters["configuration"] = section
        self.job.counters = counters
        self.lease.update(counters=counters)
        return True


def plan_configuration(*, job: Any, source: Any, client: Any, mapping: Any) -> dict[str, Any]:
    """The dry run's configuration section: what the phase would write, and the differences
    to apply by hand."""
    return ConfigurationRestore(
        source=source,
        client=client,
        mapping=mapping,
        write=False,
        read_target=lambda: live_configuration(client, job.target_site)[0],
    ).run()
