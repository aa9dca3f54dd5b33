"""A pathological `matches`/`stdoutMatches` regex is bounded in input and time and stalls nothing."""

from __future__ import annotations

import time

import pytest
from checks_support import probe
from test_secret_headers import _serve

from releaseguard.api.status import CheckResultKind as R
from releaseguard.probe.checks import _script
from releaseguard.probe.checks.matching import MATCH_INPUT_LIMIT, MatchTimeout, bounded_search

EVIL = r"(x+x+)+y"


def test_the_runner_search_gives_up_at_its_deadline() -> None:
    started = time.monotonic()
    with pytest.raises(MatchTimeout, match=r"did not finish within 0\.2s"):
        bounded_search(EVIL, "x" * 5000, timeout=0.2)
    assert time.monotonic() - started < 2.0
    assert bounded_search("b$", "a" * (MATCH_INPUT_LIMIT + 10) + "b") is False  # input is cut
    assert bounded_search("^a", "a" * (MATCH_INPUT_LIMIT + 10)) is True


def test_the_in_image_search_gives_up_at_its_deadline() -> None:
    started = time.monotonic()
    assert _script.bounded_search(EVIL, "x" * 5000, 0.2) is None
    assert time.monotonic() - started < 2.0
    assert _script.bounded_search("ok$", "x" * 200_000 + "ok", 1.0) is True
    assert _script.bounded_search("^x", "y" + "x" * 200_000, 1.0) is True  # only the tail is searched
    assert _script.bounded_search("nope", "x", 1.0) is False


@pytest.mark.slow
async def test_a_pathological_regex_is_an_error_and_stalls_no_other_check() -> None:
    server, url = _serve()
    try:
        checks = [
            {
                "name": "evil",
                "timeoutSeconds": 5,
                "http": {
                    "url": f"{url}/echo",
                    "headers": [{"name": "X-Plain", "value": "x" * 5000}],
                    "json": [{"path": "$.headers['x-plain']", "matches": EVIL}],
                },
            },
            *[{"name": f"quick-{i}", "http": {"url": f"{url}/echo"}} for i in range(3)],
        ]
        started = time.monotonic()
        report = await probe(checks, parallelism=4)
        elapsed = time.monotonic() - started
    finally:
        server.shutdown()
        server.server_close()
    evil = report.check("evil")
    assert evil.result is R.ERROR and "gave up" in evil.message
    for i in range(3):
        quick = report.check(f"quick-{i}")
        assert quick.result is R.PASSED and quick.duration_seconds < 0.5, quick
    assert elapsed < 4.0
