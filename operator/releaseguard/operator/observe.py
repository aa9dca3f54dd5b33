"""Reading what core.decide needs beyond the watched objects, only when it matters: the probe
pods of a running verification, the pods (and, if the rv asks, last log lines) of a stalled
rollout, and the ReplicaSets that tell a rollback done by hand. The judging is done by pure
functions in core/.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from ..api import parse_release_verification
from ..api.status import TargetPod
from ..core.early import new_replicaset, ready_pods, uses_pods
from ..core.jobs import job_finished
from ..core.pods import container_trouble, permanent_failure, silent_crashes
from ..core.rollback import rolled_back_by_hand as reuses_revision
from ..core.rollout import RolloutState, revision_of, rollout_state
from ..core.trust import controller_uid
from ..errors import KubeError, SpecInvalidError
from .kubeapi import KubeAPI

Obj = dict[str, Any]
Key = tuple[str, str]
logger = logging.getLogger("releaseguard")


@dataclass(frozen=True)
class RunningJobs:
    """What the pods of a run's unfinished Jobs (as the cache has them) show."""

    stuck: dict[str, str]  # Jobs whose pod will never start, with the kubelet's reason
    ended: list[str]  # Jobs whose pod has ended: the cache is behind (its watch cut or relisting)


async def running_jobs(kube: KubeAPI, key: Key, run: Obj, jobs: dict[str, Obj]) -> RunningJobs:
    """The unfinished `jobs` of `run` whose pod will never start (core.pods.permanent_failure),
    and those whose pod has ended, which the reconciler reads again. core.decide requeues a
    running verification every pod_poll_seconds, so this is looked at that often."""
    running = [n for n, job in jobs.items() if not job_finished(job)]
    if not running:
        return RunningJobs({}, [])
    pods = await kube.probe_pods(key[0], key[1], int(run.get("revision") or 0))
    stuck: dict[str, str] = {}
    ended: list[str] = []
    for job_name in running:
        uid = str((jobs[job_name].get("metadata") or {}).get("uid") or "")
        own = [p for p in pods if uid and controller_uid(p) == uid]  # only the Job's own pods
        why = next((w for p in own if (w := permanent_failure(p)) is not None), None)
        if why is not None:
            stuck[job_name] = why
        elif any((p.get("status") or {}).get("phase") in ("Succeeded", "Failed") for p in own):
            ended.append(job_name)
    return RunningJobs(stuck, ended)


async def rollout_trouble(kube: KubeAPI, key: Key, body: Obj, deployment: Obj | None) -> tuple[str, ...]:
    """On a stalled rollout not yet judged, why its pods fail: their waiting and termination
    reasons, exit codes and restarts. Only when the rv opts in (spec.diagnostics.crashLog) also what
    a crash said: its termination message or, without one, the last line of its log; otherwise no
    log is read."""
    run = (body.get("status") or {}).get("lastRun") or {}
    if deployment is None:
        return ()
    if run.get("revision") == revision_of(deployment) and (run.get("verdict") or run.get("jobs")):
        return ()
    if rollout_state(deployment)[0] is not RolloutState.STALLED:
        return ()
    labels = ((deployment.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    if not labels:
        return ()
    crash_log = crash_log_wanted(body)
    try:
        pods = await kube.pods_matching(key[0], dict(labels))
        logs = {}
        for pod, container, previous in silent_crashes(pods) if crash_log else ():
            with contextlib.suppress(KubeError):
                logs[(pod, container)] = await kube.log_tail(key[0], pod, container, previous)
    except KubeError as exc:  # the verdict stands without the detail
        logger.info("%s/%s: could not read the stalled rollout's pods: %s", key[0], key[1], exc)
        return ()
    return tuple(container_trouble(pods, logs, crash_log=crash_log))


def crash_log_wanted(body: Obj) -> bool:
    """Whether the rv opted in to showing what its target's crashing containers said (an rv that
    does not parse did not)."""
    try:
        rv = parse_release_verification({k: v for k, v in body.items() if k != "status"})
    except SpecInvalidError:
        return False
    return rv.spec.diagnostics.crash_log


async def rolled_back_by_hand(kube: KubeAPI, body: Obj, deployment: Obj | None) -> bool:
    """Whether a new revision is someone's rollback to the revision we only recommended; the
    ReplicaSets are read only for a new revision after an unapplied recommendation."""
    status = body.get("status") or {}
    last = status.get("lastRollback") or {}
    revision = revision_of(deployment)
    if deployment is None or revision is None or not last or last.get("applied"):
        return False
    seen = (status.get("lastRun") or {}).get("revision")
    if seen == revision or revision <= int(last.get("fromRevision") or 0):
        return False
    replicasets = await kube.replicasets_of(deployment)
    return reuses_revision(deployment, replicasets, int(last.get("toRevision") or 0))


async def new_revision_pods(kube: KubeAPI, body: Obj, deployment: Obj | None) -> list[TargetPod] | None:
    """The ready pods of the Deployment's new revision, read only while a run of an rv whose checks
    name a pod ({{ .PodIP }}) has no verdict yet (the early checks and the run's launch use them)."""
    if deployment is None or revision_of(deployment) is None:
        return None
    run = (body.get("status") or {}).get("lastRun") or {}
    if run.get("verdict") and run.get("revision") == revision_of(deployment):
        return None
    try:
        rv = parse_release_verification({k: v for k, v in body.items() if k != "status"})
    except SpecInvalidError:
        return None
    if not uses_pods(rv):
        return None
    replicaset = new_replicaset(deployment, await kube.replicasets_of(deployment))
    if replicaset is None:
        return []
    return ready_pods(replicaset, await kube.pods_of(replicaset))
