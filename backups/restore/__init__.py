"""Restore: a whole site, some projects or chosen issues of a snapshot, into the same or another
site. Planned by a dry run (``planner``), executed in checkpointed, resumable steps
(``executor``), idempotent through an id map (``RestoreItem``) and an issue property in the
target. See docs/restore.md."""
