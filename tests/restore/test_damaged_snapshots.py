"""A restore never sends Atlassian bytes that differ from the snapshot's manifest: damaged
objects are named before anything is written (the plan), and the restore stops or skips them as
the requester chose; a corrupt shard fails the job with its reason instead of leaving it running
(issue 23, items 1 and 3)."""

from __future__ import annotations

import hashlib

from backups.restore.models import RestoreJob
from backups.restore.provenance import is_history_file
from backups.restore.services import restore_job_create
from backups.retention import prune_site
from backups.snapshots.objects import ObjectStore
from backups.snapshots.reader import SnapshotReader
from backups.snapshots.verify import verify_snapshot
from tests.backups.conftest import backup, snapshot_reader
from tests.restore.conftest import restore, run_restore_to_end
from tests.restore.test_idempotency import sandbox_writes


def attachments_of(snapshot) -> list[tuple[str, dict]]:
    """(issue key, attachment record) of every attachment the snapshot holds, by issue key."""
    reader = SnapshotReader.open(snapshot.site.cloud_id, str(snapshot.pk))
    found = [
        (record["key"], att)
        for record in reader.records("issues")
        for att in record.get("attachments") or []
    ]
    assert len({att["sha256"] for _key, att in found}) >= 2, "the test world needs attachments"
    return sorted(found, key=lambda pair: (pair[0], pair[1]["sha256"]))


def flip_a_byte(cloud_id: str, sha256: str) -> None:
    store = ObjectStore(cloud_id)
    path = store.storage.path(store.path(sha256))
    with open(path, "rb") as fh:
        data = bytearray(fh.read())
    data[len(data) // 2] ^= 0x40
    with open(path, "wb") as fh:
        fh.write(bytes(data))


def test_a_flipped_byte_is_named_in_the_plan_and_the_restore_stops_before_writing(
    snapshot_a, site_b, backup_env
):
    key, victim = attachments_of(snapshot_a)[0]
    flip_a_byte(snapshot_a.site.cloud_id, victim["sha256"])

    plan = restore(snapshot_a, site_b, dry_run=True).plan
    backup_env.state.request_log.clear()
    job = restore(snapshot_a, site_b)

    [named] = [d for d in plan["damaged"]["objects"] if d["sha256"] == victim["sha256"]][:1]
    assert (named["issue"], named["filename"]) == (key, victim["filename"])
    assert plan["damaged"]["action"] == "stop"
    assert job.status == RestoreJob.Status.FAILED
    assert "damaged attachment" in job.status_reason
    assert key in job.status_reason and victim["filename"] in job.status_reason
    assert sandbox_writes(backup_env, site_b) == []  # refused before anything was written
    assert victim["sha256"] in {d["sha256"] for d in job.plan["damaged"]}


def test_skipping_damaged_attachments_restores_every_other_byte_exactly(
    snapshot_a, site_b, backup_env
):
    attachments = attachments_of(snapshot_a)
    key, victim = attachments[0]
    flip_a_byte(snapshot_a.site.cloud_id, victim["sha256"])

    job = restore(snapshot_a, site_b, on_damaged=RestoreJob.OnDamaged.SKIP)

    assert job.status == RestoreJob.Status.PARTIAL, job.status_reason
    damaged = [e for e in job.errors if e["kind"] == "attachment"]
    assert damaged and all("damaged in storage" in e["error"] for e in damaged)
    assert key in {e["source"] for e in damaged}
    skipped = sum(1 for _key, att in attachments if att["sha256"] == victim["sha256"])
    assert job.counters["attachments"] == len(attachments) - skipped
    # What reached the target hashes exactly to the snapshot's manifest: a backup of the
    # target holds every attachment but the damaged one, byte for byte.
    restored = backup(site_b)
    in_target = {
        att["sha256"]
        for record in snapshot_reader(restored).records("issues")
        for att in record.get("attachments") or []
        if not is_history_file(att.get("filename"))  # the restore's own history files
    }
    assert in_target == {att["sha256"] for _key, att in attachments} - {victim["sha256"]}
    store = ObjectStore(site_b.cloud_id)
    for sha in in_target:
        assert hashlib.sha256(store.read(sha)).hexdigest() == sha


def test_a_corrupt_shard_fails_the_restore_with_its_reason_and_frees_the_target(snapshot_a, site_b):
    job = restore_job_create(
        snapshot=snapshot_a, target_site=site_b, acting_user=None, enqueue=False
    )
    reader = SnapshotReader.open(snapshot_a.site.cloud_id, str(snapshot_a.pk))
    flip_a_byte(snapshot_a.site.cloud_id, reader.manifest.shards_of("issues")[0].sha256)

    job = run_restore_to_end(job)

    assert job.status == RestoreJob.Status.FAILED
    assert job.status_reason.startswith("the snapshot cannot be read"), job.status_reason
    assert job.finished_at is not None and job.lease_token is None
    # The target is not held by a job that will never end ("already running"): a new request
    # is accepted, and fails the same way.
    again = restore_job_create(
        snapshot=snapshot_a, target_site=site_b, acting_user=None, enqueue=False
    )
    assert run_restore_to_end(again).status == RestoreJob.Status.FAILED


def test_reliability_row_9_bit_flip_and_missing_object(snapshot_a, site_b, backup_env, acme):
    """Reliability row 9: a bit flip and a missing object in storage. Deep verify names both;
    the restore refuses them (named, nothing written); pruning never deletes a referenced
    object, damaged or not."""
    cloud_id = snapshot_a.site.cloud_id
    store = ObjectStore(cloud_id)
    shas = sorted({att["sha256"] for _key, att in attachments_of(snapshot_a)})
    flipped, missing = shas[0], shas[1]
    flip_a_byte(cloud_id, flipped)
    store.delete(missing)
    stray = store.put_bytes(b"an object no snapshot names").sha256

    problems = verify_snapshot(cloud_id, str(snapshot_a.pk), deep=True)
    backup_env.state.request_log.clear()
    job = restore(snapshot_a, site_b)
    report = prune_site(site=acme)

    assert {p.where for p in problems} == {store.path(flipped), store.path(missing)}
    assert job.status == RestoreJob.Status.FAILED
    assert "2 damaged attachment" in job.status_reason or "damaged attachment" in job.status_reason
    assert {d["sha256"] for d in job.plan["damaged"]} == {flipped, missing}
    assert {d["problem"] for d in job.plan["damaged"] if d["sha256"] == missing} == {"missing"}
    assert sandbox_writes(backup_env, site_b) == []
    assert report.deleted_objects == [store.name(stray)]  # its storage name (sealed: keyed)
    referenced = {sha for sha, _size in snapshot_reader(snapshot_a.job).stored_objects()}
    assert all(store.exists(sha) for sha in referenced - {missing})
    assert store.exists(flipped)
