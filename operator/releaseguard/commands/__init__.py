"""Subcommands of the `releaseguard` CLI; see releaseguard.cli.COMMANDS."""

# Exit codes shared by the subcommands.
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID = 2
EXIT_BROKEN = 3
