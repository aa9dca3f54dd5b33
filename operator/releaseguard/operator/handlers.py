"""Every kopf hook of the operator: startup and cleanup build and stop the runtime (runtime.py),
kept in kopf's memo; index handlers fill the cache; event handlers queue the RV(s) an event
concerns; a probe reports the work queue's length.

kopf runs every index handler on the initial list of its resource and holds back every other
handler until all indexed resources have been listed and indexed: so the workers see an RV only
once the Deployments, Jobs and RVs that existed at start are all in the cache (as controller-runtime
waits for its caches to sync). A restarted operator never reconciles against a half-filled cache.

Everything is an event or index handler, so kopf writes nothing onto Deployments or Jobs (no
`kopf.zalando.org/*` annotations for the deployment controller to copy around); the decisions
and the API calls happen in the reconciler's workers. The handlers are coroutines: they run on the
loop the workers run on, never in a thread beside them.

`releaseguard run` passes its settings in the memo (`memo.settings`); under `kopf run -m
releaseguard.operator.handlers` they come from the RELEASEGUARD_* variables (settings.from_env).
"""

from __future__ import annotations

import copy
import logging
from typing import Any

import kopf

from ..api import GROUP, PLURAL, VERSION
from ..core.jobs import RV_LABEL
from . import runtime as runtime_
from .reconciler import Reconciler, key_of, rv_of_job, slim_deployment
from .settings import OperatorSettings, from_env

__all__ = [
    "cleanup",
    "deployment_event",
    "deployment_index",
    "job_event",
    "job_index",
    "queue_length",
    "rv_event",
    "rv_index",
    "startup",
]


def configure_kopf(kopf_settings: kopf.OperatorSettings, settings: OperatorSettings) -> None:
    # kopf keeps no state on anything we watch: Deployments and Jobs are watched with event
    # handlers only, and should kopf ever store progress, it goes under our own prefix on the RV.
    kopf_settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="releaseguard.io")
    kopf_settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix="releaseguard.io")
    kopf_settings.persistence.finalizer = "releaseguard.io/kopf-finalizer"
    kopf_settings.posting.level = logging.WARNING  # kopf's own warnings become Events; ours are posted by kube.py
    kopf_settings.watching.server_timeout = 300
    kopf_settings.watching.client_timeout = 330
    kopf_settings.watching.reconnect_backoff = 1.0
    # A 429 is retried after the server's Retry-After, not after kopf's climbing backoff (13 s, 21 s):
    # under API Priority and Fairness a watch's relist otherwise stayed blind for a quarter minute.
    kopf_settings.networking.enforce_retry_after = True
    # How long a replica's peering record counts as alive: the standby takes over this long after
    # the active replica dies without a goodbye.
    kopf_settings.peering.lifetime = settings.peering_lifetime
    # kopf waits batch_window after an event for more of the same object; we dedupe in our own
    # queue, so a short window only adds latency.
    kopf_settings.batching.batch_window = 0.01
    # Watching listed namespaces (per-namespace Roles, nothing cluster-wide): kopf's scan of every
    # namespace and CRD would be refused (403) and retried for about a minute before each start.
    kopf_settings.scanning.disabled = bool(settings.namespaces)


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    ours: OperatorSettings = memo.get("settings") or from_env()
    configure_kopf(settings, ours)
    memo.runtime = await runtime_.start(ours, metrics=memo.get("metrics"))  # metrics outlive a restart


@kopf.on.cleanup()
async def cleanup(memo: kopf.Memo, **_: Any) -> None:
    running: runtime_.Runtime | None = memo.get("runtime")
    if running is not None:
        memo.runtime = None
        await runtime_.stop(running)
    on_cleanup = memo.get("on_cleanup")
    if callable(on_cleanup):
        on_cleanup()  # releaseguard run's supervisor: kopf is stopping


@kopf.on.probe(id="queue")
def queue_length(memo: kopf.Memo, **_: Any) -> int:
    return len(_work(memo).queue)


def _work(memo: kopf.Memo) -> Reconciler:
    running: runtime_.Runtime = memo.runtime
    return running.reconciler


def _plain(body: Any) -> dict[str, Any]:
    return copy.deepcopy(dict(body))


# --- cache: runs on every listed or watched object before kopf lets any event handler run --------


@kopf.index(GROUP, VERSION, PLURAL)
async def rv_index(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    _work(memo).cache.put_rv(_plain(body))


@kopf.index("apps", "v1", "deployments")
async def deployment_index(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    _work(memo).cache.put_deployment(slim_deployment(dict(body)))


@kopf.index("batch", "v1", "jobs", labels={RV_LABEL: kopf.PRESENT})
async def job_index(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    obj = _plain(body)
    rv = rv_of_job(obj)
    if rv is not None:
        _work(memo).cache.put_job((key_of(obj)[0], rv), obj)


# --- queueing: only after the initial lists of every resource are in the cache -------------------


@kopf.on.event(GROUP, VERSION, PLURAL)
async def rv_event(type: str | None, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    key = key_of(dict(body))
    work = _work(memo)
    if type == "DELETED":
        work.cache.drop_rv(key)
        work.metrics.forget(*key)
        return
    work.cache.put_rv(_plain(body))  # the index handler put it already; a no-op unless newer
    work.queue.add(key)


@kopf.on.event("apps", "v1", "deployments")
async def deployment_event(type: str | None, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    key = key_of(dict(body))
    work = _work(memo)
    keys = (
        work.cache.drop_deployment(key) if type == "DELETED" else work.cache.put_deployment(slim_deployment(dict(body)))
    )
    for rv in keys:
        work.queue.add(rv)


@kopf.on.event("batch", "v1", "jobs", labels={RV_LABEL: kopf.PRESENT})
async def job_event(type: str | None, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    obj = _plain(body)
    rv = rv_of_job(obj)
    if rv is None:
        return
    namespace, name = key_of(obj)
    work = _work(memo)
    if type == "DELETED":
        work.cache.drop_job((namespace, rv), name)
    else:
        work.cache.put_job((namespace, rv), obj)
    work.queue.add((namespace, rv))
