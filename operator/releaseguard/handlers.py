"""kopf handlers: each one records what it saw in the cache and queues the RV(s) it concerns.

Everything is an event handler, so kopf writes nothing onto Deployments or Jobs (no
`kopf.zalando.org/*` annotations for the deployment controller to copy around); the decisions
and the API calls happen in the reconciler's workers.
"""

from __future__ import annotations

import copy
from typing import Any

import kopf

from .api import GROUP, PLURAL, VERSION
from .jobs import RV_LABEL
from .operator import cleanup, queue_length, reconciler, runtime, startup
from .reconciler import key_of, rv_of_job

__all__ = ["cleanup", "deployment_event", "job_event", "queue_length", "rv_event", "startup"]


def _plain(body: Any) -> dict[str, Any]:
    return copy.deepcopy(dict(body))


@kopf.on.event(GROUP, VERSION, PLURAL)
def rv_event(type: str | None, body: kopf.Body, **_: Any) -> None:
    obj = _plain(body)
    key = key_of(obj)
    work = reconciler()
    if type == "DELETED":
        work.cache.drop_rv(key)
        runtime().metrics.forget(*key)
        return
    if work.cache.put_rv(obj):
        work.queue.add(key)


@kopf.on.event("apps", "v1", "deployments")
def deployment_event(type: str | None, body: kopf.Body, **_: Any) -> None:
    obj = _plain(body)
    work = reconciler()
    keys = work.cache.drop_deployment(key_of(obj)) if type == "DELETED" else work.cache.put_deployment(obj)
    for key in keys:
        work.queue.add(key)


@kopf.on.event("batch", "v1", "jobs", labels={RV_LABEL: kopf.PRESENT})
def job_event(type: str | None, body: kopf.Body, **_: Any) -> None:
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
