"""The assembled cluster: store, HTTP API, garbage collector, controllers and scheduler, and the
process node (kubelet and Service network, over HTTP). `Server` is async; `kubesim.testing.KubeSim`
runs one in a thread."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
from pathlib import Path
from typing import Any

from aiohttp import web

from kubesim.apiserver import jsonbody
from kubesim.apiserver.faults import Faults
from kubesim.apiserver.http import Api
from kubesim.apiserver.store import Store, StoreClusterAPI
from kubesim.controllers.gc import GarbageCollector
from kubesim.kubeconfig import write as write_kubeconfig

log = logging.getLogger("kubesim")


class Server:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        images: Path | None = None,
        state_dir: Path | None = None,
        faults: Faults | None = None,
        rollout_delay_seconds: float = 0.0,
        watch_history: int = 5000,
        bookmark_interval: float = 1.0,
        controllers: bool = True,
        kubelet: bool = True,
        fake_node: bool = False,
        strict_crds: bool = False,
    ) -> None:
        self.host, self.port = host, port
        self.images_path = images
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if state_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="kubesim-")
            state_dir = Path(self._tmp.name)
        self.state_dir = state_dir.absolute()
        self.faults = faults or Faults()
        self.rollout_delay_seconds = rollout_delay_seconds
        self.store = Store(history=watch_history, strict_crds=strict_crds)
        self.api = StoreClusterAPI(self.store)
        self.http = Api(self.store, self.faults, bookmark_interval)
        self.with_controllers = controllers
        self.with_kubelet = kubelet
        self.with_fake_node = fake_node
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._closers: list[Any] = []

    async def start(self) -> str:
        jsonbody.allow_deep_json()
        self._runner = web.AppRunner(self.http.app(), access_log=None, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        port = int(sockets[0].getsockname()[1])
        self.url = f"http://{self.host}:{port}"
        self.http.address = f"{self.host}:{port}"
        self._spawn(GarbageCollector(self.store).run(), "gc")
        if self.with_controllers:
            from kubesim.controllers import start_all

            for name, coro in start_all(self.api, self.store, self.rollout_delay_seconds):
                self._spawn(coro, name)
        if self.with_kubelet:
            await self._start_kubelet()
        elif self.with_fake_node:
            from kubesim.node.fake import FakeNode

            self._spawn(FakeNode(self.api).run(), "fake-node")
        return self.url

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=f"kubesim-{name}")
        task.add_done_callback(self._crashed)
        self._tasks.append(task)

    @staticmethod
    def _crashed(task: asyncio.Task[Any]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("kubesim task %s crashed", task.get_name(), exc_info=task.exception())

    async def _start_kubelet(self) -> None:
        # The process node talks to this server over HTTP, exactly as it talks to a real kube-apiserver.
        from kubesim.node.client import HttpClusterAPI
        from kubesim.node.images import ImageRegistry
        from kubesim.node.process_node import ProcessNode

        registry = ImageRegistry.load(self.images_path)
        api = HttpClusterAPI(self.url, None, {"Authorization": "Bearer kubesim"}, component="kubelet")
        node = ProcessNode(api, registry, self.state_dir / "kubelet")
        self.http.log_reader = node.kubelet.read_log
        await node.start()
        self._closers.append(node.close)

    def write_kubeconfig(self, path: Path) -> Path:
        return write_kubeconfig(path, self.url)

    async def stop(self) -> None:
        for close in reversed(self._closers):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(close(), timeout=5)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
        if self._runner is not None:
            await self._runner.cleanup()
        if self._tmp is not None:
            self._tmp.cleanup()

    async def __aenter__(self) -> Server:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
