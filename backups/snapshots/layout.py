"""Where a site's backup data lives in storage (one place, so the format doc stays true).

::

    backups/<cloud_id>/objects/<sha[:2]>/<sha256>          content-addressed blobs: shards and
                                                            attachment bytes, shared by snapshots
    backups/<cloud_id>/snapshots/<snapshot_id>/manifest.json   the commit point, written last
"""

from __future__ import annotations

import re

FORMAT_VERSION = 2
# Format 1 listed attachments in the manifest; format 2 names them in attachment_refs shards;
# format 3 is format 2 sealed (objects and manifest) with the tenant's snapshot key.
SEALED_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)
ROOT = "backups"
_SHA = re.compile(r"^[0-9a-f]{64}$")
_SAFE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def _safe(value: str, what: str) -> str:
    if not _SAFE.match(value):
        raise ValueError(f"{what} {value!r} is not a safe storage name")
    return value


def site_root(cloud_id: str) -> str:
    return f"{ROOT}/{_safe(cloud_id, 'cloud id')}"


def objects_root(cloud_id: str) -> str:
    return f"{site_root(cloud_id)}/objects"


def object_path(cloud_id: str, sha256: str) -> str:
    if not _SHA.match(sha256):
        raise ValueError(f"{sha256!r} is not a SHA-256 hex digest")
    return f"{objects_root(cloud_id)}/{sha256[:2]}/{sha256}"


def snapshots_root(cloud_id: str) -> str:
    return f"{site_root(cloud_id)}/snapshots"


def snapshot_root(cloud_id: str, snapshot_id: str) -> str:
    return f"{snapshots_root(cloud_id)}/{_safe(str(snapshot_id), 'snapshot id')}"


def manifest_path(cloud_id: str, snapshot_id: str) -> str:
    return f"{snapshot_root(cloud_id, snapshot_id)}/manifest.json"


def is_sha256(value: str) -> bool:
    return bool(_SHA.match(value or ""))
