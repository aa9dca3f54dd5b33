"""kubesim's local kubelet: runs every Pod's containers as local subprocesses.

Per pod: an IP of its own on loopback (127.244.x.y), volumes and a /etc/hosts under the work
directory, init containers in order, then the containers, each restarted per the pod's
restartPolicy with a short back-off; readiness probes; status, Events and logs as the real kubelet
reports them. As root each container runs in private mount and UTS namespaces where its volumes,
its termination-message file and the pod's /etc/hosts are bind-mounted at their usual paths and
the hostname is the pod's, so the container's own paths work unchanged.

Servers that bind 0.0.0.0 get their pod IP instead through a `sitecustomize` shim on PYTHONPATH
(Python processes only; there are no network namespaces), so replicas can share a container port.

Without working mount namespaces (not root, or unshare refused) kubesim falls back: nothing is
mounted (volumes and terminationMessagePath files are not where the container looks), the
termination message comes from the log tail whatever the policy, and Service names work only over
HTTP, through a loopback proxy given to pods as HTTP_PROXY; raw TCP to a Service name fails. Each
pod gets a Warning event `IsolationUnavailable` saying so.

Not done: liveness and startup probes, securityContext (containers run as kubesim's own user),
resource limits, image pull policies, service links and KUBERNETES_SERVICE_* env, service account
tokens, configMap/secret volume refresh, sidecar init containers, ephemeral containers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import shutil
from pathlib import Path
from typing import Any

from kubesim.cluster import ClusterAPI
from kubesim.node.addresses import POD_NETWORK, AddressPool, default_lock_dir
from kubesim.node.hosts import ServiceName, resolve_name
from kubesim.node.images import ImageRegistry
from kubesim.node.pod import PodWorker, pod_key, pod_uid
from kubesim.node.proxy import HttpProxy
from kubesim.node.runtime import can_isolate, write_shim
from kubesim.node.watching import Watches

Obj = dict[str, Any]
log = logging.getLogger("kubesim.node.kubelet")

NODE_NAME = "kubesim"


class Kubelet:
    """Runs the pods of the cluster behind `api` as local processes.

    `isolate`: run containers in private mount namespaces (default: when they work here). `grace_cap`: the longest terminationGracePeriodSeconds honoured. `backoff`: first and
    longest restart back-off in seconds."""

    def __init__(
        self,
        api: ClusterAPI,
        images: ImageRegistry,
        workdir: Path,
        *,
        isolate: bool | None = None,
        grace_cap: float = 2.0,
        backoff: tuple[float, float] = (0.5, 8.0),
        node_name: str = NODE_NAME,
    ) -> None:
        self.api = api
        self.node_name = node_name
        self.images = images
        self.workdir = Path(workdir).absolute()  # pods run elsewhere: relative paths would break
        self.isolate = can_isolate() if isolate is None else isolate
        self.grace_cap = grace_cap
        self.backoff = backoff
        self.ips = AddressPool(POD_NETWORK, default_lock_dir(), start=random.randrange(1, 1 << 16))
        self.services: dict[tuple[str, str], ServiceName] = {}
        self.proxy: HttpProxy | None = None
        self._workers: dict[str, PodWorker] = {}
        self._by_name: dict[tuple[str, str], PodWorker] = {}
        self._watches = Watches(api, "kubelet")
        self.shim = write_shim(self.workdir / "shim")

    # ---- lifecycle ------------------------------------------------------------------------

    async def run(self) -> None:
        """Watch Pods and Services until close()."""
        if not self.isolate:
            self.proxy = HttpProxy(self._resolve_for_proxy)
            await self.proxy.start()
        await self._watches.run(
            {"pods": self._on_pod, "services": self._on_service},
            after_gap={"pods": self._forget_vanished_pods},
            field_selectors={"pods": self._my_pods},
        )

    @property
    def _my_pods(self) -> str:
        return f"spec.nodeName={self.node_name}"

    async def close(self) -> None:
        """Stop watching and kill every process this kubelet started."""
        await self._watches.close()
        await asyncio.gather(*(w.stop(grace=0.5) for w in list(self._workers.values())), return_exceptions=True)
        self._workers.clear()
        self.ips.release_all()
        if self.proxy is not None:
            await self.proxy.close()

    async def _forget_vanished_pods(self) -> None:
        """After a watch gap, stop the pods deleted meanwhile (their DELETED event was never seen)."""
        try:
            existing = {pod_uid(p) for p in await self.api.list("v1", "pods", field_selector=self._my_pods)}
        except Exception:
            return
        for uid, worker in list(self._workers.items()):
            if uid not in existing and not worker.stopping:
                worker.removal = asyncio.create_task(self._remove(worker, deleted=True))

    # ---- pods -----------------------------------------------------------------------------

    async def _on_pod(self, type_: str, pod: Obj) -> None:
        uid = pod_uid(pod)
        worker = self._workers.get(uid)
        gone = type_ == "DELETED" or bool((pod.get("metadata") or {}).get("deletionTimestamp"))
        if gone:
            if worker is not None and not worker.stopping:
                worker.removal = asyncio.create_task(self._remove(worker, deleted=type_ == "DELETED"))
            return
        if worker is not None:
            worker.pod = pod
            return
        if (pod.get("spec") or {}).get("nodeName") != self.node_name:
            return
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return  # finished before this kubelet started; never run a pod twice
        worker = PodWorker(self, pod)
        self._workers[uid] = worker
        self._by_name[pod_key(pod)] = worker
        worker.task = asyncio.create_task(worker.run())

    async def _remove(self, worker: PodWorker, deleted: bool) -> None:
        for name, process in worker.processes.items():
            if process.returncode is None:
                await worker.event("Killing", f"Stopping container {name}")
        grace = (worker.pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
        await worker.stop(grace=min(float(grace if grace is not None else 30), self.grace_cap))
        self._workers.pop(worker.uid, None)
        if self._by_name.get(worker.key) is worker:
            del self._by_name[worker.key]
        self.ips.release(worker.uid)
        shutil.rmtree(worker.root, ignore_errors=True)
        if not deleted:
            # Graceful deletion: the processes are gone, so the object may go now.
            with contextlib.suppress(Exception):
                await self.api.delete("v1", "pods", *worker.key, grace_period_seconds=0)

    # ---- services and names ---------------------------------------------------------------

    async def _on_service(self, type_: str, service: Obj) -> None:
        key = pod_key(service)
        ip = (service.get("spec") or {}).get("clusterIP")
        before = self.services.get(key)
        if type_ == "DELETED" or not ip or ip == "None":
            self.services.pop(key, None)
        else:
            self.services[key] = ServiceName(namespace=key[0], name=key[1], cluster_ip=ip)
        if self.services.get(key) != before:
            for worker in list(self._workers.values()):
                worker.write_hosts()

    def _resolve_for_proxy(self, host: str, namespace: str | None) -> str:
        return resolve_name(host, namespace or "default", self.services.values()) or host

    # ---- logs -----------------------------------------------------------------------------

    def read_log(
        self,
        namespace: str,
        name: str,
        container: str | None = None,
        tail_lines: int | None = None,
        previous: bool = False,
    ) -> str | None:
        """The log of a container's current (or, with `previous`, its last terminated) instance, or
        None when the pod, the container or that instance does not exist here."""
        worker = self._by_name.get((namespace, name))
        if worker is None:
            return None
        path = worker.log_path(container, previous)
        if path is None:
            return None
        try:
            text = path.read_bytes().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""
        if tail_lines is not None:
            lines = text.splitlines(keepends=True)
            text = "".join(lines[-tail_lines:]) if tail_lines > 0 else ""
        return text

    def running(self, namespace: str, name: str) -> bool:
        """Whether this node still runs that pod (a followed log ends when it does not)."""
        worker = self._by_name.get((namespace, name))
        return worker is not None and not worker.stopping and worker.task is not None and not worker.task.done()

    def pids(self) -> list[int]:
        """Process ids of every running container (for tests and diagnostics)."""
        return [p.pid for w in self._workers.values() for p in w.processes.values() if p.returncode is None]
