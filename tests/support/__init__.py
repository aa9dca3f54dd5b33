"""Helpers every test folder shares: `from support import eventually, free_port`, and the plain-dict
object builders in `support.factories`. tests/ is on pytest's `pythonpath` (pyproject.toml), so this
package imports the same way from tests/api, tests/core, tests/e2e and the rest."""

from support.net import free_port
from support.waiting import eventually

__all__ = ["eventually", "free_port"]
