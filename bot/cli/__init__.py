"""The `sabai` command."""
