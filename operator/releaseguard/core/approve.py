"""Approving a recommended rollback (rollback.policy Manual): the annotations `releaseguard
approve` sets, and whether they still apply (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from ..api import ReleaseVerificationStatus, Verdict

Obj = dict[str, Any]
# names the failed run's VerificationRun (status.lastRun.record): unique, so an approval can never
# match a later recommendation (not even of a Deployment recreated under the same name)
APPROVE_ANNOTATION: Final = "releaseguard.io/approve-rollback"
# the approver's username as the API server authenticated it: the shipped admission policy refuses
# any other value, so nobody can approve in someone else's name
APPROVED_BY_ANNOTATION: Final = "releaseguard.io/approved-by"
APPROVED_BY_LIMIT: Final = 128


@dataclass(frozen=True)
class Approval:
    from_revision: int
    to_revision: int
    reason: str
    by: str


def approved_rollback(body: Obj, status: ReleaseVerificationStatus, deployment_revision: int) -> Approval | None:
    """The rollback to carry out now: the annotation names the record of the failed run whose
    recommended rollback is not yet applied, and the Deployment still runs that revision. Anything
    else (stale, already done, another run) is not acted on."""
    annotations = (body.get("metadata") or {}).get("annotations") or {}
    wanted = annotations.get(APPROVE_ANNOTATION)
    last, run = status.last_rollback, status.last_run
    if not wanted or last is None or last.applied or run is None:
        return None
    if run.record is None or wanted != run.record:
        return None
    if deployment_revision != last.from_revision or run.revision != last.from_revision:
        return None
    if run.verdict is not Verdict.FAILED or last.to_revision != status.last_good_revision:
        return None
    by = str(annotations.get(APPROVED_BY_ANNOTATION) or "")[:APPROVED_BY_LIMIT]
    if not by:  # the admission policy makes it the approver's own name; without one, no approval
        return None
    return Approval(last.from_revision, last.to_revision, last.reason, by)


def approval_value(body: Obj) -> str | None:
    """The record an approval annotation names, if any."""
    value = ((body.get("metadata") or {}).get("annotations") or {}).get(APPROVE_ANNOTATION)
    return str(value) if value else None


def approval_problem(rv: Obj, deployment_revision: int | None) -> str | None:
    """Why `releaseguard approve` must refuse, or None when there is a rollback to approve."""
    status = rv.get("status") or {}
    last = status.get("lastRollback") or {}
    name = (rv.get("metadata") or {}).get("name")
    policy = ((rv.get("spec") or {}).get("rollback") or {}).get("policy") or "Automatic"
    if not last:
        return f"ReleaseVerification {name} recommends no rollback"
    if policy != "Manual" and not last.get("applied"):
        return f"rollback.policy is {policy}, not Manual: there is no rollback to approve"
    if last.get("applied"):
        by = last.get("appliedBy") or "someone"
        return f"the rollback of revision {last.get('fromRevision')} was already done (by {by})"
    run = status.get("lastRun") or {}
    if deployment_revision != last.get("fromRevision") or run.get("revision") != last.get("fromRevision"):
        return (
            f"the recommendation is stale: it rolls back revision {last.get('fromRevision')}, "
            f"but the Deployment is at revision {deployment_revision}"
        )
    if run.get("verdict") != "Failed":
        return f"the current run of revision {run.get('revision')} has no failed verdict ({run.get('verdict') or 'running'})"
    return None
