"""`KubeSim`: a kubesim server (API, controllers, kubelet, networking) in a background thread with its
own event loop, so tests can call blocking clients (kubectl, the sync kubernetes client) against it.

    with KubeSim(tmp_path) as sim:
        sim.kubectl("apply", "-f", "deploy.yaml")
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from kubesim.apiserver.faults import Faults
from kubesim.server import Server

T = TypeVar("T")
KUBECTL = "/usr/bin/kubectl"
SERVER_STACK_BYTES = 32 * 1024 * 1024


class KubectlError(subprocess.CalledProcessError):
    def __str__(self) -> str:
        return f"kubectl {' '.join(self.cmd[3:])} exited {self.returncode}:\n{self.stderr}{self.output}"


def run_kubectl(
    kubeconfig: Path, workdir: Path, *args: str, check: bool = True, input: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """kubectl against `kubeconfig`, its cache and HOME under `workdir`; KubectlError when it fails."""
    cmd = [KUBECTL, f"--kubeconfig={kubeconfig}", f"--cache-dir={workdir / 'kubectl-cache'}", *args]
    env = dict(os.environ, KUBECONFIG=str(kubeconfig), HOME=str(workdir))
    proc = subprocess.run(cmd, capture_output=True, text=True, input=input, timeout=timeout, env=env)
    if check and proc.returncode != 0:
        raise KubectlError(proc.returncode, cmd, proc.stdout, proc.stderr)
    return proc


class KubeSim:
    def __init__(
        self,
        workdir: Path,
        *,
        images: Path | None = None,
        rollout_delay_seconds: float = 0.0,
        faults: Faults | None = None,
        controllers: bool = True,
        kubelet: bool = True,
        fake_node: bool = False,
        strict_crds: bool = False,
        watch_history: int = 5000,
        bookmark_interval: float = 1.0,
    ) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.faults = faults or Faults()
        self._server_kwargs: dict[str, Any] = dict(
            images=images,
            state_dir=self.workdir / "state",
            faults=self.faults,
            rollout_delay_seconds=rollout_delay_seconds,
            controllers=controllers,
            kubelet=kubelet,
            fake_node=fake_node,
            strict_crds=strict_crds,
            watch_history=watch_history,
            bookmark_interval=bookmark_interval,
        )
        self.server: Server | None = None
        self.url = ""
        self.kubeconfig = self.workdir / "kubeconfig"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle ------------------------------------------------------------------------------

    def start(self) -> KubeSim:
        ready: Future[str] = Future()
        self._loop = asyncio.new_event_loop()

        def run() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            try:
                self.server = Server(**self._server_kwargs)
                self.url = self._loop.run_until_complete(self.server.start())
            except BaseException as exc:
                ready.set_exception(exc)
                return
            ready.set_result(self.url)
            self._loop.run_forever()
            # Cancel what is left (watch streams, controller loops) and close async generators on this thread.
            pending = [t for t in asyncio.all_tasks(self._loop) if not t.done()]
            for task in pending:
                task.cancel()
            self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

        self._thread = threading.Thread(target=run, name="kubesim", daemon=True)
        previous = threading.stack_size(SERVER_STACK_BYTES)  # room for the deepest JSON it takes
        try:
            self._thread.start()
        finally:
            threading.stack_size(previous)
        ready.result(timeout=30)
        assert self.server is not None
        self.server.write_kubeconfig(self.kubeconfig)
        return self

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        if self.server is not None:
            asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop = None
        self._thread = None

    def __enter__(self) -> KubeSim:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- helpers ---------------------------------------------------------------------------------

    def call(self, fn: Callable[[], Awaitable[T]], timeout: float = 30) -> T:
        """Run `fn()` (a coroutine function) on the server's loop and return its result."""
        assert self._loop is not None

        async def wrapper() -> T:
            return await fn()

        return asyncio.run_coroutine_threadsafe(wrapper(), self._loop).result(timeout)

    def kubectl(
        self, *args: str, check: bool = True, input: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return run_kubectl(self.kubeconfig, self.workdir, *args, check=check, input=input, timeout=timeout)

    def request_counts(self) -> dict[tuple[str, str], int]:
        assert self.server is not None
        return dict(self.server.http.counts)

    def reset_request_counts(self) -> None:
        assert self.server is not None
        self.server.http.counts.clear()

    def finish_pod(self, namespace: str, name: str, succeeded: bool, message: str = "") -> None:
        """Move a pod to Succeeded or Failed (for tests running without the kubelet)."""
        from kubesim.node.fake import finished_status

        assert self.server is not None
        api = self.server.api

        async def go() -> None:
            pod = await api.get("v1", "pods", namespace, name)
            assert pod is not None, f"pod {namespace}/{name} not found"
            await api.patch(
                "v1", "pods", namespace, name, {"status": finished_status(pod, succeeded, message)}, "merge", "status"
            )

        self.call(go)

    def compact(self) -> None:
        """Forget the watch history: any earlier resourceVersion now answers 410 Gone."""
        assert self.server is not None
        store = self.server.store
        self.call(lambda: _async(store.compact))


async def _async(fn: Callable[[], T]) -> T:
    return fn()
