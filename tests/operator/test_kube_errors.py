"""How the API adapter maps an error answer: a 429's Retry-After travels with the error, so the
retries (reconcile, Events) wait at least that long."""

from __future__ import annotations

import json

import pytest

from releaseguard.errors import ConflictError, TransientKubeError
from releaseguard.operator.kube import RETRY_AFTER_LIMIT, _error


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


async def test_an_event_post_throttled_with_retry_after_waits_that_long_each_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from types import SimpleNamespace

    from releaseguard.operator import reconciler

    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    answers: list[Exception | None] = [TransientKubeError("throttled", 429, 1.0), TransientKubeError("cut"), None]

    async def post_event(*args: object) -> None:
        answer = answers.pop(0)
        if answer is not None:
            raise answer

    stub = SimpleNamespace(_still_there=lambda involved: True, kube=SimpleNamespace(post_event=post_event))
    event = SimpleNamespace(reason="VerificationSucceeded", message="m", type="Normal")
    monkeypatch.setattr(reconciler.asyncio, "sleep", sleep)
    await reconciler.Reconciler._post_again(stub, {"kind": "ReleaseVerification"}, event, "n", 2.0)  # type: ignore[arg-type]
    # first the first answer's Retry-After (2 s), then the second's (1 s, over the 0.5 s backoff), then the backoff
    assert sleeps == [2.0, 1.0, 1.0] and answers == []
