"""Carrying out the core's plans: a cache of watched objects, a work queue, and the reconcile step.

The kopf handlers (handlers.py) only put what they see into the Cache and add the RV's key to the
WorkQueue. A worker takes a key, asks core.decide what to do, and does it through kube.py in a
fixed order: status first (it records Job names and rollbacks before they happen), then the
rollback patch, then Jobs, then Events and metrics. The cache is rebuilt from the watches on
every start; it is never the only copy of anything.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..api import ReleaseVerificationStatus
from ..api.status import status_from_wire
from ..contract import PROBE_CONTAINER
from ..core.baseline import Samples
from ..core.decide import Event, Observed, Plan, RollbackRequest, Settings, decide, rollback_owner
from ..core.events import event_name, run_identity, verdict_events
from ..core.jobs import RV_LABEL, job_finished
from ..core.own_records import own_records
from ..core.patch import merge_patch
from ..core.rollout import images_of
from ..core.sampled import report_from_log, samples_by_check
from ..core.trust import PodReport, pod_report, trusted_pod
from ..errors import ConflictError, KubeError, NotFoundError, ReportError, TransientKubeError
from ..report import parse_report
from .kubeapi import KubeAPI
from .metrics import Metrics
from .observe import new_revision_pods, rolled_back_by_hand, rollout_trouble, running_jobs
from .recorder import Recorder

if TYPE_CHECKING:
    from ..notify.hook import NotificationHook

Obj = dict[str, Any]
Key = tuple[str, str]

logger = logging.getLogger("releaseguard")
SAMPLES_LOG_LIMIT = 1 << 20  # bytes of a probe pod's log read for its samples (issue 15)
REFUSED = (400, 403, 422)  # a Job the server refuses with these is refused again on retry
STUB = "releaseguard.io/stub"  # marks a cached Deployment kept only as a name (no RV targets it)
CATCH_UP_WINDOW = timedelta(minutes=15)  # a verdict older than this gets no Events again after a restart
EVENT_RETRY_LIMIT = 12  # attempts to post one Event (backoff 0.25 s doubling to 10 s: about 1.5 min)


CONFLICT_RETRY_SECONDS = 0.2
QUICK_CONFLICT_RETRIES = 3  # conflicts in a row retried at once before they back off like any failure
MAX_RETRY_SECONDS = 10.0


def retry_delay(failures: int, exc: Exception) -> float:
    """When to reconcile an rv again after `exc`, its `failures`-th failure in a row (conflicts
    included, throttling not: see `counts_as_failure`). A 429 is retried when the server says
    (Retry-After: API Priority and Fairness computes 1 s to about 30 s), never sooner and not
    later: backing off further on 429s made every rv of a busy server wait 10 s per attempt, and
    an attempt makes several requests, so verdicts waited minutes. A conflict means the copy decided on was stale,
    and the reconciler has read the current one: the first few in a row are retried at once.
    Conflicts that keep coming (another writer on the same rv) and anything else back off from
    0.5 s, doubling, to MAX_RETRY_SECONDS."""
    if isinstance(exc, TransientKubeError) and exc.status == 429:
        return max(float(exc.retry_after), CONFLICT_RETRY_SECONDS)
    if isinstance(exc, ConflictError):
        if failures <= QUICK_CONFLICT_RETRIES:
            return CONFLICT_RETRY_SECONDS
        failures -= QUICK_CONFLICT_RETRIES
    delay = min(0.5 * 2.0 ** (max(failures, 1) - 1), MAX_RETRY_SECONDS)
    if isinstance(exc, TransientKubeError):
        delay = max(delay, float(exc.retry_after))
    return delay


def counts_as_failure(exc: Exception) -> bool:
    """Throttling (429) says the server is busy, not that this rv's reconcile is failing."""
    return not (isinstance(exc, TransientKubeError) and exc.status == 429)


