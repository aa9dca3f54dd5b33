"""The rollback patch, with the semantics of `kubectl rollout undo --to-revision=N`.

kubectl picks the ReplicaSet whose revision annotation is N, refuses a paused Deployment, does
nothing when the template already matches, strips `pod-template-hash` from the template, keeps
the Deployment's own values for a fixed set of annotations while taking the rest from the
ReplicaSet, and sends one JSON patch replacing `/spec/template` and `/metadata/annotations`.
We add a leading `test` of the revision annotation so a patch computed for one revision can never
land on a newer one (a second replica, or a retry after the rollout already moved on).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Final

from .. import reasons
from .rollout import (
    REVISION_ANNOTATION,
    TEMPLATE_HASH_LABEL,
    parse_revision,
    pod_template,
    revision_history,
    revision_of,
)

Obj = dict[str, Any]

SKIPPED_ANNOTATIONS: Final = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        REVISION_ANNOTATION,
        "deployment.kubernetes.io/revision-history",
        "deployment.kubernetes.io/desired-replicas",
        "deployment.kubernetes.io/max-replicas",
        "deprecated.deployment.rollback.to",
    }
)
ROLLBACK_FROM_ANNOTATION: Final = "releaseguard.io/rolled-back-from-revision"
ROLLBACK_TO_ANNOTATION: Final = "releaseguard.io/rolled-back-to-revision"
ROLLBACK_REASON_ANNOTATION: Final = "releaseguard.io/rollback-reason"
# "RV-UID/REVISION" on a Deployment the operator paused to roll it back: the one proof that a pause
# is the operator's own (never the owner's), read from the Deployment itself, never from an rv's status
PAUSED_BY_ANNOTATION: Final = "releaseguard.io/paused-by"


@dataclass(frozen=True)
class RollbackPlan:
    from_revision: int
    to_revision: int
    patch: list[Obj]  # a JSON patch (RFC 6902)


@dataclass(frozen=True)
class RollbackRefused:
    """Why no patch: `reason` is CamelCase for conditions and Events, `message` a sentence."""

    reason: str
    message: str


def owned_by(replicaset: Obj, deployment: Obj) -> bool:
    uid = (deployment.get("metadata") or {}).get("uid")
    refs = (replicaset.get("metadata") or {}).get("ownerReferences") or []
    return any(r.get("uid") == uid and r.get("kind") == "Deployment" for r in refs) if uid else False


def template_without_hash(template: Obj) -> Obj:
    out = copy.deepcopy(template)
    labels = (out.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(TEMPLATE_HASH_LABEL, None)
    return out


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def plan_rollback(
    deployment: Obj,
    replicasets: list[Obj],
    to_revision: int,
    reason: str,
    unpause: bool = False,
) -> RollbackPlan | RollbackRefused:
    """The patch that returns `deployment` to the template of its revision `to_revision`.

    kubectl refuses a paused Deployment; with `unpause` (the operator paused it itself, to stop an
    early-failed rollout) the same patch also sets `/spec/paused` to false, so the rollback and the
    resume land together or not at all."""
    name = (deployment.get("metadata") or {}).get("name", "")
    current = revision_of(deployment)
    if current is None:
        return RollbackRefused(reasons.NO_REVISION, f"Deployment {name} has no revision annotation yet")
    if (deployment.get("spec") or {}).get("paused") and not unpause:
        return RollbackRefused(
            reasons.DEPLOYMENT_PAUSED, f"cannot roll back the paused Deployment {name}; resume it first"
        )
    source = next((rs for rs in replicasets if owned_by(rs, deployment) and revision_of(rs) == to_revision), None)
    if source is None:
        return RollbackRefused(
            reasons.REVISION_NOT_FOUND, f"no ReplicaSet of Deployment {name} has revision {to_revision} any more"
        )
    template = template_without_hash(pod_template(source))
    if template == template_without_hash(pod_template(deployment)):
        return RollbackRefused(
            reasons.TEMPLATE_ALREADY_MATCHES,
            f"the template of Deployment {name} already matches revision {to_revision}",
        )
    own = (deployment.get("metadata") or {}).get("annotations") or {}
    annotations = {k: v for k, v in own.items() if k in SKIPPED_ANNOTATIONS}
    for key, value in ((source.get("metadata") or {}).get("annotations") or {}).items():
        if key not in SKIPPED_ANNOTATIONS:
            annotations[key] = value
    annotations.pop(PAUSED_BY_ANNOTATION, None)  # the pause ends with this patch, or was never ours
    annotations[ROLLBACK_FROM_ANNOTATION] = str(current)
    annotations[ROLLBACK_TO_ANNOTATION] = str(to_revision)
    annotations[ROLLBACK_REASON_ANNOTATION] = reason
    patch: list[Obj] = [
        {"op": "test", "path": f"/metadata/annotations/{_escape(REVISION_ANNOTATION)}", "value": str(current)},
        {"op": "replace", "path": "/spec/template", "value": template},
        {"op": "replace", "path": "/metadata/annotations", "value": annotations},
    ]
    if unpause:
        patch.append({"op": "add", "path": "/spec/paused", "value": False})
    return RollbackPlan(from_revision=current, to_revision=to_revision, patch=patch)


def pause_marker(rv_uid: str, revision: int) -> str:
    return f"{rv_uid}/{revision}"


def paused_by(deployment: Obj, rv_uid: str) -> bool:
    """Whether the Deployment is paused by the operator for this rv at its current revision (the
    marker names both), so that the operator may resume it. A pause its owner made is never ours."""
    if not (deployment.get("spec") or {}).get("paused"):
        return False
    current = revision_of(deployment)
    marker = ((deployment.get("metadata") or {}).get("annotations") or {}).get(PAUSED_BY_ANNOTATION)
    return current is not None and bool(rv_uid) and marker == pause_marker(rv_uid, current)


def _revision_test(deployment: Obj) -> Obj:
    return {
        "op": "test",
        "path": f"/metadata/annotations/{_escape(REVISION_ANNOTATION)}",
        "value": str(revision_of(deployment)),
    }


def pause_patch(deployment: Obj, rv_uid: str) -> list[Obj]:
    """Pause the Deployment at its current revision (tested, so it never lands on a newer rollout),
    marked as the operator's own pause for this rv."""
    revision = revision_of(deployment) or 0
    patch = [_revision_test(deployment)]
    if not (deployment.get("metadata") or {}).get("annotations"):
        patch.append({"op": "add", "path": "/metadata/annotations", "value": {}})
    return [
        *patch,
        {"op": "add", "path": "/spec/paused", "value": True},
        {
            "op": "add",
            "path": f"/metadata/annotations/{_escape(PAUSED_BY_ANNOTATION)}",
            "value": pause_marker(rv_uid, revision),
        },
    ]


