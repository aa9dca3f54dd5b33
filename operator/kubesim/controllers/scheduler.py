"""A scheduler for kubesim: binds each pending pod to a Ready, schedulable node whose taints it
tolerates (the first by name), through the same `pods/binding` the real kube-scheduler posts.
A pod no node can take gets `PodScheduled=False` with reason `Unschedulable`, as on a real cluster."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubesim import clock
from kubesim.apiserver.store import Store, StoreClusterAPI
from kubesim.apiserver.subresources import bind_pod
from kubesim.cluster import Obj
from kubesim.controllers.base import Controller, Key, key_of


def node_ready(node: Obj) -> bool:
    conditions = (node.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def tolerates(pod: Obj, taint: dict[str, Any]) -> bool:
    for toleration in (pod.get("spec") or {}).get("tolerations") or []:
        effect_ok = not toleration.get("effect") or toleration.get("effect") == taint.get("effect")
        if toleration.get("operator") == "Exists":
            key_ok = not toleration.get("key") or toleration.get("key") == taint.get("key")
        else:
            key_ok = toleration.get("key") == taint.get("key") and toleration.get("value", "") == taint.get("value", "")
        if effect_ok and key_ok:
            return True
    return False


def fits(pod: Obj, node: Obj) -> bool:
    spec = node.get("spec") or {}
    if spec.get("unschedulable") or not node_ready(node):
        return False
    hard = [t for t in spec.get("taints") or [] if t.get("effect") in ("NoSchedule", "NoExecute")]
    return all(tolerates(pod, t) for t in hard)


def wants_node(pod: Obj) -> bool:
    md, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    phase = (pod.get("status") or {}).get("phase")
    return not spec.get("nodeName") and not md.get("deletionTimestamp") and phase not in ("Succeeded", "Failed")


class Scheduler(Controller):
    name = "scheduler"

    def __init__(self, api: StoreClusterAPI, store: Store) -> None:
        super().__init__(api)
        self.store = store
        self.nodes: dict[str, Obj] = {}
        self.pending: set[Key] = set()

    def watches(self) -> list[tuple[str, str, Callable[[str, Obj], None]]]:
        return [("v1", "pods", self._on_pod), ("v1", "nodes", self._on_node)]

    def _on_pod(self, type_: str, pod: Obj) -> None:
        key = key_of(pod)
        if type_ != "DELETED" and wants_node(pod):
            self.pending.add(key)
            self.enqueue(key)
        else:
            self.pending.discard(key)

    def _on_node(self, type_: str, node: Obj) -> None:
        name = node["metadata"]["name"]
        if type_ == "DELETED":
            self.nodes.pop(name, None)
        else:
            self.nodes[name] = node
        for key in list(self.pending):
            self.enqueue(key)

    async def reconcile(self, key: Key) -> None:
        pod = await self.api.get("v1", "pods", *key)
        if pod is None or not wants_node(pod):
            self.pending.discard(key)
            return
        chosen = next((n for name, n in sorted(self.nodes.items()) if fits(pod, n)), None)
        if chosen is None:
            await self._unschedulable(pod)
            return
        bind_pod(self.store, key[0], key[1], {"target": {"kind": "Node", "name": chosen["metadata"]["name"]}})
        self.pending.discard(key)

    async def _unschedulable(self, pod: Obj) -> None:
        conditions = (pod.get("status") or {}).get("conditions") or []
        if any(c.get("type") == "PodScheduled" and c.get("reason") == "Unschedulable" for c in conditions):
            return
        message = f"0/{len(self.nodes)} nodes are available: no Ready node this pod tolerates."
        condition = {
            "type": "PodScheduled",
            "status": "False",
            "reason": "Unschedulable",
            "message": message,
            "lastTransitionTime": clock.now_str(),
        }
        others = [c for c in conditions if c.get("type") != "PodScheduled"]
        patch = {"status": {"conditions": [*others, condition]}}
        await self.api.patch("v1", "pods", *key_of(pod), patch, "merge", "status")
