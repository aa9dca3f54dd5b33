"""The runner-side half of the check-type registry: each type's `CheckRunner`.

The declarative half (name, model, placement) is `api.spec.CHECK_TYPE_TABLE`, which the API, the
Job builders and `core` read without importing any check implementation. This module maps every
one of those names to a factory of its runner; each factory imports its module when first called,
so a run without http or prometheus checks never imports httpx. Importing this module fails when
the two halves do not name exactly the same types.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from ...api.spec import CHECK_TYPES
from .base import CheckRunner

RunnerFactory = Callable[[], CheckRunner]


def _http() -> CheckRunner:
    from .http import HttpRunner

    return HttpRunner()


def _tcp() -> CheckRunner:
    from .tcp import TcpRunner

    return TcpRunner()


def _prometheus() -> CheckRunner:
    from .prometheus import PrometheusRunner

    return PrometheusRunner()


def _standalone() -> CheckRunner:
    from .standalone import StandaloneRunner

    return StandaloneRunner()


RUNNERS: Final[Mapping[str, RunnerFactory]] = {
    "http": _http,
    "tcp": _tcp,
    "prometheus": _prometheus,
    "command": _standalone,
    "python": _standalone,
    "pytest": _standalone,
}


def _covers_the_registry() -> None:
    declared, runnable = set(CHECK_TYPES), set(RUNNERS)
    if declared != runnable:
        raise ImportError(
            "checks/registry.py and api.spec.CHECK_TYPE_TABLE disagree: "
            f"no runner for {sorted(declared - runnable)}, runner for undeclared {sorted(runnable - declared)}"
        )


_covers_the_registry()


def runner_for(check_type: str) -> CheckRunner:
    """A runner for `check_type` (a name of api.spec.CHECK_TYPES); KeyError for any other."""
    return RUNNERS[check_type]()
