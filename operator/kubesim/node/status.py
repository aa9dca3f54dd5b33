"""Pod status from the kubelet's view of its containers (pure).

The phase follows the real kubelet's rules: any container still waiting for its first start keeps
the pod Pending; a running one makes it Running; when all have stopped, the restart policy decides.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class ContainerView:
    """What the kubelet knows about one container; `state` is one of waiting, running, terminated."""

    name: str
    image: str
    state: str = "waiting"
    reason: str | None = "ContainerCreating"
    message: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    exit_code: int | None = None
    restart_count: int = 0
    ready: bool = False
    last_state: Obj = field(default_factory=dict)

    def waiting(self, reason: str, message: str | None = None) -> None:
        self.state, self.reason, self.message = "waiting", reason, message

    def running(self) -> None:
        self.state, self.reason, self.message = "running", None, None
        self.started_at, self.finished_at, self.exit_code = now(), None, None

    def terminated(self, exit_code: int, message: str, reason: str | None = None) -> None:
        self.state, self.exit_code, self.finished_at = "terminated", exit_code, now()
        self.reason = reason or ("Completed" if exit_code == 0 else "Error")
        self.message = message
        self.started_at = self.started_at or self.finished_at
        self.ready = False

    def state_dict(self) -> Obj:
        if self.state == "running":
            return {"running": {"startedAt": self.started_at}}
        if self.state == "terminated":
            terminated: Obj = {
                "exitCode": self.exit_code,
                "reason": self.reason,
                "startedAt": self.started_at,
                "finishedAt": self.finished_at,
            }
            if self.message:
                terminated["message"] = self.message
            return {"terminated": terminated}
        waiting: Obj = {"reason": self.reason}
        if self.message:
            waiting["message"] = self.message
        return {"waiting": waiting}

    def image_id(self) -> str:
        """What the kubelet reports once the image is pulled: the image resolved to a digest. Here
        there is no registry, so the digest is that of the reference (stable per image name)."""
        if self.state == "waiting" and not self.last_state:
            return ""
        name = self.image.split("@", 1)[0]
        return f"{name}@sha256:{hashlib.sha256(self.image.encode()).hexdigest()}"

    def to_status(self) -> Obj:
        status: Obj = {
            "name": self.name,
            "image": self.image,
            "imageID": self.image_id(),
            "state": self.state_dict(),
            "lastState": self.last_state,
            "ready": self.ready,
            "restartCount": self.restart_count,
            "started": self.state == "running",
        }
        if self.state != "waiting" or self.last_state:
            status["containerID"] = f"kubesim://{self.name}-{self.restart_count}"
        return status

    def remember_termination(self) -> None:
        """Move the current terminated state to lastState (before a restart)."""
        self.last_state = self.state_dict() if self.state == "terminated" else {}


def phase(init: list[ContainerView], containers: list[ContainerView], restart_policy: str) -> str:
    for view in init:
        if view.state == "terminated" and view.exit_code == 0:
            continue
        if view.state == "terminated" and restart_policy == "Never":
            return "Failed"
        return "Pending"
    waiting = running = stopped = succeeded = 0
    for view in containers:
        if view.state == "running":
            running += 1
        elif view.state == "terminated":
            stopped += 1
            succeeded += view.exit_code == 0
        elif view.last_state:
            stopped += 1  # between restarts
        else:
            waiting += 1
    if waiting:
        return "Pending"
    if running:
        return "Running"
    if restart_policy == "Always":
        return "Running"
    if stopped == succeeded:
        return "Succeeded"
    return "Failed" if restart_policy == "Never" else "Running"


def _condition(kind: str, value: bool, previous: dict[str, Obj], reason: str | None = None) -> Obj:
    status = "True" if value else "False"
    old = previous.get(kind)
    since = old["lastTransitionTime"] if old and old.get("status") == status else now()
    condition: Obj = {"type": kind, "status": status, "lastProbeTime": None, "lastTransitionTime": since}
    if reason and not value:
        condition["reason"] = reason
    return condition


def pod_status(
    init: list[ContainerView],
    containers: list[ContainerView],
    restart_policy: str,
    pod_ip: str | None,
    host_ip: str,
    start_time: str,
    previous_conditions: list[Obj] | None = None,
) -> Obj:
    previous = {c.get("type", ""): c for c in previous_conditions or []}
    current = phase(init, containers, restart_policy)
    initialized = all(v.state == "terminated" and v.exit_code == 0 for v in init)
    ready = current == "Running" and all(v.ready for v in containers)
    done_reason = "PodCompleted" if current in ("Succeeded", "Failed") else None
    not_ready = done_reason or ("ContainersNotInitialized" if not initialized else "ContainersNotReady")
    status: Obj = {
        "phase": current,
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "startTime": start_time,
        "conditions": [
            _condition("PodScheduled", True, previous),
            _condition("Initialized", initialized, previous, "ContainersNotInitialized"),
            _condition("ContainersReady", ready, previous, not_ready),
            _condition("Ready", ready, previous, not_ready),
        ],
        "containerStatuses": [v.to_status() for v in containers],
        "qosClass": "BestEffort",
    }
    if pod_ip:
        status["podIP"] = pod_ip
        status["podIPs"] = [{"ip": pod_ip}]
    if init:
        status["initContainerStatuses"] = [v.to_status() for v in init]
    return status