def resume_patch(deployment: Obj, rv_uid: str) -> list[Obj]:
    """Resume a Deployment the operator paused for this rv and could not roll back: tested on the
    marker, so a pause someone else made meanwhile is left alone."""
    marker = pause_marker(rv_uid, revision_of(deployment) or 0)
    path = f"/metadata/annotations/{_escape(PAUSED_BY_ANNOTATION)}"
    return [
        {"op": "test", "path": path, "value": marker},
        {"op": "remove", "path": path},
        {"op": "replace", "path": "/spec/paused", "value": False},
    ]


def rolled_back_from(deployment: Obj) -> int | None:
    """The revision our last rollback of this Deployment replaced, from its annotation."""
    return parse_revision(((deployment.get("metadata") or {}).get("annotations") or {}).get(ROLLBACK_FROM_ANNOTATION))


def undo_command(deployment: str, to_revision: int, namespace: str) -> str:
    """What a person types to do the rollback ReleaseGuard only recommended."""
    return f"kubectl rollout undo deployment/{deployment} --to-revision={to_revision} -n {namespace}"


def rolled_back_by_hand(deployment: Obj, replicasets: list[Obj], to_revision: int) -> bool:
    """Whether the Deployment's current revision re-uses the ReplicaSet of `to_revision` without our
    rollback annotation: someone ran `kubectl rollout undo` (or re-applied that template) by hand.
    The deployment controller lists a re-used ReplicaSet's earlier numbers in revision-history."""
    current = revision_of(deployment)
    if current is None or rolled_back_from(deployment) == current - 1:  # our own rollback
        return False
    for rs in replicasets:
        if owned_by(rs, deployment) and revision_of(rs) == current:
            return to_revision in revision_history(rs)
    return False
