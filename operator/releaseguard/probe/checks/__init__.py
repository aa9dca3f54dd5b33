"""Release checks: one module per check type behind one interface (`base.CheckRunner`).

    run_checks(checks, parallelism=4) -> ProbeReport      run a list of checks (async)
    container_command(check) -> argv                       python/pytest/command checks in the target's image

Which types exist, their models and where they run is the registry `api.spec.CHECK_TYPE_TABLE`;
`registry.py` maps each to its runner. Runner-side types (http, tcp, prometheus) run here;
target-image types (python, pytest, command) run a generated stdlib-only script (`_script.py`)
with the image's interpreter, locally too (see standalone.py). The names this shares with the
operator (env vars, commands, report schema, verdict rule) are contract.py's.
"""

from __future__ import annotations

from ...contract import container_command, script_source, secret_env_name
from .base import CheckRunner, RunContext
from .headers import REDACTED
from .registry import RUNNERS, runner_for
from .runner import prepare, run_checks, run_prepared

__all__ = [
    "REDACTED",
    "RUNNERS",
    "CheckRunner",
    "RunContext",
    "container_command",
    "prepare",
    "run_checks",
    "run_prepared",
    "runner_for",
    "script_source",
    "secret_env_name",
]
