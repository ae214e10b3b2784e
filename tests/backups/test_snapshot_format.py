"""The snapshot format on its own: content-addressed objects, shards, manifest, verification."""

from __future__ import annotations

import gzip

import orjson
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage

from backups.snapshots import layout, shards
from backups.snapshots.manifest import AttachmentEntry, ManifestError, read_manifest
from backups.snapshots.objects import ObjectStore
from backups.snapshots.reader import SnapshotReader
from backups.snapshots.verify import verify_snapshot
from backups.snapshots.writer import IncompleteSnapshot, commit_snapshot, write_shard

CLOUD = "11111111-2222-3333-4444-555555555555"

# No site of the portal has CLOUD, so these objects are plain (format 2: what older snapshots
# are, and what readers must keep reading); tests/backups/test_encryption.py covers format 3.
pytestmark = pytest.mark.django_db


@pytest.fixture
def storage(tmp_path):
    return FileSystemStorage(location=tmp_path)


def _snapshot(storage, snapshot_id="snap-1", issues=None, attachment=b"hello attachment"):
    store = ObjectStore(CLOUD, storage)
    issues = issues or [{"id": "10001", "key": "P-1"}, {"id": "10002", "key": "P-2"}]
    entries = [
        write_shard(store, "projects", "projects/all", [{"id": "1", "key": "P"}]),
        write_shard(store, "issues", "issues/1/00000", issues),
    ]
    ref = store.put_bytes(attachment)
    manifest, *_ = commit_snapshot(
        storage=storage,
        snapshot_id=snapshot_id,
        site={"cloud_id": CLOUD, "url": "https://acme.atlassian.net", "name": "acme"},
        kind="full",
        started_at="2026-03-02T10:00:00+00:00",
        finished_at="2026-03-02T10:05:00+00:00",
        shard_entries=entries,
        attachments=[AttachmentEntry(ref.sha256, ref.size)],
    )
    return store, manifest, ref


def test_it_encodes_the_same_records_to_the_same_bytes():
    first, n = shards.encode([{"b": 1, "a": 2}, {"c": [1, 2]}])
    second, _ = shards.encode([{"a": 2, "b": 1}, {"c": [1, 2]}])
    assert first == second
    assert n == 2
    assert gzip.decompress(first).splitlines() == [b'{"a":2,"b":1}', b'{"c":[1,2]}']


def test_it_stores_an_object_once_under_its_sha256(storage):
    store = ObjectStore(CLOUD, storage)
    ref = store.put_bytes(b"same bytes")
    again = store.put_chunks([b"same ", b"bytes"])
    assert again == ref
    assert list(store.list_all()) == [ref.sha256]
    assert store.path(ref.sha256) == f"backups/{CLOUD}/objects/{ref.sha256[:2]}/{ref.sha256}"


def test_it_replaces_a_truncated_object_left_by_a_killed_writer(storage):
    store = ObjectStore(CLOUD, storage)
    ref = store.put_bytes(b"complete content")
    with open(storage.path(store.path(ref.sha256)), "wb") as fh:
        fh.write(b"comp")
    store.put_bytes(b"complete content")
    assert store.read(ref.sha256) == b"complete content"


def test_a_committed_snapshot_reads_back_its_records_and_counts(storage):
    _store, _manifest, ref = _snapshot(storage)
    reader = SnapshotReader.open(CLOUD, "snap-1", storage)
    assert [r["key"] for r in reader.records("issues")] == ["P-1", "P-2"]
    assert reader.manifest.counts["issues"] == 2
    assert reader.manifest.counts["projects"] == 1
    assert list(reader.attachment_refs()) == [(ref.sha256, ref.size)]
    with reader.open_attachment(ref.sha256) as fh:
        assert fh.read() == b"hello attachment"
    raw = orjson.loads(storage.open(layout.manifest_path(CLOUD, "snap-1")).read())
    assert raw["format_version"] == 2
    assert "attachments" not in raw  # named by a refs shard, not inline
    [refs] = [s for s in raw["shards"] if s["kind"] == "attachment_refs"]
    assert refs["count"] == 1
    # Three shards and the attachment, each counted once.
    assert raw["totals"] == {
        "objects": 4,
        "bytes": sum(s["size"] for s in raw["shards"]) + ref.size,
    }


def test_it_refuses_to_commit_a_snapshot_whose_object_is_missing(storage):
    store = ObjectStore(CLOUD, storage)
    entry = write_shard(store, "issues", "issues/1/00000", [{"id": "1"}])
    store.delete(entry.sha256)
    with pytest.raises(IncompleteSnapshot):
        commit_snapshot(
            storage=storage,
            snapshot_id="snap-x",
            site={"cloud_id": CLOUD, "url": "u", "name": "n"},
            kind="full",
            started_at="a",
            finished_at="b",
            shard_entries=[entry],
            attachments=[],
        )
    assert not storage.exists(layout.manifest_path(CLOUD, "snap-x"))


def test_a_snapshot_without_its_manifest_is_reported_incomplete(storage):
    with pytest.raises(ManifestError):
        read_manifest(storage, CLOUD, "never-written")
    problems = verify_snapshot(CLOUD, "never-written", storage=storage)
    assert len(problems) == 1
    assert "missing" in problems[0].what


def test_quick_verification_passes_for_an_intact_snapshot(storage):
    _snapshot(storage)
    assert verify_snapshot(CLOUD, "snap-1", storage=storage) == []
    assert verify_snapshot(CLOUD, "snap-1", deep=True, storage=storage) == []


