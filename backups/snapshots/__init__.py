"""The snapshot format: where things live in storage, how shards are encoded, the manifest that
commits a snapshot, and verification. Documented in docs/snapshot-format.md."""
