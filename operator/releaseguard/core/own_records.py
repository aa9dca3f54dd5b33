"""Which VerificationRuns are this rv's own record (pure).

A record counts only when it looks exactly as the operator writes one: controlled by the rv's uid,
naming the Deployment's uid (spec.targetUID), and ordered by the API server's creationTimestamp,
never by a time a writer chose. The shipped admission policy lets only the operator's
ServiceAccount create records or write their status; these rules keep a record that got in anyway
(no policy installed) from deciding anything: no baseline, no rejected template, no history row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..api import RunStatus, Verdict
from ..api.status import RejectedTemplate
from .trust import controller_uid

Obj = dict[str, Any]


def newest_first(records: Sequence[Obj]) -> list[Obj]:
    def key(record: Obj) -> tuple[str, str]:
        meta = record.get("metadata") or {}
        return str(meta.get("creationTimestamp") or ""), str(meta.get("name") or "")

    return sorted(records, key=key, reverse=True)


def own_records(records: Sequence[Obj], rv_uid: str | None) -> list[Obj]:
    """The records controlled by the rv `rv_uid` that name their Deployment's uid."""
    if not rv_uid:
        return []
    return [r for r in records if controller_uid(r) == rv_uid and (r.get("spec") or {}).get("targetUID")]


def shows_rejection(records: Sequence[Obj], entry: RejectedTemplate, rv_uid: str) -> bool:
    """Whether the rv's own record of `entry.run` shows the rejection a status entry claims: that
    run of that revision Failed and was rolled back (and, when both name it, of that template)."""
    for record in own_records(records, rv_uid):
        meta, spec, status = record.get("metadata") or {}, record.get("spec") or {}, record.get("status") or {}
        if entry.run is None or meta.get("name") != entry.run or spec.get("revision") != entry.revision:
            continue
        rollback = status.get("rollback") or {}
        if status.get("verdict") != Verdict.FAILED.value or not rollback.get("applied"):
            return False
        if rollback.get("fromRevision") != entry.revision:
            return False
        recorded = spec.get("podTemplateHash")
        return not (entry.pod_template_hash and recorded and recorded != entry.pod_template_hash)
    return False


def foreign_record(existing: Obj, rv_uid: str, run: RunStatus) -> str | None:
    """Why an object found under the name of `run`'s record is not one the operator wrote (and so is
    never adopted, written to, or taken for the verdict), or None when it is."""
    spec, status = existing.get("spec") or {}, existing.get("status") or {}
    if controller_uid(existing) != rv_uid:
        return "it is not controlled by this ReleaseVerification"
    if spec.get("targetUID") != run.target_uid or spec.get("revision") != run.revision:
        return "it records another Deployment or revision"
    if spec.get("checksDigest") != (run.checks_digest or ""):
        return "it records other checks"
    if status.get("verdict") and run.verdict is None:
        return "it holds a verdict for a run that has none yet"
    if status.get("verdict") and status.get("verdict") != run.verdict:
        return "its verdict is not the run's"
    return None
