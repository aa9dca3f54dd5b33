"""Incident records: what a tracker needs to open one ticket per failed release and close it when
the release is healthy again. Pure: built from the rv's spec and status.

The payload is versioned (`schemaVersion`); its JSON Schema is generated from these models
(`releaseguard incident-schema`, committed as schemas/incident.v1.json and drift-checked).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from . import reasons
from .api import CheckResultKind, ReleaseVerification, ReleaseVerificationStatus, RunSummary, Verdict
from .api.notifications import NotifyEvent
from .notify.message import Release, action_of, expected_of, links_for

SCHEMA_VERSION = 1
CRITICAL_REASONS = (reasons.CRITICAL_CHECKS_FAILED, reasons.NON_CRITICAL_CHECKS_FAILED, reasons.ROLLOUT_STALLED)


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class IncidentRelease(_Model):
    namespace: str
    release_verification: str
    deployment: str
    revision: int = Field(description="The revision that failed")
    image: str = Field(description="Its images, comma-separated")


class FailedCheck(_Model):
    name: str
    type: str | None
    critical: bool
    result: CheckResultKind
    expected: str
    observed: str | None
    message: str


class TimelineEntry(_Model):
    time: datetime
    event: Literal["RolloutCompleted", "ChecksStarted", "Verdict", "RolledBack", "RollbackRecommended", "Resolved"]
    detail: str


class Incident(_Model):
    """A failed release, ready to file: POSTed as JSON to an incident channel."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        json_schema_extra={"$id": "https://releaseguard.io/schemas/incident.v1.json"},
        title="ReleaseGuard incident",
    )

    api_version: Literal["releaseguard.io/v1alpha1"] = "releaseguard.io/v1alpha1"
    kind: Literal["Incident"] = "Incident"
    schema_version: Literal[1] = 1
    dedupe_key: str = Field(description="Stable per incident: the open and the resolving update carry the same key")
    state: Literal["open", "resolved"]
    event: NotifyEvent = Field(description="The event that sent this update")
    title: str
    severity: Literal["critical", "major"] = Field(
        description="critical: the failed release is still serving; major: it was rolled back"
    )
    release: IncidentRelease
    reason: str
    summary: str
    failed_checks: list[FailedCheck]
    action: str = Field(description="What the operator did")
    rolled_back_to: int | None = None
    resolved_by_revision: int | None = None
    timeline: list[TimelineEntry]
    links: dict[str, str] = {}


def dedupe_key(namespace: str, name: str, deployment: str, revision: int, finished: datetime | None) -> str:
    """Stable across retries and restarts; distinct for a revision number re-used by a later run."""
    seed = f"{namespace}/{name}/{deployment}/{revision}/{finished.isoformat() if finished else ''}"
    return "releaseguard-" + hashlib.sha256(seed.encode()).hexdigest()[:20]


def _is_incident(summary: RunSummary | None) -> bool:
    return summary is not None and summary.verdict is Verdict.FAILED and (summary.reason or "") in CRITICAL_REASONS


def incident_document(
    rv: ReleaseVerification,
    status: ReleaseVerificationStatus,
    release: Release,
    event: NotifyEvent,
    link_templates: Mapping[str, str],
    failed_image: str = "",
) -> dict[str, Any] | None:
    """The incident update an event of the current run sends, or None when it concerns no incident.
    `failed_image` is the image of the failed revision, for the update that resolves it."""
    run = status.last_run
    if run is None or run.verdict is None:
        return None
    links = links_for(link_templates, release)
    if event in (NotifyEvent.FAILED, NotifyEvent.ROLLED_BACK, NotifyEvent.ROLLBACK_RECOMMENDED):
        current = status.history[0] if status.history and status.history[0].revision == run.revision else None
        if not _is_incident(current):
            return None
        return _opened(rv, status, release, event, links).model_dump(mode="json", by_alias=True)
    if event is NotifyEvent.VERIFIED:
        previous = status.history[1] if len(status.history) > 1 else None
        if previous is None or not _is_incident(previous) or status.history[0].revision != run.revision:
            return None
        return _resolved(status, release, previous, links, failed_image).model_dump(mode="json", by_alias=True)
    return None


