"""The repository carries what it tests against and what its docs cite (issue 20): `make test`
passes in a clone placed anywhere, with nothing beside it.

* no source, test or benchmark file names a file outside the repository (system tools such as
  Chromium or PostgreSQL's binaries excepted);
* every relative link of the docs leads to a file of the repository, and no doc points readers
  to a local path outside it;
* the test that once read Atlassian's OpenAPI document from outside the repository passes from a
  copy of the repository placed in an unrelated folder.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Where machines keep system tools and scratch space: not files a clone would miss.
SYSTEM = ("/usr/", "/bin/", "/sbin/", "/lib/", "/dev/", "/tmp/", "/proc/", "/sys/", "/etc/")
NOT_OURS = {".venv", "var", ".git", "node_modules", "__pycache__", ".pytest_cache", ".ruff_cache"}
ABSOLUTE = re.compile(r"(?<![\w.:/~-])(/[\w.-]+(?:/[\w.-]+)+)")
CONTRACT = ["tests/sandbox/test_contract.py"]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def repository_files() -> list[Path]:
    """The files a clone has: tracked and new ones (git's view), else every file but the
    ignored folders."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout.decode()
        files = [ROOT / name for name in listed.split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        files = [
            p
            for p in ROOT.rglob("*")
            if p.is_file() and not NOT_OURS & set(p.relative_to(ROOT).parts)
        ]
    return [p for p in files if p.is_file() and not p.is_symlink()]


def outside(path: str) -> bool:
    """An existing file or folder of this machine that a clone elsewhere would not have."""
    if path.startswith(SYSTEM) or path in ("/usr", "/bin", "/tmp", "/dev/null"):
        return False
    candidate = Path(path)
    try:
        exists = candidate.exists()
    except OSError:
        return False
    return exists and not candidate.resolve().is_relative_to(ROOT)


def strings_of(source: str) -> list[str]:
    texts = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            texts.append(node.value)
    return texts


def test_no_code_names_a_file_outside_the_repository():
    found = []
    for path in repository_files():
        if path.suffix != ".py":
            continue
        for text in strings_of(path.read_text(encoding="utf-8", errors="replace")):
            for candidate in ABSOLUTE.findall(text):
                if outside(candidate):
                    found.append(f"{path.relative_to(ROOT)}: {candidate}")
    assert found == []


def test_the_docs_link_to_files_of_the_repository_only():
    broken, foreign = [], []
    for path in repository_files():
        if path.suffix != ".md":
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for target in LINK.findall(text):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                continue  # a URL (http:, mailto:) or an anchor of the same page
            relative = target.split("#", 1)[0]
            if relative and not (path.parent / relative).resolve().exists():
                broken.append(f"{path.relative_to(ROOT)}: {target}")
            elif relative and not (path.parent / relative).resolve().is_relative_to(ROOT):
                foreign.append(f"{path.relative_to(ROOT)}: {target}")
        foreign += [
            f"{path.relative_to(ROOT)}: {candidate}"
            for candidate in ABSOLUTE.findall(text)
            if outside(candidate)
        ]
    assert broken == []
    assert foreign == []


@pytest.mark.timeout(600)
def test_the_contract_test_passes_from_a_copy_placed_anywhere(tmp_path):
    copy = tmp_path / "somewhere" / "else" / "jira-backup"
    for path in repository_files():
        target = copy / path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTHONPATH", None)
    if env.get("DATABASE_URL"):  # its own database name, never this run's test database
        url = urlsplit(env["DATABASE_URL"])
        env["DATABASE_URL"] = urlunsplit(url._replace(path=url.path.rstrip("/") + "_copy"))

    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", *CONTRACT],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=580,
    )

    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    assert re.search(r"\d+ passed", run.stdout), run.stdout[-3000:]
