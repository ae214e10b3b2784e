"""Every management command of our apps follows one convention (``kit.commands``): found by
discovery, not listed by hand, so a new command is held to it the day it lands.

* an unknown object (site, tenant, snapshot, credential, file, user) exits 2, naming it;
* ``--format json`` prints valid JSON on stdout (the summary goes to stderr);
* ``--dry-run`` (which every writing command offers) changes no row of any model, and its
  output never says "done".
"""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from datetime import timedelta

import pytest
from django.apps import apps
from django.core.management import call_command, get_commands, load_command_class
from django.core.management.base import CommandError
from django.test import TestCase
from django.utils import timezone

from backups.models import Snapshot
from kit.commands import OperatorCommand
from tests.backups.conftest import acme, backup, backup_env  # noqa: F401 - fixtures
from tests.factories import (
    GrantSiteFactory,
    LegacyCredentialFactory,
    MigrationCaseFactory,
    OAuthGrantFactory,
)

OUR_APPS = ("ops", "backups", "tenants", "atlassian", "portal")
COMMANDS = sorted(name for name, app in get_commands().items() if app in OUR_APPS)
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

pytestmark = pytest.mark.django_db


def command(name: str) -> OperatorCommand:
    return load_command_class(get_commands()[name], name)


def parser_of(name: str):
    return command(name).create_parser("manage.py", name)


def actions(name: str):
    return [a for a in parser_of(name)._actions if a.dest not in ("help",)]


