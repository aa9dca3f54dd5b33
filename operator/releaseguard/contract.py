"""What the operator and the probe agree on, in one place.

The operator builds probe Jobs (jobs.py) and reads their reports (core/outcome.py); the probe
(`releaseguard probe` in the runner image, or the in-image script `checks/_script.py` in the
target's image) runs the checks and writes those reports. Both sides take these names from here:

- environment: `secret_env_name` (a Secret key's env var in the probe container) and
  `DENIED_NETWORKS_ENV` (the admin's denied networks, for the runner);
- the container: `PROBE_CONTAINER`, `runner_command` (the runner Job's argv) and, for a check in
  the target's image, `container_command` with `SCRIPT_DIR`/`SCRIPT_FILE` and `script_source` (the
  script's own argv; in a Job, core.jobs.script_command puts a launcher in front of it that runs
  the mounted script only when its SHA-256 is the one the operator wrote into the pod spec);
- the termination message: `TERMINATION_LOG_PATH`, `TERMINATION_LOG_LIMIT` and
  `TERMINATION_MESSAGE_POLICY`;
- the report: `REPORT_API_VERSION`, `REPORT_KIND` and the wire keys of the report, a check and an
  attempt (report.py's models and the script's dicts are tested against them);
- the verdict rule: `counts_as_failure` and `verdict_of`.

The in-image script cannot import this package (it runs on any Python 3.8+ with the stdlib only), so
it repeats the report constants and the verdict rule; tests/checks feed both the same table of
inputs and compare. This module imports nothing of `checks/`: `core` and `jobs.py` import it
without loading any check implementation (the script is read as a file, not imported).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Final, Protocol

from .api.spec import Check, Placement, types_in
from .api.status import CheckResultKind, Verdict

# --- environment -----------------------------------------------------------------------------

SECRET_ENV_PREFIX: Final = "RG_SECRET_"
DENIED_NETWORKS_ENV: Final = "RG_DENIED_NETWORKS"
# the ready pods of the new revision, `[{"name": ..., "ip": ...}]`, for checks naming {{ .PodIP }}
TARGET_PODS_ENV: Final = "RG_TARGET_PODS"
"""Comma-separated CIDRs the runner must not connect to (set by the operator from its policy)."""
REVISION_ENV: Final = {
    "Revision": "RG_REVISION",
    "PodTemplateHash": "RG_POD_TEMPLATE_HASH",
    "BaselineRevision": "RG_BASELINE_REVISION",
    "BaselinePodTemplateHash": "RG_BASELINE_POD_TEMPLATE_HASH",
}
"""The env var of each prometheus template variable (api.spec.TEMPLATE_VARIABLES): the revision
verified and the last verified one, set on the runner Job by the operator (or by hand)."""


def revision_env(values: Mapping[str, str | None]) -> list[dict[str, str]]:
    """The runner container's env entries for the template variables that have a value."""
    return [{"name": env, "value": str(values[var])} for var, env in REVISION_ENV.items() if values.get(var)]


def revisions_from_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The template variables' values the runner was given, by variable name."""
    return {var: environ[env] for var, env in REVISION_ENV.items() if environ.get(env)}


