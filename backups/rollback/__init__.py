"""Roll existing issues of a site back to a snapshot (issue 19): the per-issue diff (field: now →
snapshot, and the comments, worklogs, attachments, links and remote links gone since), a dry
run that shows it, and a job on the common driver that writes only the differences."""
