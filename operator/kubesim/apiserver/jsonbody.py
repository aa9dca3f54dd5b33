"""Request bodies decoded as the API server decodes them: JSON nested up to 10,000 levels is
taken (sigs.k8s.io/json's limit), deeper is a 400 with the real server's words. Python's own
decoder stops at the recursion limit (1,000 by default), so kubesim raises that limit enough for
what it accepts, and refuses anything deeper before decoding it."""

from __future__ import annotations

import json
import re
import sys
from itertools import accumulate
from typing import Any, Final

from kubesim.errors import bad_request

MAX_DEPTH: Final = 10_000
# The C encoder spends two recursion levels per nesting level, the decoder one.
RECURSION_LIMIT: Final = 3 * MAX_DEPTH + 1_000
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def nesting_depth(raw: bytes) -> int:
    brackets = _STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    return max(accumulate(1 if b in b"[{" else -1 for b in brackets))


def allow_deep_json() -> None:
    """For the process serving: threads that handle requests need the C stack for it (the caller
    starts them with `threading.stack_size` of at least 16 MiB; the main thread has 8 MiB)."""
    if sys.getrecursionlimit() < RECURSION_LIMIT:
        sys.setrecursionlimit(RECURSION_LIMIT)


def loads(raw: bytes) -> Any:
    """json.loads, or a 400 for JSON nested deeper than the real server takes; ValueError for
    what is not JSON at all."""
    if len(raw) > 2 * MAX_DEPTH and nesting_depth(raw) > MAX_DEPTH:
        raise bad_request("the object provided is unrecognized: json parse error: invalid character exceeded max depth")
    return json.loads(raw)
