"""The one interface every check type implements, and the retry loop most of them share.

A check type is a `CheckRunner`: given a Check and the run's context it returns a CheckReport and
does not raise for anything the target did (Argo Rollouts' providers return an Error
measurement instead of raising). Types that run one attempt at a time use `run_with_retries`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ...api.spec import Check
from ...api.status import CheckResultKind
from ...report import AttemptReport, CheckReport
from . import _script
from .headers import Redactor


@dataclass
class RunContext:
    """What a whole probe run shares: resolved header values, the redactor, pooled clients."""

    headers: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    redactor: Redactor = field(default_factory=Redactor)
    backoff_base: float = 0.2
    parallelism: int = 4
    resources: dict[str, Any] = field(default_factory=dict)
    denied_networks: list[Any] = field(default_factory=list)  # core.policy.Network
    target_pods: list[tuple[str, str]] = field(default_factory=list)  # (name, ip): contract.TARGET_PODS_ENV
    revisions: dict[str, str] = field(default_factory=dict)  # template variable -> value (contract.REVISION_ENV)

    async def aclose(self) -> None:
        for resource in self.resources.values():
            close = getattr(resource, "aclose", None)
            if close is not None:
                await close()
        self.resources.clear()


class CheckRunner(Protocol):
    async def run(self, check: Check, ctx: RunContext) -> CheckReport: ...


BACKSTOP_SECONDS = 0.5

AttemptFn = Callable[[], Awaitable[AttemptReport]]


def attempt(result: CheckResultKind, message: str, observed: str = "") -> AttemptReport:
    return AttemptReport(result=result, message=_script.one_line(message), observed=observed)


async def run_with_retries(check: Check, ctx: RunContext, one_attempt: AttemptFn) -> CheckReport:
    """Up to 1 + retries attempts, each under the check's timeout, with a short backoff between."""
    started = time.monotonic()
    attempts: list[AttemptReport] = []
    for number in range(check.retries + 1):
        if number:
            await asyncio.sleep(_script.backoff_seconds(number, ctx.backoff_base))
        begun = time.monotonic()
        try:
            # The check type enforces the timeout with its own message; this only backstops it.
            async with asyncio.timeout(check.timeout_seconds + BACKSTOP_SECONDS):
                result = await one_attempt()
        except TimeoutError:
            result = attempt(CheckResultKind.FAILED, f"no result within {check.timeout_seconds}s", "timeout")
        except Exception as exc:  # a bug in a check type is that check's Error, not the run's
            result = attempt(CheckResultKind.ERROR, f"internal error in {check.type} check: {exc!r}", "error")
        result.duration_seconds = round(time.monotonic() - begun, 4)
        attempts.append(result)
        if result.result not in _script.RETRYABLE:
            break
    return report_from_attempts(check, attempts, time.monotonic() - started)


def report_from_attempts(check: Check, attempts: list[AttemptReport], duration: float) -> CheckReport:
    final, message, observed = _script.resolve([a.model_dump(by_alias=True, mode="json") for a in attempts])
    return CheckReport(
        name=check.name,
        type=check.type,
        critical=check.critical,
        result=CheckResultKind(final),
        message=message,
        observed=observed,
        duration_seconds=round(duration, 4),
        fail_on_flaky=check.fail_on_flaky,
        fail_on_inconclusive=bool(check.prometheus and check.prometheus.fail_on_inconclusive),
        attempts=attempts,
    )


def error_report(check: Check, message: str, observed: str = "error", duration: float = 0.0) -> CheckReport:
    return CheckReport(
        name=check.name,
        type=check.type,
        critical=check.critical,
        result=CheckResultKind.ERROR,
        message=_script.one_line(message),
        observed=observed,
        duration_seconds=round(duration, 4),
        fail_on_flaky=check.fail_on_flaky,
        attempts=[],
    )
