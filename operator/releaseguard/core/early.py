"""Early verification (spec.early) and the pods checks name: pure helpers.

A check whose http url or tcp host holds `{{ .PodIP }}` or `{{ .PodName }}` runs once per ready
pod of the new revision (the pods of the ReplicaSet that carries the Deployment's revision). With
spec.early enabled those checks run as soon as minReadyPods such pods are ready, while the rollout
goes on; a critical failure pauses the Deployment and rolls it back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..api import Check, ReleaseVerification
from ..api.status import RejectedTemplate, TargetPod
from .rollback import owned_by
from .rollout import TEMPLATE_HASH_LABEL, revision_of

Obj = dict[str, Any]
REJECTED_TEMPLATES_LIMIT = 20
EARLY_RERUN_KEY = "early"  # set apart the early Jobs' names from the run's own


def templated_checks(rv: ReleaseVerification) -> list[Check]:
    return [c for c in rv.spec.checks if c.names_a_pod]


def uses_pods(rv: ReleaseVerification) -> bool:
    """Whether any check names a pod, so the new revision's ready pods must be observed."""
    return bool(templated_checks(rv))


def early_rv(rv: ReleaseVerification) -> ReleaseVerification:
    """The rv with only its pod-naming checks: what the early Jobs run."""
    spec = rv.spec.model_copy(update={"checks": templated_checks(rv)})
    return rv.model_copy(update={"spec": spec})


def new_replicaset(deployment: Obj, replicasets: Sequence[Obj]) -> Obj | None:
    """The Deployment's ReplicaSet carrying its current revision."""
    revision = revision_of(deployment)
    if revision is None:
        return None
    return next((rs for rs in replicasets if owned_by(rs, deployment) and revision_of(rs) == revision), None)


def template_hash_label(replicaset: Obj | None) -> str | None:
    rs = replicaset or {}
    template = (rs.get("spec") or {}).get("template") or {}
    value = ((rs.get("metadata") or {}).get("labels") or {}).get(TEMPLATE_HASH_LABEL) or (
        (template.get("metadata") or {}).get("labels") or {}
    ).get(TEMPLATE_HASH_LABEL)
    return str(value) if value else None


def _ready(pod: Obj) -> bool:
    status = pod.get("status") or {}
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])


def ready_pods(replicaset: Obj, pods: Sequence[Obj]) -> list[TargetPod]:
    """The ready pods of `replicaset` (controlled by it, not being deleted, with an address), by name."""
    uid = (replicaset.get("metadata") or {}).get("uid")
    out = []
    for pod in pods:
        meta = pod.get("metadata") or {}
        refs = meta.get("ownerReferences") or []
        ip = (pod.get("status") or {}).get("podIP")
        if not any(r.get("uid") == uid and r.get("controller") for r in refs) or meta.get("deletionTimestamp"):
            continue
        if ip and _ready(pod):
            out.append(TargetPod(name=str(meta.get("name") or ""), ip=str(ip)))
    return sorted(out, key=lambda p: p.name)


def remember(
    rejected: Sequence[RejectedTemplate], entry: RejectedTemplate, limit: int = REJECTED_TEMPLATES_LIMIT
) -> list[RejectedTemplate]:
    """`entry` first, then the others (one entry per template), at most `limit`."""
    return [entry, *(r for r in rejected if r.template_digest != entry.template_digest)][:limit]


def rejected(rejected: Sequence[RejectedTemplate], digest: str | None) -> RejectedTemplate | None:
    return next((r for r in rejected if digest is not None and r.template_digest == digest), None)
