"""Release checks: one module per check type behind one interface (`base.CheckRunner`).

    run_checks(checks, parallelism=4) -> ProbeReport      run a list of checks (async)
    container_command(check) -> argv                       python/pytest/command checks in the target's image

Runner-side types: http, tcp, prometheus. Target-image types (python, pytest, command) run a
generated stdlib-only script with the image's interpreter, locally too (see standalone.py).
"""

from __future__ import annotations

from .base import CheckRunner, RunContext
from .headers import REDACTED, secret_env_name
from .runner import RUNNERS, prepare, run_checks, run_prepared
from .standalone import STANDALONE_TYPES, container_command, script_source

__all__ = [
    "REDACTED",
    "RUNNERS",
    "STANDALONE_TYPES",
    "CheckRunner",
    "RunContext",
    "container_command",
    "prepare",
    "run_checks",
    "run_prepared",
    "script_source",
    "secret_env_name",
]
