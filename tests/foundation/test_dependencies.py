"""The dependency contract: staff ops → customer pages and the project → backups → tenants →
atlassian → kit, every import counted (function-level ones too), and the sandbox standing alone.
The contract lives in ``pyproject.toml`` ([tool.importlinter]); import-linter checks it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("ops", "portal", "backups", "tenants", "atlassian", "kit", "sandbox")


def lint_imports(tree: Path) -> subprocess.CompletedProcess:
    # Another process: this one has the real packages imported already, and import-linter finds
    # packages through the import system.
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports; "
            "sys.exit(lint_imports(no_cache=True))",
        ],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def copy_of_the_tree(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    tree.mkdir()
    shutil.copy(ROOT / "pyproject.toml", tree)
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tree / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    return tree


def test_every_import_points_down_the_layers():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


def test_a_function_level_import_of_a_higher_app_breaks_the_contract(tmp_path):
    tree = copy_of_the_tree(tmp_path)
    assert lint_imports(tree).returncode == 0
    with (tree / "tenants" / "selectors.py").open("a") as module:
        module.write(
            "\n\ndef _sneaky():\n    from backups.models import BackupJob\n\n    return BackupJob\n"
        )
    result = lint_imports(tree)
    assert result.returncode == 1
    assert "tenants is not allowed to import backups" in result.stdout
    assert "tenants.selectors -> backups.models" in result.stdout


def test_the_sandbox_may_not_import_the_portal(tmp_path):
    tree = copy_of_the_tree(tmp_path)
    with (tree / "sandbox" / "clock.py").open("a") as module:
        module.write("\nimport kit.env  # noqa\n")
    result = lint_imports(tree)
    assert result.returncode == 1
    assert "sandbox.clock -> kit.env" in result.stdout
