"""The README's settings table and .env.example name every variable the code reads."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
READERS = re.compile(
    r"""(?:env|_env|Env\(\))\.(?:str|bool|int|list|url|datetime|database|broker|encryption_keys|kms_keys|locations)"""
    r"""\(\s*"([A-Z][A-Z0-9_]+)"|_int\(\s*"([A-Z][A-Z0-9_]+)"|getattr\(settings, "(BACKUPS_[A-Z_]+)\""""
)


def variables_read_by_the_code() -> set[str]:
    names = set()
    for folder in ("portal", "tenants", "backups", "atlassian"):
        for path in (ROOT / folder).rglob("*.py"):
            for match in READERS.finditer(path.read_text()):
                names.add(next(group for group in match.groups() if group))
    return names


def test_the_readme_table_lists_every_variable():
    readme = (ROOT / "README.md").read_text()

    assert {name for name in variables_read_by_the_code() if f"`{name}`" not in readme} == set()


def test_env_example_lists_every_variable():
    example = (ROOT / ".env.example").read_text()
    listed = set(re.findall(r"^([A-Z][A-Z0-9_]+)=", example, re.MULTILINE))

    assert variables_read_by_the_code() - listed == set()
    assert len(variables_read_by_the_code()) > 30
