"""kubesim's controllers. `start_all` returns the coroutines the server runs as tasks."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

from kubesim.apiserver.store import Store, StoreClusterAPI
from kubesim.controllers.deployment import DeploymentController
from kubesim.controllers.job import JobController
from kubesim.controllers.replicaset import ReplicaSetController
from kubesim.controllers.scheduler import Scheduler


def start_all(
    api: StoreClusterAPI, store: Store, rollout_delay_seconds: float
) -> list[tuple[str, Coroutine[Any, Any, None]]]:
    return [
        ("deployment-controller", DeploymentController(api).run()),
        ("replicaset-controller", ReplicaSetController(api, rollout_delay_seconds).run()),
        ("job-controller", JobController(api).run()),
        ("scheduler", Scheduler(api, store).run()),
    ]
