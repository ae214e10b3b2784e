"""Snapshot content sealed per tenant (format 3): nothing readable in storage, one tenant's key
opens nothing of another, verification with and without the key, KEK rotation, and the
migration of older plain snapshots in place."""

from __future__ import annotations

import gzip
import io
import zlib
from pathlib import Path

import pytest
from django.core.files.storage import storages
from django.core.management import call_command

from backups.models import Snapshot
from backups.restore.models import RestoreJob
from backups.restore.normalize import differences, normalize_snapshot
from backups.snapshots import layout, sealing
from backups.snapshots.objects import ObjectStore
from backups.snapshots.verify import verify_snapshot
from tenants import keys
from tenants.models import DataKey
from tests.backups.conftest import backup, connect_site, snapshot_reader


def storage_root() -> Path:
    return Path(storages["default"].location)


def texts(node) -> list[str]:
    """Every text of an ADF document (or any JSON value)."""
    if isinstance(node, dict):
        found = [node["text"]] if isinstance(node.get("text"), str) else []
        return found + [t for value in node.values() for t in texts(value)]
    if isinstance(node, list):
        return [t for value in node for t in texts(value)]
    return []


def readable_forms(data: bytes) -> list[bytes]:
    """The bytes as stored, and decompressed if they are gzip or zlib."""
    forms = [data]
    for opener in (gzip.decompress, zlib.decompress):
        try:
            forms.append(opener(data))
        except (OSError, EOFError, zlib.error):
            pass
    return forms


def site_content(reader) -> list[bytes]:
    """Summaries and comment texts of the snapshot's issues (long enough not to be chance)."""
    found = set()
    for issue in reader.records("issues"):
        found.add(issue["fields"]["summary"])
        for comment in issue.get("comments") or []:
            found.update(texts(comment.get("body")))
    return sorted(t.encode() for t in found if len(t) >= 12)


@pytest.fixture
def small(backup_env, db):
    backup_env.state.reset(seed="test", projects=2, issues=30)
    return connect_site(backup_env, "acme")


def test_after_a_backup_no_summary_or_comment_text_is_anywhere_in_storage(small):
    job = backup(small)
    assert job.status == "succeeded", job.status_reason
    snapshot = Snapshot.objects.get(pk=job.snapshot_id)
    assert snapshot.format_version == layout.SEALED_VERSION
    reader = snapshot_reader(job)
    needles = site_content(reader)
    assert len(needles) > 30  # the site really has summaries and comments
    files = [p for p in storage_root().rglob("*") if p.is_file()]
    assert len(files) > 10
    for path in files:
        for form in readable_forms(path.read_bytes()):
            leaked = [n for n in needles if n in form]
            assert leaked == [], f"{path} holds {leaked[:2]}"
    # The manifest's clear envelope names the snapshot and its key, nothing of the site's data.
    envelope = storages["default"].open(snapshot.manifest_path).read()
    assert b'"sealed"' in envelope and small.url.encode() not in envelope


def test_tenant_b_key_cannot_open_tenant_a_objects_and_equal_files_are_not_visibly_equal(
    backup_env, db
):
    backup_env.state.reset(seed="test", projects=1, issues=10)
    a = connect_site(backup_env, "acme")
    backup_env.state.add_site("bravo", projects=1, issues=10, admins=[backup_env.state.admin])
    b = connect_site(backup_env, "bravo")
    assert a.tenant_id != b.tenant_id
    job_a, job_b = backup(a), backup(b)
    manifest_a = snapshot_reader(job_a).manifest
    manifest_b = snapshot_reader(job_b).manifest
    # Both sites have the same statuses: the same plaintext shard...
    [statuses_a] = manifest_a.shards_of("statuses")
    [statuses_b] = manifest_b.shards_of("statuses")
    assert statuses_a.sha256 == statuses_b.sha256
    store_a, store_b = ObjectStore(a.cloud_id), ObjectStore(b.cloud_id)
    # ...stored under unrelated names, as different bytes.
    path_a, path_b = store_a.path(statuses_a.sha256), store_b.path(statuses_b.sha256)
    assert path_a.rsplit("/", 1)[1] != path_b.rsplit("/", 1)[1]
    assert statuses_a.sha256 not in path_a
    stored_a = storages["default"].open(path_a).read()
    assert stored_a != storages["default"].open(path_b).read()
    # B's key opens nothing of A's: neither the object under A's name nor A's manifest.
    with pytest.raises(sealing.SealedObjectError):
        store_b.key.open_stream(store_a.key.name(statuses_a.sha256), io.BytesIO(stored_a)).read()
    a_key = store_a.key
    forged_b = sealing.SnapshotKey.of(a_key.scope, a_key.key_id, keys.data_key(*_scope_id(b)))
    with pytest.raises(sealing.SealedObjectError):
        forged_b.open_stream(a_key.name(statuses_a.sha256), io.BytesIO(stored_a)).read()
    # A's key opens it.
    opened = a_key.open_stream(a_key.name(statuses_a.sha256), io.BytesIO(stored_a)).read()
    assert b'"statusCategory"' in gzip.decompress(opened)


