"""kubesim's controllers. `start_all` returns the coroutines the server runs as tasks."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

from ..store import Store, StoreClusterAPI


def start_all(
    api: StoreClusterAPI, store: Store, rollout_delay_seconds: float
) -> list[tuple[str, Coroutine[Any, Any, None]]]:
    return []