def _resource_version_number(obj: Obj) -> int | None:
    raw = (obj.get("metadata") or {}).get("resourceVersion")
    try:
        return int(str(raw)) if raw is not None else None
    except ValueError:
        return None


def slim_deployment(body: Obj) -> Obj:
    """A Deployment as the cache keeps it: its managedFields (often the biggest part of it on a real
    API server) cut down to who last wrote the pod template, which a run's record names
    (core.record.changed_by); nothing else reads them."""
    meta = body.get("metadata") or {}
    if "managedFields" not in meta:
        return copy.deepcopy(body)
    writers = [
        {k: entry[k] for k in ("manager", "operation", "time") if k in entry}
        | {"fieldsV1": {"f:spec": {"f:template": {}}}}
        for entry in meta["managedFields"] or []
        if isinstance(entry, dict) and "f:template" in (((entry.get("fieldsV1") or {}).get("f:spec")) or {})
    ]
    return copy.deepcopy({**body, "metadata": {**meta, "managedFields": writers}})


def _stub(body: Obj) -> Obj:
    """What the cache keeps of a Deployment no RV targets: that it exists, and its version."""
    meta = body.get("metadata") or {}
    keep = ("name", "namespace", "uid", "resourceVersion")
    return {"metadata": {k: meta[k] for k in keep if k in meta}, STUB: True}


def is_stub(body: Obj | None) -> bool:
    return body is not None and bool(body.get(STUB))


def key_of(obj: Obj) -> Key:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


@dataclass
class Cache:
    """The latest copy of each watched object the operator cares about."""

    rvs: dict[Key, Obj] = field(default_factory=dict)
    deployments: dict[Key, Obj] = field(default_factory=dict)
    jobs: dict[Key, dict[str, Obj]] = field(default_factory=dict)  # (namespace, rv) -> name -> Job
    messages: dict[Key, PodReport] = field(default_factory=dict)  # (namespace, job) -> its pod's report
    samples: dict[Key, dict[str, Samples]] = field(default_factory=dict)  # (namespace, job) -> check -> samples
    _targets: dict[Key, set[str]] = field(default_factory=dict)  # (namespace, deployment) -> RV names

    @staticmethod
    def _newer(old: Obj | None, new: Obj) -> bool:
        """False when `new` is an older copy than `old` (a watch event behind our own write)."""
        if old is None:
            return True
        a, b = _resource_version_number(old), _resource_version_number(new)
        if b is None:  # a copy that never came from the server never replaces one that did
            return a is None
        return a is None or b >= a

    def put_rv(self, body: Obj) -> bool:
        key = key_of(body)
        if not self._newer(self.rvs.get(key), body):
            return False
        old_target = _target(self.rvs.get(key))
        self.rvs[key] = body
        new_target = _target(body)
        if old_target != new_target and old_target:
            self._targets.get((key[0], old_target), set()).discard(key[1])
        if new_target:
            self._targets.setdefault((key[0], new_target), set()).add(key[1])
        return True

    def drop_rv(self, key: Key) -> None:
        body = self.rvs.pop(key, None)
        target = _target(body)
        if target:
            self._targets.get((key[0], target), set()).discard(key[1])
        for name in self.jobs.pop(key, {}):
            self.messages.pop((key[0], name), None)
            self.samples.pop((key[0], name), None)

    def put_deployment(self, body: Obj) -> list[Key]:
        """Keep the Deployment whole when an RV targets it, else only as a stub (10,000 Deployments
        nobody verifies cost a few MB, not their templates); a stub is read whole when needed."""
        key = key_of(body)
        targeted = self.rvs_targeting(key)
        if self._newer(self.deployments.get(key), body):
            self.deployments[key] = body if targeted else _stub(body)
        return targeted

    def drop_deployment(self, key: Key) -> list[Key]:
        self.deployments.pop(key, None)
        return self.rvs_targeting(key)

    def rvs_targeting(self, deployment: Key) -> list[Key]:
        return [(deployment[0], name) for name in sorted(self._targets.get(deployment, ()))]

    def put_job(self, rv: Key, job: Obj) -> None:
        jobs = self.jobs.setdefault(rv, {})
        name = key_of(job)[1]
        if self._newer(jobs.get(name), job):
            jobs[name] = job

    def drop_job(self, rv: Key, name: str) -> None:
        self.jobs.get(rv, {}).pop(name, None)
        self.messages.pop((rv[0], name), None)
        self.samples.pop((rv[0], name), None)


