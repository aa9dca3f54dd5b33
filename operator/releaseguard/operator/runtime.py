"""The running operator's parts, built in one place and without kopf: the API client, the
metrics, the reconciler (with its cache, work queue and notifications) and the metrics server.
handlers.py builds one at kopf's startup, keeps it in kopf's memo and stops it at cleanup; a test
can build one against any API client."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from .kubeapi import KubeAPI
from .metrics import Metrics, serve
from .reconciler import Reconciler
from .settings import OperatorSettings

logger = logging.getLogger("releaseguard")


@dataclass
class Runtime:
    settings: OperatorSettings
    kube: KubeAPI
    metrics: Metrics
    reconciler: Reconciler
    server: Any = None  # the metrics HTTP server, when settings.metrics_port is set


def connections(settings: OperatorSettings) -> int:
    """API calls that may run at once: one per worker, plus notifications and record writes."""
    return settings.workers * 2 + 4


async def start(settings: OperatorSettings, kube: KubeAPI | None = None, metrics: Metrics | None = None) -> Runtime:
    """Build and start the runtime on the running loop; `kube` defaults to the real client."""
    if kube is None:
        from .kube import Kube

        # API calls run in threads (the official client is synchronous): enough for every worker
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=connections(settings)))
        kube = Kube(connections=connections(settings))
    metrics = metrics or Metrics()
    reconciler = Reconciler(kube, metrics, settings.decisions())
    if settings.notifications is not None and settings.notifications.channels:
        from ..notify.hook import NotificationHook

        reconciler.notifications = NotificationHook(
            settings.notifications, kube, metrics, reconciler.cache.rvs.get, reconciler.queue.add
        )
    reconciler.start(settings.workers)
    server = serve(metrics, settings.metrics_port, settings.metrics_address) if settings.metrics_port else None
    logger.info(
        "releaseguard operator started (runner image %s%s, metrics %s, notification channels: %s)",
        settings.runner_image,
        ", dry run: Deployments are never patched" if settings.dry_run else "",
        f":{settings.metrics_port}/metrics" if settings.metrics_port else "off",
        ", ".join(sorted(settings.notifications.channels)) if settings.notifications else "none",
    )
    return Runtime(settings, kube, metrics, reconciler, server)


async def stop(runtime: Runtime) -> None:
    if runtime.reconciler.notifications is not None:
        await runtime.reconciler.notifications.stop()
    await runtime.reconciler.stop()
    close = getattr(runtime.kube, "close", None)
    if callable(close):
        close()
    if runtime.server is not None:
        runtime.server.shutdown()
        runtime.server.server_close()  # frees the port for a restart in this process
