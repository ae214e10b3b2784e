"""What changed on a site: between two snapshots, or a snapshot and the site as it is now
(issues created, deleted and modified with field-level differences, and configuration)."""