def _scope_id(site) -> tuple[str, str]:
    scope = sealing.tenant_scope(site.tenant_id)
    return scope, DataKey.objects.get(scope=scope, state="active").id.hex


def test_verify_checks_sealed_bytes_without_the_key_and_deep_verify_opens_them(small):
    job = backup(small)
    reader = snapshot_reader(job)
    store = reader.objects
    [shard] = reader.manifest.shards_of("projects")
    assert verify_snapshot(small.cloud_id, str(job.snapshot_id), deep=True) == []
    path = store.storage.path(store.path(shard.sha256))
    data = bytearray(Path(path).read_bytes())
    data[-5] ^= 0x01
    Path(path).write_bytes(bytes(data))
    # Same size: quick verification cannot see it; the digest of the sealed bytes can, keyless.
    assert verify_snapshot(small.cloud_id, str(job.snapshot_id)) == []
    assert "do not match the digest" in store.body_problem(shard.sha256)
    problems = verify_snapshot(small.cloud_id, str(job.snapshot_id), deep=True)
    assert [(p.where, "digest" in p.what) for p in problems] == [(store.path(shard.sha256), True)]
    # With the digest in the header rewritten to match, opening (authentication) still fails.
    body = bytes(data[sealing.HEADER :])
    import hashlib

    data[sealing.HEADER - 32 : sealing.HEADER] = hashlib.sha256(body).digest()
    Path(path).write_bytes(bytes(data))
    assert store.body_problem(shard.sha256) is None
    problems = verify_snapshot(small.cloud_id, str(job.snapshot_id), deep=True)
    assert len(problems) == 1 and "failed authentication" in problems[0].what


def test_a_kek_rotation_rewraps_the_data_key_and_every_snapshot_verifies_and_restores(
    small, backup_env, settings
):
    from tests.restore.conftest import empty_site, restore

    job = backup(small)
    objects_before = {p: p.stat().st_mtime_ns for p in storage_root().rglob("*") if p.is_file()}
    _scope, key_id = _scope_id(small)
    assert DataKey.objects.get(pk=key_id).kek_id == "test1"
    settings.FIELD_ENCRYPTION_KEYS = [("test2", b"n" * 32), *settings.FIELD_ENCRYPTION_KEYS]
    call_command("rotate_encryption_keys", stdout=io.StringIO(), stderr=io.StringIO())
    assert DataKey.objects.get(pk=key_id).kek_id == "test2"
    # Only the new KEK remains: the old ones are gone from the configuration.
    settings.FIELD_ENCRYPTION_KEYS = [("test2", b"n" * 32)]
    keys.forget_cached_keys()
    # No object was rewritten.
    assert {p: p.stat().st_mtime_ns for p in objects_before} == objects_before
    assert verify_snapshot(small.cloud_id, str(job.snapshot_id), deep=True) == []
    target = empty_site(backup_env, "bravo", tenant=small.tenant)
    restored = restore(job.snapshot, target)
    assert restored.status == RestoreJob.Status.SUCCEEDED, restored.status_reason
    copy = backup(target)
    original = normalize_snapshot(snapshot_reader(job))
    assert differences(original, normalize_snapshot(snapshot_reader(copy))) == []


def test_plain_snapshots_still_read_and_are_sealed_in_place_resumably(small, settings):
    settings.SNAPSHOT_ENCRYPTION = False
    full = backup(small)
    assert Snapshot.objects.get(pk=full.snapshot_id).format_version == 2
    needles = site_content(snapshot_reader(full))
    before = snapshot_reader(full).content()
    settings.SNAPSHOT_ENCRYPTION = True
    # An incremental on the plain base: sealed, naming the base's plain shards.
    inc = backup(small, "incremental")
    assert inc.status == "succeeded", inc.status_reason
    assert Snapshot.objects.get(pk=inc.snapshot_id).format_version == 3
    assert snapshot_reader(inc).content()["issues"] == before["issues"]

    out = io.StringIO()
    call_command("seal_snapshots", "--dry-run", stdout=out, stderr=io.StringIO())
    assert all(
        Snapshot.objects.get(pk=j.snapshot_id).format_version == v for j, v in ((full, 2), (inc, 3))
    )
    call_command("seal_snapshots", stdout=out, stderr=io.StringIO())
    assert Snapshot.objects.get(pk=full.snapshot_id).format_version == 3
    assert snapshot_reader(full).content() == before
    for job in (full, inc):
        assert verify_snapshot(small.cloud_id, str(job.snapshot_id), deep=True) == []
    for path in (p for p in storage_root().rglob("*") if p.is_file()):
        for form in readable_forms(path.read_bytes()):
            assert not [n for n in needles if n in form], path
    # Run again: nothing to do.
    again = io.StringIO()
    call_command("seal_snapshots", "--format", "json", stdout=again, stderr=io.StringIO())
    assert '"sealed": 0' in again.getvalue() and '"objects_sealed": 0' in again.getvalue()
