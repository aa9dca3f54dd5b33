"""Pure parts of the Deployment controller: template hashing, revisions and their annotations,
surge/unavailable arithmetic and the rollout conditions, after k8s.io/kubernetes/pkg/controller/deployment."""

from __future__ import annotations

import copy
import hashlib
import json
import math
from typing import Any

from kubesim.cluster import Obj

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
ROLLBACK_TO = "deprecated.deployment.rollback.to"
SKIPPED_ANNOTATIONS = {LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS, ROLLBACK_TO}
MAX_REV_HISTORY_CHARS = 2000
_SAFE = "bcdfghjklmnpqrstvwxz2456789"


def template_hash(template: Obj, collision_count: int = 0) -> str:
    """A stable, label-safe hash of a pod template (the real one is FNV over the Go struct; any stable
    hash of the same input serves, since RSs are matched by template equality)."""
    data = json.dumps(strip_hash(template), sort_keys=True, separators=(",", ":")) + (
        str(collision_count) if collision_count else ""
    )
    n = int.from_bytes(hashlib.sha256(data.encode()).digest()[:8], "big")
    out = ""
    for _ in range(10):
        n, r = divmod(n, len(_SAFE))
        out += _SAFE[r]
    return out


def strip_hash(template: Obj) -> Obj:
    t = copy.deepcopy(template or {})
    labels = (t.get("metadata") or {}).get("labels")
    if labels and HASH_LABEL in labels:
        del labels[HASH_LABEL]
    return t


def same_template(a: Obj, b: Obj) -> bool:
    return strip_hash(a) == strip_hash(b)


def revision(obj: Obj) -> int:
    try:
        return int((obj["metadata"].get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


def resolve(value: Any, total: int, round_up: bool) -> int:
    if isinstance(value, int):
        return value
    s = str(value)
    if s.endswith("%"):
        frac = float(s[:-1]) * total / 100
        return math.ceil(frac) if round_up else math.floor(frac)
    return int(s)


def surge_and_unavailable(d: Obj) -> tuple[int, int]:
    spec = d["spec"]
    replicas = int(spec.get("replicas", 1))
    strategy = spec.get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return 0, replicas
    ru = strategy.get("rollingUpdate") or {}
    surge = resolve(ru.get("maxSurge", "25%"), replicas, True)
    unavailable = resolve(ru.get("maxUnavailable", "25%"), replicas, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, min(unavailable, replicas)


def copy_annotations(d: Obj, rs: Obj) -> bool:
    """Deployment annotations onto the ReplicaSet, minus the skipped ones. True when something changed."""
    changed = False
    rs_ann = rs["metadata"].setdefault("annotations", {})
    for k, v in (d["metadata"].get("annotations") or {}).items():
        if k in SKIPPED_ANNOTATIONS or rs_ann.get(k) == v:
            continue
        rs_ann[k] = v
        changed = True
    return changed


def set_new_rs_revision(rs: Obj, new_revision: int) -> bool:
    """Give `rs` revision `new_revision` if it is behind, keeping its old number in revision-history."""
    ann = rs["metadata"].setdefault("annotations", {})
    old = ann.get(REVISION)
    old_int = int(old) if old and old.isdigit() else 0
    if old_int >= new_revision:
        return False
    ann[REVISION] = str(new_revision)
    if old:
        history = ann.get(REVISION_HISTORY, "")
        revs = history.split(",") if history else []
        total = len(history) + len(old) + 1
        start = 0
        while total > MAX_REV_HISTORY_CHARS and start < len(revs):
            total -= len(revs[start]) + 1
            start += 1
        ann[REVISION_HISTORY] = ",".join([*revs[start:], old])
    return True


def set_replicas_annotations(rs: Obj, desired: int, max_replicas: int) -> bool:
    ann = rs["metadata"].setdefault("annotations", {})
    new = {DESIRED_REPLICAS: str(desired), MAX_REPLICAS: str(max_replicas)}
    if all(ann.get(k) == v for k, v in new.items()):
        return False
    ann.update(new)
    return True


def condition(status: Obj, type_: str) -> Obj | None:
    for c in status.get("conditions") or []:
        if c.get("type") == type_:
            return dict(c)
    return None


def set_condition(
    status: Obj, type_: str, value: str, reason: str, message: str, now: str, touch: bool = False
) -> None:
    """Set a Deployment condition; lastTransitionTime only moves when the status changes."""
    conds = [dict(c) for c in status.get("conditions") or []]
    old = next((c for c in conds if c.get("type") == type_), None)
    new = {
        "type": type_,
        "status": value,
        "lastUpdateTime": now,
        "lastTransitionTime": now,
        "reason": reason,
        "message": message,
    }
    if old is not None:
        if old.get("status") == value:
            new["lastTransitionTime"] = old.get("lastTransitionTime", now)
            if old.get("reason") == reason and old.get("message") == message and not touch:
                new["lastUpdateTime"] = old.get("lastUpdateTime", now)
        conds = [new if c is old else c for c in conds]
    else:
        conds.append(new)
    status["conditions"] = conds
