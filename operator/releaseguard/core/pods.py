"""Reading pods: what keeps a probe pod from ever starting, and why a new revision's pods crash.

A probe pod whose container waits for a reason that does not go away by waiting (a Secret,
ConfigMap or key its env names does not exist, its image cannot be pulled or is not a valid
name) would otherwise hold the verification until timeoutSeconds; the operator ends the run at
once with the kubelet's own message instead. Reasons that do resolve themselves
(ContainerCreating, PodInitializing, a CrashLoopBackOff between restarts) are not permanent.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

Obj = dict[str, Any]

# Waiting reasons the kubelet reports for a container that will not start until someone changes
# the pod or the cluster (kubelet: ErrImagePull/ImagePullBackOff/InvalidImageName/ErrImageNeverPull
# from the image manager, CreateContainerConfigError from the env and volume-subPath resolution).
PERMANENT_WAITING_REASONS: Final = frozenset(
    {"CreateContainerConfigError", "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}
)
# Waiting and terminated reasons that explain a crashing or stuck container of a Deployment's pod.
_ORDINARY_WAITING: Final = frozenset({"ContainerCreating", "PodInitializing"})


def _statuses(pod: Obj) -> list[Obj]:
    status = pod.get("status") or {}
    return [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]


def _name(pod: Obj) -> str:
    return str((pod.get("metadata") or {}).get("name") or "")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def permanent_failure(pod: Obj) -> str | None:
    """Why `pod` will never start on its own, in the kubelet's words, or None."""
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return None
    for container in _statuses(pod):
        waiting = (container.get("state") or {}).get("waiting") or {}
        reason = waiting.get("reason")
        if reason in PERMANENT_WAITING_REASONS:
            message = _one_line(str(waiting.get("message") or ""))
            detail = f"{reason}: {message}" if message else str(reason)
            return f"pod {_name(pod)} cannot start container {container.get('name')}: {detail}"
    return None


def container_trouble(pods: Iterable[Obj], limit: int = 3) -> list[str]:
    """The distinct reasons the containers of `pods` are not running normally, each as
    `REASON: message` (a waiting state's, else the last termination's), at most `limit`."""
    found: list[str] = []
    for pod in sorted(pods, key=_name):
        for container in _statuses(pod):
            state = container.get("state") or {}
            waiting = state.get("waiting") or {}
            last = (container.get("lastState") or {}).get("terminated") or {}
            terminated = state.get("terminated") or {}
            parts: list[str] = []
            if waiting.get("reason") and waiting.get("reason") not in _ORDINARY_WAITING:
                parts.append(f"{waiting['reason']}: {_one_line(str(waiting.get('message') or ''))}".rstrip(": "))
            failed = terminated if terminated.get("exitCode") not in (None, 0) else last
            if failed.get("exitCode") not in (None, 0):
                why = _one_line(str(failed.get("message") or ""))[-300:]
                parts.append(f"{failed.get('reason') or 'Error'} (exit code {failed['exitCode']}): {why}".rstrip(": "))
            if parts:
                line = f"container {container.get('name')}: " + "; ".join(parts)
                if line not in found:
                    found.append(line)
            if len(found) >= limit:
                return found
    return found
