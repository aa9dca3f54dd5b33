"""Pure helpers about pods shared by the controllers."""

from __future__ import annotations

import copy
from typing import Any

from kubesim.cluster import Obj


def is_active(pod: Obj) -> bool:
    phase = (pod.get("status") or {}).get("phase")
    return not pod["metadata"].get("deletionTimestamp") and phase not in ("Succeeded", "Failed")


def is_ready(pod: Obj) -> bool:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return bool(c.get("status") == "True")
    return False


def owned_by(pod: Obj, uid: str) -> bool:
    return any(r.get("uid") == uid and r.get("controller") for r in pod["metadata"].get("ownerReferences") or [])


def pod_from_template(template: Obj, generate_name: str, namespace: str, owner: dict[str, Any]) -> Obj:
    tmd = template.get("metadata") or {}
    md: dict[str, Any] = {"generateName": generate_name, "namespace": namespace, "ownerReferences": [owner]}
    if tmd.get("labels"):
        md["labels"] = dict(tmd["labels"])
    if tmd.get("annotations"):
        md["annotations"] = dict(tmd["annotations"])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": copy.deepcopy(template.get("spec") or {})}


def deletion_order(pod: Obj) -> tuple[int, int, str]:
    """Pods to delete first sort first: not yet scheduled/running/ready before ready, newest first."""
    phase = (pod.get("status") or {}).get("phase")
    rank = 0 if phase == "Pending" else 1 if not is_ready(pod) else 2
    return (rank, -int(pod["metadata"].get("resourceVersion", "0")), pod["metadata"]["name"])