def _opened(
    rv: ReleaseVerification,
    status: ReleaseVerificationStatus,
    release: Release,
    event: NotifyEvent,
    links: dict[str, str],
) -> Incident:
    run = status.last_run
    assert run is not None
    specs = {c.name: c for c in rv.spec.checks}
    failed = [
        FailedCheck(
            name=c.name,
            type=c.type,
            critical=c.critical,
            result=c.result,
            expected=expected_of(specs[c.name]) if c.name in specs else "unknown",
            observed=c.observed,
            message=c.message,
        )
        for c in run.checks
        if c.result in (CheckResultKind.FAILED, CheckResultKind.ERROR, CheckResultKind.INCONCLUSIVE)
    ]
    rollback = (
        status.last_rollback if status.last_rollback and status.last_rollback.from_revision == run.revision else None
    )
    timeline: list[TimelineEntry] = []
    if run.start_time is not None and run.reason != reasons.ROLLOUT_STALLED:
        timeline.append(
            TimelineEntry(time=run.start_time, event="RolloutCompleted", detail=f"revision {run.revision} rolled out")
        )
        launched = run.start_time + timedelta(seconds=rv.spec.delay_seconds)
        timeline.append(TimelineEntry(time=launched, event="ChecksStarted", detail=f"{len(rv.spec.checks)} checks"))
    if run.finish_time is not None:
        timeline.append(
            TimelineEntry(time=run.finish_time, event="Verdict", detail=f"{run.verdict}: {run.message or ''}")
        )
    if rollback is not None:
        what = reasons.ROLLED_BACK if rollback.applied else reasons.ROLLBACK_RECOMMENDED
        timeline.append(TimelineEntry(time=rollback.time, event=what, detail=f"to revision {rollback.to_revision}"))
    applied = rollback is not None and rollback.applied
    return Incident(
        dedupe_key=dedupe_key(release.namespace, release.name, release.deployment, run.revision, run.finish_time),
        state="open",
        event=event,
        title=f"Release {release.namespace}/{release.deployment} revision {run.revision} failed verification"
        + (" and was rolled back" if applied else ""),
        severity="major" if applied else "critical",
        release=IncidentRelease(
            namespace=release.namespace,
            release_verification=release.name,
            deployment=release.deployment,
            revision=run.revision,
            image=release.image,
        ),
        reason=run.reason or "",
        summary=run.message or "",
        failed_checks=failed,
        action=action_of(status, release.deployment, release.namespace),
        rolled_back_to=rollback.to_revision if applied and rollback is not None else None,
        timeline=timeline,
        links=links,
    )


def _resolved(
    status: ReleaseVerificationStatus, release: Release, failed: RunSummary, links: dict[str, str], image: str
) -> Incident:
    run = status.last_run
    assert run is not None and run.finish_time is not None
    rolled = failed.rolled_back_to is not None
    how = f"the rollback to revision {failed.rolled_back_to}" if rolled else "a later release"
    return Incident(
        dedupe_key=dedupe_key(release.namespace, release.name, release.deployment, failed.revision, failed.finish_time),
        state="resolved",
        event=NotifyEvent.VERIFIED,
        title=f"Release {release.namespace}/{release.deployment} revision {failed.revision} failed verification"
        + (" and was rolled back" if rolled else ""),
        severity="major" if rolled else "critical",
        release=IncidentRelease(
            namespace=release.namespace,
            release_verification=release.name,
            deployment=release.deployment,
            revision=failed.revision,
            image=image,
        ),
        reason=failed.reason or "",
        summary=failed.message or "",
        failed_checks=[],
        action=f"revision {run.revision} ({how}) passed verification",
        rolled_back_to=failed.rolled_back_to,
        resolved_by_revision=run.revision,
        timeline=[
            TimelineEntry(time=run.finish_time, event="Resolved", detail=f"revision {run.revision} verified ({how})")
        ],
        links=links,
    )


def incident_schema() -> str:
    """The payload's JSON Schema, as committed in schemas/incident.v1.json."""
    schema = Incident.model_json_schema(by_alias=True, mode="serialization")
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    import sys

    sys.stdout.write(incident_schema())
