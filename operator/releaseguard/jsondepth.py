"""Decode any object the API server stores, however deep.

The API server accepts JSON nested up to 10,000 levels (sigs.k8s.io/json refuses only beyond
that), while Python's decoder gives up at `sys.getrecursionlimit()`, 1,000 by default. One rv
with a deep `equals` in a list or watch response would then stop the watch of every rv (kopf's
watcher fails, and the operator with it). The models refuse such a value, naming its field
(`api.spec.MAX_JSON_DEPTH`); this only makes sure the operator lives to say so.
"""

from __future__ import annotations

import resource
import sys
import threading
from typing import Final

API_SERVER_MAX_JSON_DEPTH: Final = 10_000
# json.loads spends one recursion level per nesting level, json.dumps two,
# on top of the frames of the code calling them.
RECURSION_LIMIT: Final = 3 * API_SERVER_MAX_JSON_DEPTH
# Measured: 10,000 levels need under 2 MiB of C stack in json, copy.deepcopy and repr; the
# limit above needs about twice that. 16 MiB leaves room for whatever runs above it.
STACK_BYTES: Final = 16 * 1024 * 1024


def decode_what_the_api_server_stores() -> None:
    """Raise the recursion limit for this process, with the C stack to back it: threads started
    from now on get STACK_BYTES, and the main thread's soft stack limit is raised to it where the
    hard limit allows (Linux grows the main stack up to the soft limit in force at the time)."""
    threading.stack_size(STACK_BYTES)
    soft, hard = resource.getrlimit(resource.RLIMIT_STACK)
    if soft != resource.RLIM_INFINITY and soft < STACK_BYTES:
        wanted = STACK_BYTES if hard == resource.RLIM_INFINITY else min(STACK_BYTES, hard)
        resource.setrlimit(resource.RLIMIT_STACK, (wanted, hard))
        soft = wanted
    stack_levels = RECURSION_LIMIT if soft == resource.RLIM_INFINITY else soft * RECURSION_LIMIT // STACK_BYTES
    sys.setrecursionlimit(max(sys.getrecursionlimit(), min(RECURSION_LIMIT, stack_levels)))
