"""The ReplicaSet controller: keeps `spec.replicas` pods (owned, controller: true) and reports
replicas/ready/available, a pod counting as available once it has been Ready for
max(minReadySeconds, the server's rollout delay)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from kubesim.apiserver.store import StoreClusterAPI
from kubesim.cluster import Obj
from kubesim.controllers import pods as podlib
from kubesim.controllers.base import Controller, Key, controller_ref, key_of, owner_ref


class ReplicaSetController(Controller):
    name = "replicaset-controller"

    def __init__(self, api: StoreClusterAPI, rollout_delay_seconds: float = 0.0) -> None:
        super().__init__(api)
        self.rollout_delay = rollout_delay_seconds
        self._ready_since: dict[str, float] = {}  # pod uid -> loop time first seen Ready

    def watches(self) -> list[tuple[str, str, Callable[[str, Obj], None]]]:
        return [("apps/v1", "replicasets", self._on_rs), ("v1", "pods", self._on_pod)]

    def _on_rs(self, type_: str, rs: Obj) -> None:
        if type_ != "DELETED":
            self.enqueue(key_of(rs))

    def _on_pod(self, type_: str, pod: Obj) -> None:
        uid = pod["metadata"]["uid"]
        if type_ == "DELETED":
            self._ready_since.pop(uid, None)
        elif podlib.is_ready(pod):
            self._ready_since.setdefault(uid, asyncio.get_running_loop().time())
        else:
            self._ready_since.pop(uid, None)
        ref = controller_ref(pod)
        if ref and ref.get("kind") == "ReplicaSet":
            self.enqueue((pod["metadata"].get("namespace", ""), ref["name"]))

    async def reconcile(self, key: Key) -> None:
        ns, name = key
        rs = await self.api.get("apps/v1", "replicasets", ns, name)
        if rs is None:
            return
        uid = rs["metadata"]["uid"]
        all_pods = [p for p in await self.api.list_owned("v1", "pods", uid) if podlib.owned_by(p, uid)]
        active = [p for p in all_pods if podlib.is_active(p)]
        want = int(rs["spec"].get("replicas", 1))
        if not rs["metadata"].get("deletionTimestamp"):
            if len(active) < want:
                for _ in range(want - len(active)):
                    pod = podlib.pod_from_template(rs["spec"]["template"], f"{name}-", ns, owner_ref(rs))
                    created = await self.api.create("v1", "pods", ns, pod)
                    active.append(created)
                    await self.api.record_event(rs, "SuccessfulCreate", f"Created pod: {created['metadata']['name']}")
            elif len(active) > want:
                doomed = sorted(active, key=podlib.deletion_order)[: len(active) - want]
                for pod in doomed:
                    await self.api.delete("v1", "pods", ns, pod["metadata"]["name"])
                    await self.api.record_event(rs, "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}")
                    active.remove(pod)
        await self._update_status(rs, active)

    async def _update_status(self, rs: Obj, active: list[Obj]) -> None:
        now = asyncio.get_running_loop().time()
        min_ready = max(float(rs["spec"].get("minReadySeconds", 0) or 0), self.rollout_delay)
        ready = [p for p in active if podlib.is_ready(p)]
        available = 0
        soonest: float | None = None
        for p in ready:
            since = self._ready_since.setdefault(p["metadata"]["uid"], now)
            left = since + min_ready - now
            if left <= 0:
                available += 1
            else:
                soonest = left if soonest is None else min(soonest, left)
        if soonest is not None:
            self.enqueue_after(key_of(rs), soonest + 0.01)
        labels = rs["spec"].get("template", {}).get("metadata", {}).get("labels") or {}
        fully = sum(
            1 for p in active if all((p["metadata"].get("labels") or {}).get(k) == v for k, v in labels.items())
        )
        status = {
            "replicas": len(active),
            "fullyLabeledReplicas": fully,
            "readyReplicas": len(ready),
            "availableReplicas": available,
            "observedGeneration": rs["metadata"].get("generation", 1),
        }
        if not status["readyReplicas"]:
            del status["readyReplicas"]
        if not status["availableReplicas"]:
            del status["availableReplicas"]
        old = dict(rs.get("status") or {})
        if old != status:
            rs["status"] = status
            await self.api.update("apps/v1", "replicasets", rs, subresource="status")
