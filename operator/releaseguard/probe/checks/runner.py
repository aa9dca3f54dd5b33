"""Running a list of checks: bounded concurrency, one runner per check type (registry.py), one report."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from ...api.spec import Check
from ...contract import DENIED_NETWORKS_ENV, revisions_from_env
from ...errors import FieldError, SpecInvalidError
from ...report import CheckReport, ProbeReport, build_report
from .base import RunContext, error_report
from .destinations import networks_from_env
from .headers import resolve_headers
from .registry import runner_for


def prepare(
    checks: Sequence[Check],
    *,
    parallelism: int = 4,
    environ: Mapping[str, str] | None = None,
    prefix: str = "checks",
    backoff_base: float = 0.2,
) -> RunContext:
    """Everything that can be wrong with the input before anything runs; raises SpecInvalidError
    with field paths under `prefix` (e.g. `spec.checks`)."""
    headers, redactor = resolve_headers(checks, prefix, environ)
    env = os.environ if environ is None else environ
    try:
        denied = networks_from_env(env)
    except ValueError as exc:
        raise SpecInvalidError([FieldError(DENIED_NETWORKS_ENV, f"expected comma-separated CIDRs: {exc}")]) from None
    return RunContext(
        headers=headers,
        redactor=redactor,
        backoff_base=backoff_base,
        parallelism=parallelism,
        denied_networks=denied,
        revisions=revisions_from_env(env),
    )


async def run_prepared(checks: Sequence[Check], ctx: RunContext) -> ProbeReport:
    start = datetime.now(UTC)
    semaphore = asyncio.Semaphore(ctx.parallelism)
    runners = {t: runner_for(t) for t in {c.type for c in checks}}

    async def one(check: Check) -> CheckReport:
        async with semaphore:
            began = time.monotonic()
            try:
                return await runners[check.type].run(check, ctx)
            except Exception as exc:  # a broken check type fails its check, not the run
                return error_report(check, f"internal error: {exc!r}", "error", time.monotonic() - began)

    try:
        reports = await asyncio.gather(*(one(c) for c in checks))
    finally:
        await ctx.aclose()
    return build_report([_redacted(r, ctx) for r in reports], start, datetime.now(UTC))


async def run_checks(
    checks: Sequence[Check],
    *,
    parallelism: int = 4,
    environ: Mapping[str, str] | None = None,
    prefix: str = "checks",
    backoff_base: float = 0.2,
) -> ProbeReport:
    """Run `checks` (at most `parallelism` at a time) and report. Raises SpecInvalidError, before
    running anything, when a header value's source is missing."""
    ctx = prepare(checks, parallelism=parallelism, environ=environ, prefix=prefix, backoff_base=backoff_base)
    return await run_prepared(checks, ctx)


def _redacted(report: CheckReport, ctx: RunContext) -> CheckReport:
    if not ctx.redactor.secrets:
        return report
    redact = ctx.redactor.redact
    attempts = [
        a.model_copy(update={"message": redact(a.message), "observed": redact(a.observed)}) for a in report.attempts
    ]
    return report.model_copy(
        update={"message": redact(report.message), "observed": redact(report.observed), "attempts": attempts}
    )
