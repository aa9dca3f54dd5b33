"""A terminated container's `message`, with the real kubelet's limits (pure)."""

from __future__ import annotations

MESSAGE_LIMIT = 4096
LOG_TAIL_LINES = 80
LOG_TAIL_BYTES = 2048
DEFAULT_PATH = "/dev/termination-log"


def log_tail(log: bytes, lines: int = LOG_TAIL_LINES, limit: int = LOG_TAIL_BYTES) -> bytes:
    """The last `lines` lines of `log`, then at most its last `limit` bytes."""
    return b"".join(log.splitlines(keepends=True)[-lines:])[-limit:]


def termination_message(
    file_content: bytes | None, log: bytes, exit_code: int, policy: str | None, file_readable: bool = True
) -> str:
    """The message the kubelet reports.

    The file wins when it has content. With `FallbackToLogsOnError`, a failed container with an
    empty file gets its log tail. `file_readable=False` (no mount namespace, so the container wrote
    its file somewhere we cannot see) means the log tail is the only source, whatever the policy.
    """
    if file_readable and file_content:
        return file_content[:MESSAGE_LIMIT].decode("utf-8", "replace")
    fallback = policy == "FallbackToLogsOnError" and exit_code != 0
    if fallback or not file_readable:
        return log_tail(log).decode("utf-8", "replace")[:MESSAGE_LIMIT]
    return ""
