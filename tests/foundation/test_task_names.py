"""Every Celery task of ours is named explicitly: a task's name is what queued messages and beat
rows carry, so moving a function to another module must not orphan them."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ("ops", "portal", "backups", "tenants", "atlassian", "kit")


def task_decorators():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if not isinstance(node, ast.FunctionDef):
                    continue
                for decorator in node.decorator_list:
                    call = decorator if isinstance(decorator, ast.Call) else None
                    target = call.func if call else decorator
                    name = getattr(target, "id", None) or getattr(target, "attr", None)
                    if name in ("shared_task", "task"):
                        yield path.relative_to(ROOT), node.name, call


def test_every_task_of_ours_names_itself():
    found = list(task_decorators())
    assert len(found) > 10  # the scan sees the tasks
    unnamed = [
        f"{path}:{function}"
        for path, function, call in found
        if call is None or not any(k.arg == "name" for k in call.keywords)
    ]
    assert unnamed == []
