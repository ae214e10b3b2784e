"""One field's value in a write (create or edit), validated and turned into what the issue
shows, as Jira does it; and the changelog text for a change of it."""

from __future__ import annotations

from typing import Any

from sandbox import catalog, config, content
from sandbox.api import Ctx
from sandbox.model import Project, Site

NOT_SETTABLE = "Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."
ADF_MESSAGE = "Operation value must be an Atlassian Document (see the Atlassian Document Format)."
ADF_FIELDS = frozenset({"description", "environment", "customfield_10026"})
# Editable system fields (parent and the issue type have rules of their own, in edits.py).
SYSTEM = frozenset(
    {
        "summary",
        "description",
        "environment",
        "priority",
        "assignee",
        "reporter",
        "labels",
        "duedate",
        "components",
        "fixVersions",
        "versions",
    }
)
ARRAYS = frozenset({"labels", "components", "fixVersions", "versions"})
# Changelog names of system fields, as Jira writes them.
HISTORY_NAMES = {"components": "Component", "fixVersions": "Fix Version", "versions": "Version"}


class FieldError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def is_adf(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and value.get("type") == "doc"
        and isinstance(value.get("content"), list)
    )


def custom(site: Site, field_id: str) -> dict | None:
    return next((c for c in site.custom_fields if c["id"] == field_id), None)


def is_array(site: Site, name: str) -> bool:
    found = custom(site, name)
    return name in ARRAYS or (found is not None and found["kind"] in ("multiselect", "labels"))


def resolve(ctx: Ctx, project: Project | None, name: str, value: Any) -> Any:
    """The JSON the issue shows for `name` set to `value`; FieldError when Jira refuses it."""
    if name == "summary":
        if not isinstance(value, str) or not value.strip():
            raise FieldError(name, "You must specify a summary of the issue.")
        if len(value) > 255:
            raise FieldError(name, "Summary must be less than 255 characters.")
        return value
    if name in ADF_FIELDS:
        if value is not None and not is_adf(value):
            raise FieldError(name, ADF_MESSAGE)
        return value
    if name == "priority":
        priority_id = catalog.find_by_name(catalog.PRIORITIES, value)
        if priority_id is None:
            raise FieldError(name, "Specify a valid priority.")
        return catalog.priority_json(priority_id)
    if name in ("assignee", "reporter"):
        return user(ctx, name, value)
    if name == "labels":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise FieldError(name, "Operation value must be an array of strings.")
        if any(" " in label for label in value):
            raise FieldError(name, "The label can't contain spaces.")
        return list(value)
    if name == "duedate":
        if value is not None and not (isinstance(value, str) and len(value) == 10):
            raise FieldError(name, "Due date must be a date (yyyy-MM-dd).")
        return value
    if name in ("components", "fixVersions", "versions"):
        return [project_item(project, name, ref) for ref in (value or [])]
    found = custom(ctx.site, name)
    if found is None or found["kind"] in ("rank",):
        raise FieldError(name, NOT_SETTABLE.format(name=name))
    return custom_value(ctx, found, value)


def user(ctx: Ctx, name: str, value: Any) -> dict | None:
    if value is None:
        return None
    account_id = value.get("accountId") if isinstance(value, dict) else None
    found = ctx.state.users.get(account_id or "")
    if found is None:
        raise FieldError(name, "Specify a valid value for " + name)
    return found.json()


def project_item(project: Project | None, name: str, ref: Any) -> dict:
    pool = (project.components if name == "components" else project.versions) if project else []
    for candidate in pool:
        if isinstance(ref, dict) and (
            str(ref.get("id")) == candidate["id"] or ref.get("name") == candidate["name"]
        ):
            if name == "components":
                return content.component_ref(candidate)
            return content.version_ref(candidate)
    raise FieldError(name, f"{name}: the value {ref} is not valid.")


def custom_value(ctx: Ctx, found: dict, value: Any) -> Any:
    kind, fid = found["kind"], found["id"]
    if value is None:
        return [] if kind in ("multiselect", "labels") else None
    if kind == "select":
        return option(ctx.site, fid, value)
    if kind == "multiselect":
        if not isinstance(value, list):
            raise FieldError(fid, "Option value is not valid")
        return [option(ctx.site, fid, v) for v in value]
    if kind == "number":
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise FieldError(fid, "Operation value must be a number")
        return value
    if kind == "user":
        return user(ctx, fid, value)
    if kind == "labels":
        if not isinstance(value, list):
            raise FieldError(fid, "Operation value must be an array")
        return value
    if kind == "date":
        if not (isinstance(value, str) and len(value) == 10):
            raise FieldError(fid, "Date must be in the format yyyy-MM-dd.")
        return value
    if kind == "sprint":
        sprint = ctx.site.sprints.get(value) if isinstance(value, int) else None
        if sprint is None:
            raise FieldError(fid, f"Sprint with id {value} does not exist.")
        if sprint.state == "closed":
            raise FieldError(fid, "Issue can be assigned only active or future sprints.")
        return value
    return value


def option(site: Site, field_id: str, ref: Any) -> dict:
    if isinstance(ref, dict):
        for candidate in config.field_options(site, field_id):
            if candidate["disabled"]:
                continue
            if str(ref.get("id")) == candidate["id"] or ref.get("value") == candidate["value"]:
                return content.option_json(field_id, candidate["id"], candidate["value"])
    raise FieldError(field_id, f"Option value '{ref}' is not valid")


# ------------------------------------------------------------------ changelog text


def display(site: Site, value: Any) -> str | None:
    """How the changelog shows a value (`fromString`/`toString`)."""
    value = content.plain(site, value)
    if value is None or value == []:
        return None
    if isinstance(value, list):
        return " ".join(s for s in (display(site, v) for v in value) if s)
    if isinstance(value, dict):
        if value.get("type") == "doc":
            return adf_text(value)
        for key in ("displayName", "value", "name", "key"):
            if key in value:
                return str(value[key])
    return str(value)


def ident(site: Site, value: Any) -> str | None:
    """How the changelog identifies a value (`from`/`to`), where Jira gives one."""
    value = content.plain(site, value)
    if isinstance(value, dict):
        return value.get("accountId") or value.get("id")
    if isinstance(value, list):
        ids = [i for i in (ident(site, v) for v in value) if i]
        return ", ".join(ids) if ids else None
    return None


def adf_text(doc: Any) -> str:
    parts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "text":
                parts.append(node.get("text", ""))
            for child in node.get("content") or []:
                walk(child)

    walk(doc)
    return " ".join(p.strip() for p in parts if p.strip())


def history_name(site: Site, name: str) -> tuple[str, str]:
    """(field, fieldtype) of a changelog item for field id `name`."""
    found = custom(site, name)
    if found is not None:
        return found["name"], "custom"
    return HISTORY_NAMES.get(name, name), "jira"