def test_deep_verification_names_an_object_with_one_flipped_byte(storage):
    store, _manifest, ref = _snapshot(storage)
    path = storage.path(store.path(ref.sha256))
    data = bytearray(open(path, "rb").read())
    data[3] ^= 0x01
    open(path, "wb").write(bytes(data))
    assert verify_snapshot(CLOUD, "snap-1", storage=storage) == []  # same size: quick misses it
    problems = verify_snapshot(CLOUD, "snap-1", deep=True, storage=storage)
    assert [p.where for p in problems] == [store.path(ref.sha256)]
    assert "hashes to" in problems[0].what


def test_quick_verification_names_a_missing_or_truncated_object(storage):
    store, manifest, ref = _snapshot(storage)
    store.delete(ref.sha256)
    shard = manifest.shards_of("issues")[0]
    with open(storage.path(store.path(shard.sha256)), "r+b") as fh:
        fh.truncate(5)
    problems = {p.where: p.what for p in verify_snapshot(CLOUD, "snap-1", storage=storage)}
    assert problems[store.path(ref.sha256)] == "object is missing"
    assert problems[store.path(shard.sha256)].startswith("size is 5 bytes")


def test_layered_issue_shards_read_as_the_newest_version_without_tombstones(storage):
    store = ObjectStore(CLOUD, storage)
    base = write_shard(
        store, "issues", "issues/1/00000", [{"id": "1", "v": 1}, {"id": "2", "v": 1}]
    )
    delta = write_shard(
        store, "issues", "issues/1/s0001-00000", [{"id": "1", "v": 2}, {"id": "3", "v": 1}], seq=1
    )
    gone = write_shard(
        store, "issues", "issues/1/s0001-reconcile", [{"id": "2", "_deleted": True}], seq=1
    )
    commit_snapshot(
        storage=storage,
        snapshot_id="inc",
        site={"cloud_id": CLOUD, "url": "u", "name": "n"},
        kind="incremental",
        started_at="a",
        finished_at="b",
        shard_entries=[base, delta, gone],
        attachments=[],
        record_counts={"issues": 2},
    )
    reader = SnapshotReader.open(CLOUD, "inc", storage)
    assert sorted((r["id"], r["v"]) for r in reader.records("issues")) == [("1", 2), ("3", 1)]
    assert reader.manifest.counts["issues"] == 2


def test_storage_names_refuse_path_tricks():
    with pytest.raises(ValueError):
        layout.manifest_path("../etc", "x")
    with pytest.raises(ValueError):
        layout.object_path(CLOUD, "not-a-hash")


def test_quick_verification_names_a_missing_attachment_known_only_from_a_refs_shard(storage):
    store, manifest, ref = _snapshot(storage)
    assert ref.sha256 not in manifest.named_objects()  # format 2: not in the manifest itself
    store.delete(ref.sha256)
    problems = verify_snapshot(CLOUD, "snap-1", storage=storage)
    assert [(p.where, p.what) for p in problems] == [(store.path(ref.sha256), "object is missing")]


def test_quick_verification_reports_a_refs_shard_that_does_not_read(storage):
    store, manifest, _ref = _snapshot(storage)
    [refs] = manifest.shards_of("attachment_refs")
    path = storage.path(store.path(refs.sha256))
    with open(path, "wb") as fh:
        fh.write(b"x" * refs.size)  # same size, not gzip
    problems = verify_snapshot(CLOUD, "snap-1", storage=storage)
    assert [p.where for p in problems] == [store.path(refs.sha256)]
    assert "attachment_refs/" in problems[0].what


def test_a_format_1_manifest_still_reads_and_verifies(storage):
    store = ObjectStore(CLOUD, storage)
    shard = write_shard(store, "issues", "issues/1/00000", [{"id": "1", "key": "P-1"}])
    ref = store.put_bytes(b"old attachment")
    raw = {
        "format": "jira-cloud-snapshot",
        "format_version": 1,
        "snapshot_id": "old",
        "kind": "full",
        "base_snapshot_id": None,
        "site": {"cloud_id": CLOUD, "url": "u", "name": "n"},
        "window": {"started_at": "a", "finished_at": "b", "changes_since": None},
        "counts": {"issues": 1},
        "totals": {"objects": 2, "bytes": shard.size + ref.size},
        "shards": [shard.as_dict()],
        "attachments": [{"sha256": ref.sha256, "size": ref.size}],
    }
    storage.save(layout.manifest_path(CLOUD, "old"), ContentFile(orjson.dumps(raw)))
    reader = SnapshotReader.open(CLOUD, "old", storage)
    assert reader.manifest.format_version == 1
    assert list(reader.attachment_refs()) == [(ref.sha256, ref.size)]
    assert reader.manifest.total_bytes == shard.size + ref.size
    assert verify_snapshot(CLOUD, "old", deep=True, storage=storage) == []
    store.delete(ref.sha256)
    assert [p.where for p in verify_snapshot(CLOUD, "old", storage=storage)] == [
        store.path(ref.sha256)
    ]


def test_a_manifest_of_an_unknown_format_version_is_refused(storage):
    _snapshot(storage)
    path = layout.manifest_path(CLOUD, "snap-1")
    raw = orjson.loads(storage.open(path).read())
    raw["format_version"] = 4
    storage.delete(path)
    storage.save(path, ContentFile(orjson.dumps(raw)))
    with pytest.raises(ManifestError, match="unsupported format version 4"):
        read_manifest(storage, CLOUD, "snap-1")
