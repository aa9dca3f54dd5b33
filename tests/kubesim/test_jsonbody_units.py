"""kubesim measures a body's nesting before decoding it, brackets inside strings aside."""

from __future__ import annotations

import pytest

from kubesim.apiserver.jsonbody import MAX_DEPTH, loads, nesting_depth
from kubesim.errors import ApiError


@pytest.mark.parametrize(
    ("raw", "depth"),
    [
        (b'"x"', 0),
        (b"[]", 1),
        (b'{"a": [1, {"b": []}]}', 4),
        (b'{"a": "[[[[{{{{"}', 1),
        (b'["\\"[[[", [[]]]', 3),
    ],
)
def test_nesting_depth_counts_brackets_outside_strings(raw: bytes, depth: int) -> None:
    assert nesting_depth(raw) == depth


def test_the_deepest_body_the_real_server_takes_is_decoded_and_one_more_level_is_refused() -> None:
    import sys

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(3 * MAX_DEPTH)
    try:
        assert loads(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) is not None
        with pytest.raises(ApiError) as refused:
            loads(b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1))
    finally:
        sys.setrecursionlimit(limit)
    assert refused.value.code == 400 and "exceeded max depth" in str(refused.value)
