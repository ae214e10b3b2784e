"""The staff operations console: dashboard, quota planner, roles and the shared plumbing of the
admin actions and bulk management commands (confirmation pages, outcome summaries)."""
