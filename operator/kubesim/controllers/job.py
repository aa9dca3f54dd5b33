"""The Job controller: runs pods to `completions` with `parallelism`, counts failures against
`backoffLimit`, enforces `activeDeadlineSeconds`, writes the real status fields and conditions, and
deletes finished Jobs after `ttlSecondsAfterFinished`."""

from __future__ import annotations

from collections.abc import Callable

from kubesim import clock
from kubesim.apiserver.store import StoreClusterAPI
from kubesim.cluster import Obj
from kubesim.controllers import pods as podlib
from kubesim.controllers.base import Controller, Key, controller_ref, key_of, owner_ref


def _cond(status: Obj, type_: str) -> bool:
    return any(c.get("type") == type_ and c.get("status") == "True" for c in status.get("conditions") or [])


def _add_condition(status: Obj, type_: str, reason: str, message: str, now: str) -> None:
    status.setdefault("conditions", []).append(
        {
            "type": type_,
            "status": "True",
            "lastProbeTime": now,
            "lastTransitionTime": now,
            "reason": reason,
            "message": message,
        }
    )


class JobController(Controller):
    name = "job-controller"

    def __init__(self, api: StoreClusterAPI) -> None:
        super().__init__(api)
        # pods deleted (or evicted) before they finished, by Job uid: the real controller holds
        # them with its job-tracking finalizer and counts each as failed; kubesim's go at once
        self._deleted_unfinished: dict[str, set[str]] = {}

    def watches(self) -> list[tuple[str, str, Callable[[str, Obj], None]]]:
        return [("batch/v1", "jobs", self._on_job), ("v1", "pods", self._on_pod)]

    def _on_job(self, type_: str, job: Obj) -> None:
        if type_ != "DELETED":
            self.enqueue(key_of(job))
        else:
            self._deleted_unfinished.pop(job["metadata"]["uid"], None)

    def _on_pod(self, type_: str, pod: Obj) -> None:
        ref = controller_ref(pod)
        if ref and ref.get("kind") == "Job":
            gone = type_ == "DELETED" or bool(pod["metadata"].get("deletionTimestamp"))
            if gone and (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
                self._deleted_unfinished.setdefault(ref["uid"], set()).add(pod["metadata"]["uid"])
            self.enqueue((pod["metadata"].get("namespace", ""), ref["name"]))

    async def reconcile(self, key: Key) -> None:
        ns, name = key
        job = await self.api.get("batch/v1", "jobs", ns, name)
        if job is None or job["metadata"].get("deletionTimestamp"):
            return
        status: Obj = dict(job.get("status") or {})
        spec = job["spec"]
        now_s = clock.now_str()
        if _cond(status, "Complete") or _cond(status, "Failed"):
            await self._ttl(job, status)
            return
        if spec.get("suspend"):
            return
        uid = job["metadata"]["uid"]
        pods = [p for p in await self.api.list_owned("v1", "pods", uid) if podlib.owned_by(p, uid)]
        succeeded = sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Succeeded")
        deleted = self._deleted_unfinished.get(uid, set())
        pods = [p for p in pods if p["metadata"]["uid"] not in deleted]
        active = [p for p in pods if podlib.is_active(p)]
        failed = sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Failed") + len(deleted)
        if spec["template"]["spec"].get("restartPolicy") == "OnFailure":
            failed += sum(
                int(c.get("restartCount", 0))
                for p in pods
                for c in (p.get("status") or {}).get("containerStatuses") or []
            )
        succeeded = max(succeeded, int(status.get("succeeded", 0)))
        failed = max(failed, int(status.get("failed", 0)))
        if not status.get("startTime"):
            status["startTime"] = now_s
        completions = spec.get("completions")
        parallelism = int(spec.get("parallelism", 1))
        deadline = spec.get("activeDeadlineSeconds")
        started = clock.parse(status["startTime"])
        finished = False
        if deadline is not None and started is not None:
            left = float(deadline) - (clock.now() - started).total_seconds()
            if left <= 0:
                await self._fail(
                    job, status, active, "DeadlineExceeded", "Job was active longer than specified deadline", now_s
                )
                active, finished = [], True
            else:
                self.enqueue_after(key, left + 0.05)
        if not finished and failed > int(spec.get("backoffLimit", 6)):
            await self._fail(
                job, status, active, "BackoffLimitExceeded", "Job has reached the specified backoff limit", now_s
            )
            active, finished = [], True
        if (
            not finished
            and succeeded >= int(completions if completions is not None else 1)
            and not (completions is None and active)
        ):
            _add_condition(
                status, "SuccessCriteriaMet", "CompletionsReached", "Reached expected number of succeeded pods", now_s
            )
            _add_condition(status, "Complete", "CompletionsReached", "Reached expected number of succeeded pods", now_s)
            status["completionTime"] = now_s
            await self.api.record_event(job, "Completed", "Job completed")
            finished = True
        if not finished:
            want = parallelism if completions is None else min(parallelism, int(completions) - succeeded)
            for _ in range(max(want - len(active), 0)):
                pod = podlib.pod_from_template(spec["template"], f"{name}-", ns, owner_ref(job))
                created = await self.api.create("v1", "pods", ns, pod)
                active.append(created)
                await self.api.record_event(job, "SuccessfulCreate", f"Created pod: {created['metadata']['name']}")
        status["active"] = len(active)
        status["succeeded"] = succeeded
        status["failed"] = failed
        status["ready"] = sum(1 for p in active if podlib.is_ready(p))
        status.setdefault("uncountedTerminatedPods", {})
        for k in ("active", "succeeded", "failed"):
            if not status[k]:
                del status[k]
        if status != (job.get("status") or {}):
            job["status"] = status
            job = await self.api.update("batch/v1", "jobs", job, subresource="status")
        if finished:
            await self._ttl(job, status)

    async def _fail(self, job: Obj, status: Obj, active: list[Obj], reason: str, message: str, now: str) -> None:
        ns = job["metadata"]["namespace"]
        for pod in active:
            await self.api.delete("v1", "pods", ns, pod["metadata"]["name"])
            await self.api.record_event(job, "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}")
        _add_condition(status, "FailureTarget", reason, message, now)
        _add_condition(status, "Failed", reason, message, now)
        await self.api.record_event(job, reason, message, "Warning")

    async def _ttl(self, job: Obj, status: Obj) -> None:
        ttl = job["spec"].get("ttlSecondsAfterFinished")
        if ttl is None:
            return
        finished_at = status.get("completionTime") or next(
            (c.get("lastTransitionTime") for c in status.get("conditions") or [] if c.get("type") == "Failed"), None
        )
        t = clock.parse(finished_at)
        if t is None:
            return
        left = float(ttl) - (clock.now() - t).total_seconds()
        if left > 0:
            self.enqueue_after(key_of(job), left + 0.05)
            return
        await self.api.delete("batch/v1", "jobs", job["metadata"]["namespace"], job["metadata"]["name"], "Foreground")