class SecretRef(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def key(self) -> str: ...


def secret_env_name(ref: SecretRef) -> str:
    """The env var the operator sets from Secret `ref.name` key `ref.key`:
    RG_SECRET_<NAME>_<KEY>_<digest>, the digest of the exact pair keeping `a-b`/`c` and `a`/`b-c`
    (or `Token`/`token`) apart."""
    readable = re.sub(r"[^A-Za-z0-9]", "_", f"{ref.name}_{ref.key}").upper()
    digest = hashlib.sha256(json.dumps([ref.name, ref.key]).encode()).hexdigest()[:8].upper()
    return f"{SECRET_ENV_PREFIX}{readable}_{digest}"


# --- the termination message -----------------------------------------------------------------

TERMINATION_LOG_PATH: Final = "/dev/termination-log"
TERMINATION_LOG_LIMIT: Final = 4096
"""The kubelet keeps at most this many bytes of a termination message."""
TERMINATION_MESSAGE_POLICY: Final = "FallbackToLogsOnError"

# --- the probe container ---------------------------------------------------------------------

PROBE_CONTAINER: Final = "probe"
SCRIPT_DIR: Final = "/etc/releaseguard"
"""Where a check Job in the target's image finds its script (mounted from a ConfigMap)."""
SCRIPT_FILE: Final = "check.py"
_SCRIPT: Final = Path(__file__).parent / "probe" / "checks" / "_script.py"


def runner_command(
    wire_checks: Sequence[Any], parallelism: int, termination_log: str = TERMINATION_LOG_PATH
) -> list[str]:
    """The argv of the runner Job's container: `releaseguard probe` over the checks (wire form)."""
    return [
        "releaseguard",
        "probe",
        "--checks-json",
        json.dumps({"checks": list(wire_checks)}, separators=(",", ":")),
        "--parallelism",
        str(parallelism),
        "--termination-log",
        termination_log,
    ]


@lru_cache(maxsize=1)
def script_source() -> str:
    """The self-contained check script (checks/_script.py), as passed to `python -c` or mounted."""
    return _SCRIPT.read_text(encoding="utf-8")


def interpreter(check: Check) -> str:
    """The interpreter in the image that runs the script for `check` (a target-image check)."""
    python = getattr(check.config, "python", None)
    if check.placement is not Placement.TARGET_IMAGE or not isinstance(python, str):
        names = ", ".join(types_in(Placement.TARGET_IMAGE))
        raise ValueError(f"check {check.name!r} is a {check.type} check, not one of {names}")
    return python


def check_payload(check: Check) -> str:
    """The check as the script reads it: compact wire-form JSON."""
    return json.dumps(check.model_dump(mode="json", by_alias=True, exclude_none=True), separators=(",", ":"))


def container_command(
    check: Check, termination_log: str = TERMINATION_LOG_PATH, script_path: str | None = None
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


# --- the report ------------------------------------------------------------------------------

REPORT_API_VERSION: Final = "releaseguard.io/v1alpha1"
REPORT_KIND: Final = "ProbeReport"
REPORT_KEYS: Final = (
    "apiVersion",
    "kind",
    "verdict",
    "failedCritical",
    "message",
    "startTime",
    "finishTime",
    "durationSeconds",
    "summary",
    "checks",
    "truncated",
)
SUMMARY_KEYS: Final = ("total", "passed", "failed", "flaky", "inconclusive", "error", "skipped")
CHECK_REPORT_KEYS: Final = (
    "name",
    "type",
    "critical",
    "result",
    "message",
    "observed",
    "durationSeconds",
    "failOnFlaky",
    "failOnInconclusive",
    "attempts",
)
OPTIONAL_CHECK_REPORT_KEYS: Final = ("measurements",)
"""Keys a check's report has only when set: a repeated or compared prometheus check's measurements."""
ATTEMPT_KEYS: Final = ("result", "durationSeconds", "message", "observed")
# a sampled http check's full report (stdout, the pod's log) also has `samples`; never the termination message
CHECK_REPORT_OPTIONAL_KEYS: Final = ("samples",)

# --- the verdict rule ------------------------------------------------------------------------


class JudgedCheck(Protocol):
    """What the verdict rule reads of a check's report."""

    @property
    def name(self) -> str: ...
    @property
    def critical(self) -> bool: ...
    @property
    def result(self) -> CheckResultKind: ...
    @property
    def fail_on_flaky(self) -> bool: ...
    @property
    def fail_on_inconclusive(self) -> bool: ...


def counts_as_failure(result: CheckResultKind, *, fail_on_flaky: bool, fail_on_inconclusive: bool) -> bool:
    """Whether a check's final result fails the verdict if the check is critical: Failed and Error
    do; Inconclusive and Flaky do when the matching fail-on setting is on; nothing else does."""
    return (
        result in (CheckResultKind.FAILED, CheckResultKind.ERROR)
        or (result is CheckResultKind.INCONCLUSIVE and fail_on_inconclusive)
        or (result is CheckResultKind.FLAKY and fail_on_flaky)
    )


def fails(check: JudgedCheck) -> bool:
    """`counts_as_failure` of one check's report."""
    return counts_as_failure(
        check.result, fail_on_flaky=check.fail_on_flaky, fail_on_inconclusive=check.fail_on_inconclusive
    )


def verdict_of(checks: Iterable[JudgedCheck]) -> tuple[Verdict, list[str]]:
    """Failed when a critical check counts as a failure; otherwise Passed (no checks: Passed).
    Returns the verdict and the failed critical checks' names, in order."""
    failed = [c.name for c in checks if c.critical and fails(c)]
    return (Verdict.FAILED if failed else Verdict.PASSED), failed
