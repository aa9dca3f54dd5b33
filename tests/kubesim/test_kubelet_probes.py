"""Readiness probes against real servers on loopback, and the threshold logic."""

from __future__ import annotations

import asyncio

import pytest

from kubesim.node.probes import ProbeTiming, readiness_loop, resolve_port, run_probe
from support import free_port

CONTAINER = {"name": "web", "ports": [{"name": "http", "containerPort": 8080}]}


async def http_server(status: int) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        assert b"User-Agent: kube-probe" in head and b"X-Probe: yes" in head
        writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n".encode())
        await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def no_exec(command: list[str], limit: float) -> int:
    raise AssertionError("not an exec probe")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("status", "expected"), [(200, None), (302, None), (500, "HTTP probe failed with statuscode: 500")]
)
async def test_http_probe_status_ranges(status: int, expected: str | None) -> None:
    server = await http_server(status)
    port = server.sockets[0].getsockname()[1]
    probe = {"httpGet": {"path": "/healthz", "port": port, "httpHeaders": [{"name": "X-Probe", "value": "yes"}]}}
    try:
        assert await run_probe(probe, CONTAINER, "127.0.0.1", no_exec) == expected
    finally:
        server.close()


async def test_tcp_and_http_probes_say_why_they_fail() -> None:
    port = free_port()
    tcp = await run_probe({"tcpSocket": {"port": port}}, CONTAINER, "127.0.0.1", no_exec)
    assert tcp is not None and tcp.startswith(f"dial tcp 127.0.0.1:{port}:") and "refused" in tcp.lower()
    http = await run_probe({"httpGet": {"port": port, "path": "/x"}}, CONTAINER, "127.0.0.1", no_exec)
    assert http is not None and http.startswith(f'Get "http://127.0.0.1:{port}/x":')


async def test_exec_probe_uses_the_exit_code() -> None:
    async def runner(command: list[str], limit: float) -> int:
        return 0 if command == ["true"] else 3

    assert await run_probe({"exec": {"command": ["true"]}}, CONTAINER, "127.0.0.1", runner) is None
    assert (
        await run_probe({"exec": {"command": ["false"]}}, CONTAINER, "127.0.0.1", runner)
        == "command ['false'] exited with 3"
    )


def test_ports_by_number_or_name() -> None:
    assert resolve_port(81, CONTAINER) == 81
    assert resolve_port("82", CONTAINER) == 82
    assert resolve_port("http", CONTAINER) == 8080
    with pytest.raises(ValueError, match="container 'web' has no port named 'grpc'"):
        resolve_port("grpc", CONTAINER)


def test_probe_defaults_are_the_kubelets() -> None:
    assert ProbeTiming.of({}) == ProbeTiming(0.0, 10.0, 1.0, 1, 3)


async def test_thresholds_flip_readiness_and_failures_are_reported_once_per_run() -> None:
    results = iter([1, 0, 0, 1, 1, 1, 0] + [0] * 100)
    changes: list[bool] = []
    failures: list[str] = []
    done = asyncio.Event()

    async def runner(command: list[str], limit: float) -> int:
        code = next(results)
        if len(changes) == 3:
            done.set()
        return code

    probe = {"exec": {"command": ["check"]}, "periodSeconds": 0.001, "successThreshold": 2, "failureThreshold": 3}
    task = asyncio.create_task(readiness_loop(probe, CONTAINER, "127.0.0.1", runner, changes.append, failures.append))
    async with asyncio.timeout(5):
        await done.wait()
    task.cancel()
    # fail, ok, ok -> ready; fail x3 -> not ready; ok, ok -> ready again
    assert changes == [True, False, True]
    assert failures == ["command ['check'] exited with 1", "command ['check'] exited with 1"]
