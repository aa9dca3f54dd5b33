"""Reading pods: what keeps a probe pod from ever starting, and why a new revision's pods crash.

What a crashed container said (its termination message, or the last line of its log) is shown only
when the rv opts in (spec.diagnostics.crashLog): it is the application's own output, and the rv's
status, Events and notifications reach people who may not read the pod's log.

A probe pod whose container waits for a reason that does not go away by waiting (a Secret,
ConfigMap or key its env names does not exist, its image cannot be pulled or is not a valid
name) would otherwise hold the verification until timeoutSeconds; the operator ends the run at
once with the kubelet's own message instead. Reasons that do resolve themselves
(ContainerCreating, PodInitializing, a CrashLoopBackOff between restarts) are not permanent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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


def _failure(container: Obj) -> tuple[Obj, bool]:
    """The container's failed termination (its current state's, else its last one's), and whether
    it is the previous instance (what `kubectl logs --previous` shows)."""
    state = container.get("state") or {}
    terminated = state.get("terminated") or {}
    if terminated.get("exitCode") not in (None, 0):
        return terminated, False
    last = (container.get("lastState") or {}).get("terminated") or {}
    if last.get("exitCode") not in (None, 0):
        return last, True
    return {}, False


def silent_crashes(pods: Iterable[Obj], limit: int = 2) -> list[tuple[str, str, bool]]:
    """(pod, container, previous) of crashed containers whose termination carries no message (the
    usual terminationMessagePolicy File): their log's last lines are the only clue."""
    found: list[tuple[str, str, bool]] = []
    for pod in sorted(pods, key=_name):
        for container in _statuses(pod):
            failed, previous = _failure(container)
            if failed and not str(failed.get("message") or "").strip():
                found.append((_name(pod), str(container.get("name")), previous))
                if len(found) >= limit:
                    return found
    return found


def container_trouble(
    pods: Iterable[Obj],
    logs: Mapping[tuple[str, str], str] | None = None,
    limit: int = 3,
    *,
    crash_log: bool = False,
) -> list[str]:
    """Why the containers of `pods` are not running normally, one distinct line per container
    (`container NAME: REASON: message; last exit CODE (REASON); restarted N times`), at most `limit`.
    With `crash_log`, a crash's line also gives what it said (`last exit CODE (REASON): words`): its
    termination message, else the last line of its log from `logs` (by (pod, container)). Without
    it, only the kubelet's words: nothing the container wrote."""
    found: list[str] = []
    seen: set[str] = set()
    for pod in sorted(pods, key=_name):
        for container in _statuses(pod):
            name = str(container.get("name"))
            waiting = (container.get("state") or {}).get("waiting") or {}
            parts: list[str] = []
            if waiting.get("reason") and waiting.get("reason") not in _ORDINARY_WAITING:
                parts.append(f"{waiting['reason']}: {_one_line(str(waiting.get('message') or ''))}".rstrip(": "))
            failed, _ = _failure(container)
            if failed:
                code = failed.get("exitCode")
                ended = f"last exit {code} ({failed.get('reason') or 'Error'})"
                if crash_log:
                    said = _one_line(str(failed.get("message") or "")) or _last_line(
                        (logs or {}).get((_name(pod), name), "")
                    )
                    ended = f"{ended}: {said[-300:]}".rstrip(": ")
                parts.append(ended)
            line = f"container {name}: " + "; ".join(parts)
            if not parts or line in seen:  # the same trouble in another pod (its restarts may differ)
                continue
            seen.add(line)
            restarts = container.get("restartCount")
            if isinstance(restarts, int) and restarts > 0:
                line += f"; restarted {restarts} time{'s' if restarts > 1 else ''}"
            found.append(line)
            if len(found) >= limit:
                return found
    return found


def _last_line(log: str) -> str:
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    return lines[-1] if lines else ""
