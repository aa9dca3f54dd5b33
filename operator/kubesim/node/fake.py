"""A stand-in node for tests that run without the kubelet: every new pod is marked Running and
Ready at once (no process is started). Tests then move pods to Succeeded/Failed themselves."""

from __future__ import annotations

import asyncio
import contextlib

from kubesim import clock
from kubesim.cluster import ClusterAPI, Obj
from kubesim.errors import ApiError
from kubesim.node.kubelet import NODE_NAME
from kubesim.node.registration import NodeRegistration


def running_status(pod: Obj, ip: str) -> Obj:
    now = clock.now_str()
    containers = pod.get("spec", {}).get("containers") or []
    return {
        "phase": "Running",
        "podIP": ip,
        "podIPs": [{"ip": ip}],
        "hostIP": "127.0.0.1",
        "startTime": now,
        "qosClass": "BestEffort",
        "conditions": [
            {"type": t, "status": "True", "lastProbeTime": None, "lastTransitionTime": now}
            for t in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")
        ],
        "containerStatuses": [
            {
                "name": c.get("name"),
                "image": c.get("image"),
                "imageID": "",
                "ready": True,
                "started": True,
                "restartCount": 0,
                "state": {"running": {"startedAt": now}},
            }
            for c in containers
        ],
    }


def finished_status(pod: Obj, succeeded: bool, message: str = "") -> Obj:
    now = clock.now_str()
    status = dict(pod.get("status") or {})
    status["phase"] = "Succeeded" if succeeded else "Failed"
    status["conditions"] = [
        dict(c, status="False", reason="PodCompleted") if c.get("type") in ("Ready", "ContainersReady") else c
        for c in status.get("conditions") or []
    ]
    status["containerStatuses"] = [
        dict(
            cs,
            ready=False,
            started=False,
            state={
                "terminated": {
                    "exitCode": 0 if succeeded else 1,
                    "reason": "Completed" if succeeded else "Error",
                    "message": message,
                    "startedAt": now,
                    "finishedAt": now,
                }
            },
        )
        for cs in status.get("containerStatuses") or []
    ]
    return status


class FakeNode:
    def __init__(self, api: ClusterAPI) -> None:
        self.api = api
        self._n = 0

    async def run(self) -> None:
        registration = NodeRegistration(self.api, NODE_NAME)
        await registration.register()
        renewals = asyncio.get_running_loop().create_task(registration.run())  # keeps the Lease fresh
        try:
            while True:  # a watch over HTTP ends now and then: watch again
                with contextlib.suppress(ApiError, OSError):
                    await self._watch()
                await asyncio.sleep(0.2)
        finally:
            renewals.cancel()

    async def _watch(self) -> None:
        async for type_, pod in self.api.watch("v1", "pods", field_selector=f"spec.nodeName={NODE_NAME}"):
            if type_ == "DELETED" or pod["metadata"].get("deletionTimestamp"):
                if type_ != "DELETED":  # nothing runs, so nothing to stop: the pod may go at once
                    with contextlib.suppress(ApiError):
                        await self.api.delete("v1", "pods", *_key(pod), grace_period_seconds=0)
                continue
            if (pod.get("status") or {}).get("phase", "Pending") != "Pending":
                continue
            self._n += 1
            ip = f"127.245.{self._n // 250}.{self._n % 250 + 1}"
            with contextlib.suppress(ApiError):  # deleted meanwhile
                await self.api.patch(
                    "v1", "pods", *_key(pod), {"status": running_status(pod, ip)}, "merge", subresource="status"
                )


def _key(pod: Obj) -> tuple[str, str]:
    return pod["metadata"]["namespace"], pod["metadata"]["name"]
