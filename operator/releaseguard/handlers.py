"""kopf handlers: index handlers fill the cache, event handlers queue the RV(s) an event concerns.

kopf runs every index handler on the initial list of its resource and holds back every other
handler until all indexed resources have been listed and indexed: so the workers see an RV only
once the Deployments, Jobs and RVs that existed at start are all in the cache (as controller-runtime
waits for its caches to sync). A restarted operator never reconciles against a half-filled cache.

Everything is an event or index handler, so kopf writes nothing onto Deployments or Jobs (no
`kopf.zalando.org/*` annotations for the deployment controller to copy around); the decisions
and the API calls happen in the reconciler's workers. The handlers are coroutines: they run on the
loop the workers run on, never in a thread beside them.
"""

from __future__ import annotations

import copy
from typing import Any

import kopf

from .api import GROUP, PLURAL, VERSION
from .jobs import RV_LABEL
from .operator import cleanup, queue_length, reconciler, runtime, startup
from .reconciler import key_of, rv_of_job, slim_deployment

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


def _plain(body: Any) -> dict[str, Any]:
    return copy.deepcopy(dict(body))


# --- cache: runs on every listed or watched object before kopf lets any event handler run --------


@kopf.index(GROUP, VERSION, PLURAL)
async def rv_index(body: kopf.Body, **_: Any) -> None:
    reconciler().cache.put_rv(_plain(body))


@kopf.index("apps", "v1", "deployments")
async def deployment_index(body: kopf.Body, **_: Any) -> None:
    reconciler().cache.put_deployment(slim_deployment(dict(body)))


@kopf.index("batch", "v1", "jobs", labels={RV_LABEL: kopf.PRESENT})
async def job_index(body: kopf.Body, **_: Any) -> None:
    obj = _plain(body)
    rv = rv_of_job(obj)
    if rv is not None:
        reconciler().cache.put_job((key_of(obj)[0], rv), obj)


# --- queueing: only after the initial lists of every resource are in the cache -------------------


@kopf.on.event(GROUP, VERSION, PLURAL)
async def rv_event(type: str | None, body: kopf.Body, **_: Any) -> None:
    key = key_of(dict(body))
    work = reconciler()
    if type == "DELETED":
        work.cache.drop_rv(key)
        runtime().metrics.forget(*key)
        return
    work.cache.put_rv(_plain(body))  # the index handler put it already; a no-op unless newer
    work.queue.add(key)


@kopf.on.event("apps", "v1", "deployments")
async def deployment_event(type: str | None, body: kopf.Body, **_: Any) -> None:
    key = key_of(dict(body))
    work = reconciler()
    keys = (
        work.cache.drop_deployment(key) if type == "DELETED" else work.cache.put_deployment(slim_deployment(dict(body)))
    )
    for rv in keys:
        work.queue.add(rv)


@kopf.on.event("batch", "v1", "jobs", labels={RV_LABEL: kopf.PRESENT})
async def job_event(type: str | None, body: kopf.Body, **_: Any) -> None:
    obj = _plain(body)
    rv = rv_of_job(obj)
    if rv is None:
        return
    namespace, name = key_of(obj)
    work = reconciler()
    if type == "DELETED":
        work.cache.drop_job((namespace, rv), name)
    else:
        work.cache.put_job((namespace, rv), obj)
    work.queue.add((namespace, rv))
