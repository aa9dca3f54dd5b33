"""Warnings for the current request (the apiserver's `Warning: 299 - "..."` response headers):
admission adds them, the HTTP layer sends them. In-process callers have no collector; theirs are dropped."""

from __future__ import annotations

from contextvars import ContextVar

_current: ContextVar[list[str] | None] = ContextVar("kubesim_warnings", default=None)


def collect() -> list[str]:
    """Start collecting warnings for the current task and return the list they go to."""
    found: list[str] = []
    _current.set(found)
    return found


def warn(message: str) -> None:
    found = _current.get()
    if found is not None:
        found.append(message)
