"""`RealCluster`: the real control plane with kubesim's process node, for tests and `python -m
kubesim real`. It offers what `kubesim.testing.KubeSim` offers a test (`kubeconfig`, `kubectl`,
`workdir`, `url`), so a test can take either as its cluster.

    with RealCluster(workdir, images=IMAGES) as cluster:
        cluster.kubectl("apply", "-f", "app.yaml")
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import subprocess
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from pathlib import Path
from typing import TypeVar

from kubesim.node.client import HttpClusterAPI
from kubesim.node.fake import FakeNode
from kubesim.node.images import ImageRegistry
from kubesim.node.process_node import ProcessNode
from kubesim.real.controlplane import ControlPlane, kube_version
from kubesim.testing import run_kubectl

NODE_NAME = "kubesim-node"
T = TypeVar("T")


class RealCluster:
    backend = "real"

    def __init__(
        self,
        workdir: Path,
        *,
        images: Path | None = None,
        bin_dir: Path | None = None,
        fake_node: bool = False,
        audit: bool = False,
        apiserver_args: tuple[str, ...] = (),
    ) -> None:
        """`apiserver_args`: extra kube-apiserver flags (the fault test's dedicated control plane).
        `fake_node`: instead of the process node, a stand-in that marks pods Running and Ready at
        once without starting anything (kubesim.node.fake), for benchmarks of the operator."""
        self.workdir = Path(workdir).absolute()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.images = images
        self.fake_node = fake_node
        self.control_plane = ControlPlane(
            self.workdir / "control-plane", bin_dir, audit=audit, apiserver_args=apiserver_args
        )
        self.node: ProcessNode | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._fake_task: asyncio.Task[None] | None = None
        self._fake_api: HttpClusterAPI | None = None
        self._thread: threading.Thread | None = None

    @property
    def kubeconfig(self) -> Path:
        return self.control_plane.kubeconfig

    @property
    def url(self) -> str:
        return self.control_plane.url

    def start(self) -> RealCluster:
        try:
            self.control_plane.launch()
            self._start_node()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_node(self) -> None:
        ready: Future[None] = Future()
        loop = self._loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                if self.fake_node:
                    self._fake_api = HttpClusterAPI.from_kubeconfig(self.kubeconfig, component="kubelet")
                    self._fake_task = loop.create_task(FakeNode(self._fake_api).run(), name="kubesim-fake-node")
                else:
                    registry = ImageRegistry.load(self.images)
                    serving = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                    pki = self.control_plane.pki
                    serving.load_cert_chain(str(pki.kubelet.cert), str(pki.kubelet.key))
                    self.node = ProcessNode.from_kubeconfig(
                        self.kubeconfig,
                        registry,
                        self.workdir / "node",
                        name=NODE_NAME,
                        version=kube_version(),
                        serving=serving,
                    )
                    loop.run_until_complete(asyncio.wait_for(self.node.start(), timeout=30))
            except BaseException as exc:
                ready.set_exception(exc)
                return
            ready.set_result(None)
            loop.run_forever()
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._thread = threading.Thread(target=run, name="kubesim-real-node", daemon=True)
        self._thread.start()
        ready.result(timeout=60)

    def call(self, fn: Callable[[], Awaitable[T]], timeout: float = 30) -> T:
        """Run `fn()` (a coroutine function) on the node's event loop and return its result."""
        assert self._loop is not None

        async def wrapper() -> T:
            return await fn()

        return asyncio.run_coroutine_threadsafe(wrapper(), self._loop).result(timeout)

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            if self.node is not None and self._loop.is_running():
                with contextlib.suppress(Exception):
                    asyncio.run_coroutine_threadsafe(self.node.close(), self._loop).result(timeout=30)
            if self._fake_api is not None and self._loop.is_running():
                if self._fake_task is not None:
                    self._loop.call_soon_threadsafe(self._fake_task.cancel)
                with contextlib.suppress(Exception):
                    asyncio.run_coroutine_threadsafe(self._fake_api.close(), self._loop).result(timeout=10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._loop = None
        self._thread = None
        self.control_plane.stop()

    def __enter__(self) -> RealCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def kubectl(
        self, *args: str, check: bool = True, input: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return run_kubectl(self.kubeconfig, self.workdir, *args, check=check, input=input, timeout=timeout)

    def namespaced(self, namespace: str, workdir: Path) -> NamespacedView:
        """This cluster seen from a fresh namespace: kubectl without `-n` works there."""
        self.kubectl("create", "namespace", namespace)
        kubeconfig = self.control_plane.write_kubeconfig(workdir / "kubeconfig", namespace=namespace)
        return NamespacedView(self, kubeconfig, workdir, namespace)

    def service_account_kubeconfig(
        self, namespace: str, name: str, path: Path, duration: str = "4h", server: str | None = None
    ) -> Path:
        """A kubeconfig that acts as ServiceAccount `namespace/name`, with a token from the TokenRequest
        API; `server` instead of the API server's URL (a proxy in front of it)."""
        token = self.kubectl("create", "token", name, "-n", namespace, f"--duration={duration}").stdout.strip()
        return self.control_plane.write_kubeconfig(path, token=token, namespace=namespace, server=server)


class NamespacedView:
    """A kubectl user of a RealCluster whose default namespace is its own."""

    backend = "real"

    def __init__(self, cluster: RealCluster, kubeconfig: Path, workdir: Path, namespace: str) -> None:
        self.cluster = cluster
        self.kubeconfig = kubeconfig
        self.workdir = workdir
        self.namespace = namespace

    def kubectl(
        self, *args: str, check: bool = True, input: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return run_kubectl(self.kubeconfig, self.workdir, *args, check=check, input=input, timeout=timeout)

    def close(self) -> None:
        self.cluster.kubectl("delete", "namespace", self.namespace, "--wait=false", check=False)
