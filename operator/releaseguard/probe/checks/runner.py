"""Running a list of checks: bounded concurrency, one runner per check type (registry.py), one report."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from ...api.spec import Check, expand_pod_template
from ...contract import DENIED_NETWORKS_ENV, TARGET_PODS_ENV, revisions_from_env
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
    try:
        pods = [(str(p["name"]), str(p["ip"])) for p in json.loads(env.get(TARGET_PODS_ENV) or "[]")]
    except (ValueError, TypeError, KeyError) as exc:
        raise SpecInvalidError([FieldError(TARGET_PODS_ENV, f"expected [{{name, ip}}, ...]: {exc}")]) from None
    return RunContext(
        headers=headers,
        redactor=redactor,
        backoff_base=backoff_base,
        parallelism=parallelism,
        denied_networks=denied,
        target_pods=pods,
        revisions=revisions_from_env(env),
    )


def for_pod(check: Check, name: str, ip: str) -> Check:
    """The check with its placeholders filled in for one pod."""
    if check.http is not None:
        http = check.http.model_copy(update={"url": expand_pod_template(check.http.url, name, ip)})
        return check.model_copy(update={"http": http})
    if check.tcp is not None:
        tcp = check.tcp.model_copy(update={"host": expand_pod_template(check.tcp.host, name, ip)})
        return check.model_copy(update={"tcp": tcp})
    return check


def merge_pod_reports(check: Check, reports: Sequence[tuple[str, CheckReport]]) -> CheckReport:
    """One report for a check run once per pod: the first pod's that counts as a failure (its
    message names the pod), else the first's, saying how many pods passed."""
    if not reports:
        return error_report(check, f"no ready pod of the new revision to run against ({TARGET_PODS_ENV})", "", 0.0)
    duration = sum(r.duration_seconds for _, r in reports)
    bad = [(n, r) for n, r in reports if r.counts_as_failure]
    name, chosen = bad[0] if bad else reports[0]
    if bad:
        message = f"pod {name}: {chosen.message} ({len(bad)} of {len(reports)} pods failed)"
    else:
        message = f"{len(reports)} pods: {chosen.message}"
    return chosen.model_copy(update={"message": message, "duration_seconds": duration})


async def run_prepared(checks: Sequence[Check], ctx: RunContext) -> ProbeReport:
    start = datetime.now(UTC)
    semaphore = asyncio.Semaphore(ctx.parallelism)
    runners = {t: runner_for(t) for t in {c.type for c in checks}}

    async def one(check: Check) -> CheckReport:
        if check.names_a_pod:
            reports = await asyncio.gather(*(single(for_pod(check, n, ip)) for n, ip in ctx.target_pods))
            return merge_pod_reports(check, list(zip((n for n, _ in ctx.target_pods), reports, strict=True)))
        return await single(check)

    async def single(check: Check) -> CheckReport:
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
