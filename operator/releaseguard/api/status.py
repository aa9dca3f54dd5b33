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
    status: ConditionStatus
    observed_generation: Annotated[int, Field(ge=0)] | None = None
    last_transition_time: datetime
    reason: Annotated[str, Field(min_length=1, max_length=1024, pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$")]
    message: Annotated[str, Field(max_length=32768)] = ""


class CheckStatus(StatusModel):
    name: str
    type: str | None = None
    critical: bool = True
    result: CheckResultKind
    attempts: Annotated[int, Field(ge=0)] = 0
    duration_seconds: float | None = None
    observed: str | None = Field(default=None, description="e.g. 'HTTP 500', '0.031', 'exit 1'")
    message: str = ""


class RunStatus(StatusModel):
    """One verification of one revision."""

    revision: Annotated[int, Field(ge=1)]
    start_time: datetime | None = None
    finish_time: datetime | None = None
    verdict: Verdict | None = Field(default=None, description="Unset while the run is in progress")
    reason: str | None = None
    message: str | None = None
    jobs: list[str] = []
    checks: list[CheckStatus] = []


class RunSummary(StatusModel):
    """A past run, kept in status.history."""

    revision: int
    verdict: Verdict
    reason: str | None = None
    message: str | None = Field(default=None, description="The run's one-line summary, failing checks first")
    finish_time: datetime | None = None
    failed_checks: list[str] = []
    rolled_back_to: int | None = None


class RollbackStatus(StatusModel):
    from_revision: int
    to_revision: int
    time: datetime
    reason: str
    applied: bool = Field(description="False when the policy is Manual: recorded, not done")


class ReleaseVerificationStatus(StatusModel):
    observed_generation: int | None = None
    phase: Phase | None = None
    conditions: list[Condition] = []
    current_revision: int | None = Field(default=None, description="The revision being or last verified")
    last_verified_revision: int | None = None
    last_verified_time: datetime | None = None
    last_good_revision: int | None = None
    checks: str | None = Field(default=None, description="Passed/total of the current run, e.g. 4/5")
    last_run: RunStatus | None = None
    last_rollback: RollbackStatus | None = None
    history: list[RunSummary] = []
    notifications: list[NotificationRecord] | None = Field(
        default=None, description="Deliveries of the current run's notifications, so none is sent twice"
    )


def status_from_wire(obj: dict[str, Any] | None) -> ReleaseVerificationStatus:
    return ReleaseVerificationStatus.model_validate(obj or {})
