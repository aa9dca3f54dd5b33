"""The status of a ReleaseVerification: what was verified, the verdict, and what was done about it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field

from .base import StatusModel
from .notifications import NotificationRecord


class Phase(StrEnum):
    PENDING = "Pending"  # nothing to verify yet (no target, or target never rolled out)
    WAITING = "Waiting"  # a revision is rolling out, or in its delay before the checks
    VERIFYING = "Verifying"  # probe Jobs are running
    VERIFIED = "Verified"  # the current revision passed
    FAILED = "Failed"  # the current revision failed and was not rolled back
    ROLLED_BACK = "RolledBack"  # the current revision failed and the Deployment was rolled back
    ERROR = "Error"  # the spec is invalid or the verification itself broke


class CheckResultKind(StrEnum):
    PASSED = "Passed"
    FAILED = "Failed"
    FLAKY = "Flaky"
    INCONCLUSIVE = "Inconclusive"
    ERROR = "Error"
    SKIPPED = "Skipped"


class Verdict(StrEnum):
    PASSED = "Passed"
    FAILED = "Failed"
    ERROR = "Error"  # the verification could not reach a verdict (runner broke, timed out)


ConditionStatus = Literal["True", "False", "Unknown"]


class Condition(StatusModel):
    """Shaped like metav1.Condition."""

    type: Annotated[str, Field(min_length=1, max_length=316)]
    """SpecValid, TargetFound, Verified or RolledBack."""
    status: ConditionStatus
    """True, False or Unknown."""
    observed_generation: Annotated[int, Field(ge=0)] | None = None
    """The spec generation this condition was set for."""
    last_transition_time: datetime
    """When the status last changed."""
    reason: Annotated[str, Field(min_length=1, max_length=1024, pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$")]
    """Why, in one CamelCase word, e.g. CriticalChecksFailed."""
    message: Annotated[str, Field(max_length=32768)] = ""
    """What happened, in a sentence a person can act on."""


class LatencyComparisonStatus(StatusModel):
    """The latency half of a baseline comparison."""

    percentile: float
    """The percentile compared, e.g. 95."""
    current_ms: float
    """That percentile of this run's successful samples, in ms."""
    baseline_ms: float
    """The same of the baseline's."""
    change_percent: float | None = None
    """How much slower (negative: faster), in percent; absent when the baseline's is 0 ms."""
    p_value: float
    """One-sided Mann-Whitney U p-value that this run's latencies are greater."""
    current_samples: int
    """Successful samples of this run compared."""
    baseline_samples: int
    """Successful samples of the baseline compared."""


class ErrorRateComparisonStatus(StatusModel):
    """The error-rate half of a baseline comparison."""

    current_errors: int
    """Error samples of this run."""
    current_samples: int
    """Samples of this run."""
    baseline_errors: int
    """Error samples of the baseline."""
    baseline_samples: int
    """Samples of the baseline."""
    change_points: float
    """Change of the error rate, in percentage points."""
    p_value: float
    """One-sided Fisher exact p-value that this run's error odds are greater."""


class BaselineComparisonStatus(StatusModel):
    """A sampled http check compared with the last verified revision's samples (issue 15)."""

    verdict: str
    """Passed, Failed or Inconclusive."""
    reason: str
    """WithinBaseline, ChangeNotSignificant, LatencyRegressed, ErrorRateRegressed, NoBaseline, TooFewSamples or InvalidSamples."""
    message: str = ""
    """The comparison in one line, e.g. 'p95 312 ms vs 180 ms in revision 4 (+73%, p=0.001, 50 vs 50 samples)'."""
    baseline_revision: int | None = None
    """The revision whose samples were the baseline."""
    latency: LatencyComparisonStatus | None = None
    """The latency comparison, when there were enough successful samples."""
    error_rate: ErrorRateComparisonStatus | None = None
    """The error-rate comparison, when there were enough samples."""


class CheckStatus(StatusModel):
    """The result of one check in one run."""

    name: str
    """The check's name from spec.checks."""
    type: str | None = None
    """http, tcp, prometheus, command, python or pytest."""
    critical: bool = True
    """Whether its failure fails the verification."""
    result: CheckResultKind
    """Passed, Failed, Flaky (failed, then passed on a retry), Inconclusive, Error or Skipped."""
    attempts: Annotated[int, Field(ge=0)] = 0
    """How many times it ran (1 + retries used)."""
    duration_seconds: float | None = None
    """Time spent on all attempts."""
    observed: str | None = None
    """What was observed, e.g. 'HTTP 500', '0.031', 'exit 1'."""
    message: str = ""
    """Why it passed or failed, in one line."""
    baseline: BaselineComparisonStatus | None = None
    """A sampled http check with a baseline: its comparison with the last verified revision."""


class RunStatus(StatusModel):
    """One verification of one revision."""

    revision: Annotated[int, Field(ge=1)]
    """The Deployment revision verified."""
    start_time: datetime | None = None
    """When its rollout was seen complete (the checks start delaySeconds later)."""
    finish_time: datetime | None = None
    """When the verdict was reached."""
    verdict: Verdict | None = None
    """Passed, Failed or Error; unset while the run is in progress."""
    reason: str | None = None
    """The verdict's reason, e.g. ChecksPassed, CriticalChecksFailed, RolloutStalled, ProbeCannotStart, Timeout."""
    message: str | None = None
    """The verdict in one line, failing checks first."""
    jobs: list[str] = []
    """The probe Jobs of this run (created once the rollout completed)."""
    checks: list[CheckStatus] = []
    """Every check's result, in the spec's order."""
    target_uid: str | None = Field(default=None, alias="targetUID")
    """uid of the Deployment this run verifies."""
    checks_digest: str | None = None
    """Digest of the checks this run runs."""
    trigger: str | None = None
    """Why this run started: NewRevision, ChecksChanged, TargetReplaced or Rerun."""
    record: str | None = None
    """The VerificationRun that records this run (kubectl get vrun NAME)."""
    rerun: str | None = None
    """The releaseguard.io/rerun annotation value this run answered, when it is a re-run."""
    template_digest: str | None = None
    """Digest of the Deployment's pod template this run verifies (what status.rejectedTemplates remembers)."""
    early: EarlyRun | None = None
    """The early checks (spec.early), when they ran."""


