"""Readiness probes (httpGet, tcpSocket, exec) run against a pod's IP, with the kubelet's defaults.

Liveness and startup probes are not run by kubesim.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]


@dataclass(frozen=True)
class ProbeTiming:
    initial_delay: float = 0.0
    period: float = 10.0
    timeout: float = 1.0
    success_threshold: int = 1
    failure_threshold: int = 3

    @classmethod
    def of(cls, probe: Obj) -> ProbeTiming:
        return cls(
            initial_delay=float(probe.get("initialDelaySeconds", 0)),
            period=float(probe.get("periodSeconds", 10)),
            timeout=float(probe.get("timeoutSeconds", 1)),
            success_threshold=int(probe.get("successThreshold", 1)),
            failure_threshold=int(probe.get("failureThreshold", 3)),
        )


def resolve_port(port: Any, container: Obj) -> int:
    """A probe or Service target port: a number, or the name of one of the container's ports."""
    if isinstance(port, int):
        return port
    if isinstance(port, str) and port.isdigit():
        return int(port)
    for declared in container.get("ports") or []:
        if declared.get("name") == port:
            return int(declared["containerPort"])
    raise ValueError(f"container {container.get('name')!r} has no port named {port!r}")


async def http_get(host: str, port: int, path: str, scheme: str, headers: list[Obj], limit: float) -> str | None:
    """None on any status from 200 to 399, as the kubelet (redirects are not followed), else why not."""
    url = f"{scheme.lower()}://{host}:{port}{path or '/'}"
    context = None
    if scheme.upper() == "HTTPS":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    try:
        async with asyncio.timeout(limit):
            reader, writer = await asyncio.open_connection(host, port, ssl=context)
            try:
                lines = [f"GET {path or '/'} HTTP/1.1", f"Host: {host}:{port}", "User-Agent: kube-probe/1.32"]
                lines += [f"{h.get('name')}: {h.get('value', '')}" for h in headers]
                lines += ["Connection: close", "", ""]
                writer.write("\r\n".join(lines).encode())
                await writer.drain()
                status_line = await reader.readline()
            finally:
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()
    except TimeoutError:
        return f'Get "{url}": context deadline exceeded'
    except (OSError, ssl.SSLError) as exc:
        return f'Get "{url}": {_why(exc)}'
    parts = status_line.split()
    if len(parts) >= 2 and parts[1].isdigit():
        code = int(parts[1])
        return None if 200 <= code < 400 else f"HTTP probe failed with statuscode: {code}"
    return f'Get "{url}": malformed HTTP response {status_line[:80]!r}'


async def tcp_connect(host: str, port: int, limit: float) -> str | None:
    try:
        async with asyncio.timeout(limit):
            _, writer = await asyncio.open_connection(host, port)
    except TimeoutError:
        return f"dial tcp {host}:{port}: i/o timeout"
    except OSError as exc:
        return f"dial tcp {host}:{port}: {_why(exc)}"
    writer.close()
    with contextlib.suppress(Exception):
        await writer.wait_closed()
    return None


def _why(exc: OSError) -> str:
    """asyncio words connection errors as 'Connect call failed'; say what the errno says instead."""
    if exc.errno:
        return f"connect: {os.strerror(exc.errno).lower()}"
    return str(exc)


ExecRunner = Callable[[list[str], float], Awaitable[int]]


async def run_probe(probe: Obj, container: Obj, pod_ip: str, exec_runner: ExecRunner) -> str | None:
    """One probe attempt: None when it passed, else what failed."""
    timeout = ProbeTiming.of(probe).timeout
    if spec := probe.get("httpGet"):
        port = resolve_port(spec.get("port"), container)
        return await http_get(
            spec.get("host") or pod_ip,
            port,
            spec.get("path", "/"),
            spec.get("scheme", "HTTP"),
            spec.get("httpHeaders") or [],
            timeout,
        )
    if spec := probe.get("tcpSocket"):
        return await tcp_connect(spec.get("host") or pod_ip, resolve_port(spec.get("port"), container), timeout)
    if spec := probe.get("exec"):
        code = await exec_runner(list(spec.get("command") or []), timeout)
        return None if code == 0 else f"command {spec.get('command')!r} exited with {code}"
    raise ValueError("probe has none of httpGet, tcpSocket, exec (grpc probes are not supported in kubesim)")


async def readiness_loop(
    probe: Obj,
    container: Obj,
    pod_ip: str,
    exec_runner: ExecRunner,
    on_change: Callable[[bool], None],
    on_failure: Callable[[str], None] = lambda _: None,
) -> None:
    """Probe forever, calling on_change(ready) whenever the thresholds flip readiness, and
    on_failure(why) on the first failure of each run of failures."""
    timing = ProbeTiming.of(probe)
    ready = False
    successes = failures = 0
    await asyncio.sleep(timing.initial_delay)
    while True:
        try:
            failure = await run_probe(probe, container, pod_ip, exec_runner)
        except ValueError as exc:
            failure = str(exc)
        if failure is None:
            successes, failures = successes + 1, 0
            if not ready and successes >= timing.success_threshold:
                ready = True
                on_change(True)
        else:
            successes, failures = 0, failures + 1
            if failures == 1:
                on_failure(failure)
            if ready and failures >= timing.failure_threshold:
                ready = False
                on_change(False)
        await asyncio.sleep(timing.period)
