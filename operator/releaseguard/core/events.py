"""Which Events a recorded verdict implies, and the name each one gets.

A verdict's Events are named after the run they belong to (the rv's uid, the run's revision and
start, the reason and the object they are on), so posting one twice is a 409 AlreadyExists, not a
second Event: a restarted operator posts the last run's Events again and only the missing ones land.
"""

from __future__ import annotations

import hashlib
from typing import Literal

from .. import reasons
from ..api import ReleaseVerificationStatus, Verdict
from .decide import Event

# reasons posted at most once per run, named after it
KEYED_REASONS = frozenset(
    {
        reasons.VERIFICATION_STARTED,
        reasons.VERIFICATION_SUCCEEDED,
        reasons.VERIFICATION_FAILED,
        reasons.ROLLOUT_STALLED,
        reasons.ROLLED_BACK,
    }
)


def event_name(involved_name: str, rv_uid: str, status: ReleaseVerificationStatus, event: Event) -> str | None:
    """The Event's own name, or None (the server names it) for reasons not tied to one run."""
    run = event.run or run_identity(status)
    if event.reason not in KEYED_REASONS or run is None:
        return None
    identity = f"{rv_uid}/{run}/{event.reason}/{event.on}"
    digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
    return f"{involved_name[:200]}.rg{digest}"


def run_identity(status: ReleaseVerificationStatus) -> str | None:
    """The last run as Event names know it: its revision and start."""
    run = status.last_run
    return f"{run.revision}/{run.start_time.isoformat()}" if run is not None and run.start_time is not None else None


def verdict_events(status: ReleaseVerificationStatus, rv_name: str, target: str) -> list[Event]:
    """The Events the last run's recorded verdict was posted with (their messages re-derived),
    each naming that run, so that they keep their names whatever run comes next."""
    run = status.last_run
    if run is None or run.verdict is None:
        return []
    rev, reason, message = run.revision, run.reason or run.verdict.value, run.message or ""
    found: list[tuple[str, str, bool]] = []  # reason, message, warning
    if run.verdict is Verdict.PASSED:
        found.append((reasons.VERIFICATION_SUCCEEDED, f"revision {rev} verified: {message}", False))
    else:
        if reason == reasons.ROLLOUT_STALLED:
            found.append((reasons.ROLLOUT_STALLED, f"revision {rev}: {message}", True))
        found.append((reasons.VERIFICATION_FAILED, f"revision {rev} failed verification ({reason}): {message}", True))
        last = status.last_rollback
        if last is not None and last.applied and last.applied_by == "releaseguard" and last.from_revision == rev:
            text = f"rolled back Deployment {target} from revision {rev} to revision {last.to_revision}: {message}"
            found.append((reasons.ROLLED_BACK, text, True))
    events: list[Event] = []
    for why, text, warning in found:
        kind: Literal["Normal", "Warning"] = "Warning" if warning else "Normal"
        events.append(Event("rv", why, text, kind, run=run_identity(status)))
        events.append(Event("deployment", why, f"{rv_name}: {text}", kind, run=run_identity(status)))
    return events