def run(name: str, *argv: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``manage.py name argv``; on-commit work runs."""
    out, err = io.StringIO(), io.StringIO()
    try:
        with TestCase.captureOnCommitCallbacks(execute=True):
            call_command(name, *argv, stdout=out, stderr=err)
    except CommandError as exc:
        return exc.returncode, out.getvalue(), err.getvalue() + str(exc)
    return 0, out.getvalue(), err.getvalue()


def row_counts() -> dict[str, int]:
    return {
        model._meta.label: model._default_manager.count()
        for model in apps.get_models()
        if model._meta.managed and not model._meta.proxy  # ops.Operations has no table
    }


class World:
    """Real objects for every kind of reference a command takes, and an unknown one of each."""

    def __init__(self, tmp_path, site, snapshot):
        self.site, self.snapshot = site, snapshot
        self.credential = LegacyCredentialFactory(tenant=site.tenant)
        MigrationCaseFactory(site__tenant=site.tenant, legacy_credential=self.credential)
        GrantSiteFactory(grant=OAuthGrantFactory(), site__tenant=site.tenant)
        self.book = tmp_path / "book.csv"
        row = {
            "tenant": "initech",
            "tenant_name": "Initech",
            "contact_emails": "ops@initech.example",
            "site_url": "https://initech.atlassian.net",
            "cloud_id": str(uuid.uuid4()),
            "kind": "api_token",
            "email": "jira@initech.example",
            "api_token": "not-a-real-token",
        }
        with self.book.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, list(row))
            writer.writeheader()
            writer.writerow(row)
        self.known = {
            "action": "list",
            "site": site.cloud_id,
            "tenant": site.tenant.slug,
            "snapshot": str(snapshot.pk),
            "confirm": str(self.credential.pk),
            "file": str(self.book),
            "user": "admin@example.com",
            "account": "5b10ac8d82e05b22cc7d4ef5",
        }
        self.unknown = {
            "action": "list",
            "site": "nowhere.atlassian.net",
            "tenant": "no-such-tenant",
            "snapshot": "00000000-0000-4000-8000-000000000000",
            "confirm": str(uuid.uuid4()),
            "file": str(tmp_path / "missing.csv"),
            "user": "nobody@example.com",
        }

    def argv(self, name: str, *, unknown: str | None = None) -> list[str]:
        """The command's required arguments filled with known objects (``unknown``: that one
        argument with an unknown object instead, whether required or not)."""
        argv: list[str] = []
        for action in actions(name):
            positional = not action.option_strings
            wanted = action.dest == unknown or positional or action.required
            if not wanted or action.dest in ("args",):
                continue
            if action.dest not in self.known:
                raise AssertionError(
                    f"{name}: teach this test what a known and an unknown {action.dest!r} are"
                )
            value = (self.unknown if action.dest == unknown else self.known)[action.dest]
            argv += [value] if positional else [action.option_strings[-1], value]
        if name == "totp_code" and unknown != "user":
            argv += ["--secret", TOTP_SECRET]
        return argv


def snapshot_row(site) -> Snapshot:
    now = timezone.now()
    return Snapshot.objects.create(
        site=site,
        kind="full",
        format_version=1,
        manifest_path="nowhere",
        manifest_sha256="0" * 64,
        started_at=now - timedelta(minutes=5),
        completed_at=now,
    )


@pytest.fixture
def local_demo(settings, monkeypatch):
    # totp_code and ensure_demo_superuser are for the local demo: DEBUG on, a password set.
    settings.DEBUG = True
    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", "a demo password 42")


@pytest.fixture
def rows_world(db, tmp_path, local_demo):
    """Rows only: enough to look objects up (nothing is read from storage or Atlassian)."""
    site = GrantSiteFactory().site
    return World(tmp_path, site, snapshot_row(site))


@pytest.fixture
def live_world(acme, tmp_path, local_demo):  # noqa: F811 - the fixture imported above
    """A site connected to the sandbox, with a real snapshot: a dry run can plan against it."""
    job = backup(acme)
    return World(tmp_path, acme, Snapshot.objects.get(pk=job.snapshot_id))


def world_for(name: str, request) -> World:
    # Only a restore's, a roll-back's, sealing's and a data-subject request's dry runs read a
    # snapshot (and the site).
    live = name in ("restore_snapshot", "rollback_issues", "seal_snapshots", "subject_request")
    return request.getfixturevalue("live_world" if live else "rows_world")


def object_arguments() -> list[tuple[str, str]]:
    refs = {"site", "tenant", "snapshot", "confirm", "file", "user"}
    return [(name, a.dest) for name in COMMANDS for a in actions(name) if a.dest in refs]


def writers() -> list[str]:
    return [name for name in COMMANDS if command(name).writes]


def test_the_convention_covers_every_command_of_our_apps():
    assert len(COMMANDS) >= 15, COMMANDS
    for name in COMMANDS:
        assert isinstance(command(name), OperatorCommand), name
        formats = next(a for a in actions(name) if a.dest == "format")
        assert tuple(formats.choices) == ("table", "json", "csv"), name
        assert ("dry_run" in {a.dest for a in actions(name)}) == command(name).writes, name
    assert {"backup_site", "seed_demo", "send_reauth_invites", "restore_snapshot"} <= set(writers())


@pytest.mark.parametrize(("name", "argument"), object_arguments())
def test_an_unknown_object_exits_2_and_is_named(name, argument, rows_world):
    before = row_counts()

    code, out, err = run(name, *rows_world.argv(name, unknown=argument))

    assert code == 2, (out, err)
    unknown = rows_world.unknown[argument]
    assert unknown in err or unknown.rsplit("/", 1)[-1] in err, err
    assert row_counts() == before


@pytest.mark.parametrize("name", COMMANDS)
def test_format_json_prints_valid_json_and_a_dry_run_changes_nothing(name, request):
    world = world_for(name, request)
    dry = ["--dry-run"] if command(name).writes else []
    before = row_counts()

    code, out, err = run(name, *world.argv(name), *dry, "--format", "json")

    # 1 is "some items failed" (a compliance goal missed, a snapshot row without its files):
    # the report is still printed.
    assert code in (0, 1) and out, (code, out, err)
    json.loads(out)  # stdout is the report alone; the summary went to stderr
    if dry:
        assert row_counts() == before, "a dry run wrote rows"


@pytest.mark.parametrize("name", writers())
def test_a_dry_run_never_says_done(name, request):
    world = world_for(name, request)

    code, out, err = run(name, *world.argv(name), "--dry-run", "-v", "2")

    assert code == 0, (out, err)
    assert not re.search(r"(?<!would be )\bdone\b", out + err), out + err
    assert "dry run" in out + err
