"""The `tcp` check: a TCP connection is accepted within the timeout.

The host is resolved once and the connection goes to an address of that answer, every address of
which was checked against the operator's denied networks (destinations.open_checked); a denied
destination or a failed lookup is Error and nothing connects. `TcpRunner(resolver=...)` replaces
the DNS lookup (tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence

from ...api.spec import Check
from ...api.status import CheckResultKind
from ...core.policy import Network
from ...report import AttemptReport, CheckReport
from .base import RunContext, attempt, run_with_retries
from .destinations import DestinationError, LookupFailed, Resolver, open_checked, system_resolver

R = CheckResultKind


class TcpRunner:
    def __init__(self, resolver: Resolver = system_resolver) -> None:
        self.resolver = resolver

    async def run(self, check: Check, ctx: RunContext) -> CheckReport:
        spec = check.tcp
        assert spec is not None

        async def one() -> AttemptReport:
            return await tcp_attempt(spec.host, spec.port, check.timeout_seconds, ctx.denied_networks, self.resolver)

        return await run_with_retries(check, ctx, one)


async def tcp_attempt(
    host: str,
    port: int,
    seconds: float,
    networks: Sequence[Network] = (),
    resolver: Resolver = system_resolver,
) -> AttemptReport:
    where = f"tcp {host}:{port}"
    started = time.perf_counter()
    try:
        async with asyncio.timeout(seconds):
            _, writer = await open_checked(host, port, networks, resolver)
    except TimeoutError:
        return attempt(R.FAILED, f"{where}: not connected within {seconds:g}s", "timeout")
    except LookupFailed as exc:
        return attempt(R.ERROR, f"{where}: {exc}; not connected", exc.observed)
    except DestinationError as exc:
        return attempt(R.ERROR, f"{where}: not connected: {exc}", exc.observed)
    except ConnectionRefusedError:
        return attempt(R.FAILED, f"{where}: connection refused", "connection refused")
    except OSError as exc:
        return attempt(R.FAILED, f"{where}: cannot connect: {exc.strerror or exc}", "connection failed")
    elapsed = time.perf_counter() - started
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return attempt(R.PASSED, f"{where}: connected in {elapsed * 1000:.0f} ms", f"connected in {elapsed * 1000:.0f} ms")
