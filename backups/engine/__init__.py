"""The backup engine: checkpointed, idempotent steps that turn a Jira site into a snapshot."""
