"""Checks that run in the target's image (python, pytest, command) through one generated script.

The script (`_script.py`, stdlib only, Python 3.8+) is passed as source to the image's own
interpreter. The operator puts `contract.container_command(check)` in a probe Job built from the
Deployment's pod template; `releaseguard probe` runs the very same argv locally, here. Which types
these are is the registry's word (`api.spec.CHECK_TYPE_TABLE`, Placement.TARGET_IMAGE).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time

from ...api.spec import Check
from ...contract import check_payload, container_command, interpreter, script_source
from ...errors import ReportError
from ...report import CheckReport, parse_report
from . import _script
from .base import RunContext, error_report

__all__ = [
    "StandaloneRunner",
    "check_payload",
    "container_command",
    "interpreter",
    "script_source",
    "time_budget",
]


def time_budget(check: Check, backoff_base: float = 0.2) -> float:
    """How long the script may take in all before the runner gives up on it."""
    attempts = check.retries + 1
    pauses = sum(_script.backoff_seconds(n, backoff_base) for n in range(1, attempts))
    return attempts * (check.timeout_seconds + 5) + pauses + 5


class StandaloneRunner:
    """Runs the generated script with the check's interpreter, as the probe Job would."""

    async def run(self, check: Check, ctx: RunContext) -> CheckReport:
        started = time.monotonic()
        argv = container_command(check, termination_log="")
        if shutil.which(argv[0]) is None:
            return error_report(check, f"interpreter {argv[0]!r} not found (set {check.type}.python)", "no python")
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        budget = time_budget(check, ctx.backoff_base)
        try:
            async with asyncio.timeout(budget):
                out, err = await process.communicate()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            return error_report(check, f"check script gave no answer within {budget:g}s", "timeout")
        try:
            report = parse_report(out)
        except ReportError as exc:
            tail = _script.tail(err.decode("utf-8", "replace"))
            return error_report(
                check,
                f"check script ({argv[0]}) exited {process.returncode} without a report: {exc}; stderr: {tail}",
                f"exit {process.returncode}",
                time.monotonic() - started,
            )
        if len(report.checks) != 1:
            return error_report(check, f"check script reported {len(report.checks)} checks, expected 1")
        return report.checks[0]
