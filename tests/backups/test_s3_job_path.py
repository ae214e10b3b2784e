"""The whole job path on S3: moto's S3 server over HTTP, through django-storages configured by the
settings' S3 branch — backup, incremental, compaction, prune, verify, restore (issue 21)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import boto3
import pytest
from django.core.management import call_command

from backups.models import BackupJob, BackupSchedule, Snapshot
from backups.restore.models import RestoreJob
from backups.restore.normalize import differences, normalize_snapshot
from backups.retention import prune_site
from backups.snapshots.objects import ObjectStore, default_storage
from backups.snapshots.verify import verify_snapshot
from tests.backups.conftest import backup, connect_site, s3_bucket, snapshot_reader
from tests.backups.test_compaction import chain, compact, reader_of

ROOT = Path(__file__).resolve().parents[2]


def storages_configured_by(env: dict[str, str]) -> dict:
    """``STORAGES`` as the settings module builds it from ``env`` (in a fresh interpreter, as a
    process starting in production would)."""
    code = (
        "import json, tests.settings as s; "
        "print(json.dumps({k: v for k, v in s.STORAGES.items()}, default=str))"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KEY_STORE_B"))}
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_settings_store_snapshots_on_s3_when_a_bucket_is_named():
    configured = storages_configured_by(
        {
            "AWS_STORAGE_BUCKET_NAME": "snapshots",
            "AWS_S3_ENDPOINT_URL": "http://127.0.0.1:9000",
            "AWS_S3_REGION_NAME": "eu-west-1",
            "KEY_STORE_BUCKET_NAME": "keys",
        }
    )
    assert configured["default"] == {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": "snapshots",
            "endpoint_url": "http://127.0.0.1:9000",
            "region_name": "eu-west-1",
            "default_acl": None,
            "file_overwrite": True,
        },
    }
    assert configured["keys"]["BACKEND"] == "storages.backends.s3.S3Storage"
    assert configured["keys"]["OPTIONS"]["bucket_name"] == "keys"

    # Without a bucket: the filesystem (an empty endpoint or region means the default).
    local = storages_configured_by({"STORAGE_ROOT": "/tmp/snapshots-here"})
    assert local["default"] == {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": "/tmp/snapshots-here"},
    }


@pytest.fixture
def on_s3(backup_env, s3_endpoint, settings, monkeypatch):
    """Snapshots stored on moto's S3 server, configured exactly as the settings' S3 branch
    configures them for this bucket, endpoint and region."""
    from django.core.files.storage import storages

    bucket = s3_bucket(s3_endpoint, "jira-snapshots", monkeypatch)
    configured = storages_configured_by(
        {
            "AWS_STORAGE_BUCKET_NAME": bucket,
            "AWS_S3_ENDPOINT_URL": s3_endpoint,
            "AWS_S3_REGION_NAME": "us-east-1",
        }
    )
    settings.STORAGES = {**settings.STORAGES, "default": configured["default"]}
    settings.RESTORE_SEARCH_SETTLE_SECONDS = 0
    storages._storages.pop("default", None)
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    yield lambda prefix: {
        o["Key"]
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for o in page.get("Contents", [])
    }
    storages._storages.pop("default", None)


# Every object crosses HTTP to moto (several times: written, checked, verified, restored).
@pytest.mark.timeout(900)
def test_backup_incremental_compaction_prune_verify_and_restore_run_on_s3(on_s3, backup_env, db):
    from storages.backends.s3 import S3Storage

    from tests.restore.conftest import empty_site, restore

    acme = connect_site(backup_env, "acme")
    assert isinstance(default_storage(), S3Storage)
    keys = on_s3

    # Backup and incrementals: every object and manifest is in the bucket.
    newest = chain(acme, backup_env, 1, seed="s3")
    snapshots = list(Snapshot.objects.filter(site=acme))
    assert len(snapshots) == 2
    stored = keys(f"backups/{acme.cloud_id}/")
    for snap in snapshots:
        assert snap.manifest_path in stored
        assert {
            ObjectStore(acme.cloud_id).path(sha) for sha, _ in reader_of(snap).stored_objects()
        } <= stored

    # Compaction reads and writes S3 only.
    backup_env.state.request_log.clear()
    compacted = Snapshot.objects.get(pk=compact(newest).snapshot_id)
    assert backup_env.state.request_log.records == []
    assert compacted.manifest_path in keys(f"backups/{acme.cloud_id}/snapshots/")

    # Prune: the first pass lists the site's objects on S3; the chain goes, with what only it named.
    BackupSchedule.objects.create(
        site=acme, keep_last=1, keep_daily=0, keep_weekly=0, keep_monthly=0
    )
    acme.refresh_from_db()
    report = prune_site(site=acme)
    assert report.listed_storage
    assert len(report.pruned_snapshots) == 2
    assert report.deleted_objects
    left = keys(f"backups/{acme.cloud_id}/")
    store = ObjectStore(acme.cloud_id)
    assert left == {compacted.manifest_path} | {
        store.path(sha) for sha, _ in reader_of(compacted).stored_objects()
    }

    # Verify (the command, deep: every object re-read from S3).
    out = StringIO()
    call_command(
        "verify_snapshots",
        "--site",
        acme.cloud_id,
        "--deep",
        "--format",
        "json",
        stdout=out,
        stderr=StringIO(),
    )
    [row] = json.loads(out.getvalue())
    assert (row["snapshot"], row["problems"]) == (str(compacted.pk), 0)
    # ... and a damaged object on S3 is named.
    victim = next(sha for sha, _ in reader_of(compacted).attachment_refs())
    default_storage().delete(store.path(victim))
    assert [p.where for p in verify_snapshot(acme.cloud_id, str(compacted.pk))] == [
        store.path(victim)
    ]
    shard = reader_of(compacted).manifest.shards[0]
    assert store.read(shard.sha256)[:2] == b"\x1f\x8b"  # a gzip shard, read back over HTTP

    # Restore from the compacted snapshot (attachments from S3), once the object is back.
    donor = backup(acme, BackupJob.Kind.FULL)  # a fresh full stores the attachment again
    assert donor.status == BackupJob.Status.SUCCEEDED
    assert store.exists(victim)
    assert verify_snapshot(acme.cloud_id, str(compacted.pk), deep=True) == []
    site_b = empty_site(backup_env, "bravo", tenant=acme.tenant)
    job = restore(compacted, site_b)
    assert job.status == RestoreJob.Status.SUCCEEDED, (job.status_reason, job.errors[:5])
    copy = backup(site_b)
    original = normalize_snapshot(reader_of(compacted))
    restored = normalize_snapshot(snapshot_reader(copy))
    assert differences(original, restored) == []
    assert original == restored
    assert copy.snapshot.manifest_path in keys(f"backups/{site_b.cloud_id}/")
