"""Readiness probes (httpGet, tcpSocket, exec) run against a pod's IP, with the kubelet's defaults.

Liveness and startup probes are not run by kubesim.
"""

from __future__ import annotations

import asyncio
import contextlib
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


async def http_get(host: str, port: int, path: str, scheme: str, headers: list[Obj], limit: float) -> bool:
    """Success on any status from 200 to 399, as the kubelet (redirects are not followed)."""
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
    except (OSError, TimeoutError, ssl.SSLError):
        return False
    parts = status_line.split()
    return len(parts) >= 2 and parts[1].isdigit() and 200 <= int(parts[1]) < 400


async def tcp_connect(host: str, port: int, limit: float) -> bool:
    try:
        async with asyncio.timeout(limit):
            _, writer = await asyncio.open_connection(host, port)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(Exception):
        await writer.wait_closed()
    return True


ExecRunner = Callable[[list[str], float], Awaitable[int]]


async def run_probe(probe: Obj, container: Obj, pod_ip: str, exec_runner: ExecRunner) -> bool:
    """One probe attempt."""
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
        return await exec_runner(list(spec.get("command") or []), timeout) == 0
    raise ValueError("probe has none of httpGet, tcpSocket, exec (grpc probes are not supported in kubesim)")


async def readiness_loop(
    probe: Obj, container: Obj, pod_ip: str, exec_runner: ExecRunner, on_change: Callable[[bool], None]
) -> None:
    """Probe forever, calling on_change(ready) whenever the thresholds flip readiness."""
    timing = ProbeTiming.of(probe)
    ready = False
    successes = failures = 0
    await asyncio.sleep(timing.initial_delay)
    while True:
        try:
            ok = await run_probe(probe, container, pod_ip, exec_runner)
        except ValueError:
            ok = False
        if ok:
            successes, failures = successes + 1, 0
            if not ready and successes >= timing.success_threshold:
                ready = True
                on_change(True)
        else:
            successes, failures = 0, failures + 1
            if ready and failures >= timing.failure_threshold:
                ready = False
                on_change(False)
        await asyncio.sleep(timing.period)
