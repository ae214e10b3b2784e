"""The same snapshot format on S3 (a local moto server in server mode, over HTTP)."""

from __future__ import annotations

import pytest

from backups.snapshots.manifest import AttachmentEntry
from backups.snapshots.objects import ObjectStore
from backups.snapshots.reader import SnapshotReader
from backups.snapshots.verify import verify_snapshot
from backups.snapshots.writer import commit_snapshot, write_shard
from tests.backups.conftest import s3_bucket

CLOUD = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
# No site of the portal has CLOUD: plain objects (format 2, which readers keep reading).
pytestmark = pytest.mark.django_db


@pytest.fixture
def s3_storage(s3_endpoint, monkeypatch):
    from storages.backends.s3 import S3Storage

    s3_bucket(s3_endpoint, "backups-test", monkeypatch)
    return S3Storage(
        bucket_name="backups-test",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        default_acl=None,
        file_overwrite=True,
    )


def test_a_snapshot_round_trips_through_s3_and_deep_verify_catches_a_changed_object(s3_storage):
    store = ObjectStore(CLOUD, s3_storage)
    shard = write_shard(store, "issues", "issues/1/00000", [{"id": "1", "key": "P-1"}])
    ref = store.put_chunks([b"attach", b"ment bytes"])
    manifest, *_ = commit_snapshot(
        storage=s3_storage,
        snapshot_id="s3-snap",
        site={"cloud_id": CLOUD, "url": "https://x.atlassian.net", "name": "x"},
        kind="full",
        started_at="a",
        finished_at="b",
        shard_entries=[shard],
        attachments=[AttachmentEntry(ref.sha256, ref.size)],
    )
    reader = SnapshotReader.open(CLOUD, "s3-snap", s3_storage)
    assert [r["key"] for r in reader.records("issues")] == ["P-1"]
    [refs] = manifest.shards_of("attachment_refs")
    assert sorted(store.list_all()) == sorted([shard.sha256, refs.sha256, ref.sha256])
    assert list(reader.attachment_refs()) == [(ref.sha256, ref.size)]
    assert verify_snapshot(CLOUD, "s3-snap", deep=True, storage=s3_storage) == []

    # Same size, different content: only a deep verification can tell.
    s3_storage.delete(store.path(ref.sha256))
    from django.core.files.base import ContentFile

    s3_storage.save(store.path(ref.sha256), ContentFile(b"attachmenT bytes"))
    assert verify_snapshot(CLOUD, "s3-snap", storage=s3_storage) == []
    problems = verify_snapshot(CLOUD, "s3-snap", deep=True, storage=s3_storage)
    assert [p.where for p in problems] == [store.path(ref.sha256)]
