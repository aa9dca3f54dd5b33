"""The process node: kubelet, Service network and Node registration over one `ClusterAPI`.

`ProcessNode.from_kubeconfig(...)` runs it against any API server (kubesim's, or the real
kube-apiserver) through HTTP only; kubesim's `Server` starts one the same way against itself."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from pathlib import Path
from typing import Any

from kubesim.cluster import ClusterAPI
from kubesim.node.client import HttpClusterAPI
from kubesim.node.images import ImageRegistry
from kubesim.node.kubelet import NODE_NAME, Kubelet
from kubesim.node.network import ServiceNetwork
from kubesim.node.registration import NodeRegistration
from kubesim.node.server import KubeletServer

log = logging.getLogger("kubesim.node")


class ProcessNode:
    def __init__(
        self,
        api: ClusterAPI,
        images: ImageRegistry,
        workdir: Path,
        *,
        name: str = NODE_NAME,
        version: str = "v0.0.0-kubesim",
        serving: ssl.SSLContext | None = None,
        **kubelet_options: Any,
    ) -> None:
        """`serving`: serve the kubelet's log endpoint over HTTPS with this context, so a real API
        server can answer `kubectl logs` (kubesim's own API server reads logs in-process)."""
        self.api = api
        self.name = name
        self.serving = serving
        self.registration = NodeRegistration(api, name, version)
        self.kubelet = Kubelet(api, images, workdir, node_name=name, **kubelet_options)
        self.network = ServiceNetwork(api)
        self.server = KubeletServer(self.kubelet, serving) if serving is not None else None
        self._tasks: list[asyncio.Task[None]] = []

    @classmethod
    def from_kubeconfig(cls, kubeconfig: Path, images: ImageRegistry, workdir: Path, **options: Any) -> ProcessNode:
        return cls(HttpClusterAPI.from_kubeconfig(kubeconfig, component="kubelet"), images, workdir, **options)

    async def start(self) -> None:
        """Register the Node, then run the kubelet and the Service network in the background."""
        loop = asyncio.get_running_loop()
        if self.server is not None:
            self.registration.kubelet_port = await self.server.start()
        self._tasks.append(loop.create_task(self.registration.run(), name=f"node-{self.name}-registration"))
        await self.registration.registered.wait()
        self._tasks.append(loop.create_task(self.kubelet.run(), name=f"node-{self.name}-kubelet"))
        self._tasks.append(loop.create_task(self.network.run(), name=f"node-{self.name}-network"))
        for task in self._tasks:
            task.add_done_callback(_crashed)

    async def close(self) -> None:
        closers = [self.kubelet.close, self.network.close, *([self.server.close] if self.server else [])]
        for close in closers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(close(), timeout=5)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        closer = getattr(self.api, "close", None)
        if closer is not None:
            with contextlib.suppress(Exception):
                await closer()


def _crashed(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("node task %s crashed", task.get_name(), exc_info=task.exception())
