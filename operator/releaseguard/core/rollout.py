"""Reading a Deployment: its revision, and whether that revision's rollout is complete."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

REVISION_ANNOTATION: Final = "deployment.kubernetes.io/revision"
REVISION_HISTORY_ANNOTATION: Final = "deployment.kubernetes.io/revision-history"
TEMPLATE_HASH_LABEL: Final = "pod-template-hash"
DEFAULT_PROGRESS_DEADLINE: Final = 600

Obj = dict[str, Any]


class RolloutState(StrEnum):
    PROGRESSING = "Progressing"
    PAUSED = "Paused"
    STALLED = "Stalled"
    COMPLETE = "Complete"


def parse_revision(raw: Any) -> int | None:
    """A revision number as annotations and labels carry it (decimal text, at least 1); None for
    anything else. The one parser for every revision the operator reads off an object."""
    text = str(raw).strip() if isinstance(raw, str | int) and not isinstance(raw, bool) else ""
    if not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if value > 0 else None


def revision_of(obj: Obj | None) -> int | None:
    """The `deployment.kubernetes.io/revision` of a Deployment or ReplicaSet, if it has a valid one."""
    if not obj:
        return None
    return parse_revision(((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION_ANNOTATION))


def revision_history(obj: Obj) -> list[int]:
    """The earlier revision numbers the deployment controller recorded on a re-used ReplicaSet."""
    raw = ((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION_HISTORY_ANNOTATION) or ""
    return [n for part in str(raw).split(",") if (n := parse_revision(part)) is not None]


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0


def desired_replicas(deployment: Obj) -> int:
    replicas = (deployment.get("spec") or {}).get("replicas")
    return replicas if isinstance(replicas, int) else 1


def _condition_time(condition: Obj) -> datetime | None:
    raw = condition.get("lastUpdateTime") or condition.get("lastTransitionTime")
    if not isinstance(raw, str):
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None


def rollout_state(deployment: Obj, started: datetime | None = None) -> tuple[RolloutState, str]:
    """The state of the Deployment's latest rollout, with a sentence saying why.

    Complete follows `kubectl rollout status`: the controller has observed the current generation,
    and every desired replica runs the new template and is available, with no old replicas left.
    Stalled is the controller's own verdict (Progressing=False, ProgressDeadlineExceeded), unless
    it was written no later than the second `started` (when this rollout began): after a rollback
    to an existing ReplicaSet the previous rollout's timeout lingers until the rollout completes,
    while a real stall comes at least progressDeadlineSeconds (>= 1 s) after its start.
    """
    meta = deployment.get("metadata") or {}
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    generation = _int(meta.get("generation"))
    observed = _int(status.get("observedGeneration"))
    if observed < generation:
        return RolloutState.PROGRESSING, f"waiting for the controller to observe generation {generation}"
    for condition in status.get("conditions") or []:
        if (
            condition.get("type") == "Progressing"
            and condition.get("status") == "False"
            and condition.get("reason") == "ProgressDeadlineExceeded"
        ):
            written = _condition_time(condition)
            if started is not None and written is not None and written < _floor(started) + timedelta(seconds=1):
                continue  # the previous rollout's verdict
            message = condition.get("message") or "the rollout exceeded its progress deadline"
            return RolloutState.STALLED, message
    want = desired_replicas(deployment)
    updated = _int(status.get("updatedReplicas"))
    total = _int(status.get("replicas"))
    available = _int(status.get("availableReplicas"))
    if updated < want:
        state = RolloutState.PAUSED if spec.get("paused") else RolloutState.PROGRESSING
        return state, f"{updated} of {want} replicas updated"
    if total > updated:
        return RolloutState.PROGRESSING, f"{total - updated} old replicas pending termination"
    if available < updated:
        return RolloutState.PROGRESSING, f"{available} of {updated} updated replicas available"
    return RolloutState.COMPLETE, f"{want} of {want} replicas updated and available"


def _floor(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def pod_template(deployment: Obj) -> Obj:
    template: Obj = (deployment.get("spec") or {}).get("template") or {}
    return template


def images_of(deployment: Obj | None) -> str:
    """The images of a Deployment's pod template, comma-separated in container order ('' if none)."""
    template = ((deployment or {}).get("spec") or {}).get("template") or {}
    containers = (template.get("spec") or {}).get("containers") or []
    return ",".join(str(c.get("image")) for c in containers if isinstance(c, dict) and c.get("image"))
