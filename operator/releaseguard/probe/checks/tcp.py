"""The `tcp` check: a TCP connection is accepted within the timeout."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time

from ...api.spec import Check
from ...api.status import CheckResultKind
from ...report import AttemptReport, CheckReport
from .base import RunContext, attempt, run_with_retries
from .destinations import DestinationDenied, ensure_allowed

R = CheckResultKind


class TcpRunner:
    async def run(self, check: Check, ctx: RunContext) -> CheckReport:
        spec = check.tcp
        assert spec is not None

        async def one() -> AttemptReport:
            try:
                await ensure_allowed(spec.host, spec.port, ctx.denied_networks)
            except DestinationDenied as exc:
                return attempt(R.ERROR, f"tcp {spec.host}:{spec.port}: not connected: {exc}", "denied destination")
            return await tcp_attempt(spec.host, spec.port, check.timeout_seconds)

        return await run_with_retries(check, ctx, one)


async def tcp_attempt(host: str, port: int, seconds: float) -> AttemptReport:
    where = f"tcp {host}:{port}"
    started = time.perf_counter()
    try:
        async with asyncio.timeout(seconds):
            _, writer = await asyncio.open_connection(host, port)
    except TimeoutError:
        return attempt(R.FAILED, f"{where}: not connected within {seconds:g}s", "timeout")
    except socket.gaierror as exc:
        return attempt(R.ERROR, f"{where}: DNS lookup of {host} failed: {exc.strerror or exc}", "DNS failure")
    except ConnectionRefusedError:
        return attempt(R.FAILED, f"{where}: connection refused", "connection refused")
    except OSError as exc:
        return attempt(R.FAILED, f"{where}: cannot connect: {exc.strerror or exc}", "connection failed")
    elapsed = time.perf_counter() - started
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return attempt(R.PASSED, f"{where}: connected in {elapsed * 1000:.0f} ms", f"connected in {elapsed * 1000:.0f} ms")
