"""Polling until something holds: the one `eventually` of the test suite."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(fn: Callable[[], T | None], timeout: float = 30, what: str = "condition", interval: float = 0.1) -> T:
    """Poll `fn` until it returns something truthy and return that; an AssertionError raised by `fn`
    counts as "not yet". Fail naming `what` and the last value (or assertion) seen."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = fn()
        except AssertionError as exc:
            last = exc
        else:
            if value:
                return value
            last = value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
        time.sleep(interval)
