"""The probe side of issue 15's `samples`: N requests spread evenly over an interval, each one's
latency and outcome recorded for core.baseline to compare.

The requests follow a fixed schedule (request i is due at i * interval / count from the start)
instead of a fixed pause after each response: a slow response then does not stretch the run or
thin out the samples taken while the target is slow. A request that is due while an earlier one
is still running is sent as soon as that one ends; there is no concurrency.

One failed request is one error sample, never an exception: the comparison needs the errors
counted as much as the latencies. Redirects are not followed (a redirect is a response, judged by
`accept`), so headers never travel to another origin.

Destinations: the http check's samples (`collect_samples_async`) are sent by the check's own
client, whose transport resolves each new connection's host once and connects only to addresses
checked against the operator's denied networks (probe.checks.pinned), as for its first request.
`collect_samples` sends with whatever synchronous client it is given and checks nothing; the
probe runner does not use it.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass

import httpx

from ...core.baseline import SampleOutcome, Samples

Clock = Callable[[], float]
Sleep = Callable[[float], None]
AsyncSleep = Callable[[float], Awaitable[None]]
OneSample = Callable[[], Awaitable[tuple[float, SampleOutcome]]]
Accept = Callable[[httpx.Response], bool]


@dataclass(frozen=True)
class SampleRequest:
    """What every sample sends."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    content: bytes | None = None


def status_in(codes: Collection[int]) -> Accept:
    """An `accept` that holds when the response's status is one of `codes` (the check's expectStatus)."""
    allowed = frozenset(codes)

    def accept(response: httpx.Response) -> bool:
        return response.status_code in allowed

    return accept


def collect_samples(
    client: httpx.Client,
    request: SampleRequest,
    count: int,
    interval_seconds: float,
    timeout_seconds: float,
    accept: Accept,
    *,
    clock: Clock = time.perf_counter,
    sleep: Sleep = time.sleep,
) -> Samples:
    """`count` requests spread evenly over `interval_seconds`, each with `timeout_seconds`.

    A latency is the time from sending to the whole body read (or to the error), in ms on the
    monotonic `clock`; the outcome is ok when a response came and `accept` holds for it, error for
    a transport error, a timeout, a refused response, or an `accept` that raised."""
    spacing = spacing_seconds(count, interval_seconds)
    latencies: list[float] = []
    outcomes: list[SampleOutcome] = []
    start = clock()
    for index in range(count):
        wait = start + index * spacing - clock()
        if wait > 0:
            sleep(wait)
        latency_ms, outcome = _one(client, request, timeout_seconds, accept, clock)
        latencies.append(latency_ms)
        outcomes.append(outcome)
    return Samples(tuple(latencies), tuple(outcomes))


def spacing_seconds(count: int, interval_seconds: float) -> float:
    """The schedule both collectors follow: request i is due `i * spacing` after the start."""
    if count < 0 or not math.isfinite(interval_seconds) or interval_seconds < 0:
        raise ValueError(f"count {count} and interval {interval_seconds}s must be >= 0")
    return interval_seconds / count if count else 0.0


async def collect_samples_async(
    one: OneSample,
    count: int,
    interval_seconds: float,
    *,
    clock: Clock = time.perf_counter,
    sleep: AsyncSleep = asyncio.sleep,
) -> Samples:
    """The async form (the http check runs on httpx.AsyncClient): the same schedule as
    `collect_samples`, with `one()` taking one sample (its latency in ms and its outcome) and
    never raising for anything the target did."""
    spacing = spacing_seconds(count, interval_seconds)
    latencies: list[float] = []
    outcomes: list[SampleOutcome] = []
    start = clock()
    for index in range(count):
        wait = start + index * spacing - clock()
        if wait > 0:
            await sleep(wait)
        latency_ms, outcome = await one()
        latencies.append(latency_ms)
        outcomes.append(outcome)
    return Samples(tuple(latencies), tuple(outcomes))


def _one(
    client: httpx.Client, request: SampleRequest, timeout_seconds: float, accept: Accept, clock: Clock
) -> tuple[float, SampleOutcome]:
    """One sample; its latency stops when the response (or the error) is in, before `accept` runs."""
    sent = clock()
    try:
        response = client.request(
            request.method,
            request.url,
            headers=list(request.headers),
            content=request.content,
            timeout=timeout_seconds,
            follow_redirects=False,
        )
    except (httpx.HTTPError, httpx.InvalidURL, OSError):
        return max(clock() - sent, 0.0) * 1000, SampleOutcome.ERROR
    latency_ms = max(clock() - sent, 0.0) * 1000
    try:
        return latency_ms, SampleOutcome.OK if accept(response) else SampleOutcome.ERROR
    except Exception:  # a broken assertion is this sample's error, not the end of the sampling
        return latency_ms, SampleOutcome.ERROR
    finally:
        response.close()