def _target(body: Obj | None) -> str:
    if not body:
        return ""
    ref = (body.get("spec") or {}).get("targetRef") or {}
    return str(ref.get("name") or "") if isinstance(ref, dict) else ""


def rv_of_job(job: Obj) -> str | None:
    meta = job.get("metadata") or {}
    for ref in meta.get("ownerReferences") or []:
        if ref.get("kind") == "ReleaseVerification":
            return str(ref.get("name"))
    label = (meta.get("labels") or {}).get(RV_LABEL)
    return str(label) if label else None


class WorkQueue:
    """Keys to reconcile, each at most once in the queue and never processed by two workers at once
    (like client-go's workqueue); `add_after` keeps the earliest pending timer per key."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[Key] = asyncio.Queue()
        self._queued: set[Key] = set()
        self._active: set[Key] = set()
        self._dirty: set[Key] = set()
        self._timers: dict[Key, asyncio.TimerHandle] = {}

    def add(self, key: Key) -> None:
        if key in self._active:
            self._dirty.add(key)
        elif key not in self._queued:
            self._queued.add(key)
            self._queue.put_nowait(key)

    def add_after(self, key: Key, delay: float) -> None:
        loop = asyncio.get_running_loop()
        when = loop.time() + max(delay, 0.0)
        timer = self._timers.get(key)
        if timer is not None and not timer.cancelled() and timer.when() <= when:
            return
        if timer is not None:
            timer.cancel()
        self._timers[key] = loop.call_at(when, self._fire, key)

    def _fire(self, key: Key) -> None:
        self._timers.pop(key, None)
        self.add(key)

    async def get(self) -> Key:
        key = await self._queue.get()
        self._queued.discard(key)
        self._active.add(key)
        return key

    def done(self, key: Key) -> None:
        self._active.discard(key)
        if key in self._dirty:
            self._dirty.discard(key)
            self.add(key)

    def __len__(self) -> int:
        return len(self._queued)

    def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()


class Reconciler:
    def __init__(
        self,
        kube: KubeAPI,
        metrics: Metrics,
        settings: Settings,
        cache: Cache | None = None,
        queue: WorkQueue | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.kube = kube
        self.metrics = metrics
        self.settings = settings
        self.cache = cache or Cache()
        self.queue = queue or WorkQueue()
        self.clock = clock
        self._failures: dict[Key, int] = {}
        self._workers: list[asyncio.Task[None]] = []
        self._finished_at: dict[Key, datetime] = {}  # (namespace, Job) -> first seen finished without a report
        self._refused: dict[Key, str] = {}  # (namespace, Job) -> why the API server refused to create it
        self._pods_read_at: dict[Key, float] = {}  # RV -> when its probe pods were last looked at
        self.notifications: NotificationHook | None = None  # set by the operator when channels are configured
        self.records = Recorder(kube, clock)  # the VerificationRuns
        self._event_retries: set[asyncio.Task[None]] = set()  # Events being posted again
        self._caught_up: set[Key] = set()  # rvs whose last verdict's Events were posted again since start
        self._rollback_failures: dict[Key, str] = {}  # rv -> the API's refusal of its last rollback patch

    # --- workers ------------------------------------------------------------------------

    def start(self, workers: int) -> None:
        for index in range(workers):
            self._workers.append(asyncio.create_task(self._work(), name=f"releaseguard-worker-{index}"))

    async def stop(self) -> None:
        self.queue.close()
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers.clear()
        # Events still being retried get a short last chance, then are given up
        retries = list(self._event_retries)
        if retries:
            await asyncio.wait(retries, timeout=2.0)
            for task in retries:
                task.cancel()
            await asyncio.gather(*retries, return_exceptions=True)

    async def _work(self) -> None:
        while True:
            key = await self.queue.get()
            try:
                await self.reconcile(key)
                self._failures.pop(key, None)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # one RV's trouble must not stop the worker
                failures = self._failures.get(key, 0) + (1 if counts_as_failure(exc) else 0)
                self._failures[key] = failures
                delay = retry_delay(failures, exc)
                kind = type(exc).__name__
                self.metrics.reconcile_errors.labels(kind).inc()
                quiet = isinstance(
                    exc, (TransientKubeError, ConflictError, NotFoundError)
                )  # resolved by the next watch event
                log = logger.info if quiet else logger.error
                log("%s/%s: reconcile failed (%s: %s); retrying in %.1fs", key[0], key[1], kind, exc, delay)
                self.queue.add_after(key, delay)
            finally:
                self.queue.done(key)

    # --- one reconciliation --------------------------------------------------------------

    async def reconcile(self, key: Key) -> Plan | None:
        body = self.cache.rvs.get(key)
        if body is None:
            return None
        namespace, name = key
        seen_status = status_from_wire(body.get("status"))  # as found, before this reconcile writes
        deployment = await self._deployment(namespace, _target(body))
        jobs = dict(self.cache.jobs.get(key, {}))
        stuck = await self._stuck_jobs(key, body, jobs)
        reports, unreported = await self._messages(key, body, jobs)
        messages = {n: r.message for n, r in reports.items()}
        problems = {n: r.problem for n, r in reports.items() if r.problem is not None}
        samples, records = await self._sampled(key, body, jobs, reports)
        siblings = [
            self.cache.rvs[k] for k in self.cache.rvs_targeting((namespace, _target(body))) if k in self.cache.rvs
        ]
        trouble = await rollout_trouble(self.kube, key, body, deployment)
        by_hand = await rolled_back_by_hand(self.kube, body, deployment)
        new_pods = await new_revision_pods(self.kube, body, deployment)
        observed = Observed(
            body,
            deployment,
            jobs,
            messages,
            self.clock(),
            problems,
            rollback_owner=rollback_owner(siblings or [body], self.settings),
            stuck_jobs=stuck,
            rollout_trouble=trouble,
            rolled_back_by_hand=by_hand,
            rollback_failure=self._rollback_failures.get(key),
            unreported_since=unreported,
            new_pods=new_pods,
            samples=samples,
            records=records,
        )
        plan = decide(observed, self.settings)
        if (plan.needs_replicasets or plan.wants_records) and deployment is not None:
            # read only when the decision rests on them (a rollback, right before the status write
            # it follows; a rejected template's record), then decided again with them
            if plan.needs_replicasets:
                observed = dataclasses.replace(observed, replicasets=await self.kube.replicasets_of(deployment))
            if plan.wants_records and observed.records is None:
                observed = dataclasses.replace(observed, records=await self._own_records(key, body))
            plan = decide(observed, self.settings)
        for line in plan.log:
            logger.info("%s", line)

        if self.notifications is not None:
            plan.status.notifications = self.notifications.records(key, plan.status)
        old_status = body.get("status") or {}
        new_status = plan.status.to_wire()
        if new_status != old_status:
            version = (body.get("metadata") or {}).get("resourceVersion")
            try:
                updated = await self.kube.patch_rv_status(
                    namespace, name, merge_patch(old_status, new_status), resource_version=version
                )
            except TransientKubeError:
                # The write may have landed though its answer was lost (a connection cut after the
                # request went out): the next look then finds the verdict recorded and decides
                # nothing, so it posts the last verdict's Events again, as the first look after a
                # start does (the ones that landed answer AlreadyExists and stay single).
                self._caught_up.discard(key)
                raise
            except ConflictError:
                # The copy decided on is stale. The watch may be slow to bring the current one
                # (its stream cut, or relisting after a 410), so read it: the retry decides on it.
                self.cache.put_rv(await self.kube.get_rv(namespace, name))
                raise
            self.cache.put_rv(updated)
            body = updated
        self._rollback_failures.pop(key, None)  # decided on and written: the refusal is in the status
        if self.notifications is not None:
            self.notifications.written(key, plan.status.notifications)
        if key not in self._caught_up:
            # the first look at this rv in this process: the last verdict's Events again, in case a
            # crash came between its status write and its Events (the ones that landed are kept)
            self._caught_up.add(key)
            plan.events += self._missed_events(body, seen_status, plan)
        # From here on the decision is recorded and will not be made again: its Events are posted
        # whatever fails next (the failure is retried by the next reconcile, the Events are not).
        refused = False  # the rollback patch was refused, so its Events tell of nothing that happened
        try:
            if plan.pause is not None and deployment is not None:
                await self._pause_or_resume(key, deployment, plan.pause, "paused")
            if plan.rollback is not None and deployment is not None:
                refused = await self._rollback(key, deployment, plan.rollback)
            if plan.resume is not None and deployment is not None:
                await self._pause_or_resume(key, deployment, plan.resume, "resumed")
            for configmap in plan.create_configmaps:
                await self.kube.create_configmap(namespace, configmap)
            for job in plan.create_jobs:
                try:
                    created = await self.kube.create_job(namespace, job)
                except KubeError as exc:
                    if exc.status not in REFUSED:
                        raise
                    # the server will refuse it again: the next decision ends the run with its words
                    self._refused[(namespace, job["metadata"]["name"])] = str(exc)
                    self.queue.add(key)
                    continue
                if created is not None:  # else it existed already, and its watch event has or will come
                    self.cache.put_job(key, created)
            for job_name in plan.delete_jobs:
                await self.kube.delete_job(namespace, job_name)
                self.cache.drop_job(key, job_name)
        finally:
            await self._post(body, deployment, plan, rollback_refused=refused)
        if plan.verdict is not None:
            v = plan.verdict
            self.metrics.record_verdict(
                namespace, name, v.verdict.value, v.duration_seconds, v.rollout_to_verdict_seconds, v.checks
            )
        self.metrics.set_phase(namespace, name, plan.status.phase)
        self.metrics.set_info(namespace, name, _target(body), plan.status.current_revision, images_of(deployment))
        if plan.requeue_after is not None:
            self.queue.add_after(key, plan.requeue_after)
        if self.notifications is not None:
            await self.notifications.dispatch(key, self.cache.rvs.get(key), deployment)
        await self.records.sync(self.cache.rvs.get(key) or body, deployment, messages, samples)
        return plan

    async def _sampled(
        self, key: Key, body: Obj, jobs: dict[str, Obj], reports: dict[str, PodReport]
    ) -> tuple[dict[str, Samples], list[Obj] | None]:
        """Issue 15, only for an rv with sampled http checks whose run is finishing: the samples of
        its finished Jobs, from the full report in the trusted pod's log (read once per Job, at most
        SAMPLES_LOG_LIMIT bytes), and, once every Job has reported and a check has a baseline, the
        rv's VerificationRuns (core.sampled picks the baselines). Reading only; core decides."""
        sampled, compared = _sampled_names(body)
        run = (body.get("status") or {}).get("lastRun") or {}
        names = [n for n in run.get("jobs") or [] if isinstance(n, str)]
        if not sampled or not names or run.get("verdict"):
            return {}, None
        namespace = key[0]
        unread = [
            n
            for n in names
            if (namespace, n) not in self.cache.samples
            and n in jobs
            and n in reports
            and reports[n].final
            and reports[n].message
            and _names_checks(reports[n].message or "", sampled)
        ]
        if unread:
            pods = await self.kube.probe_pods(namespace, key[1], int(run.get("revision") or 0))
            for job_name in unread:
                self.cache.samples[(namespace, job_name)] = await self._read_samples(namespace, jobs[job_name], pods)
        samples: dict[str, Samples] = {}
        for job_name in names:
            samples.update(self.cache.samples.get((namespace, job_name), {}))
        if not compared or not all(n in reports and reports[n].final for n in names):
            return samples, None
        return samples, await self._own_records(key, body)

    async def _read_samples(self, namespace: str, job: Obj, pods: list[Obj]) -> dict[str, Samples]:
        pod = trusted_pod(job, pods)
        job_name = key_of(job)[1]
        if pod is None:
            logger.warning("%s: Job %s has no trusted pod; its samples are not read", namespace, job_name)
            return {}
        pod_name = key_of(pod)[1]
        try:
            text = await self.kube.pod_log(namespace, pod_name, PROBE_CONTAINER, SAMPLES_LOG_LIMIT)
        except TransientKubeError:
            raise  # the reconcile is retried, and the log read again
        except KubeError as exc:
            logger.warning("%s: cannot read the samples of Job %s from pod %s: %s", namespace, job_name, pod_name, exc)
            return {}
        report = report_from_log(text)
        if report is None:
            logger.warning("%s: the log of pod %s holds no probe report; no samples", namespace, pod_name)
            return {}
        return samples_by_check(report)

    async def _deployment(self, namespace: str, name: str) -> Obj | None:
        """The target from the cache; one kept only as a stub (no RV targeted it when it was last
        seen) is read whole once, then kept whole by the watch."""
        found = self.cache.deployments.get((namespace, name))
        if not is_stub(found):
            return found
        try:
            whole = slim_deployment(await self.kube.get_deployment(namespace, name))
        except NotFoundError:
            return None  # deleted meanwhile: its DELETED event drops the stub
        self.cache.put_deployment(whole)
        cached = self.cache.deployments.get((namespace, name))
        return None if cached is None or is_stub(cached) else cached

    async def _messages(
        self, key: Key, body: Obj, jobs: dict[str, Obj]
    ) -> tuple[dict[str, PodReport], dict[str, datetime]]:
        """The reports of the current run's finished Jobs (see core.trust): a final one is read
        once and kept; one whose pod shows no message yet is read again each time, with when its
        Job was first seen finished (the core gives it Settings.message_grace_seconds)."""
        run = (body.get("status") or {}).get("lastRun") or {}
        early = run.get("early") or {}
        names = [n for n in [*(early.get("jobs") or []), *(run.get("jobs") or [])] if isinstance(n, str)]
        namespace = key[0]
        if not names or run.get("verdict"):
            for name in names:
                self._finished_at.pop((namespace, name), None)
            return {}, {}
        unread = [n for n in names if n in jobs and job_finished(jobs[n]) and (namespace, n) not in self.cache.messages]
        pending: dict[str, PodReport] = {}
        unreported: dict[str, datetime] = {}
        if unread:
            pods = await self.kube.probe_pods(namespace, key[1], int(run.get("revision") or 0))
            now = self.clock()
            for job_name in unread:
                report = pod_report(jobs[job_name], pods)
                if report.final:
                    self._finished_at.pop((namespace, job_name), None)
                    self.cache.messages[(namespace, job_name)] = report
                else:
                    pending[job_name] = report
                    unreported[job_name] = self._finished_at.setdefault((namespace, job_name), now)
        kept = {n: self.cache.messages[(namespace, n)] for n in names if (namespace, n) in self.cache.messages}
        return kept | pending, unreported

    async def _stuck_jobs(self, key: Key, body: Obj, jobs: dict[str, Obj]) -> dict[str, str]:
        """The current run's Jobs that can never finish: refused by the API server (remembered
        here), or with a pod that cannot start (read by observe.running_jobs). A Job whose pod has
        ended is read again into the cache and into `jobs`."""
        run = (body.get("status") or {}).get("lastRun") or {}
        names = [n for n in run.get("jobs") or [] if isinstance(n, str)]
        refused = {n: self._refused[(key[0], n)] for n in names if (key[0], n) in self._refused}
        if not names or run.get("verdict"):
            for name in refused:
                self._refused.pop((key[0], name), None)
            self._pods_read_at.pop(key, None)
            return {}
        now = time.monotonic()
        # first looked at pod_poll_seconds after the run was first seen running, then at most that
        # often: a pod needs that long to show a reason, and Job events must not add reads
        if now - self._pods_read_at.setdefault(key, now) < self.settings.pod_poll_seconds:
            return refused
        self._pods_read_at[key] = now
        running = {n: j for n, j in jobs.items() if n in names and n not in refused}
        seen = await running_jobs(self.kube, key, run, running)
        for name in seen.ended:
            # the Job's watch has not told of its end yet: read it, so the verdict need not wait
            try:
                fresh = await self.kube.get_job(key[0], name)
            except NotFoundError:
                continue
            self.cache.put_job(key, fresh)
            jobs[name] = self.cache.jobs.get(key, {}).get(name, fresh)
        return {**refused, **seen.stuck}

    async def _pause_or_resume(self, key: Key, deployment: Obj, patch: tuple[Obj, ...], what: str) -> None:
        """Pause the Deployment before its rollback (an early failure, recorded in the status
        already: the controller replaces no more old pods until the rollback patch resumes it), or
        lift the operator's own pause after a refused rollback. The patch tests the revision or the
        operator's pause marker, so a 422 means the Deployment moved on or the pause is not ours:
        left as it is."""
        dep_name = key_of(deployment)[1]
        try:
            updated = await self.kube.json_patch_deployment(key[0], dep_name, list(patch))
        except KubeError as exc:
            if exc.status != 422:
                raise
            logger.info("%s/%s: Deployment %s not %s: %s", key[0], key[1], dep_name, what, exc)
            return
        self.cache.put_deployment(updated)
        logger.info("%s/%s: %s Deployment %s", key[0], key[1], what, dep_name)

    async def _own_records(self, key: Key, body: Obj) -> list[Obj]:
        uid = str((body.get("metadata") or {}).get("uid") or "")
        return own_records(await self.kube.list_vruns(key[0], key[1]), uid)

    async def _rollback(self, key: Key, deployment: Obj, request: RollbackRequest) -> bool:
        """Apply the plan's rollback patch; True when the API server refused it for good. A 422 (the
        Deployment changed under the patch's test) is remembered for the next decision, which
        records the refusal; on a reapply it means the earlier patch landed and the revision moved
        on. Other errors raise: the next reconcile applies the recorded rollback again."""
        namespace, name = key
        dep_name = key_of(deployment)[1]
        try:
            updated = await self.kube.json_patch_deployment(namespace, dep_name, list(request.patch or ()))
        except KubeError as exc:
            if exc.status != 422:
                # a 409 on a patch without resourceVersion is the server's own retry giving up:
                # the next reconcile applies the recorded rollback again (reapply)
                raise
            if request.reapply:
                return False
            self._rollback_failures[key] = str(exc)
            self.queue.add(key)
            return True
        self.cache.put_deployment(updated)
        # counted when it lands: a reapply lands only when the first patch did not (had it, the
        # template would match and the core plans no patch)
        self.metrics.record_rollback(namespace, name, request.reason)
        logger.info(
            "%s/%s: patched Deployment %s back to the template of revision %d",
            namespace,
            name,
            dep_name,
            request.to_revision,
        )
        return False

    def _missed_events(self, body: Obj, seen: ReleaseVerificationStatus, plan: Plan) -> list[Event]:
        """The Events of the last verdict recorded before this look (`seen`), in case a crash came
        between its status write and its Events; by the run they belong to, so also when the plan
        already moved on to a new run (the rollback's own revision, say)."""
        run = seen.last_run
        if run is None or run.finish_time is None or self.clock() - run.finish_time > CATCH_UP_WINDOW:
            return []
        planned = {(e.reason, e.on, e.run or run_identity(plan.status)) for e in plan.events}
        derived = verdict_events(seen, key_of(body)[1], _target(body))
        return [e for e in derived if (e.reason, e.on, e.run) not in planned]

    async def _post(self, body: Obj, deployment: Obj | None, plan: Plan, rollback_refused: bool = False) -> None:
        """Post the plan's Events. One that fails for a reason that can pass (5xx, 429, a cut
        connection) is posted again in the background until it lands, its object is gone, or
        EVENT_RETRY_LIMIT attempts: the decision that wanted it is already recorded and will not be
        made again, so nothing else would ever post it."""
        posts = []
        rv_uid = str((body.get("metadata") or {}).get("uid") or "")
        for event in plan.events:
            if event.if_rolled_back and rollback_refused:
                continue
            involved = body if event.on == "rv" else deployment
            if involved is not None:
                posts.append((involved, event, event_name(key_of(involved)[1], rv_uid, plan.status, event)))
        results = await asyncio.gather(
            *(self.kube.post_event(o, e.reason, e.message, e.type, n) for o, e, n in posts), return_exceptions=True
        )
        for (involved, event, named), result in zip(posts, results, strict=True):
            if isinstance(result, TransientKubeError | ConflictError):
                wait = result.retry_after if isinstance(result, TransientKubeError) else 0.0
                task = asyncio.create_task(self._post_again(involved, event, named, wait), name=f"event-{event.reason}")
                self._event_retries.add(task)
                task.add_done_callback(self._event_retries.discard)
            elif isinstance(result, Exception):
                logger.warning("could not post an Event: %s", result)

    async def _post_again(self, involved: Obj, event: Event, name: str | None, wait: float = 0.0) -> None:
        """`wait`: the Retry-After of the answer that failed it, which the next attempt respects."""
        delay = 0.25
        for attempt in range(2, EVENT_RETRY_LIMIT + 1):
            await asyncio.sleep(max(delay, wait))
            delay = min(delay * 2, 10.0)
            if not self._still_there(involved):
                logger.info("Event %s not posted: %s is gone", event.reason, key_of(involved))
                return
            try:
                await self.kube.post_event(involved, event.reason, event.message, event.type, name)
            except (TransientKubeError, ConflictError) as exc:
                logger.info("posting Event %s again (attempt %d): %s", event.reason, attempt, exc)
                wait = exc.retry_after if isinstance(exc, TransientKubeError) else 0.0
                continue
            except KubeError as exc:
                logger.warning("could not post an Event: %s", exc)
                return
            return
        logger.warning(
            "gave up posting Event %s on %s after %d attempts", event.reason, key_of(involved), EVENT_RETRY_LIMIT
        )

    def _still_there(self, involved: Obj) -> bool:
        key = key_of(involved)
        uid = (involved.get("metadata") or {}).get("uid")
        cached = (
            self.cache.rvs.get(key)
            if involved.get("kind") == "ReleaseVerification"
            else self.cache.deployments.get(key)
        )
        return cached is not None and (cached.get("metadata") or {}).get("uid") == uid


def _sampled_names(body: Obj) -> tuple[set[str], set[str]]:
    """The names of the rv's http checks with samples, and of those with a baseline (raw spec)."""
    sampled: set[str] = set()
    compared: set[str] = set()
    for check in (body.get("spec") or {}).get("checks") or []:
        http = check.get("http") if isinstance(check, dict) else None
        if isinstance(http, dict) and http.get("samples") and isinstance(check.get("name"), str):
            sampled.add(check["name"])
            if http.get("baseline") is not None:
                compared.add(check["name"])
    return sampled, compared


def _names_checks(message: str, names: set[str]) -> bool:
    """Whether a Job's report (its termination message) is about one of `names`."""
    try:
        report = parse_report(message)
    except ReportError:
        return False
    return any(c.name in names for c in report.checks) or report.truncated
