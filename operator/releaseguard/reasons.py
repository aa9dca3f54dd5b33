"""Every reason ReleaseGuard writes, in one place: the `reason` of its conditions and Events, of a
run's verdict, of a refused rollback, and a run's trigger. Code matches them by these names, never
by a string literal, so a rename is one edit (like Argo Rollouts' conditions package).

CamelCase, as Kubernetes conventions ask for condition and Event reasons.
"""

from __future__ import annotations

from typing import Final

# --- SpecValid and TargetFound ---------------------------------------------------------------
INVALID_SPEC: Final = "InvalidSpec"  # the spec does not parse; also an Event
POLICY_VIOLATION: Final = "PolicyViolation"  # outside the cluster admin's policy
DEPLOYMENT_FOUND: Final = "DeploymentFound"
DEPLOYMENT_NOT_FOUND: Final = "DeploymentNotFound"  # also Verified=Unknown and an Event

# --- what started a run (lastRun.trigger), also RolledBack=False reasons -----------------------
NEW_REVISION: Final = "NewRevision"
TARGET_REPLACED: Final = "TargetReplaced"  # the Deployment was deleted and created again
CHECKS_CHANGED: Final = "ChecksChanged"  # the rv's checks changed: the current revision again

# --- Verified: a run in progress, and its verdict ----------------------------------------------
ROLLOUT_IN_PROGRESS: Final = "RolloutInProgress"
ROLLOUT_PAUSED: Final = "RolloutPaused"
ROLLOUT_STALLED: Final = "RolloutStalled"  # also a Warning Event
VERIFICATION_STARTED: Final = "VerificationStarted"  # Event
VERIFICATION_SUPERSEDED: Final = "VerificationSuperseded"  # a newer revision replaced the run
VERIFICATION_SUCCEEDED: Final = "VerificationSucceeded"  # Event
VERIFICATION_FAILED: Final = "VerificationFailed"  # Event
CRITICAL_CHECKS_FAILED: Final = "CriticalChecksFailed"
NON_CRITICAL_CHECKS_FAILED: Final = "NonCriticalChecksFailed"
RUNNER_ERROR: Final = "RunnerError"
PROBE_CANNOT_START: Final = "ProbeCannotStart"
TARGET_SCALED_TO_ZERO: Final = "TargetScaledToZero"  # checks failed with no pod to judge: Error
FLAKY_CHECK: Final = "FlakyCheck"  # Warning Event: a check passed only on a retry
EARLY_CHECKS_RUNNING: Final = "EarlyChecksRunning"  # spec.early: the new pods' checks, mid-rollout
EARLY_CHECKS_FAILED: Final = "EarlyChecksFailed"  # a critical early check failed: paused, rolled back
PAUSED_FOR_ROLLBACK: Final = "PausedForRollback"  # Warning Event: the Deployment paused before its rollback
RESUMED: Final = "ResumedAfterRefusedRollback"  # Warning Event: our pause lifted, its rollback did not happen
RECORD_NOT_TRUSTED: Final = "RecordNotTrusted"  # Warning Event: an object of a record's name the operator did not write

# --- RejectedTemplate: a pod template this rv rolled back, deployed again ---------------------------
REJECTED_TEMPLATE_REDEPLOYED: Final = "RejectedTemplateRedeployed"  # condition, Warning Event, verdict
NEW_TEMPLATE: Final = "NewTemplate"  # RejectedTemplate=False: the current template was never rolled back

# --- RolledBack: what happened to a failed revision ---------------------------------------------
ROLLED_BACK: Final = "RolledBack"  # also the Event
ROLLBACK_APPROVED: Final = "RollbackApproved"  # a recommended rollback someone approved
ROLLED_BACK_BY_HAND: Final = "RolledBackByHand"  # someone rolled back to the recommended revision
ROLLBACK_RECOMMENDED: Final = "RollbackRecommended"  # policy Manual or --dry-run
MANUAL_POLICY: Final = "ManualPolicy"
DRY_RUN: Final = "DryRun"
ROLLBACK_SKIPPED: Final = "RollbackSkipped"  # Warning Event with the reason below
POLICY_NEVER: Final = "PolicyNever"
ROLLBACK_RESULT_FAILED: Final = "RollbackResultFailed"  # the failed revision is itself a rollback
ROLLBACK_OWNED_ELSEWHERE: Final = "RollbackOwnedElsewhere"  # another rv rolls this Deployment back
NO_GOOD_REVISION: Final = "NoGoodRevision"

# --- a rollback the Deployment refuses (core.rollback) ----------------------------------------------
NO_REVISION: Final = "NoRevision"
DEPLOYMENT_PAUSED: Final = "DeploymentPaused"
REVISION_NOT_FOUND: Final = "RevisionNotFound"
TEMPLATE_ALREADY_MATCHES: Final = "TemplateAlreadyMatches"
DEPLOYMENT_CHANGED: Final = "DeploymentChanged"  # the patch met a changed Deployment (422)

# --- notifications (Events) --------------------------------------------------------------------
NOTIFICATION_SENT: Final = "NotificationSent"
NOTIFICATION_FAILED: Final = "NotificationFailed"

# --- a prometheus check against the last verified revision (issue 15; core.metric_baseline) ----
METRIC_REGRESSED: Final = "MetricRegressed"  # past maxIncrease / maxIncreasePercent (and significant)
