"""The node's own objects: its Node (Ready, capacity, addresses) and the Lease it renews in
kube-node-lease, as the kubelet keeps them, so the scheduler and the node-lifecycle controller of
any API server treat it as a healthy node."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os

from kubesim.cluster import ClusterAPI, Obj
from kubesim.errors import ApiError
from kubesim.node.addresses import HOST_IP

log = logging.getLogger("kubesim.node")
LEASE_SECONDS = 40
RENEW_EVERY = 10.0
STATUS_EVERY = 60.0
# A real scheduler places at most this many pods on the node (a kubelet says 110): a process node
# and the stand-in node run storms of hundreds of Deployments.
MAX_PODS = 5000


def _now(micro: bool = False) -> str:
    stamp = dt.datetime.now(dt.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if micro else "%Y-%m-%dT%H:%M:%SZ")


def _memory() -> str:
    try:
        return f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') // 1024}Ki"
    except (ValueError, OSError):
        return "8Gi"


def node_object(name: str, version: str) -> Obj:
    capacity = {
        "cpu": str(os.cpu_count() or 1),
        "memory": _memory(),
        "pods": str(MAX_PODS),
        "ephemeral-storage": "100Gi",
    }
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "node.kubernetes.io/instance-type": "kubesim-process-node",
            },
        },
        "spec": {},
        "status": {"capacity": capacity, "allocatable": capacity, "nodeInfo": _node_info(version)},
    }


def _node_info(version: str) -> Obj:
    return {
        "kubeletVersion": version,
        "kubeProxyVersion": version,
        "operatingSystem": "linux",
        "architecture": "amd64",
        "containerRuntimeVersion": "kubesim://processes",
        "osImage": "kubesim process node",
        "kernelVersion": os.uname().release,
        "machineID": "",
        "systemUUID": "",
        "bootID": "",
    }


def node_status(name: str, version: str, ready_since: str, kubelet_port: int = 10250) -> Obj:
    heartbeat = _now()

    def condition(type_: str, status: str, reason: str, message: str) -> Obj:
        return {
            "type": type_,
            "status": status,
            "reason": reason,
            "message": message,
            "lastHeartbeatTime": heartbeat,
            "lastTransitionTime": ready_since,
        }

    base = node_object(name, version)["status"]
    return {
        **base,
        "conditions": [
            condition(
                "MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"
            ),
            condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            condition("Ready", "True", "KubeletReady", "kubesim process node is posting ready status"),
        ],
        "addresses": [{"type": "InternalIP", "address": HOST_IP}, {"type": "Hostname", "address": name}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet_port}},
    }


class NodeRegistration:
    """Registers the Node, keeps its Ready status and renews its Lease until cancelled."""

    def __init__(self, api: ClusterAPI, name: str, version: str = "v0.0.0-kubesim") -> None:
        self.api = api
        self.name = name
        self.version = version
        self.ready_since = _now()
        self.registered = asyncio.Event()
        self.kubelet_port = 10250  # where the API server reaches this node's logs (kubesim.node.server)

    async def register(self) -> None:
        try:
            await self.api.create("v1", "nodes", None, node_object(self.name, self.version))
        except ApiError as exc:
            if exc.code != 409:
                raise
        await self.post_status()
        self.registered.set()

    async def post_status(self) -> None:
        status = node_status(self.name, self.version, self.ready_since, self.kubelet_port)
        await self.api.patch("v1", "nodes", None, self.name, {"status": status}, "merge", "status")

    async def renew_lease(self) -> None:
        spec = {
            "holderIdentity": self.name,
            "leaseDurationSeconds": LEASE_SECONDS,
            "renewTime": _now(micro=True),
        }
        try:
            await self.api.patch("coordination.k8s.io/v1", "leases", "kube-node-lease", self.name, {"spec": spec})
        except ApiError as exc:
            if exc.code != 404:
                raise
            lease = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": self.name, "namespace": "kube-node-lease"},
                "spec": spec,
            }
            await self.api.create("coordination.k8s.io/v1", "leases", "kube-node-lease", lease)

    async def run(self) -> None:
        while not self.registered.is_set():
            try:
                await self.register()
            except Exception as exc:
                log.warning("node %s: registration failed (%s); retrying", self.name, exc)
                await asyncio.sleep(1.0)
        since_status = 0.0
        while True:
            with contextlib.suppress(Exception):
                await self.renew_lease()
            await asyncio.sleep(RENEW_EVERY)
            since_status += RENEW_EVERY
            if since_status >= STATUS_EVERY:
                since_status = 0.0
                with contextlib.suppress(Exception):
                    await self.post_status()