class TargetPod(StatusModel):
    """A ready pod of the new revision that checks with `{{ .PodIP }}`/`{{ .PodName }}` call."""

    name: str
    """The pod's name."""
    ip: str
    """Its address (status.podIP)."""


class EarlyRun(StatusModel):
    """The early checks of a run: the templated checks against the first ready pods of the new
    revision, while its rollout is still in progress."""

    pods: list[TargetPod] = []
    """The ready pods of the new revision they call."""
    jobs: list[str] = []
    """Their probe Jobs."""
    start_time: datetime | None = None
    """When they were launched."""
    verdict: Verdict | None = None
    """Passed, Failed or Error; a critical failure ends the run Failed (reason EarlyChecksFailed)."""
    message: str | None = None
    """Their verdict in one line."""


class RunSummary(StatusModel):
    """A past run, kept in status.history."""

    revision: int
    """The Deployment revision verified."""
    verdict: Verdict
    """Passed, Failed or Error."""
    reason: str | None = None
    """The verdict's reason, as in lastRun.reason."""
    message: str | None = None
    """The run's one-line summary, failing checks first."""
    finish_time: datetime | None = None
    """When the verdict was reached."""
    failed_checks: list[str] = []
    """Checks that Failed or had an Error, critical or not, in the spec's order (the first 16)."""
    failed_critical_checks: list[str] = []
    """The critical ones that Failed or had an Error (the first 16)."""
    rolled_back_to: int | None = None
    """The revision the Deployment was rolled back to after this run, if it was."""


class RollbackStatus(StatusModel):
    """The last rollback decided for a failed revision."""

    from_revision: int
    """The failed revision."""
    to_revision: int
    """The last good revision, where the rollback goes."""
    time: datetime
    """When it was decided (or, done by hand, noticed)."""
    reason: str
    """The failed verification's reason, e.g. CriticalChecksFailed."""
    applied: bool
    """Whether the Deployment was rolled back: false while a Manual policy or --dry-run only recommends it."""
    applied_by: str | None = None
    """Who rolled back: releaseguard, or user when someone did it by hand (e.g. kubectl rollout undo)."""
    paused: bool | None = None
    """The operator paused the Deployment first (an early failure): the rollback patch resumes it."""


class RejectedTemplate(StatusModel):
    """A pod template this rv rolled back."""

    template_digest: str
    """Digest of the pod template (as lastRun.templateDigest): what a later revision is matched by."""
    pod_template_hash: str | None = None
    """The pod-template-hash of its ReplicaSet, as kubectl get rs shows it."""
    revision: int
    """The revision that carried it when it was rolled back."""
    run: str | None = None
    """The VerificationRun that rejected it."""
    time: datetime
    """When it was rolled back."""
    reason: str
    """The failed verification's reason, e.g. CriticalChecksFailed."""


class FlakyCheck(StatusModel):
    """How often a check passed only on a retry, across the retained VerificationRuns."""

    name: str
    """The check's name."""
    flaky_runs: int
    """Runs in which it was Flaky (failed, then passed on a retry)."""
    runs: int
    """Retained runs in which it ran."""
    rate: float
    """flakyRuns / runs."""


class ReleaseVerificationStatus(StatusModel):
    """What was verified, the verdict, and what was done about it."""

    observed_generation: int | None = None
    """The spec generation this status reflects."""
    phase: Phase | None = None
    """Pending, Waiting, Verifying, Verified, Failed, RolledBack or Error."""
    message: str | None = None
    """The most relevant condition's message, shown by kubectl get rv -o wide: SpecValid's when False, else TargetFound's when False, else Verified's (with RolledBack's when it concerns the current revision)."""
    conditions: list[Condition] = []
    """metav1.Condition-shaped: SpecValid, TargetFound, Verified, RolledBack."""
    current_revision: int | None = None
    """The revision being or last verified."""
    last_verified_revision: int | None = None
    """The last revision that reached a verdict."""
    last_verified_time: datetime | None = None
    """When that verdict was reached."""
    last_good_revision: int | None = None
    """The last revision that passed: where a rollback goes."""
    checks: str | None = None
    """Passed/total of the current run, e.g. 4/5."""
    last_run: RunStatus | None = None
    """The current (or last) run."""
    last_rollback: RollbackStatus | None = None
    """The last rollback done or recommended."""
    history: list[RunSummary] = []
    """The last historyLimit runs, newest first."""
    target_uid: str | None = Field(default=None, alias="targetUID")
    """uid of the Deployment lastGoodRevision, lastRun and lastRollback belong to."""
    rejected_templates: Annotated[list[RejectedTemplate], Field(max_length=20)] = []
    """The pod templates this rv rolled back (the last 20, newest first); one deployed again is reported at once (condition RejectedTemplate) and, by spec.rollback.onRejectedTemplate, verified again or rolled back."""
    flakiness: list[FlakyCheck] | None = None
    """Checks that were Flaky in at least one retained VerificationRun, most flaky first."""
    notifications: list[NotificationRecord] | None = Field(
        default=None, description="Deliveries of the current run's notifications, so none is sent twice"
    )


def status_from_wire(obj: dict[str, Any] | None) -> ReleaseVerificationStatus:
    return ReleaseVerificationStatus.model_validate(obj or {})
