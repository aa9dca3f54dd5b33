"""checks.sampling: the schedule, latencies and outcomes of `samples`, on httpx.MockTransport with a
fake clock (fast and exact), and once on a real loopback server."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from releaseguard.core.baseline import SampleOutcome
from releaseguard.probe.checks.sampling import SampleRequest, collect_samples, status_in

OK, ERR = SampleOutcome.OK, SampleOutcome.ERROR
GET = SampleRequest("GET", "http://shop.test/healthz")


class FakeTime:
    """A monotonic clock that moves only when the code sleeps or a fake request takes time."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []
        self.sent_at: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.sleeps.append(seconds)
        self.now += seconds


def sampler(
    fake: FakeTime, answer: Callable[[int, httpx.Request], httpx.Response | float]
) -> Callable[..., tuple[list[float], list[SampleOutcome]]]:
    """collect_samples on a MockTransport whose `answer(i, request)` takes a time or raises."""

    def handler(request: httpx.Request) -> httpx.Response:
        index = len(fake.sent_at)
        fake.sent_at.append(fake.now)
        got = answer(index, request)
        if isinstance(got, httpx.Response):
            return got
        fake.now += got
        return httpx.Response(200, text="ok")

    def run(count: int, interval: float, **kwargs: object) -> tuple[list[float], list[SampleOutcome]]:
        with httpx.Client(transport=httpx.MockTransport(handler)) as client:
            samples = collect_samples(
                client,
                kwargs.pop("request", GET),  # type: ignore[arg-type]
                count,
                interval,
                2.0,
                kwargs.pop("accept", status_in([200])),  # type: ignore[arg-type]
                clock=fake.clock,
                sleep=fake.sleep,
            )
        return list(samples.latencies_ms), list(samples.outcomes)

    return run


def test_requests_are_spread_evenly_over_the_interval_and_timed_in_ms() -> None:
    fake = FakeTime()
    latencies, outcomes = sampler(fake, lambda i, r: 0.010 * (i + 1))(5, 10.0)
    assert [round(t - 100.0, 6) for t in fake.sent_at] == [0.0, 2.0, 4.0, 6.0, 8.0]
    assert latencies == pytest.approx([10.0, 20.0, 30.0, 40.0, 50.0])
    assert outcomes == [OK] * 5


def test_a_slow_response_does_not_stretch_the_schedule() -> None:
    fake = FakeTime()
    # the second request takes 3.5 s, past the next slot: the third goes at once, the fourth on time
    sampler(fake, lambda i, r: 3.5 if i == 1 else 0.1)(4, 8.0)
    assert [round(t - 100.0, 6) for t in fake.sent_at] == [0.0, 2.0, 5.5, 6.0]
    assert all(s > 0 for s in fake.sleeps)


def test_no_interval_sends_back_to_back_without_sleeping() -> None:
    fake = FakeTime()
    latencies, _ = sampler(fake, lambda i, r: 0.001)(3, 0.0)
    assert fake.sleeps == [] and latencies == pytest.approx([1.0, 1.0, 1.0])


def test_transport_errors_and_timeouts_are_error_samples_and_sampling_goes_on() -> None:
    fake = FakeTime()

    def answer(index: int, request: httpx.Request) -> httpx.Response | float:
        if index == 1:
            fake.now += 2.0
            raise httpx.ReadTimeout("timed out", request=request)
        if index == 2:
            raise httpx.ConnectError("connection refused", request=request)
        return 0.005

    latencies, outcomes = sampler(fake, answer)(4, 4.0)
    assert outcomes == [OK, ERR, ERR, OK]
    assert latencies == pytest.approx([5.0, 2000.0, 0.0, 5.0])  # an error's latency is the time to the error


def test_a_status_the_check_does_not_accept_is_an_error_sample() -> None:
    fake = FakeTime()
    codes = [200, 503, 200, 404]
    _, outcomes = sampler(fake, lambda i, r: httpx.Response(codes[i]))(4, 1.0)
    assert outcomes == [OK, ERR, OK, ERR]


