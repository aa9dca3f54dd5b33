"""The VerificationRun resource: one verification of one revision, on the record.

The operator creates one when a run starts (spec: what is verified, and under which checks) and
writes its status once, at the verdict; from then on it never changes. It is owned by its
ReleaseVerification and labelled `releaseguard.io/rv=NAME`, and it outlives the run's Jobs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from pydantic import Field

from .base import StatusModel
from .status import BaselineComparisonStatus, CheckResultKind, Verdict

RUN_KIND: Final = "VerificationRun"
RUN_PLURAL: Final = "verificationruns"
RUN_SINGULAR: Final = "verificationrun"
RUN_SHORT_NAMES: Final = ("vrun",)
RV_NAME_LABEL: Final = "releaseguard.io/rv"


class ContainerImage(StatusModel):
    """One container of the verified revision."""

    container: str
    """The container's name in the pod template."""
    image: str
    """The image as the pod template names it."""
    digest: str | None = None
    """The resolved image (imageID) the running pods of the revision report, when they report one."""


class TemplateChanges(StatusModel):
    """What changed in the pod template since the previous revision: names, never values."""

    previous_revision: int | None = None
    """The revision compared with (none for a first revision)."""
    images: list[str] = []
    """Containers whose image changed, as 'CONTAINER: OLD -> NEW'."""
    env: list[str] = []
    """Environment variables added, removed or changed, as 'CONTAINER: NAME' (values are never recorded)."""
    fields: list[str] = []
    """Other pod-template fields that changed, e.g. 'containers[shop].resources', 'volumes'."""


class ChangedBy(StatusModel):
    """Who made the revision, as far as the API server tells."""

    manager: str | None = None
    """The field manager (metadata.managedFields) that last wrote the Deployment's pod template."""
    operation: str | None = None
    """That manager's operation: Apply or Update."""
    time: datetime | None = None
    """When it wrote it."""
    change_cause: str | None = None
    """The Deployment's kubernetes.io/change-cause annotation, when set."""


class VerificationRunSpec(StatusModel):
    """What this run verifies, as it was when it started."""

    release_verification: str
    """The ReleaseVerification this run belongs to."""
    target: str
    """The Deployment verified."""
    target_uid: str | None = Field(default=None, alias="targetUID")
    """Its uid."""
    revision: int
    """The Deployment revision verified."""
    pod_template_hash: str | None = None
    """The revision's pod-template-hash (the suffix of its ReplicaSet)."""
    trigger: str
    """Why the run started: NewRevision, ChecksChanged, TargetReplaced or Rerun."""
    image: str = ""
    """The images of the revision, comma-separated in container order (a printer column)."""
    images: list[ContainerImage] = []
    """Each container's image and the digest its running pods report."""
    changes: TemplateChanges | None = None
    """What changed since the previous revision."""
    changed_by: ChangedBy | None = None
    """Who changed it."""
    checks_digest: str
    """Digest of the checks below."""
    checks: list[dict[str, Any]] = []
    """The checks as they were when the run started (spec.checks of the ReleaseVerification)."""
    start_time: datetime | None = None
    """When the revision's rollout was seen complete."""
    rollback_of: RollbackRecord | None = None
    """Set when this revision is a rollback (by releaseguard, by hand, or approved): of what, and who did it."""


class AttemptRecord(StatusModel):
    """One attempt of a check."""

    result: str
    """Passed, Failed, Inconclusive or Error."""
    duration_seconds: float | None = None
    """How long it took."""
    observed: str | None = None
    """What was observed."""
    message: str = ""
    """Why it passed or failed."""


class MeasurementRecord(StatusModel):
    """One measurement of a repeated or compared prometheus check."""

    time: datetime | None = None
    """When it was taken."""
    value: str | None = None
    """The value judged (none: an empty answer or an error)."""
    baseline_value: str | None = None
    """The baseline query's value (the last verified revision), when the check compares."""
    result: str
    """Passed, Failed, Inconclusive or Error."""


class SamplesRecord(StatusModel):
    """A sampled http check's samples in this run: what a later run's baseline comparison reads."""

    target: str
    """Digest of the check's method and URL: a retargeted check is never compared with its old self."""
    count: int
    """How many samples."""
    latencies_ms: list[float] = Field(default=[], max_length=200)
    """Each sample's latency in ms (rounded to 0.1), in the order sent."""
    outcomes: str = Field(default="", max_length=200)
    """Each sample's outcome, one letter each: o (ok) or e (error)."""


class CheckRecord(StatusModel):
    """One check's result in this run."""

    name: str
    """The check's name."""
    type: str | None = None
    """http, tcp, prometheus, command, python or pytest."""
    critical: bool = True
    """Whether its failure fails the verification."""
    result: CheckResultKind
    """Passed, Failed, Flaky, Inconclusive, Error or Skipped."""
    attempts: int = 0
    """How many times it ran."""
    duration_seconds: float | None = None
    """Time spent on all attempts."""
    expected: str | None = None
    """What the check expected, e.g. 'HTTP 200'."""
    observed: str | None = None
    """What was observed, e.g. 'HTTP 500'."""
    message: str = ""
    """Why it passed or failed."""
    attempt_details: list[AttemptRecord] = []
    """Every attempt, when the probe's report kept them (a report cut to fit 4 KiB drops them)."""
    measurements: list[MeasurementRecord] = []
    """Every measurement of a prometheus check with count or baseline (up to 100), when the report kept them."""
    samples: SamplesRecord | None = None
    """An http check with samples: each one's latency and outcome (read from the probe pod's log)."""
    baseline: BaselineComparisonStatus | None = None
    """An http check with a baseline: its comparison with the last verified revision's samples."""


class RollbackRecord(StatusModel):
    """The rollback this run led to, taken or only recommended."""

    from_revision: int
    """The failed revision."""
    to_revision: int
    """Where the rollback goes."""
    reason: str
    """Why: the failed verification's reason."""
    applied: bool
    """Whether the Deployment was rolled back (false: only recommended)."""
    applied_by: str | None = None
    """releaseguard, user (by hand), or approved:NAME (releaseguard approve)."""


class VerificationRunStatus(StatusModel):
    """The verdict, written once."""

    phase: str = "Running"
    """Running until the verdict, then Finished."""
    finish_time: datetime | None = None
    """When the verdict was reached."""
    duration_seconds: float | None = None
    """From the rollout's completion to the verdict."""
    duration: str | None = None
    """The same, for people (a printer column), e.g. 12s or 3m4s."""
    verdict: Verdict | None = None
    """Passed, Failed or Error."""
    reason: str | None = None
    """The verdict's reason, e.g. ChecksPassed, CriticalChecksFailed, RolloutStalled."""
    checks_summary: str | None = None
    """Passed/total, e.g. 4/5 (a printer column)."""
    checks: list[CheckRecord] = []
    """Every check's result, in the spec's order."""
    rollback: RollbackRecord | None = None
    """The rollback taken or recommended after this run."""
    summary: str | None = None
    """The run in one line, failing checks first."""


VerificationRunSpec.model_rebuild()
