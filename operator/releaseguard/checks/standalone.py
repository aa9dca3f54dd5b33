"""Checks that run in the target's image (python, pytest, command) through one generated script.

The script (`_script.py`, stdlib only, Python 3.8+) is passed as source to the image's own
interpreter. The operator puts `container_command(check)` in a probe Job built from the
Deployment's pod template; `releaseguard probe` runs the very same argv locally.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import time
from functools import lru_cache
from pathlib import Path

from ..api.spec import Check
from ..errors import ReportError
from ..report import CheckReport, parse_report
from . import _script
from .base import RunContext, error_report

STANDALONE_TYPES: tuple[str, ...] = ("python", "pytest", "command")


@lru_cache(maxsize=1)
def script_source() -> str:
    """The self-contained check script, as passed to `python -c`."""
    return Path(_script.__file__).read_text(encoding="utf-8")


def interpreter(check: Check) -> str:
    config = check.config
    python = getattr(config, "python", None)
    if check.type not in STANDALONE_TYPES or not isinstance(python, str):
        raise ValueError(f"check {check.name!r} is a {check.type} check, not one of {', '.join(STANDALONE_TYPES)}")
    return python


def check_payload(check: Check) -> str:
    return json.dumps(check.model_dump(mode="json", by_alias=True, exclude_none=True), separators=(",", ":"))


def container_command(
    check: Check, termination_log: str = "/dev/termination-log", script_path: str | None = None
) -> list[str]:
    """The argv of a container that performs `check` with only the image's Python interpreter:
    the script is read from `script_path` (a probe Job mounts it from a ConfigMap, keeping the
    Job readable), or passed inline with `-c`.

    It prints the single-check ProbeReport on stdout and writes its compact form to
    `termination_log` (if that path's directory exists; "" for none). Once that report is written
    it exits 0 whatever the verdict (a probe Job that reported succeeded; the verdict is in the
    report); otherwise 0 when Passed, 1 when Failed; 3 when it broke."""
    script = [script_path] if script_path else ["-c", script_source()]
    argv = [interpreter(check), *script, "run", check_payload(check)]
    return [*argv, termination_log] if termination_log else argv


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