def test_a_redirect_is_not_followed_but_judged() -> None:
    fake = FakeTime()
    seen: list[str] = []

    def answer(index: int, request: httpx.Request) -> httpx.Response | float:
        seen.append(str(request.url))
        return httpx.Response(302, headers={"location": "http://elsewhere.test/"})

    _, outcomes = sampler(fake, answer)(2, 1.0, accept=status_in([200, 302]))
    assert outcomes == [OK, OK] and seen == ["http://shop.test/healthz"] * 2


def test_an_accept_that_raises_is_an_error_sample() -> None:
    fake = FakeTime()

    def accept(response: httpx.Response) -> bool:
        raise RuntimeError("bug in an assertion")

    _, outcomes = sampler(fake, lambda i, r: 0.001)(2, 1.0, accept=accept)
    assert outcomes == [ERR, ERR]


def test_the_request_is_sent_as_given() -> None:
    fake = FakeTime()
    got: list[httpx.Request] = []

    def answer(index: int, request: httpx.Request) -> httpx.Response | float:
        got.append(request)
        return 0.001

    request = SampleRequest("POST", "http://shop.test/api/orders", (("x-probe", "rg"),), b'{"id": 1}')
    sampler(fake, answer)(1, 0.0, request=request)
    [sent] = got
    assert (sent.method, str(sent.url), sent.headers["x-probe"], sent.content) == (
        "POST",
        "http://shop.test/api/orders",
        "rg",
        b'{"id": 1}',
    )


def test_an_invalid_url_is_an_error_sample_not_an_exception() -> None:
    fake = FakeTime()
    _, outcomes = sampler(fake, lambda i, r: 0.001)(2, 1.0, request=SampleRequest("GET", "http://[::1"))
    assert outcomes == [ERR, ERR]


def test_zero_samples_is_empty_and_bad_arguments_are_refused() -> None:
    fake = FakeTime()
    assert sampler(fake, lambda i, r: 0.001)(0, 5.0) == ([], [])
    with pytest.raises(ValueError):
        sampler(fake, lambda i, r: 0.001)(-1, 5.0)
    with pytest.raises(ValueError):
        sampler(fake, lambda i, r: 0.001)(3, float("nan"))


# -- a real server on loopback, the real clock ------------------------------------------------


@pytest.fixture
def loopback() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/slow":
                time.sleep(0.05)
            code = 500 if self.path == "/broken" else 200
            self.send_response(code)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_samples_of_a_real_server(loopback: str) -> None:
    with httpx.Client() as client:
        started = time.monotonic()
        slow = collect_samples(client, SampleRequest("GET", f"{loopback}/slow"), 5, 0.5, 2.0, status_in([200]))
        took = time.monotonic() - started
        broken = collect_samples(client, SampleRequest("GET", f"{loopback}/broken"), 3, 0.0, 2.0, status_in([200]))
    assert slow.outcomes == (OK,) * 5 and all(ms >= 50 for ms in slow.latencies_ms)
    assert 0.4 <= took < 2.0  # four gaps of 0.1 s, the last request's 50 ms, some slack
    assert broken.outcomes == (ERR,) * 3


def test_a_closed_port_is_error_samples() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        with httpx.Client() as client:
            samples = collect_samples(
                client, SampleRequest("GET", f"http://127.0.0.1:{port}/"), 3, 0.0, 1.0, status_in([200])
            )
    assert samples.outcomes == (ERR,) * 3


def test_the_async_collector_follows_the_same_schedule() -> None:
    import asyncio

    from releaseguard.probe.checks.sampling import collect_samples_async

    fake = FakeTime()

    async def sleep(seconds: float) -> None:
        fake.sleep(seconds)

    async def one() -> tuple[float, SampleOutcome]:
        fake.sent_at.append(fake.now)
        fake.now += 0.05
        return 50.0, OK if len(fake.sent_at) % 2 else ERR

    samples = asyncio.run(collect_samples_async(one, 4, 2.0, clock=fake.clock, sleep=sleep))
    assert [round(t - 100.0, 3) for t in fake.sent_at] == [0.0, 0.5, 1.0, 1.5]
    assert samples.outcomes == (OK, ERR, OK, ERR)
    assert samples.latencies_ms == (50.0,) * 4
