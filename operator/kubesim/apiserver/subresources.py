"""POST subresources: `serviceaccounts/NAME/token` (TokenRequest), `pods/NAME/binding` and
`pods/NAME/eviction` (the Eviction API; kubesim has no PodDisruptionBudgets, so every eviction is
allowed: 201 and the pod deleted, as the real API server answers when no budget forbids it).

kubesim authenticates nothing, so a service-account token is an opaque, recognisable string; what
matters is that a node can ask for one the way the real kubelet does and mount it."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from kubesim import clock
from kubesim.apiserver.store import Store
from kubesim.cluster import Obj
from kubesim.errors import ApiError, bad_request

DEFAULT_TOKEN_SECONDS = 3600


def token_request(store: Store, namespace: str | None, name: str, body: Any) -> Obj:
    store.get_obj(store.rt("v1", "serviceaccounts"), namespace, name)  # 404 when it does not exist
    spec = (body or {}).get("spec") or {} if isinstance(body, dict) else {}
    seconds = int(spec.get("expirationSeconds") or DEFAULT_TOKEN_SECONDS)
    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": clock.now_str()},
        "spec": {**spec, "expirationSeconds": seconds},
        "status": {"token": f"kubesim-serviceaccount.{namespace}.{name}", "expirationTimestamp": expires},
    }


def bind_pod(store: Store, namespace: str | None, name: str, body: Any) -> Obj:
    target = ((body or {}).get("target") or {}) if isinstance(body, dict) else {}
    node = target.get("name")
    if not node:
        raise bad_request("binding: target.name: Required value")
    rt = store.rt("v1", "pods")
    old = store.get_obj(rt, namespace, name)
    if (old.get("spec") or {}).get("nodeName"):
        raise ApiError(409, f'pod {name} is already assigned to node "{old["spec"]["nodeName"]}"', "Conflict")
    new = copy.deepcopy(old)
    new["spec"]["nodeName"] = node
    status = new.setdefault("status", {})
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
    conditions.append({"type": "PodScheduled", "status": "True", "lastTransitionTime": clock.now_str()})
    status["conditions"] = conditions
    store._replace(rt, old, new)
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}


def evict_pod(store: Store, namespace: str | None, name: str, body: Any) -> Obj:
    if isinstance(body, dict) and body.get("kind") not in (None, "Eviction"):
        raise bad_request(f"eviction: expected kind Eviction, got {body.get('kind')!r}")
    store.delete_obj(store.rt("v1", "pods"), namespace, name)  # 404 when it does not exist
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
