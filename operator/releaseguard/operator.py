"""The operator process: its configuration, kopf settings, and what starts and stops with it.

`configure(config)` is called by `releaseguard run` before kopf starts; `kopf run -m
releaseguard.handlers` works too and then reads the same settings from RELEASEGUARD_* variables.
"""

from __future__ import annotations

import asyncio
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import kopf

from .core.decide import Settings
from .core.policy import Policy
from .jobs import DEFAULT_RUNNER_IMAGE
from .kube import Kube
from .metrics import Metrics, serve
from .notify.config import NotifyConfig
from .notify.config import load_config as load_notify_config
from .reconciler import Reconciler

logger = logging.getLogger("releaseguard")
NOTIFY_CONFIG_ENV = "RELEASEGUARD_NOTIFICATIONS_CONFIG"


@dataclass
class OperatorConfig:
    runner_image: str = DEFAULT_RUNNER_IMAGE
    dry_run: bool = False
    metrics_port: int | None = None  # None: no metrics server (tests read Runtime.metrics)
    metrics_address: str = "0.0.0.0"
    workers: int = 32
    job_ttl_seconds: int = 3600
    timeout_grace_seconds: float = 30.0
    policy: Policy = field(default_factory=Policy)
    peering_lifetime: int = int(os.environ.get("RELEASEGUARD_PEERING_LIFETIME", "30"))
    notifications: NotifyConfig | None = None  # channels, links and retries set by the cluster admin

    @classmethod
    def from_env(cls) -> OperatorConfig:
        port = os.environ.get("RELEASEGUARD_METRICS_PORT")
        return cls(
            runner_image=os.environ.get("RELEASEGUARD_RUNNER_IMAGE", DEFAULT_RUNNER_IMAGE),
            dry_run=os.environ.get("RELEASEGUARD_DRY_RUN", "") in ("1", "true"),
            metrics_port=int(port) if port else None,
            notifications=load_notify_config(notify) if (notify := os.environ.get(NOTIFY_CONFIG_ENV)) else None,
        )


@dataclass
class Runtime:
    config: OperatorConfig
    metrics: Metrics = field(default_factory=Metrics)
    reconciler: Reconciler | None = None
    server: Any = None


_config: OperatorConfig | None = None
_runtime: Runtime | None = None


def configure(config: OperatorConfig) -> None:
    global _config
    _config = config


def runtime() -> Runtime:
    if _runtime is None:
        raise kopf.TemporaryError("the operator is still starting", delay=1)
    return _runtime


def reconciler() -> Reconciler:
    found = runtime().reconciler
    if found is None:
        raise kopf.TemporaryError("the operator is still starting", delay=1)
    return found


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
    global _runtime
    config = _config or OperatorConfig.from_env()
    # kopf keeps no state on anything we watch: Deployments and Jobs are watched with event
    # handlers only, and should kopf ever store progress, it goes under our own prefix on the RV.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="releaseguard.io")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix="releaseguard.io")
    settings.persistence.finalizer = "releaseguard.io/kopf-finalizer"
    settings.posting.level = logging.WARNING  # kopf's own warnings become Events; ours are posted by kube.py
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.reconnect_backoff = 1.0
    # How long a replica's peering record counts as alive: the standby takes over this long after
    # the active replica dies without a goodbye.
    settings.peering.lifetime = config.peering_lifetime
    # kopf waits batch_window after an event for more of the same object; we dedupe in our own
    # queue, so a short window only adds latency.
    settings.batching.batch_window = 0.01
    # API calls run in threads (the official client is synchronous): enough for every worker.
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=config.workers * 2 + 4))
    kube_client = Kube(connections=config.workers * 2 + 4)
    rt = Runtime(config=config)
    rt.reconciler = Reconciler(
        kube_client,
        rt.metrics,
        Settings(
            runner_image=config.runner_image,
            dry_run=config.dry_run,
            job_ttl_seconds=config.job_ttl_seconds,
            timeout_grace_seconds=config.timeout_grace_seconds,
            policy=config.policy,
        ),
    )
    if config.notifications is not None and config.notifications.channels:
        from .notify.hook import NotificationHook

        reconciler_ = rt.reconciler
        rt.reconciler.notifications = NotificationHook(
            config.notifications, kube_client, rt.metrics, reconciler_.cache.rvs.get, reconciler_.queue.add
        )
    rt.reconciler.start(config.workers)
    if config.metrics_port is not None:
        rt.server = serve(rt.metrics, config.metrics_port, config.metrics_address)
    _runtime = rt
    logger.info(
        "releaseguard operator started (runner image %s%s, metrics %s, notification channels: %s)",
        config.runner_image,
        ", dry run: Deployments are never patched" if config.dry_run else "",
        f":{config.metrics_port}/metrics" if config.metrics_port is not None else "off",
        ", ".join(sorted(config.notifications.channels)) if config.notifications else "none",
    )


@kopf.on.cleanup()
async def cleanup(**_: Any) -> None:
    global _runtime
    rt = _runtime
    _runtime = None
    if rt is None:
        return
    if rt.reconciler is not None:
        if rt.reconciler.notifications is not None:
            await rt.reconciler.notifications.stop()
        await rt.reconciler.stop()
        rt.reconciler.kube.close()
    if rt.server is not None:
        rt.server.shutdown()


@kopf.on.probe(id="queue")
def queue_length(**_: Any) -> int:
    return len(reconciler().queue)
