"""Regular expressions on untrusted input, bounded in input and in time.

A `matches` assertion runs on a response body the release controls; a pattern that backtracks
catastrophically must neither stall other checks nor outlive its check. Input is cut to
MATCH_INPUT_LIMIT characters and the `regex` package's timeout stops the match; with
`concurrent=True` it releases the GIL, so run in a thread it leaves the event loop alone.
"""

from __future__ import annotations

from typing import Final

import regex

MATCH_INPUT_LIMIT: Final = 64 * 1024
MATCH_TIMEOUT_SECONDS: Final = 1.0


class MatchTimeout(Exception):
    """A pattern ran out of time: no verdict about the input can be drawn from it."""


def bounded_search(pattern: str, text: str, timeout: float = MATCH_TIMEOUT_SECONDS) -> bool:
    """Whether `pattern` matches somewhere in the first MATCH_INPUT_LIMIT characters of `text`."""
    try:
        return regex.search(pattern, text[:MATCH_INPUT_LIMIT], timeout=timeout, concurrent=True) is not None
    except TimeoutError:
        raise MatchTimeout(
            f"/{pattern[:80]}/ did not finish within {timeout:g}s on {min(len(text), MATCH_INPUT_LIMIT)} characters"
        ) from None
