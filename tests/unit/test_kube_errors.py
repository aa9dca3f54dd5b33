"""How the API adapter maps an error answer: a 429's Retry-After travels with the error, so the
retries (reconcile, Events) wait at least that long."""

from __future__ import annotations

import json

from releaseguard.errors import ConflictError, TransientKubeError
from releaseguard.kube import RETRY_AFTER_LIMIT, _error


def test_a_throttled_answer_carries_its_retry_after() -> None:
    body = json.dumps({"message": "Too many requests, please try again later."}).encode()
    error = _error("posting Event", 429, body, "1")
    assert isinstance(error, TransientKubeError)
    assert error.retry_after == 1.0
    assert str(error) == "posting Event: Too many requests, please try again later."


def test_no_date_or_absurd_retry_after_is_taken_literally() -> None:
    assert isinstance(e := _error("x", 503, b"", None), TransientKubeError) and e.retry_after == 0.0
    assert isinstance(e := _error("x", 429, b"", "Wed, 21 Oct 2015 07:28:00 GMT"), TransientKubeError)
    assert e.retry_after == 0.0
    assert isinstance(e := _error("x", 429, b"", "86400"), TransientKubeError) and e.retry_after == RETRY_AFTER_LIMIT
    assert isinstance(_error("x", 409, b"{}", "1"), ConflictError)
