"""Which pod's termination message is a Job's report, and whether its container ever ran.

A report counts only from the one pod whose controller ownerReference is the Job (by uid): any
pod that merely carries the Job's labels or name (anyone who may create pods in the namespace can
make one) is ignored, and a second pod claiming the Job makes its checks Error. A pod that never
ran its container (unschedulable, quota, image pull failure, evicted, deadline while Pending)
yields no report and a `problem`: its checks end Error, never Failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from ..contract import PROBE_CONTAINER

Obj = dict[str, Any]

PROBLEM_LIMIT: Final = 512
_NOT_STARTED: Final = frozenset({"ContainerCannotRun", "StartError", "CreateContainerError"})


@dataclass(frozen=True)
class PodReport:
    message: str | None  # the trusted pod's termination message, if any
    problem: str | None = None  # why nothing this Job reports can be trusted or read
    final: bool = True  # False: the pod may still show its message (status trails the Job's)


def controller_uid(obj: Obj) -> str | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("controller") is True:
            return str(ref.get("uid") or "") or None
    return None


def _claims(pod: Obj, job_name: str) -> bool:
    meta = pod.get("metadata") or {}
    labels = meta.get("labels") or {}
    if job_name in (labels.get("batch.kubernetes.io/job-name"), labels.get("job-name")):
        return True
    return any(
        isinstance(r, dict) and r.get("kind") == "Job" and r.get("name") == job_name
        for r in meta.get("ownerReferences") or []
    )


def _cap(text: str) -> str:
    return text if len(text) <= PROBLEM_LIMIT else text[: PROBLEM_LIMIT - 1] + "…"


def _never_ran(pod: Obj) -> str | None:
    status = pod.get("status") or {}
    if status.get("reason") == "Evicted":
        return _cap(f"the pod was evicted: {status.get('message') or 'no message'}")
    statuses = [c for c in status.get("containerStatuses") or [] if isinstance(c, dict)]
    container = next((c for c in statuses if c.get("name") == PROBE_CONTAINER), statuses[0] if statuses else None)
    if container is None:
        reasons = [
            f"{c.get('reason')}: {c.get('message') or ''}".rstrip(": ")
            for c in status.get("conditions") or []
            if isinstance(c, dict) and c.get("status") == "False" and c.get("reason")
        ]
        return _cap(f"the container never started ({'; '.join(reasons) or status.get('phase') or 'no status'})")
    state = container.get("state") or {}
    terminated = state.get("terminated")
    if isinstance(terminated, dict):
        if terminated.get("reason") in _NOT_STARTED:
            return _cap(f"the container never started: {terminated.get('reason')}: {terminated.get('message') or ''}")
        return None
    waiting = state.get("waiting") or {}
    reason = waiting.get("reason") or ("Running" if "running" in state else "Unknown")
    return _cap(f"the container never ran to completion ({reason}: {waiting.get('message') or ''})".replace(": )", ")"))


def _job_failure(job: Obj) -> str:
    """Why the Job says it failed, when its pod is gone (evicted and deleted, or deleted by hand)."""
    for condition in (job.get("status") or {}).get("conditions") or []:
        if isinstance(condition, dict) and condition.get("type") == "Failed" and condition.get("status") == "True":
            words = ": ".join(str(condition[k]) for k in ("reason", "message") if condition.get(k))
            return f" left (the Job failed: {words or 'no reason given'}); its report is lost with the pod"
    return " (never created, or deleted or evicted before it reported)"


def pod_report(job: Obj, pods: Sequence[Obj]) -> PodReport:
    """The report of a finished Job from the pods of its namespace that carry its name or labels."""
    meta = job.get("metadata") or {}
    name, uid = str(meta.get("name") or ""), str(meta.get("uid") or "")
    owned = [p for p in pods if uid and controller_uid(p) == uid]
    impostors = [p for p in pods if p not in owned and _claims(p, name)]
    if impostors:
        who = ", ".join(sorted(str((p.get("metadata") or {}).get("name")) for p in impostors)[:3])
        return PodReport(
            None, _cap(f"pods not controlled by Job {name} claim to be its pod ({who}); no report trusted")
        )
    if len(owned) > 1:
        return PodReport(None, f"{len(owned)} pods claim to be the pod of Job {name}; no report trusted")
    if not owned:
        return PodReport(None, _cap(f"Job {name} has no pod{_job_failure(job)}"), final=False)
    pod = owned[0]
    problem = _never_ran(pod)
    if problem is not None:
        return PodReport(None, problem, final=False)
    for container in (pod.get("status") or {}).get("containerStatuses") or []:
        terminated = ((container or {}).get("state") or {}).get("terminated")
        if isinstance(terminated, dict):
            message = terminated.get("message")
            return PodReport(str(message) if message else None, final=bool(message))
    return PodReport(None, final=False)


def trusted_pod(job: Obj, pods: Sequence[Obj]) -> Obj | None:
    """The one pod whose report (and log) counts for `job`, by the same rule as `pod_report`: the
    only pod the Job controls, with no other pod claiming the Job; None otherwise."""
    meta = job.get("metadata") or {}
    name, uid = str(meta.get("name") or ""), str(meta.get("uid") or "")
    owned = [p for p in pods if uid and controller_uid(p) == uid]
    if len(owned) != 1 or any(p not in owned and _claims(p, name) for p in pods):
        return None
    return owned[0]
