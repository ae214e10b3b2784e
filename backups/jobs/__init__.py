"""The job driver shared by backup and restore: one slice loop (``driver``), one lease module
with fencing (``leases``) and one failure→state map (``failures``)."""
